/**
 * The notifications of one connection, to everyone listening: synchronous listeners called with each
 * batch, `Stream` subscriptions (a queue per subscriber, filled by a listener), and the end, told to each
 * once after the last batch. Listeners must not throw, block or wait: they run inside the peer's reader.
 *
 * @since 0.1.0
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { AppServerExitedError } from "../../Errors.js"
import type { Listener } from "../../RpcPeer.js"

/**
 * A broadcast of notifications of type `N`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Broadcast<N> {
  /** The error the connection ended with, once it has ended. */
  readonly ended: () => AppServerExitedError | undefined
  /** Hands one batch (in order) to every listener. */
  readonly publish: (notifications: ReadonlyArray<N>) => void
  /** Ends the broadcast: every listener is told once, and later ones at once. Only the first call counts. */
  readonly end: (error: AppServerExitedError) => void
  /** Registers a listener for the life of the current scope. */
  readonly listen: (listener: Listener<N>) => Effect.Effect<void, never, Scope.Scope>
  /** Subscribes now, for the life of the current scope: every batch from now on, then the end as a failure. */
  readonly subscribe: Effect.Effect<Stream.Stream<N, AppServerExitedError>, never, Scope.Scope>
}

const subscriptionClosed = "effect-codex: a notification subscription was read after its scope closed"

/**
 * Makes an empty broadcast.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <N>(): Broadcast<N> => {
  const listeners = new Set<Listener<N>>()
  let endedWith: AppServerExitedError | undefined

  const listen = (listener: Listener<N>) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        if (endedWith === undefined) listeners.add(listener)
        else listener.onClose(endedWith)
      }),
      () => Effect.sync(() => listeners.delete(listener))
    )

  const subscribe = Effect.gen(function*() {
    const queue = yield* Queue.unbounded<N, AppServerExitedError>()
    yield* listen({
      onNotifications: (notifications) => {
        Queue.offerAllUnsafe(queue, notifications)
      },
      onClose: (error) => {
        Queue.failCauseUnsafe(queue, Cause.fail(error))
      }
    })
    // Read after its scope closed, the stream would wait forever: it dies with a clear message instead.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (endedWith === undefined) Queue.failCauseUnsafe(queue, Cause.die(new Error(subscriptionClosed)))
      })
    )
    return Stream.fromQueue(queue)
  })

  return {
    ended: () => endedWith,
    publish: (notifications) => {
      for (const listener of listeners) listener.onNotifications(notifications)
    },
    end: (error) => {
      if (endedWith !== undefined) return
      endedWith = error
      for (const listener of listeners) listener.onClose(error)
      listeners.clear()
    },
    listen,
    subscribe
  }
}
