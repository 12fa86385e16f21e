/**
 * Retrying requests the server refused because it is overloaded (`ServerBusyError`, JSON-RPC -32001).
 * Nothing else is retried: a timeout, a dead server or a bad request fail at once.
 *
 * Defaults: at most 4 attempts in all, delays 250 ms, 500 ms, 1 s (exponential, factor 2), each with
 * ±20% jitter, capped at 5 s.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AppServer, Retry } from "effect-codex"
 *
 * const threads = AppServer.request("thread/list", {}).pipe(Retry.retryOnOverload({ maxAttempts: 6 }))
 * ```
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { RetryLimitExceededError, ServerBusyError } from "./Errors.js"

/**
 * How overload retries are spaced and bounded.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryOptions {
  /** Attempts in all, the first included. Default 4. */
  readonly maxAttempts?: number | undefined
  /** Delay before the first retry. Default 250 ms. */
  readonly initialDelay?: Duration.Input | undefined
  /** Growth factor of the delay. Default 2. */
  readonly factor?: number | undefined
  /** Upper bound of any one delay (before jitter). Default 5 seconds. */
  readonly maxDelay?: Duration.Input | undefined
  /** Randomize each delay by ±20%. Default true. */
  readonly jitter?: boolean | undefined
}

/**
 * True for the errors that are worth retrying: only `ServerBusyError`.
 *
 * @since 0.1.0
 * @category guards
 */
export const isRetryableError = (error: unknown): error is ServerBusyError => error instanceof ServerBusyError

/**
 * The retry `Schedule` for overloads: exponential from `initialDelay`, capped at `maxDelay`, jittered,
 * at most `maxAttempts - 1` retries, and only while the error is a `ServerBusyError`.
 *
 * @since 0.1.0
 * @category schedules
 */
export const overloadSchedule = (options: RetryOptions = {}): Schedule.Schedule<Duration.Duration, unknown> => {
  const maxDelay = Duration.fromInputUnsafe(options.maxDelay ?? Duration.seconds(5))
  const capped = Schedule.exponential(options.initialDelay ?? Duration.millis(250), options.factor ?? 2).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, maxDelay)))
  )
  const spaced = options.jitter === false ? capped : Schedule.jittered(capped)
  return spaced.pipe(
    Schedule.upTo({ times: Math.max(0, (options.maxAttempts ?? 4) - 1) }),
    Schedule.while(({ input }) => isRetryableError(input))
  )
}

/**
 * Retries an effect while it fails with `ServerBusyError`, on {@link overloadSchedule}. When the
 * attempts run out the failure becomes `RetryLimitExceededError` holding the last `ServerBusyError`;
 * every other error passes through untouched.
 *
 * @since 0.1.0
 * @category combinators
 */
export const retryOnOverload = (options: RetryOptions = {}) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, ServerBusyError> | RetryLimitExceededError, R> =>
  Effect.suspend(() => {
    let attempts = 0
    return Effect.suspend(() => {
      attempts++
      return self
    }).pipe(
      Effect.retry(overloadSchedule(options)),
      Effect.mapError((error) =>
        isRetryableError(error) ? new RetryLimitExceededError({ attempts, lastError: error }) : error
      )
    ) as Effect.Effect<A, Exclude<E, ServerBusyError> | RetryLimitExceededError, R>
  }).pipe(Effect.withSpan("Retry.retryOnOverload"))
