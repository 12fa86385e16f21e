/**
 * Case 4: turns against MockModel (a scripted local Responses API; fully offline).
 *
 * 4a: `n` sequential turns on one thread through the SDK driver vs the same prompts through
 *     `@openai/codex-sdk` (`Codex` → `startThread` → `run`, one `codex exec` process per turn), both on the
 *     pinned binary (`codexPathOverride`) and the same MockModel (`configOverrides` = MockModel.codexConfig).
 *     Clock: from nothing running to the last turn done (the SDK pays its spawn + handshake + thread/start
 *     once; codex-sdk pays a spawn per turn). The turns-only time of the SDK is reported too, and the same
 *     run through the raw client: its speed-up over codex-sdk is the ceiling any app-server client reaches.
 * 4b: `n` concurrent turns on `n` threads through one SDK instance: wall time, peak RSS (this process,
 *     sampled; the codex server, VmHWM).
 */
import { Codex } from "@openai/codex-sdk"
import * as Effect from "effect/Effect"
import { MockModel } from "@effect-codex/testing"
import { type DriverOptions, type TurnDriver } from "../drivers.js"
import { rawServer } from "../rawClient.js"
import { CODEX_BINARY, MB, mean, peak, procRss, round, startSampler, tempDir } from "../lib.js"
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

export const sequential = (n: number, makeDriver: MakeDriver) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const mock = yield* MockModel.make()
    const texts = prompts(n)

    // --- effect-codex: one server, one thread, n turns.
    const sdkCwd = yield* tempDir("cwd")
    const t0 = performance.now()
    let lastTurnDone = 0
    const { driver, turnMs, statuses } = yield* Effect.scoped(Effect.gen(function*() {
      const driver = yield* makeDriver({ config: mock.codexConfig, cwd: sdkCwd })
      const threadId = yield* driver.startThread
      const turnMs: Array<number> = []
      const statuses: Array<string> = []
      for (const text of texts) {
        const t = performance.now()
        const outcome = yield* driver.runTurn(threadId, text)
        turnMs.push(performance.now() - t)
        statuses.push(outcome.status)
      }
      lastTurnDone = performance.now()
      return { driver, turnMs, statuses }
    }))
    const sdkTotal = lastTurnDone - t0 // spawn + handshake + thread/start + n turns
    const sdkShutdown = performance.now() - lastTurnDone // closing stdin, waiting for the exit
    const sdkRequests = (yield* mock.responsesRequests).length
    if (statuses.some((s) => s !== "completed")) throw new Error(`4a sdk: statuses ${statuses.join(",")}`)
    yield* mock.reset

    // --- the raw client, the same way (spawn + handshake + thread/start + n turns): what any client of
    // `codex app-server` can reach, so the part of the ratio that belongs to codex rather than to the SDK.
    const rawCwd = yield* tempDir("cwd")
    const r0 = performance.now()
    let rawLastTurnDone = 0
    const rawTurnMs = yield* Effect.scoped(Effect.gen(function*() {
      const raw = yield* rawServer({ config: mock.codexConfig, cwd: rawCwd })
      return yield* Effect.promise(async () => {
        const threadId: string = (await raw.request("thread/start", { cwd: rawCwd })).thread.id
        const times: Array<number> = []
        for (const text of texts) {
          const t = performance.now()
          const status = await new Promise<string>((resolve) => {
            const off = raw.onNotification((message) => {
              if (message.method === "turn/completed" && message.params.threadId === threadId) {
                off()
                resolve(message.params.turn.status)
              }
            })
            raw.request("turn/start", { threadId, input: [{ type: "text", text }] })
          })
          if (status !== "completed") throw new Error(`4a raw: status ${status}`)
          times.push(performance.now() - t)
        }
        rawLastTurnDone = performance.now()
        return times
      })
    }))
    const rawTotal = rawLastTurnDone - r0
    const rawRequests = (yield* mock.responsesRequests).length
    yield* mock.reset

    // --- @openai/codex-sdk: the same prompts, one `codex exec` per turn.
    const execHome = yield* tempDir("home")
    const execCwd = yield* tempDir("cwd")
    const codex = new Codex({ codexPathOverride: CODEX_BINARY, configOverrides: [...mock.codexConfig], env: execEnv(execHome) })
    const execTurnMs: Array<number> = []
    const t1 = performance.now()
    yield* Effect.promise(async () => {
      const thread = codex.startThread({ workingDirectory: execCwd, skipGitRepoCheck: true })
      for (const text of texts) {
        const t = performance.now()
        const result = await thread.run(text)
        execTurnMs.push(performance.now() - t)
        if (result.finalResponse === "") throw new Error("4a codex-sdk: empty final response")
      }
    })
    const execTotal = performance.now() - t1
    const execRequests = (yield* mock.responsesRequests).length
    if (sdkRequests !== n || rawRequests !== n || execRequests !== n) {
      throw new Error(`4a: model requests sdk=${sdkRequests} raw=${rawRequests} codex-sdk=${execRequests}, expected ${n} each`)
    }
    return {
      n,
      driver: driver.name,
      sdkTotalMs: round(sdkTotal),
      sdkTurnsOnlyMs: round(turnMs.reduce((a, b) => a + b, 0)),
      sdkMeanTurnMs: round(mean(turnMs)),
      sdkShutdownMs: round(sdkShutdown),
      rawTotalMs: round(rawTotal),
      rawMeanTurnMs: round(mean(rawTurnMs)),
      codexSdkTotalMs: round(execTotal),
      codexSdkMeanTurnMs: round(mean(execTurnMs)),
      speedup: round(execTotal / sdkTotal, 2),
      rawSpeedup: round(execTotal / rawTotal, 2)
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
