/**
 * What a turn passes before `turn/start` is sent: its thread's lock (one turn at a time per thread, keyed by thread id
 * in the `Codex`, so two handles of one thread share it) and, in a `CodexPool`, a place on its process. The gate is
 * held in a scope of its own, which the thread closes when the turn settles.
 *
 * @since 0.2.0
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type { AppServerExitedError, PoolQueueFullError } from "../../Errors.js"
import { ThreadBusyError } from "../../Errors.js"

/**
 * What a turn does when its thread is busy: wait for the running turn, or fail at once with `ThreadBusyError`.
 *
 * @since 0.2.0
 * @category models
 */
export type WhenBusy = "wait" | "fail"

/**
 * A turn's place, held until the scope it was taken in closes.
 *
 * @since 0.2.0
 * @category models
 */
export interface Slot {
  /** Records the id of the turn that holds the place (for `ThreadBusyError`). */
  readonly running: (turnId: string) => void
}

/**
 * Why a turn could not pass: its thread is busy (`whenBusy: "fail"`), the pool's queue is full, or its process
 * ended while it waited (the request was not sent: `sent: false`).
 *
 * @since 0.2.0
 * @category models
 */
export type GateError = ThreadBusyError | PoolQueueFullError | AppServerExitedError

/**
 * Takes a turn's place on thread `threadId` in the current scope (`whenBusy` undefined: the gate's default).
 *
 * @since 0.2.0
 * @category models
 */
export type Gate = (threadId: string, whenBusy: WhenBusy | undefined) => Effect.Effect<Slot, GateError, Scope.Scope>

/**
 * The gate a `Codex` built in this context uses instead of its own thread locks (set by `CodexPool`, whose
 * processes share one set of locks).
 *
 * @since 0.2.0
 * @category services
 */
export class CurrentGate extends Context.Service<CurrentGate, Gate>()("effect-codex/internal/turnGate/CurrentGate") {}

/** The turns of one thread: one place, the callers holding or waiting for it, and the running turn's id. */
interface Lane {
  readonly semaphore: Semaphore.Semaphore
  users: number
  turnId: string | undefined
}

/**
 * One lock per thread id, made on first use and dropped when no caller holds or waits for it. A waiter that is
 * interrupted leaves the queue without taking the place.
 *
 * @since 0.2.0
 * @category constructors
 */
export const threadLocks = (defaultWhenBusy: WhenBusy = "wait"): Gate => {
  const lanes = new Map<string, Lane>()
  return (threadId, whenBusy) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.scope, (scope) => {
        const lane = lanes.get(threadId) ?? { semaphore: Semaphore.makeUnsafe(1), users: 0, turnId: undefined }
        if (lane.users > 0 && (whenBusy ?? defaultWhenBusy) === "fail") {
          return Effect.fail(
            new ThreadBusyError({ threadId, ...(lane.turnId === undefined ? {} : { turnId: lane.turnId }) })
          )
        }
        lanes.set(threadId, lane)
        lane.users++
        let holding = false
        // One finalizer (each costs about as much as the rest of the gate): if the place was taken, the turn id is
        // forgotten and the place released; then the lane is dropped when nobody holds or waits for it.
        const leave = Effect.suspend(() => {
          const released = holding ? lane.semaphore.release(1) : Effect.void
          if (holding) lane.turnId = undefined
          holding = false
          return Effect.andThen(
            released,
            Effect.sync(() => {
              if (--lane.users === 0) lanes.delete(threadId)
            })
          )
        })
        const slot: Slot = {
          running: (turnId) => {
            lane.turnId = turnId
          }
        }
        return Scope.addFinalizer(scope, leave).pipe(
          Effect.andThen(restore(lane.semaphore.take(1))),
          Effect.map(() => {
            holding = true
            return slot
          })
        )
      })
    )
}
