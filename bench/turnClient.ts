/**
 * One client of the turn benchmarks (cases 4a and 6) in a process of its own, so that its CPU time is its own:
 * the bench `fork`s this file with a {@link ClientSpec}, the client starts its server (codex, or the replay
 * server), runs the turns of each level and sends back a {@link ClientResult} over IPC.
 *
 * Client CPU is `process.cpuUsage()` of this process (user + system, all its threads: JavaScript, GC,
 * libuv) around the measured turns of a level; the server is a child of this process and its CPU is not in
 * it, nor is MockModel's, which runs in the bench process. The clients:
 * - `sdk`: the SDK through a `TurnDriver` (bench/drivers.ts; default the public API, `Codex` → `Thread.stream`),
 *   each turn run with `Effect.runPromise`;
 * - `raw`: the bare client (bench/rawClient.ts): `turn/start`, then one listener routes each notification to
 *   the turn waiting on its thread (a map by thread id), counting deltas as the SDK driver does, until the
 *   thread's `turn/completed`.
 */
import { fork } from "node:child_process"
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { drivers } from "./drivers.js"
import { initialize, type RawNotification, spawnRaw } from "./rawClient.js"
import {
  gc,
  makeTempDir,
  MB,
  type MemorySample,
  peak,
  percentile,
  removeAllTempDirs,
  removeTempDir,
  round,
  startSampler,
  trackPid
} from "./lib.js"

/** One level: `threads` threads each running `warmupTurns` then `turns` turns in sequence, all threads at once. */
export interface Level {
  readonly threads: number
  readonly warmupTurns: number
  readonly turns: number
}

/** What the bench asks of one client process. */
export interface ClientSpec {
  /**
   * `sdk`, `raw`, or `rawStream`: the raw client with each turn's notifications as an Effect `Stream` (a `Queue`
   * fed by its listener, read by `Stream.runForEach` in an `Effect.runPromise` per turn, as the SDK driver does):
   * what any Effect API that streams a turn's events pays over the raw client (bench/instructions.ts).
   */
  readonly client: "sdk" | "raw" | "rawStream"
  /** The SDK's driver (see bench/drivers.ts). */
  readonly driver: string
  /** The server executable: the codex binary or the replay server's launcher. */
  readonly codexPath: string
  readonly config: ReadonlyArray<string>
  readonly cwd: string
  readonly levels: ReadonlyArray<Level>
  /** Sample this process's memory every 50 ms during the measured turns (case 5). */
  readonly sampleMemory?: boolean | undefined
  /**
   * Collect garbage (a full GC) after the warm-up, before the measured turns (bench/instructions.ts): a window of a
   * few dozen turns then holds no major GC left over from startup. Off in the timed cases.
   */
  readonly gcBeforeMeasuring?: boolean | undefined
}

/** Memory of the client process during the measured turns of a level, in MB (case 5). */
export interface MemoryTrend {
  readonly samples: number
  readonly rssP10MB: number
  readonly rssP50MB: number
  readonly rssP90MB: number
  readonly rssMaxMB: number
  readonly heapP50MB: number
  readonly heapMaxMB: number
}

/** The measured part of one level. */
export interface LevelResult {
  readonly threads: number
  /** Measured turns (threads × turns). */
  readonly turns: number
  readonly cpuUserMs: number
  readonly cpuSystemMs: number
  /** Client CPU (user + system) per measured turn. */
  readonly cpuMsPerTurn: number
  /** Wall time of the measured turns. */
  readonly wallMs: number
  readonly memory?: MemoryTrend | undefined
}

/** What one client process reports. */
export interface ClientResult {
  readonly client: string
  /** From nothing running to the last turn of the last level done (server start, threads, all turns). */
  readonly totalMs: number
  /** Every turn's duration (warm-up included) when a level has one thread, in order. */
  readonly turnMs: ReadonlyArray<number>
  readonly levels: ReadonlyArray<LevelResult>
}

/** A client reduced to what the levels need. */
interface Client {
  readonly name: string
  readonly startThread: () => Promise<string>
  /** Runs one turn to its `turn/completed`; resolves with the turn's status. */
  readonly runTurn: (threadId: string, text: string) => Promise<string>
  readonly close: () => Promise<void>
}

const sdkClient = async (spec: ClientSpec): Promise<Client> => {
  const makeDriver = drivers[spec.driver]
  if (makeDriver === undefined) throw new Error(`unknown driver ${spec.driver}`)
  const scope = Effect.runSync(Scope.make())
  const driver = await Effect.runPromise(
    Scope.provide(makeDriver({ config: spec.config, cwd: spec.cwd, codexPath: spec.codexPath }), scope)
  )
  return {
    name: driver.name,
    startThread: () => Effect.runPromise(driver.startThread),
    runTurn: (threadId, text) => Effect.runPromise(driver.runTurn(threadId, text)).then((outcome) => outcome.status),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const rawClient = async (spec: ClientSpec): Promise<Client> => {
  const codexHome = makeTempDir("home")
  const raw = spawnRaw({ binary: spec.codexPath, codexHome, config: spec.config, cwd: spec.cwd })
  await initialize(raw)
  /** Where a running turn's notifications go: `done` once its thread's `turn/completed` has been handed on. */
  interface Waiting {
    readonly onNotification: (message: RawNotification, done: boolean) => void
  }
  const waiting = new Map<string, Waiting>()
  raw.onNotification((message) => {
    const turn = waiting.get(message.params?.threadId)
    if (turn === undefined) return
    const done = message.method === "turn/completed"
    if (done) waiting.delete(message.params.threadId)
    turn.onNotification(message, done)
  })
  const start = (threadId: string, text: string, turn: Waiting) => {
    waiting.set(threadId, turn)
    return raw.request("turn/start", { threadId, input: [{ type: "text", text }] })
  }
  /** Counts deltas and notifications as the SDK driver does; resolves with the turn's status. */
  const plainTurn = (threadId: string, text: string) =>
    new Promise<string>((resolve, reject) => {
      let deltas = 0
      let notifications = 0
      start(threadId, text, {
        onNotification: (message, done) => {
          notifications++
          if (message.method === "item/agentMessage/delta") deltas++
          else if (done) resolve(message.params.turn.status)
        }
      }).catch(reject)
    })
  /** The same, with the notifications read as a `Stream` from a `Queue` in an `Effect.runPromise`. */
  const streamedTurn = (threadId: string, text: string) =>
    Effect.runPromise(Effect.gen(function*() {
      const queue = yield* Queue.unbounded<RawNotification, Cause.Done>()
      yield* Effect.promise(() =>
        start(threadId, text, {
          onNotification: (message, done) => {
            Queue.offerUnsafe(queue, message)
            if (done) Queue.endUnsafe(queue)
          }
        })
      )
      let deltas = 0
      let notifications = 0
      let status = "unknown"
      yield* Stream.fromQueue(queue).pipe(Stream.runForEach((message) =>
        Effect.sync(() => {
          notifications++
          if (message.method === "item/agentMessage/delta") deltas++
          else if (message.method === "turn/completed") status = message.params.turn.status
        })
      ))
      return status
    }))
  return {
    name: spec.client === "rawStream" ? "raw client, events as a Stream" : "raw client",
    startThread: () => raw.request("thread/start", { cwd: spec.cwd }).then((result) => result.thread.id as string),
    runTurn: spec.client === "rawStream" ? streamedTurn : plainTurn,
    close: async () => {
      await raw.close()
      removeTempDir(codexHome)
    }
  }
}

const cpuMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000

const memoryTrend = (samples: ReadonlyArray<MemorySample>): MemoryTrend => {
  const mb = (key: "rss" | "heapUsed", q: number) =>
    round(percentile(samples.map((sample) => sample[key]), q) / MB, 1)
  return {
    samples: samples.length,
    rssP10MB: mb("rss", 10),
    rssP50MB: mb("rss", 50),
    rssP90MB: mb("rss", 90),
    rssMaxMB: round(peak(samples, "rss") / MB, 1),
    heapP50MB: mb("heapUsed", 50),
    heapMaxMB: round(peak(samples, "heapUsed") / MB, 1)
  }
}

/** Runs the spec; every turn must complete. */
export const run = async (spec: ClientSpec): Promise<ClientResult> => {
  const t0 = performance.now()
  const client = spec.client === "sdk" ? await sdkClient(spec) : await rawClient(spec)
  try {
    const turnMs: Array<number> = []
    const levels: Array<LevelResult> = []
    let prompt = 0
    for (const level of spec.levels) {
      const threads = await Promise.all(Array.from({ length: level.threads }, () => client.startThread()))
      const runTurns = (count: number) =>
        Promise.all(threads.map(async (threadId) => {
          for (let i = 0; i < count; i++) {
            const t = performance.now()
            const status = await client.runTurn(threadId, `Benchmark prompt ${++prompt}: say something short.`)
            if (status !== "completed") throw new Error(`${client.name}: turn ${status}`)
            if (level.threads === 1) turnMs.push(performance.now() - t)
          }
        }))
      await runTurns(level.warmupTurns)
      if (spec.gcBeforeMeasuring === true) gc()
      const wall0 = performance.now()
      const cpu0 = process.cpuUsage()
      const sampler = spec.sampleMemory === true ? startSampler(50) : undefined
      await runTurns(level.turns)
      const cpu = process.cpuUsage(cpu0)
      const memory = sampler === undefined ? undefined : memoryTrend(sampler.stop())
      const wallMs = performance.now() - wall0
      const turns = level.threads * level.turns
      levels.push({
        threads: level.threads,
        turns,
        cpuUserMs: cpu.user / 1000,
        cpuSystemMs: cpu.system / 1000,
        cpuMsPerTurn: cpuMs(cpu) / turns,
        wallMs,
        ...(memory === undefined ? {} : { memory })
      })
    }
    return { client: client.name, totalMs: performance.now() - t0, turnMs, levels }
  } finally {
    await client.close()
  }
}

type Reply = { readonly ok: true; readonly result: ClientResult } | { readonly ok: false; readonly error: string }

/**
 * How to start the client process: by default Node itself with the bench's options (the tsx loader); `wrapper`
 * runs Node under another program (e.g. `valgrind`, bench/instructions.ts), `env` adds to the environment.
 */
export interface ProcessOptions {
  readonly wrapper?: { readonly command: string; readonly args: ReadonlyArray<string> } | undefined
  /** More options for Node (e.g. `--cpu-prof`), after the bench's own. */
  readonly nodeArgs?: ReadonlyArray<string> | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
}

/** Runs the spec in a new process (this file, with the bench's Node options: the tsx loader). */
export const runInProcess = (spec: ClientSpec, options: ProcessOptions = {}): Promise<ClientResult> =>
  new Promise((resolve, reject) => {
    const child = fork(import.meta.filename, [JSON.stringify(spec)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, ...options.env },
      execArgv: [...process.execArgv, ...(options.nodeArgs ?? [])],
      ...(options.wrapper === undefined ? {} : {
        execPath: options.wrapper.command,
        execArgv: [...options.wrapper.args, process.execPath, ...process.execArgv, ...(options.nodeArgs ?? [])]
      })
    })
    trackPid(child.pid)
    let reply: Reply | undefined
    child.on("message", (message) => {
      reply = message as Reply
    })
    child.on("error", reject)
    child.on("exit", (code, signal) => {
      if (reply === undefined) reject(new Error(`${spec.client} client process exited (${signal ?? code}) without a result`))
      else if (reply.ok) resolve(reply.result)
      else reject(new Error(`${spec.client} client: ${reply.error}`))
    })
  })

if (process.send !== undefined && process.argv[2] !== undefined) {
  const spec: ClientSpec = JSON.parse(process.argv[2])
  try {
    const result = await run(spec)
    process.send({ ok: true, result }, () => process.exit(0))
  } catch (error) {
    removeAllTempDirs()
    process.send({ ok: false, error: String(error instanceof Error ? error.stack ?? error.message : error) }, () =>
      process.exit(1))
  }
}
