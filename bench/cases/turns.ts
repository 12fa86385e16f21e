/**
 * Case 4: turns against MockModel (a scripted local Responses API; fully offline).
 *
 * 4a: `n` sequential turns on one thread through the SDK driver vs the same prompts through
 *     `@openai/codex-sdk` (`Codex` → `startThread` → `run`, one `codex exec` process per turn), both on the
 *     pinned binary (`codexPathOverride`) and the same MockModel (`configOverrides` = MockModel.codexConfig).
 *     Clock: from nothing running to the last turn done (the SDK pays its spawn + handshake + thread/start
 *     once; codex-sdk pays a spawn per turn). The same run through the raw client too: its speed-up over
 *     codex-sdk is the ceiling any app-server client reaches. Three rounds in a rotated order; medians.
 *     The SDK and the raw client each run in a process of their own (bench/turnClient.ts; MockModel stays in
 *     this one), which also measures its client CPU over the warm turns (all but the first quarter).
 * 4b: `n` concurrent turns on `n` threads through one SDK instance: wall time, peak RSS (this process,
 *     sampled; the codex server, VmHWM).
 */
import { Codex } from "@openai/codex-sdk"
import * as Effect from "effect/Effect"
import { MockModel } from "@effect-codex/testing"
import { type DriverOptions, type TurnDriver } from "../drivers.js"
import { rawServer } from "../rawClient.js"
import { runInProcess } from "../turnClient.js"
import { CODEX_BINARY, MB, mean, median, peak, procRss, round, startSampler, tempDir } from "../lib.js"
import type * as Scope from "effect/Scope"

type MakeDriver = (options: DriverOptions) => Effect.Effect<TurnDriver, unknown, Scope.Scope>

const prompts = (n: number) => Array.from({ length: n }, (_, i) => `Benchmark prompt ${i + 1}: say something short.`)

/** The environment of `codex exec` for codex-sdk (its `env` option replaces process.env entirely). */
const execEnv = (codexHome: string): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value
  env.CODEX_HOME = codexHome
  return env
}

/** One client's run of the n turns: total from nothing running to the last turn done, and each turn. */
interface Run {
  readonly totalMs: number
  readonly turnMs: ReadonlyArray<number>
}

/** A run of the SDK or the raw client, in a process of its own: with its client CPU per warm turn. */
interface ClientRun extends Run {
  readonly client: string
  readonly cpuMsPerTurn: number
}

type Mock = Effect.Success<ReturnType<typeof MockModel.make>>

/** How many of the n turns warm the client up before its CPU is measured (the rest are measured). */
export const warmupTurns = (n: number) => Math.max(1, Math.floor(n / 4))

/**
 * effect-codex (through the driver) or the raw client doing what the SDK does (the ceiling any client of
 * `codex app-server` reaches): one server, one thread, n turns (spawn + handshake + thread/start paid once),
 * in a client process of its own (bench/turnClient.ts), which also measures its CPU over the warm turns.
 */
const clientRun = (client: "sdk" | "raw", mock: Mock, n: number, driver: string) =>
  Effect.gen(function*() {
    const cwd = yield* tempDir("cwd")
    const warmup = warmupTurns(n)
    const result = yield* Effect.promise(() =>
      runInProcess({
        client,
        driver,
        codexPath: CODEX_BINARY,
        config: mock.codexConfig,
        cwd,
        levels: [{ threads: 1, warmupTurns: warmup, turns: n - warmup }]
      })
    )
    return {
      client: result.client,
      totalMs: result.totalMs,
      turnMs: result.turnMs,
      cpuMsPerTurn: result.levels[0]!.cpuMsPerTurn
    } satisfies ClientRun
  })

/** @openai/codex-sdk: the same prompts, one `codex exec` per turn. */
const codexSdkRun = (mock: Mock, texts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const home = yield* tempDir("home")
    const cwd = yield* tempDir("cwd")
    const codex = new Codex({ codexPathOverride: CODEX_BINARY, configOverrides: [...mock.codexConfig], env: execEnv(home) })
    return yield* Effect.promise(async (): Promise<Run> => {
      const t0 = performance.now()
      const thread = codex.startThread({ workingDirectory: cwd, skipGitRepoCheck: true })
      const turnMs: Array<number> = []
      for (const text of texts) {
        const t = performance.now()
        const result = await thread.run(text)
        turnMs.push(performance.now() - t)
        if (result.finalResponse === "") throw new Error("4a codex-sdk: empty final response")
      }
      return { totalMs: performance.now() - t0, turnMs }
    })
  })

/**
 * 4a in `rounds` rounds; each round runs the three clients one after the other, in a rotated order, so
 * that the drift of a shared machine does not always favour the same one. Reported: the medians over the
 * rounds, and the median of each round's ratio.
 */
export const sequential = (n: number, rounds: number, driverName: string) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const mock = yield* MockModel.make()
    const texts = prompts(n)
    let driver = ""
    const sdk: Array<ClientRun> = []
    const raw: Array<ClientRun> = []
    const exec: Array<Run> = []
    /** Runs one client and checks that it made exactly n model calls. */
    const counted = <A>(name: string, run: Effect.Effect<A, unknown, Scope.Scope>) =>
      Effect.gen(function*() {
        yield* mock.reset
        const result = yield* Effect.scoped(run)
        const requests = (yield* mock.responsesRequests).length
        if (requests !== n) throw new Error(`4a ${name}: ${requests} model requests, expected ${n}`)
        return result
      })
    const clients = [
      counted("sdk", clientRun("sdk", mock, n, driverName)).pipe(Effect.map((run) => {
        driver = run.client
        sdk.push(run)
      })),
      counted("raw", clientRun("raw", mock, n, driverName)).pipe(Effect.map((run) => raw.push(run))),
      counted("codex-sdk", codexSdkRun(mock, texts)).pipe(Effect.map((run) => exec.push(run)))
    ]
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < clients.length; i++) yield* clients[(r + i) % clients.length]!
    }
    const totals = (runs: ReadonlyArray<Run>) => runs.map((run) => run.totalMs)
    const meanTurn = (runs: ReadonlyArray<Run>) => mean(runs.flatMap((run) => [...run.turnMs]))
    const cpu = (runs: ReadonlyArray<ClientRun>) => runs.map((run) => run.cpuMsPerTurn)
    return {
      n,
      rounds,
      driver,
      sdkTotalMs: round(median(totals(sdk))),
      sdkTotalsMs: totals(sdk).map((t) => round(t)),
      sdkMeanTurnMs: round(meanTurn(sdk)),
      rawTotalMs: round(median(totals(raw))),
      rawMeanTurnMs: round(meanTurn(raw)),
      codexSdkTotalMs: round(median(totals(exec))),
      codexSdkTotalsMs: totals(exec).map((t) => round(t)),
      codexSdkMeanTurnMs: round(meanTurn(exec)),
      speedup: round(median(exec.map((run, i) => run.totalMs / sdk[i]!.totalMs)), 2),
      rawSpeedup: round(median(exec.map((run, i) => run.totalMs / raw[i]!.totalMs)), 2),
      /** Client CPU per warm turn (the last n - warmupTurns(n) turns of each run), medians over the rounds. */
      cpuTurns: n - warmupTurns(n),
      sdkCpuMsPerTurn: round(median(cpu(sdk)), 3),
      sdkCpuMsPerTurnByRound: cpu(sdk).map((x) => round(x, 3)),
      rawCpuMsPerTurn: round(median(cpu(raw)), 3),
      rawCpuMsPerTurnByRound: cpu(raw).map((x) => round(x, 3)),
      /** Median of each round's SDK / raw CPU ratio. */
      cpuRatio: round(median(sdk.map((run, i) => run.cpuMsPerTurn / raw[i]!.cpuMsPerTurn)), 3)
    }
  })))

export const concurrent = (n: number, makeDriver: MakeDriver) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const mock = yield* MockModel.make()
    // The SDK server is closed before the raw one starts (no idle second codex competing for the 2 cores).
    const sdk = yield* Effect.scoped(Effect.gen(function*() {
    const cwd = yield* tempDir("cwd")
    const driver = yield* makeDriver({ config: mock.codexConfig, cwd })
    const sampler = startSampler(20, () => driver.pid)
    const t0 = performance.now()
    const threads = yield* Effect.forEach(Array.from({ length: n }), () => driver.startThread, {
      concurrency: "unbounded"
    })
    const t1 = performance.now()
    const outcomes = yield* Effect.forEach(threads, (threadId, i) => driver.runTurn(threadId, `Concurrent prompt ${i}`), {
      concurrency: "unbounded"
    })
    const t2 = performance.now()
    const samples = sampler.stop()
    const child = procRss(driver.pid)
    const failed = outcomes.filter((o) => o.status !== "completed").length
    if (failed > 0) throw new Error(`4b: ${failed} of ${n} turns did not complete`)
    return { driver, t0, t1, t2, samples, child }
    }))
    const { driver, t0, t1, t2, samples, child } = sdk

    // The same through the raw client: is codex the bottleneck, or the SDK?
    const rawCwd = yield* tempDir("cwd")
    const raw = yield* rawServer({ config: mock.codexConfig, cwd: rawCwd })
    const rawTimes = yield* Effect.promise(async () => {
      const r0 = performance.now()
      const ids: Array<string> = await Promise.all(
        Array.from({ length: n }, () => raw.request("thread/start", { cwd: rawCwd }).then((r) => r.thread.id as string))
      )
      const r1 = performance.now()
      const pending = new Set(ids)
      await new Promise<void>((resolve) => {
        const off = raw.onNotification((message) => {
          if (message.method === "turn/completed" && pending.delete(message.params.threadId) && pending.size === 0) {
            off()
            resolve()
          }
        })
        ids.forEach((threadId, i) =>
          raw.request("turn/start", { threadId, input: [{ type: "text", text: `Concurrent prompt ${i}` }] })
        )
      })
      return { threadStart: r1 - r0, turns: performance.now() - r1 }
    })
    return {
      n,
      driver: driver.name,
      threadStartWallMs: round(t1 - t0),
      turnsWallMs: round(t2 - t1),
      totalWallMs: round(t2 - t0),
      peakRssMB: round(peak(samples, "rss") / MB, 1),
      rssBeforeMB: round(samples[0]!.rss / MB, 1),
      codexPeakRssMB: child === undefined ? null : round(child.hwm / MB, 1),
      rawThreadStartWallMs: round(rawTimes.threadStart),
      rawTurnsWallMs: round(rawTimes.turns),
      turnsRatio: round((t2 - t1) / rawTimes.turns, 3)
    }
  })))
