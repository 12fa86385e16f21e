import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import { Errors, Retry } from "effect-codex"

const busy = new Errors.ServerBusyError({ method: "thread/start", code: -32001, message: "Server overloaded; retry later." })

/** An effect that fails with `errors` in turn, then succeeds with the attempt count; records attempt times. */
const scripted = (errors: ReadonlyArray<unknown>) => {
  const times: Array<number> = []
  const effect = Effect.gen(function*() {
    times.push(yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe())))
    const error = errors[times.length - 1]
    if (error !== undefined) return yield* Effect.fail(error as Errors.RequestError)
    return times.length
  })
  return { effect, times }
}

describe("Retry", () => {
  it.effect("retries ServerBusyError with exponential delays and succeeds", () =>
    Effect.gen(function*() {
      const { effect, times } = scripted([busy, busy, busy])
      const fiber = yield* effect.pipe(Retry.retryOnOverload({ jitter: false }), Effect.forkScoped)
      yield* TestClock.adjust(Duration.seconds(10))
      expect(yield* Fiber.join(fiber)).toBe(4)
      expect(times).toEqual([0, 250, 750, 1750])
    }))

  it.effect("caps each delay at maxDelay and keeps jitter within ±20%", () =>
    Effect.gen(function*() {
      const { effect, times } = scripted([busy, busy, busy, busy, busy])
      const fiber = yield* effect.pipe(
        Retry.retryOnOverload({ maxAttempts: 6, initialDelay: Duration.seconds(1), maxDelay: Duration.seconds(3) }),
        Effect.forkScoped
      )
      yield* TestClock.adjust(Duration.minutes(1))
      expect(yield* Fiber.join(fiber)).toBe(6)
      const gaps = times.slice(1).map((time, index) => time - times[index]!)
      const nominal = [1000, 2000, 3000, 3000, 3000]
      gaps.forEach((gap, index) => {
        expect(gap).toBeGreaterThanOrEqual(nominal[index]! * 0.8)
        expect(gap).toBeLessThanOrEqual(nominal[index]! * 1.2)
      })
    }))

  it.effect("gives up after maxAttempts with RetryLimitExceededError holding the last error", () =>
    Effect.gen(function*() {
      const { effect, times } = scripted([busy, busy, busy, busy])
      const fiber = yield* effect.pipe(Retry.retryOnOverload({ maxAttempts: 3 }), Effect.flip, Effect.forkScoped)
      yield* TestClock.adjust(Duration.minutes(1))
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("RetryLimitExceededError")
      expect(error).toMatchObject({ attempts: 3, lastError: { _tag: "ServerBusyError", code: -32001 } })
      expect(times).toHaveLength(3)
    }))

  it.effect("does not retry other errors", () =>
    Effect.gen(function*() {
      const timeout = new Errors.RequestTimeoutError({ method: "thread/list", timeoutMillis: 5 })
      const { effect, times } = scripted([timeout])
      const error = yield* effect.pipe(Retry.retryOnOverload(), Effect.flip)
      expect(error).toBe(timeout)
      expect(times).toHaveLength(1)
      expect(Retry.isRetryableError(timeout)).toBe(false)
      expect(Retry.isRetryableError(busy)).toBe(true)
    }))

  it("classifies overloads by code even without data, and by data markers", () => {
    expect(Errors.fromRpcError("m", { code: -32001, message: "Server overloaded; retry later." })._tag).toBe(
      "ServerBusyError"
    )
    expect(
      Errors.fromRpcError("m", { code: -32603, message: "x", data: { codex_error_info: "server_overloaded" } })._tag
    ).toBe("ServerBusyError")
    expect(Errors.fromRpcError("m", { code: -32603, message: "x", data: { other: 1 } })._tag).toBe("InternalRpcError")
  })
})
