/**
 * A process of a `CodexPool`: one build of the server layer, in the member's scope, with a `Codex` over it. Its
 * turns pass the pool's gate (the thread locks shared by every process, then admission), and the end of its
 * connection reaches them marked resumable.
 *
 * @since 0.2.0
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as AppServer from "../../AppServer.js"
import * as Codex from "../../Codex.js"
import { AppServerExitedError, type StartError } from "../../Errors.js"
import * as TurnGate from "../codex/turnGate.js"
import { resumable, type Slot } from "./member.js"
import type * as Supervisor from "./supervisor.js"

/**
 * One app-server process of the pool, with the `Codex` built over it.
 *
 * @since 0.2.0
 * @category models
 */
export interface PoolProcess extends Supervisor.Process {
  readonly server: AppServer.AppServer
  readonly codex: Codex.Codex
}

/**
 * Options of {@link starter}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options<R> {
  /** Each build is one process. */
  readonly server: Layer.Layer<AppServer.AppServer, StartError, R>
  /** The options of the `Codex` over each process. */
  readonly codex: Codex.ServiceOptions
  /** The gate of the turns on `slot`; `refused` refuses a turn once the process has left the pool. */
  readonly gate: (slot: Slot, refused: Effect.Effect<never, AppServerExitedError>) => TurnGate.Gate
}

/** The refusal of a turn on a process that has left the pool: never sent, safe to make on another. */
const refusal = (server: AppServer.AppServer): Effect.Effect<never, AppServerExitedError> =>
  Effect.flatMap(server.closed.pipe(Effect.timeoutOption(Duration.zero)), (closed) =>
    Effect.fail(
      new AppServerExitedError({
        ...(closed._tag === "Some"
          ? closed.value
          : { exitCode: null, signal: null, stderrTail: [], reason: "its process left the pool" }),
        method: "turn/start",
        sent: false,
        resumable: true
      })
    ))

/**
 * How the supervisor starts a process of the pool, with the services `server` needs (taken from the context now).
 *
 * @since 0.2.0
 * @category constructors
 */
export const starter = <R>(
  options: Options<R>
): Effect.Effect<(slot: Slot) => Effect.Effect<PoolProcess, StartError>, never, R> =>
  Effect.map(Effect.context<R>(), (context) => (slot) =>
    Effect.gen(function*() {
      // A memo map of its own: every build is a new process, whatever was built before.
      const built = yield* Layer.buildWithMemoMap(options.server, Layer.makeMemoMapUnsafe(), slot.scope)
      const server = Context.get(built, AppServer.AppServer)
      // The end of the connection reaches its turns marked resumable (at the source: no wrapper per event).
      const marked: AppServer.AppServer = {
        ...server,
        listen: (listener) => server.listen({ ...listener, onClose: (error) => listener.onClose(resumable(error)) }),
        closed: Effect.map(server.closed, resumable)
      }
      const codex = yield* Codex.make(options.codex).pipe(
        Effect.provideService(AppServer.AppServer, marked),
        Effect.provideService(TurnGate.CurrentGate, options.gate(slot, refusal(server))),
        Scope.provide(slot.scope)
      )
      return {
        pid: server.pid,
        server,
        codex,
        closed: server.closed,
        // Its own timeout is the supervisor's `probeTimeout`.
        probe: server.request("thread/loaded/list", {}, { timeout: Duration.infinity })
      }
    }).pipe(Effect.provideContext(context)))
