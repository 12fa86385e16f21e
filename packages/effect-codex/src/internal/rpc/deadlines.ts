/**
 * Deadlines of many keys on one timer fiber: the fiber sleeps until the earliest deadline and calls
 * `onExpired` for each key whose time has come. Adding or removing a key is a map operation, not a fiber:
 * the pending table (`PendingTable`) uses it for request timeouts instead of racing every request against its
 * own sleep, and the dispatcher for the watchdogs of its turns instead of a sleeping fiber per turn.
 *
 * Time comes from the `Clock` service, so `TestClock` drives it in tests.
 *
 * @since 0.1.0
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"

/**
 * The deadlines of one owner (a peer).
 *
 * @since 0.1.0
 * @category models
 */
export interface Deadlines<K> {
  /** Sets (or moves) the deadline of `key` to `timeout` from now; an infinite timeout never expires. */
  readonly set: (key: K, timeout: Duration.Duration) => void
  /** Forgets `key` (it settled in time). */
  readonly delete: (key: K) => void
}

/**
 * Starts the timer fiber in the current scope. `onExpired` runs synchronously on that fiber, once per
 * expired key, after the key has been removed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <K>(onExpired: (key: K) => void): Effect.Effect<Deadlines<K>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const due = new Map<K, number>()
    // What the timer fiber sleeps until, and how to wake it earlier.
    let armedUntil = Number.POSITIVE_INFINITY
    let rearm = Deferred.makeUnsafe<void>()

    const expire = (now: number): number => {
      let earliest = Number.POSITIVE_INFINITY
      for (const [key, at] of due) {
        if (at <= now) {
          due.delete(key)
          onExpired(key)
        } else if (at < earliest) {
          earliest = at
        }
      }
      return earliest
    }

    yield* Effect.forkScoped(Effect.suspend(function loop(): Effect.Effect<void> {
      const now = clock.currentTimeMillisUnsafe()
      armedUntil = expire(now)
      rearm = Deferred.makeUnsafe<void>()
      const woken = Deferred.await(rearm)
      const wait = armedUntil === Number.POSITIVE_INFINITY
        ? woken
        : Effect.raceFirst(Effect.sleep(Duration.millis(armedUntil - now)), woken)
      return Effect.flatMap(wait, loop)
    }))

    return {
      set: (key, timeout) => {
        if (!Duration.isFinite(timeout)) {
          due.delete(key)
          return
        }
        const at = clock.currentTimeMillisUnsafe() + Duration.toMillis(timeout)
        due.set(key, at)
        // Only a deadline earlier than the one the fiber sleeps until wakes it: with equal timeouts, a
        // steady stream of requests wakes the fiber about once per timeout period.
        if (at < armedUntil) {
          armedUntil = at
          Deferred.doneUnsafe(rearm, Exit.void)
        }
      },
      delete: (key) => {
        due.delete(key)
      }
    }
  })
