/**
 * How the turn cases (4a, 4b, 5, 6) drive codex. A `TurnDriver` is the plug-in point: today the only SDK driver
 * goes through `AppServer` directly (thread/start, turn/start, wait for the turn's `turn/completed`); when the
 * Thread/Turn API (`Codex`, `Thread`, `Turn`) lands, add a driver over it here and select it with
 * `--driver codex` (see `drivers` below and bench/README.md). The cases do not change.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { AppServer, Codex, CodexPool, NodeCodex } from "effect-codex"
import { CODEX_BINARY, tempDir, trackPid } from "./lib.js"

/** What one turn produced, as seen by the client. */
export interface TurnOutcome {
  readonly turnId: string
  readonly status: string
  /** `item/agentMessage/delta` notifications of this turn received by the client. */
  readonly deltas: number
  /** All notifications of this thread received while the turn ran. */
  readonly notifications: number
  /** `performance.now()` of the first and last delta (NaN when none). */
  readonly firstDeltaAt: number
  readonly lastDeltaAt: number
}

/** One SDK instance able to start threads and run turns on them. */
export interface TurnDriver {
  readonly name: string
  /** The codex server process, for memory sampling. */
  readonly pid: number | undefined
  readonly startThread: Effect.Effect<string, unknown>
  readonly runTurn: (threadId: string, prompt: string) => Effect.Effect<TurnOutcome, unknown>
}

/**
 * Options of a driver: where codex runs, the `-c` overrides (MockModel's `codexConfig`), and the executable
 * (default: the pinned codex binary; the replay server's launcher in case 6).
 */
export interface DriverOptions {
  readonly config: ReadonlyArray<string>
  readonly cwd: string
  readonly codexPath?: string | undefined
}

/** Starts `codex app-server` through the SDK on a fresh `CODEX_HOME`, in the current scope. */
export const sdkServer = (
  options: { readonly config?: ReadonlyArray<string>; readonly cwd?: string; readonly codexPath?: string | undefined } =
    {}
) =>
  Effect.gen(function*() {
    const codexHome = yield* tempDir("home")
    const context = yield* Layer.build(
      NodeCodex.layerAppServer({
        codexHome,
        codexPath: options.codexPath ?? CODEX_BINARY,
        config: options.config,
        cwd: options.cwd
      })
    )
    const server = Context.get(context, AppServer.AppServer)
    trackPid(server.pid)
    return server
  })

/**
 * The driver over `AppServer` directly. Each turn subscribes to the server's notifications BEFORE sending
 * `turn/start` (nothing is lost in between) and ends at the `turn/completed` of that turn.
 */
export const appServerDriver = (options: DriverOptions): Effect.Effect<TurnDriver, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* sdkServer(options)
    const runTurn = (threadId: string, prompt: string) =>
      Effect.scoped(Effect.gen(function*() {
        const events = yield* server.subscribe
        const started = yield* server.request("turn/start", { threadId, input: [{ type: "text", text: prompt }] })
        const turnId = started.turn.id
        let deltas = 0
        let notifications = 0
        let firstDeltaAt = Number.NaN
        let lastDeltaAt = Number.NaN
        let status = "unknown"
        yield* events.pipe(
          Stream.takeUntil((n) => {
            if (n._tag !== "Notification") return false
            const params = n.params as { readonly threadId?: string }
            if (params.threadId !== threadId) return false
            notifications++
            if (n.method === "item/agentMessage/delta") {
              deltas++
              lastDeltaAt = performance.now()
              if (deltas === 1) firstDeltaAt = lastDeltaAt
              return false
            }
            if (n.method === "turn/completed" && n.params.turn.id === turnId) {
              status = n.params.turn.status
              return true
            }
            return false
          }),
          Stream.runDrain
        )
        return { turnId, status, deltas, notifications, firstDeltaAt, lastDeltaAt } satisfies TurnOutcome
      }))
    return {
      name: "effect-codex (AppServer)",
      pid: server.pid,
      startThread: Effect.map(
        server.request("thread/start", { cwd: options.cwd }),
        (result) => result.thread.id
      ),
      runTurn
    } satisfies TurnDriver
  })

/** The driver over the public API of a `Codex` service: `Codex.threadStart`, then `Thread.stream` of each turn. */
const serviceDriver = (name: string, codex: Codex.Codex, options: DriverOptions): TurnDriver => {
  const runTurn = (threadId: string, prompt: string) =>
    Effect.gen(function*() {
      let deltas = 0
      let notifications = 0
      let firstDeltaAt = Number.NaN
      let lastDeltaAt = Number.NaN
      let turnId = ""
      let status = "unknown"
      yield* codex.thread(threadId).stream(prompt).pipe(
        Stream.runForEach((event) =>
          Effect.sync(() => {
            notifications++
            if (event._tag !== "Notification") return
            if (event.method === "item/agentMessage/delta") {
              deltas++
              lastDeltaAt = performance.now()
              if (deltas === 1) firstDeltaAt = lastDeltaAt
            } else if (event.method === "turn/completed") {
              turnId = event.params.turn.id
              status = event.params.turn.status
            }
          })
        )
      )
      return { turnId, status, deltas, notifications, firstDeltaAt, lastDeltaAt } satisfies TurnOutcome
    })
  return {
    name,
    pid: codex.server.pid,
    startThread: Effect.map(codex.threadStart({ cwd: options.cwd }), (thread) => thread.id),
    runTurn
  } satisfies TurnDriver
}

/** The driver over the public API: `Codex.threadStart`, then `Thread.stream` of each turn. */
export const codexDriver = (options: DriverOptions): Effect.Effect<TurnDriver, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const server = yield* sdkServer(options)
    const codex = Context.get(yield* Layer.build(Codex.layer().pipe(Layer.provide(Layer.succeed(AppServer.AppServer)(server)))), Codex.Codex)
    return serviceDriver("effect-codex (Codex/Thread)", codex, options)
  })

/** The same public API over a `CodexPool` of one process: what the pool adds per turn. */
export const poolDriver = (options: DriverOptions): Effect.Effect<TurnDriver, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const codexHome = yield* tempDir("home")
    const server = NodeCodex.layerAppServer({
      codexHome,
      codexPath: options.codexPath ?? CODEX_BINARY,
      config: options.config,
      cwd: options.cwd
    })
    const codex = Context.get(yield* Layer.build(CodexPool.layerWith({ size: 1, maxTurnsPerProcess: 1000 }, server)), Codex.Codex)
    trackPid(codex.server.pid)
    return serviceDriver("effect-codex (CodexPool of 1)", codex, options)
  })

/** Drivers by name (`--driver NAME`); the default is the public API. */
export const drivers: Record<string, (options: DriverOptions) => Effect.Effect<TurnDriver, unknown, Scope.Scope>> = {
  codex: codexDriver,
  appserver: appServerDriver,
  pool: poolDriver
}
