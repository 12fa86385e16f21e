/**
 * The calls a peer is waiting on: request ids, the pending map, each call's deadline (on the one timer
 * fiber of `Deadlines`) and the ids given up (timed out or interrupted), whose late answers are dropped
 * quietly. Synchronous: opening, taking and failing calls are map operations.
 *
 * @since 0.1.0
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { type AppServerExitedError, RequestTimeoutError, type RpcError } from "../../Errors.js"
import type { RequestId } from "../../RpcPeer.js"
import * as Deadlines from "./deadlines.js"

/**
 * How a call can fail.
 *
 * @since 0.2.0
 * @category models
 */
export type CallError = RpcError | AppServerExitedError | RequestTimeoutError

/**
 * A call waiting for its answer.
 *
 * @since 0.2.0
 * @category models
 */
export interface Call {
  readonly id: number
  readonly method: string
  readonly response: Deferred.Deferred<unknown, CallError>
}

/**
 * The pending calls of one peer.
 *
 * @since 0.2.0
 * @category models
 */
export interface PendingTable {
  /**
   * Opens a call with a fresh id; it fails with `RequestTimeoutError` when no answer has come within
   * `timeout` (never for an infinite one).
   */
  readonly open: (method: string, timeout: Duration.Duration) => Call
  /**
   * The answer to `id` arrived: the call it settles, removed from the table; `"late"` for a call given up
   * (the id is then forgotten); `undefined` for an id that is not pending.
   */
  readonly take: (id: RequestId) => Call | "late" | undefined
  /** Gives up the call `id` (its caller was interrupted): a late answer is dropped quietly. */
  readonly abandon: (id: RequestId) => void
  /** Fails every pending call with the error for its method (the connection ended) and empties the table. */
  readonly failAll: (error: (method: string) => AppServerExitedError) => void
}

/**
 * How many given-up ids are remembered; beyond that a late answer is reported as unknown.
 *
 * @since 0.2.0
 * @category constants
 */
export const abandonedLimit = 10_000

/**
 * Makes a table whose timer fiber lives in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<PendingTable, never, Scope.Scope> = Effect.gen(function*() {
  const pending = new Map<RequestId, Call & { readonly timeout: Duration.Duration }>()
  const abandoned = new Set<RequestId>()
  let nextId = 1

  const abandon = (id: RequestId) => {
    deadlines.delete(id)
    if (pending.delete(id) && abandoned.size < abandonedLimit) abandoned.add(id)
  }
  const deadlines: Deadlines.Deadlines<RequestId> = yield* Deadlines.make((id: RequestId) => {
    const call = pending.get(id)
    if (call === undefined) return
    abandon(id)
    Deferred.doneUnsafe(
      call.response,
      Exit.fail(new RequestTimeoutError({ method: call.method, timeoutMillis: Duration.toMillis(call.timeout) }))
    )
  })

  return {
    open: (method, timeout) => {
      const id = nextId++
      const call = { id, method, response: Deferred.makeUnsafe<unknown, CallError>(), timeout }
      pending.set(id, call)
      deadlines.set(id, timeout)
      return call
    },
    take: (id) => {
      const call = pending.get(id)
      if (call === undefined) return abandoned.delete(id) ? "late" : undefined
      pending.delete(id)
      deadlines.delete(id)
      return call
    },
    abandon,
    failAll: (error) => {
      for (const [id, call] of pending) {
        deadlines.delete(id)
        Deferred.doneUnsafe(call.response, Exit.fail(error(call.method)))
      }
      pending.clear()
    }
  }
})
