/**
 * The account's rate limits as codex reports them in `account/rateLimits/updated`: sparse rolling snapshots, merged
 * per limit id (a field a report leaves out or nulls keeps its last value), kept synchronously (a failed turn reads
 * the reset time at once) and published on a `SubscriptionRef`.
 *
 * @since 0.2.0
 *
 * @internal
 */
import type { RateLimitSnapshot, RateLimitWindow } from "@effect-codex/protocol"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type * as AppServer from "../../AppServer.js"

/**
 * The merged rate limits: per limit id (`codex` when a report names none), and the one reported last.
 *
 * @since 0.2.0
 * @category models
 */
export interface RateLimits {
  /** The merged snapshot of the limit reported last; null before any report. */
  readonly latest: RateLimitSnapshot | null
  /** Every limit reported so far, merged, by limit id. */
  readonly byLimitId: Readonly<Record<string, RateLimitSnapshot>>
}

/**
 * No report yet.
 *
 * @since 0.2.0
 * @category constants
 */
export const empty: RateLimits = { latest: null, byLimitId: {} }

/**
 * A sparse report merged over the last snapshot of its limit: what the report carries (not null) wins.
 *
 * @since 0.2.0
 * @category utils
 */
export const merge = (limits: RateLimits, report: RateLimitSnapshot): RateLimits => {
  const limitId = report.limitId ?? "codex"
  const previous = limits.byLimitId[limitId] ?? {}
  const merged = { ...previous } as Record<string, unknown>
  for (const [key, value] of Object.entries(report)) {
    if (value !== null && value !== undefined) merged[key] = value
  }
  const snapshot = merged as unknown as RateLimitSnapshot
  return { latest: snapshot, byLimitId: { ...limits.byLimitId, [limitId]: snapshot } }
}

const windowsOf = (limits: RateLimits): ReadonlyArray<RateLimitWindow> =>
  Object.values(limits.byLimitId).flatMap((snapshot) =>
    [snapshot.primary, snapshot.secondary].filter((window): window is RateLimitWindow => window != null)
  )

/**
 * When a usage limit that is reached resets (Unix seconds): the latest `resetsAt` of the windows used up (100%),
 * else of all windows; null when no window has one.
 *
 * @since 0.2.0
 * @category utils
 */
export const resetsAt = (limits: RateLimits): number | null => {
  const windows = windowsOf(limits).filter((window) => window.resetsAt != null)
  const exhausted = windows.filter((window) => window.usedPercent >= 100)
  const candidates = exhausted.length > 0 ? exhausted : windows
  return candidates.length === 0 ? null : Math.max(...candidates.map((window) => window.resetsAt!))
}

/**
 * Follows `server`'s rate-limit reports for the life of the scope: the merged limits, published on `ref`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const track = (
  server: AppServer.Service
): Effect.Effect<SubscriptionRef.SubscriptionRef<RateLimits>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ref = yield* SubscriptionRef.make(empty)
    let current = empty
    const context = yield* Effect.context<never>()
    yield* server.listen({
      onNotifications: (notifications) => {
        const before = current
        for (const notification of notifications) {
          if (notification._tag === "Notification" && notification.method === "account/rateLimits/updated") {
            current = merge(current, notification.params.rateLimits)
          }
        }
        if (current !== before) Effect.runForkWith(context)(SubscriptionRef.set(ref, current))
      },
      onClose: () => {}
    })
    return ref
  })

/**
 * When the reached usage limit resets, from the tracked limits: at once when a report has said, else from the next
 * report within `grace` (codex may report the limits just after the failed turn); null when none says.
 *
 * @since 0.2.0
 * @category utils
 */
export const awaitResetsAt = (
  ref: SubscriptionRef.SubscriptionRef<RateLimits>,
  grace: Duration.Input
): Effect.Effect<number | null> =>
  SubscriptionRef.changes(ref).pipe(
    Stream.map(resetsAt),
    Stream.filter((reset): reset is number => reset !== null),
    Stream.runHead,
    Effect.timeoutOption(grace),
    Effect.map((found) => Option.getOrNull(Option.flatten(found)))
  )
