/**
 * An in-memory connection for tests: the client end is a `Transport.Transport` (what the
 * `Transport.Transport` service provides), the server end is driven by the test. `FakeAppServer` is built
 * on it; use it directly to script the wire byte by byte (partial lines, garbage, an exit mid-message).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RpcPeer } from "effect-codex"
 * import { InMemoryTransport } from "@effect-codex/testing"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const { client, server } = yield* InMemoryTransport.make
 *     const peer = yield* RpcPeer.make(client)
 *     yield* server.send(`{"method":"thread/started","params":{}}\n`)
 *     yield* server.close({ exitCode: 1, stderrTail: ["fatal"] })
 *     return yield* peer.closed
 *   })
 * )
 * ```
 * @since 0.2.0
 */
import type * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Transport } from "effect-codex"

/**
 * The server end of an in-memory connection, driven by a test.
 *
 * @since 0.2.0
 * @category models
 */
export interface Server {
  /** Text the client wrote, as written. */
  readonly received: Stream.Stream<string>
  /** Sends text to the client. */
  readonly send: (text: string) => Effect.Effect<void>
  /** Ends the connection as if the server exited. */
  readonly close: (info?: Partial<Transport.ExitInfo>) => Effect.Effect<void>
}

/**
 * An in-memory connection: the client end (a `Transport` service value) and the server end for a test
 * to script. Closing the scope closes the connection.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<
  { readonly client: Transport.Transport; readonly server: Server },
  never,
  Scope.Scope
> = Effect.gen(function*() {
  const toServer = yield* Queue.unbounded<string, Cause.Done>()
  const toClient = yield* Queue.unbounded<string, Cause.Done>()
  const exited = yield* Deferred.make<Transport.ExitInfo>()
  const close = (info: Partial<Transport.ExitInfo> = {}) =>
    Effect.all([
      Queue.end(toClient),
      Queue.end(toServer),
      Deferred.succeed(exited, {
        exitCode: info.exitCode === undefined ? 0 : info.exitCode,
        signal: info.signal ?? null,
        stderrTail: info.stderrTail ?? [],
        reason: info.reason ?? "in-memory server closed"
      })
    ], { discard: true })
  yield* Effect.addFinalizer(() => close({ reason: "scope closed" }))
  return {
    client: {
      pid: undefined,
      incoming: Stream.fromQueue(toClient),
      write: (text) => Queue.offer(toServer, text).pipe(Effect.asVoid),
      exit: Deferred.await(exited)
    },
    server: {
      received: Stream.fromQueue(toServer),
      send: (text) => Queue.offer(toClient, text).pipe(Effect.asVoid),
      close
    }
  }
})
