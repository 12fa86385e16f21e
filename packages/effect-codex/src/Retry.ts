/**
 * Retrying what is worth retrying, on Schedules.
 *
 * - Requests the server refused because it is overloaded (`ServerBusyError`, JSON-RPC -32001):
 *   {@link retryOnOverload}. Nothing else is retried: a timeout, a dead server or a bad request fail at once.
 *   Defaults: at most 4 attempts in all, delays 250 ms, 500 ms, 1 s (exponential, factor 2), each with ±20% jitter,
 *   capped at 5 s.
 * - Failed turns (`TurnFailedError`): {@link retryTurn}, only when the reason is transient and the turn had no side
 *   effects; a usage limit waits for its reset when that is near enough.
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
import type { ThreadItem } from "@effect-codex/protocol"
import { RetryLimitExceededError, ServerBusyError, TurnFailedError } from "./Errors.js"
import type * as Turn from "./Turn.js"

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
export const overloadSchedule = (options: RetryOptions = {}): Schedule.Schedule<Duration.Duration, unknown> =>
  backoff(options).pipe(Schedule.while(({ input }) => isRetryableError(input)))

/**
 * Exponential delays from `initialDelay`, capped at `maxDelay`, jittered, at most `maxAttempts - 1` retries (the
 * spacing of {@link overloadSchedule} and {@link turnSchedule}, whatever the error).
 *
 * @since 0.2.0
 * @category schedules
 */
export const backoff = (options: RetryOptions = {}): Schedule.Schedule<Duration.Duration, unknown> => {
  const maxDelay = Duration.fromInputUnsafe(options.maxDelay ?? Duration.seconds(5))
  const capped = Schedule.exponential(options.initialDelay ?? Duration.millis(250), options.factor ?? 2).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, maxDelay)))
  )
  const spaced = options.jitter === false ? capped : Schedule.jittered(capped)
  return spaced.pipe(Schedule.upTo({ times: Math.max(0, (options.maxAttempts ?? 4) - 1) }))
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

/** Items that change nothing outside the conversation: the messages, the reasoning, the plan, a compaction. */
const harmless: ReadonlySet<ThreadItem["type"]> = new Set([
  "userMessage",
  "agentMessage",
  "reasoning",
  "plan",
  "contextCompaction"
])

/**
 * True when the turn did something outside the conversation: any item but a message, reasoning, a plan or a
 * compaction (a command, a file change, an MCP or dynamic tool call, a web search, an item of an unknown type ...).
 * Running such a turn again could do it twice.
 *
 * @since 0.2.0
 * @category guards
 */
export const hasSideEffects = (result: Turn.Result): boolean => result.items.some((item) => !harmless.has(item.type))

/**
 * How failed turns are retried by {@link retryTurn}.
 *
 * @since 0.2.0
 * @category models
 */
export interface TurnRetryOptions {
  /**
   * The spacing and bound of the retries of transient failures. Default: 3 retries, exponential from 1 s (factor 2),
   * jittered, each delay at most 30 s.
   */
  readonly schedule?: Schedule.Schedule<unknown, TurnFailedError> | undefined
  /**
   * The longest wait for a usage limit to reset (`UsageLimitExceeded.resetsAt`). A limit that resets later (or at an
   * unknown time) fails at once with its `TurnFailedError`. Default 5 minutes.
   */
  readonly maxWait?: Duration.Input | undefined
}

/**
 * The default spacing of turn retries: 3 retries, exponential from 1 s (factor 2), jittered, at most 30 s each.
 *
 * @since 0.2.0
 * @category schedules
 */
export const turnSchedule: Schedule.Schedule<Duration.Duration, unknown> = backoff({
  maxAttempts: 4,
  initialDelay: Duration.seconds(1),
  maxDelay: Duration.seconds(30)
})

/**
 * What to do with a failed turn at `now` (Unix milliseconds): retry it after the schedule's delay, wait until its
 * usage limit resets (`wait`, milliseconds), or give up.
 *
 * @since 0.2.0
 * @category utils
 */
export const turnRetryDecision = (
  error: TurnFailedError,
  now: number,
  maxWaitMillis: number
): { readonly _tag: "Retry" } | { readonly _tag: "Wait"; readonly millis: number } | { readonly _tag: "GiveUp" } => {
  if (hasSideEffects(error.result)) return { _tag: "GiveUp" }
  const reason = error.reason
  if (reason._tag === "UsageLimitExceeded") {
    if (reason.resetsAt === null) return { _tag: "GiveUp" }
    const millis = Math.max(0, reason.resetsAt * 1000 - now)
    return millis <= maxWaitMillis ? { _tag: "Wait", millis } : { _tag: "GiveUp" }
  }
  return reason.isRetryable ? { _tag: "Retry" } : { _tag: "GiveUp" }
}

/**
 * Retries a turn (`thread.run(...)`, or any effect failing with `TurnFailedError`) when both hold: its reason is
 * transient (`error.isRetryable`: overloaded, rate-limited, a server error, a broken connection or stream ...) and
 * the failed turn had no side effects ({@link hasSideEffects}: no command ran, no file changed, no tool was called).
 * A usage limit (`UsageLimitExceeded`) waits until its `resetsAt` when that is within `maxWait`, then runs again.
 * Everything else, and the last failure once the schedule is spent, fails with the original error untouched (a usage
 * limit's carries `resetsAt`).
 *
 * The effect is run again as it is: a `thread.run(input)` starts a new turn with the same input on the same thread.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Retry } from "effect-codex"
 * import type { Thread } from "effect-codex"
 *
 * declare const thread: Thread.Thread
 * const result = thread.run("Summarize README.md").pipe(Retry.retryTurn({ maxWait: "10 minutes" }))
 * ```
 * @since 0.2.0
 * @category combinators
 */
export const retryTurn = (options: TurnRetryOptions = {}) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const maxWaitMillis = Duration.toMillis(Duration.fromInputUnsafe(options.maxWait ?? Duration.minutes(5)))
  const decide = (input: unknown, now: number) =>
    input instanceof TurnFailedError ? turnRetryDecision(input, now, maxWaitMillis) : { _tag: "GiveUp" as const }
  const schedule = (options.schedule ?? turnSchedule).pipe(
    Schedule.while(({ input, now }) => decide(input, now)._tag !== "GiveUp"),
    Schedule.modifyDelay(({ duration, input, now }) => {
      const decision = decide(input, now)
      return Effect.succeed(decision._tag === "Wait" ? Duration.millis(decision.millis) : duration)
    })
  )
  return self.pipe(
    Effect.retry(schedule as Schedule.Schedule<unknown, E>),
    Effect.withSpan("Retry.retryTurn")
  )
}
