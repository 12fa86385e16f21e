/**
 * How the turn cases (4a, 4b, 5) drive codex. A `TurnDriver` is the plug-in point: today the only SDK driver
 * goes through `AppServer` directly (thread/start, turn/start, wait for the turn's `turn/completed`); when the
 * Thread/Turn API (`Codex`, `Thread`, `Turn`) lands, add a driver over it here and select it with
 * `--driver codex` (see `drivers` below and bench/README.md). The cases do not change.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { AppServer } from "effect-codex"
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

/** Options of a driver: where codex runs and the `-c` overrides (MockModel's `codexConfig`). */
export interface DriverOptions {
  readonly config: ReadonlyArray<string>
  readonly cwd: string
}

/** Starts `codex app-server` through the SDK on a fresh `CODEX_HOME`, in the current scope. */
export const sdkServer = (options: { readonly config?: ReadonlyArray<string>; readonly cwd?: string } = {}) =>
  Effect.gen(function*() {
    const codexHome = yield* tempDir("home")
    const context = yield* Layer.build(
      AppServer.layerNode({ codexHome, codexPath: CODEX_BINARY, config: options.config, cwd: options.cwd })
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

/** Drivers by name (`--driver NAME`). Add the Thread/Turn-API driver here when it exists. */
export const drivers: Record<string, (options: DriverOptions) => Effect.Effect<TurnDriver, unknown, Scope.Scope>> = {
  appserver: appServerDriver
}
