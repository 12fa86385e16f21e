/**
 * One process of a `CodexPool` and what the pool knows of it. Each concern changes only its own fields: the
 * supervisor `live`, `stopping` and `gone`; admission `turns` and `waiters`; placement `threads`; admission and
 * placement `lastActive`.
 *
 * @since 0.2.0
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import type * as Scope from "effect/Scope"
import { AppServerExitedError } from "../../Errors.js"

/**
 * A member before its process is known: what admission, placement and the supervisor keep of it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Slot {
  /** 1, 2, 3, ... in the order the pool started its processes (a replacement gets the next number). */
  readonly index: number
  /** Holds the process: closing it stops the process. */
  readonly scope: Scope.Closeable
  /** Takes new work (false once withdrawn). */
  live: boolean
  /** Its process is being (or has been) stopped. */
  stopping: boolean
  /** Turns holding a place on it. */
  turns: number
  /** Wakes callers waiting for room on it. */
  readonly waiters: Set<() => void>
  /** Threads placed on it, and threads being placed there (counted from the moment they are placed). */
  threads: number
  /** When it last finished a turn or took a thread (the idle reaper reads it). */
  lastActive: number
  /** Set once its process has ended (its thread locks are released). */
  readonly gone: Deferred.Deferred<void>
}

/**
 * A member of the pool with its process `P`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Member<P> extends Slot {
  readonly process: P
}

/**
 * A fresh slot, live and idle since `now`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeSlot = (index: number, scope: Scope.Closeable, now: number): Slot => ({
  index,
  scope,
  live: true,
  stopping: false,
  turns: 0,
  waiters: new Set(),
  threads: 0,
  lastActive: now,
  gone: Deferred.makeUnsafe<void>()
})

/**
 * A call refused unsent because its process had ended: safe to make again on another.
 *
 * @since 0.2.0
 * @category utils
 */
export const isRefused = (error: unknown): error is AppServerExitedError =>
  error instanceof AppServerExitedError && error.sent === false

/**
 * A turn or call cut by the end of its process, marked so: the thread resumes on a live process at its next
 * operation.
 *
 * @since 0.2.0
 * @category utils
 */
export const resumable = <E>(error: E): E =>
  error instanceof AppServerExitedError ? new AppServerExitedError({ ...error, resumable: true }) as E : error
