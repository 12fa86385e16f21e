/**
 * Admission: a turn's place on its process. A process runs at most `maxTurns` turns; further callers wait in one
 * queue of at most `maxQueued` for the whole pool, and past it fail with `PoolQueueFullError`. A place is held
 * until the scope it was taken in closes (the turn settles); releasing it wakes one caller waiting on that process.
 * A caller waiting on a process that leaves the pool is woken and refused (`sent: false`: safe to retry elsewhere).
 *
 * @since 0.2.0
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type AppServerExitedError, PoolQueueFullError } from "../../Errors.js"
import type { Slot } from "./member.js"
import * as Metrics from "./metrics.js"

/**
 * The pool's admission.
 *
 * @since 0.2.0
 * @category models
 */
export interface Admission {
  /**
   * A place for a turn of `threadId` on `member`, held in the current scope: at once, after waiting in the queue,
   * or refused (`refused`, the member's own refusal, once it has left the pool).
   */
  readonly admit: (
    member: Slot,
    threadId: string,
    refused: Effect.Effect<never, AppServerExitedError>
  ) => Effect.Effect<void, PoolQueueFullError | AppServerExitedError, Scope.Scope>
  /** Wakes every caller waiting on `member`, which has left the pool (they are then refused). */
  readonly wakeAll: (member: Slot) => void
}

/**
 * Options of {@link make}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Turns one process runs at once. */
  readonly maxTurns: number
  /** Callers waiting for room at most, over the whole pool. */
  readonly maxQueued: number
}

/**
 * Admission with the current context's clock and metric registry.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Admission> =>
  Effect.map(Effect.context<never>(), (context) => {
    const { maxQueued, maxTurns } = options
    const clock = Context.get(context, Clock.Clock)
    let queued = 0

    const wakeOne = (member: Slot) => {
      for (const wake of member.waiters) {
        member.waiters.delete(wake)
        return wake()
      }
    }

    const waitForRoom = (member: Slot): Effect.Effect<void> =>
      Effect.suspend(() =>
        !member.live || member.turns < maxTurns ? Effect.void : Effect.callback<void>((resume) => {
          const wake = () => resume(Effect.void)
          member.waiters.add(wake)
          return Effect.sync(() => member.waiters.delete(wake))
        }).pipe(Effect.andThen(waitForRoom(member)))
      )

    const queue = (member: Slot) =>
      Effect.suspend(() => {
        queued++
        Metrics.queueLength.modifyUnsafe(1, context)
        return waitForRoom(member)
      }).pipe(Effect.ensuring(Effect.sync(() => {
        queued--
        Metrics.queueLength.modifyUnsafe(-1, context)
      })))

    const release = (member: Slot) =>
      Effect.sync(() => {
        member.turns--
        Metrics.turnsInFlight.modifyUnsafe(-1, context)
        member.lastActive = clock.currentTimeMillisUnsafe()
        wakeOne(member)
      })

    const admit: Admission["admit"] = (member, threadId, refused) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          if (member.live && member.turns >= maxTurns) {
            if (queued >= maxQueued) {
              return yield* new PoolQueueFullError({ threadId, maxTurnsPerProcess: maxTurns, maxQueued })
            }
            yield* restore(queue(member))
          }
          if (!member.live) return yield* refused
          member.turns++
          Metrics.turnsInFlight.modifyUnsafe(1, context)
          yield* Effect.addFinalizer(() => release(member))
        })
      )

    const wakeAll = (member: Slot) => {
      for (const wake of [...member.waiters]) wake()
      member.waiters.clear()
    }

    return { admit, wakeAll }
  })
