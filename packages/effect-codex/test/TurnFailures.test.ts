import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { TestClock } from "effect/testing"
import { Codex, Errors, Retry, Turn } from "effect-codex"
import type { ThreadItem, TurnError } from "@effect-codex/protocol"
import { FakeAppServer } from "@effect-codex/testing"
import * as RateLimits from "../src/internal/codex/rateLimits.js"

const resultWith = (error: TurnError | null, items: ReadonlyArray<ThreadItem> = []): Turn.Result => ({
  id: "turn-1",
  threadId: "thread-1",
  status: "failed",
  error,
  startedAt: null,
  completedAt: null,
  durationMs: null,
  finalResponse: null,
  items,
  usage: null,
  turnUsage: null
})

const failure = (codexErrorInfo: unknown, options: { readonly resetsAt?: number; readonly items?: ReadonlyArray<ThreadItem> } = {}) =>
  Errors.turnFailed(
    resultWith({ message: "failed", codexErrorInfo: codexErrorInfo as TurnError["codexErrorInfo"] }, options.items),
    options.resetsAt ?? null
  )

const command: ThreadItem = {
  type: "commandExecution",
  id: "call-1",
  command: "touch x",
  cwd: "/tmp",
  status: "completed",
  commandActions: [],
  aggregatedOutput: null,
  exitCode: 0,
  durationMs: 1
} as unknown as ThreadItem

/** An effect that fails with `errors` in turn, then succeeds with the attempt count; records attempt times. */
const scripted = (errors: ReadonlyArray<Errors.TurnFailedError>) => {
  const times: Array<number> = []
  const effect = Effect.gen(function*() {
    times.push(yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe())))
    const error = errors[times.length - 1]
    if (error !== undefined) return yield* Effect.fail(error)
    return times.length
  })
  return { effect, times }
}

describe("TurnFailedError reasons", () => {
  it("maps every codexErrorInfo kind to its class, with its fields and retryability", () => {
    const table: ReadonlyArray<readonly [unknown, Record<string, unknown>, boolean]> = [
      ["contextWindowExceeded", { _tag: "ContextWindowExceeded" }, false],
      ["sessionBudgetExceeded", { _tag: "SessionBudgetExceeded" }, false],
      ["usageLimitExceeded", { _tag: "UsageLimitExceeded", resetsAt: null }, false],
      ["rateLimitExceeded", { _tag: "RateLimitExceeded" }, true],
      ["flexUnavailable", { _tag: "FlexUnavailable" }, true],
      ["serverOverloaded", { _tag: "ServerOverloaded" }, true],
      ["modelNotFound", { _tag: "ModelNotFound" }, false],
      ["policyCapacityUnavailable", { _tag: "PolicyCapacityUnavailable" }, true],
      ["cyberPolicy", { _tag: "CyberPolicy" }, false],
      ["misalignmentPolicyViolation", { _tag: "MisalignmentPolicyViolation" }, false],
      ["tooManyDenials", { _tag: "TooManyDenials" }, false],
      ["internalServerError", { _tag: "InternalServerError" }, true],
      ["unauthorized", { _tag: "Unauthorized" }, false],
      ["badRequest", { _tag: "BadRequest" }, false],
      ["threadRollbackFailed", { _tag: "ThreadRollbackFailed" }, false],
      ["sandboxError", { _tag: "SandboxError" }, false],
      ["inferenceHookDenied", { _tag: "InferenceHookDenied" }, false],
      ["other", { _tag: "OtherFailure", message: "failed" }, false],
      [null, { _tag: "OtherFailure" }, false],
      [{ httpConnectionFailed: { httpStatusCode: 401 } }, { _tag: "HttpConnectionFailed", httpStatusCode: 401 }, false],
      [{ httpConnectionFailed: { httpStatusCode: null } }, { _tag: "HttpConnectionFailed", httpStatusCode: null }, true],
      [{ responseStreamConnectionFailed: { httpStatusCode: 502 } }, { _tag: "ResponseStreamConnectionFailed" }, true],
      [{ responseStreamDisconnected: {} }, { _tag: "ResponseStreamDisconnected", httpStatusCode: null }, true],
      [{ responseTooManyFailedAttempts: { httpStatusCode: 429 } }, { _tag: "ResponseTooManyFailedAttempts" }, true],
      [{ responseTooManyFailedAttempts: { httpStatusCode: 400 } }, { _tag: "ResponseTooManyFailedAttempts" }, false],
      [{ activeTurnNotSteerable: { turnKind: "review" } }, { _tag: "ActiveTurnNotSteerable", turnKind: "review" }, false],
      ["brandNewKind", { _tag: "UnknownFailure", raw: "brandNewKind" }, false],
      [{ brandNewKind: { a: 1 } }, { _tag: "UnknownFailure", raw: { brandNewKind: { a: 1 } } }, false],
      [{ type: "@unknown", raw: 42 }, { _tag: "UnknownFailure", raw: 42 }, false]
    ]
    for (const [info, reason, retryable] of table) {
      const error = failure(info)
      expect(error.reason).toMatchObject(reason)
      expect([info, error.isRetryable]).toEqual([info, retryable])
      expect(error.cause).toBe(error.reason)
    }
    expect(Errors.reasonOf({ message: "stream disconnected before completion: cut", codexErrorInfo: "other" }).isRetryable)
      .toBe(true)
    expect(Errors.isUnauthorized(failure("unauthorized").reason)).toBe(true)
    expect(Errors.isUnauthorized(failure({ httpConnectionFailed: { httpStatusCode: 401 } }).reason)).toBe(true)
    expect(Errors.isUnauthorized(failure("badRequest").reason)).toBe(false)
  })

  it("round-trips through its schema, reason included", () => {
    {
      const error = failure({ httpConnectionFailed: { httpStatusCode: 503 } })
      const encoded = Schema.encodeSync(Errors.TurnFailedError)(error)
      const decoded = Schema.decodeUnknownSync(Errors.TurnFailedError)(encoded)
      expect(decoded.reason).toBeInstanceOf(Errors.HttpConnectionFailed)
      expect(decoded.isRetryable).toBe(true)
    }
  })

  it.effect("reaches the user from the server, kinds the mock model cannot provoke and unknown kinds included", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const codex = yield* Codex.Codex
      const kinds: ReadonlyArray<readonly [unknown, string]> = [
        ["sessionBudgetExceeded", "SessionBudgetExceeded"],
        ["cyberPolicy", "CyberPolicy"],
        ["unauthorized", "Unauthorized"],
        [{ activeTurnNotSteerable: { turnKind: "compact" } }, "ActiveTurnNotSteerable"],
        ["someKindFromTheFuture", "UnknownFailure"],
        [{ futureKind: { detail: 1 } }, "UnknownFailure"]
      ]
      for (const [codexErrorInfo, tag] of kinds) {
        yield* fake.enqueueTurn({ status: "failed", error: { message: "no", codexErrorInfo } })
        const thread = yield* codex.threadStart()
        const caught = yield* thread.run("hi").pipe(
          Effect.map(() => "ran"),
          Effect.catchTag("TurnFailedError", (error) => Effect.succeed(error.reason))
        )
        expect(caught).toMatchObject({ _tag: tag })
      }
    }).pipe(Effect.provide(FakeAppServer.layerCodex())))

  it.effect("Effect.catchReason narrows one reason and keeps the others", () =>
    Effect.gen(function*() {
      const handled = yield* Effect.fail(failure("usageLimitExceeded", { resetsAt: 1_900_000_000 })).pipe(
        Effect.catchReason("TurnFailedError", "UsageLimitExceeded", (reason) => Effect.succeed(reason.resetsAt))
      )
      expect(handled).toBe(1_900_000_000)
      const other = yield* Effect.fail(failure("serverOverloaded")).pipe(
        Effect.catchReason("TurnFailedError", "UsageLimitExceeded", () => Effect.succeed(0)),
        Effect.flip
      )
      expect(other.reason._tag).toBe("ServerOverloaded")
    }))
})

describe("Turn.reconnecting", () => {
  it("reads codex's own retries from error notifications with willRetry", () => {
    const event = (willRetry: boolean, message: string): Turn.Event => ({
      _tag: "Notification",
      method: "error",
      params: {
        threadId: "t",
        turnId: "u",
        willRetry,
        error: { message, codexErrorInfo: { responseStreamDisconnected: { httpStatusCode: null } } }
      }
    } as Turn.Event)
    expect(Turn.reconnecting(event(true, "Reconnecting... 2/5"))).toMatchObject({
      _tag: "Reconnecting",
      turnId: "u",
      attempt: 2,
      max: 5,
      reason: { _tag: "ResponseStreamDisconnected" }
    })
    expect(Turn.reconnecting(event(true, "Reconnecting"))).toMatchObject({ attempt: 1, max: undefined })
    expect(Turn.reconnecting(event(false, "Reconnecting... 5/5"))).toBeUndefined()
  })
})

describe("Retry.retryTurn", () => {
  const fast = Schedule.spaced(Duration.seconds(1)).pipe(Schedule.upTo({ times: 3 }))

  it.effect("retries a transient failure of a turn without side effects on the schedule", () =>
    Effect.gen(function*() {
      const { effect, times } = scripted([failure("serverOverloaded"), failure({ responseStreamDisconnected: {} })])
      const fiber = yield* effect.pipe(Retry.retryTurn({ schedule: fast }), Effect.forkScoped)
      yield* TestClock.adjust(Duration.seconds(10))
      expect(yield* Fiber.join(fiber)).toBe(3)
      expect(times).toEqual([0, 1000, 2000])
    }))

  it.effect("never retries a turn with side effects, nor a failure that is not transient", () =>
    Effect.gen(function*() {
      for (const error of [failure("serverOverloaded", { items: [command] }), failure("contextWindowExceeded")]) {
        const { effect, times } = scripted([error])
        const fiber = yield* effect.pipe(Retry.retryTurn({ schedule: fast }), Effect.flip, Effect.forkScoped)
        yield* TestClock.adjust(Duration.seconds(10))
        expect(yield* Fiber.join(fiber)).toBe(error)
        expect(times).toHaveLength(1)
      }
      expect(Retry.hasSideEffects(failure("other", { items: [command] }).result)).toBe(true)
    }))

  it.effect("waits for a usage limit's reset within maxWait, and fails at once (with resetsAt) beyond it", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_800_000_000_000)
      const soon = failure("usageLimitExceeded", { resetsAt: 1_800_000_000 + 90 })
      const { effect, times } = scripted([soon])
      const fiber = yield* effect.pipe(Retry.retryTurn({ maxWait: Duration.minutes(2) }), Effect.forkScoped)
      yield* TestClock.adjust(Duration.seconds(89))
      expect(times).toHaveLength(1)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* Fiber.join(fiber)).toBe(2)
      expect(times[1]).toBe((1_800_000_000 + 90) * 1000)

      const late = failure("usageLimitExceeded", { resetsAt: 1_800_000_000 + 3600 })
      const unknown = failure("usageLimitExceeded")
      for (const error of [late, unknown]) {
        const again = scripted([error])
        const failed = yield* again.effect.pipe(Retry.retryTurn({ maxWait: Duration.minutes(2) }), Effect.flip)
        expect(failed).toBe(error)
        expect(again.times).toHaveLength(1)
      }
    }))
})

describe("Rate limits", () => {
  it("merges sparse reports per limit id and finds the reset of the exhausted window", () => {
    let limits = RateLimits.merge(RateLimits.empty, {
      limitId: "codex",
      planType: "pro",
      primary: { usedPercent: 40, resetsAt: 100, windowDurationMins: 300 },
      secondary: { usedPercent: 100, resetsAt: 500 }
    })
    limits = RateLimits.merge(limits, { limitId: "codex", planType: null, primary: { usedPercent: 60, resetsAt: 200 } })
    expect(limits.byLimitId["codex"]).toMatchObject({
      planType: "pro",
      primary: { usedPercent: 60, resetsAt: 200 },
      secondary: { usedPercent: 100, resetsAt: 500 }
    })
    expect(RateLimits.resetsAt(limits)).toBe(500)
    limits = RateLimits.merge(limits, { limitId: "other", primary: { usedPercent: 10, resetsAt: 50 } })
    expect(limits.latest?.limitId).toBe("other")
    expect(RateLimits.resetsAt(limits)).toBe(500)
    expect(RateLimits.resetsAt(RateLimits.merge(RateLimits.empty, { primary: { usedPercent: 5, resetsAt: 9 } }))).toBe(9)
    expect(RateLimits.resetsAt(RateLimits.empty)).toBeNull()
  })
})
