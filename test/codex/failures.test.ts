/**
 * Failed turns on the real codex binary: each way the model can fail reaches the user as a typed reason, a failed
 * turn is retried only when that is safe, a usage limit waits for its reset, and token budgets stop turns.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Codex, Errors, Retry, Turn } from "effect-codex"
import type { Approvals } from "effect-codex"
import { CodexTest, MockModel } from "@effect-codex/testing"

/** A workspace directory for the agent, removed with the scope. */
const workspace = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(path.join(tmpdir(), "effect-codex-ws-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** Runs the commands the model asks for (this turn only). */
const acceptCommands: Approvals.Handlers = {
  "item/commandExecution/requestApproval": () => Effect.succeed({ decision: "accept" })
}

/** A usage limit reached, as the ChatGPT backend answers it: 429 `usage_limit_reached`, with the rate-limit headers. */
const usageLimit = (resetsAt: number) =>
  MockModel.fail(429, { error: { type: "usage_limit_reached", plan_type: "pro", resets_at: resetsAt, message: "limit" } }, {
    "x-codex-primary-used-percent": "100",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-at": String(resetsAt)
  })

const overloaded = MockModel.fail(503, { error: { code: "server_is_overloaded", message: "overloaded" } })

/** The failure of one turn of a fresh thread whose model call gets `reply`. */
const failureOf = (reply: MockModel.Reply) =>
  Effect.gen(function*() {
    const mock = yield* MockModel.MockModel
    yield* mock.enqueue(reply)
    const thread = yield* (yield* Codex.Codex).threadStart()
    return yield* thread.run("go").pipe(Effect.flip)
  })

const fast = Schedule.spaced(Duration.millis(10)).pipe(Schedule.upTo({ times: 2 }))

describe("Typed turn failures", () => {
  it.live("each model failure gives its typed reason; a usage limit carries the reset of the rate-limit snapshot", () =>
    Effect.gen(function*() {
      const resetsAt = Math.floor(Date.now() / 1000) + 3600
      const usage = yield* failureOf(usageLimit(resetsAt))
      expect(usage).toMatchObject({ _tag: "TurnFailedError", reason: { _tag: "UsageLimitExceeded", resetsAt } })
      expect(usage._tag === "TurnFailedError" && usage.isRetryable).toBe(false)
      const limits = yield* SubscriptionRef.get((yield* Codex.Codex).rateLimits)
      expect(limits.byLimitId["codex"]?.primary).toMatchObject({ usedPercent: 100, resetsAt })

      const cases: ReadonlyArray<readonly [MockModel.Reply, Record<string, unknown>, boolean]> = [
        [overloaded, { _tag: "ServerOverloaded" }, true],
        [
          MockModel.fail(400, { error: { code: "context_length_exceeded", message: "too long" } }),
          { _tag: "ContextWindowExceeded" },
          false
        ],
        [
          MockModel.fail(401, { error: { message: "bad key", code: "invalid_api_key" } }),
          { _tag: "HttpConnectionFailed", httpStatusCode: 401 },
          false
        ],
        [MockModel.fail(429, { error: { type: "rate_limit_exceeded" } }), {
          _tag: "ResponseTooManyFailedAttempts",
          httpStatusCode: 429
        }, true],
        [MockModel.failed({ code: "rate_limit_exceeded", message: "slow down" }), { _tag: "RateLimitExceeded" }, true],
        // The stream cut before response.completed.
        [MockModel.events([{ type: "response.created", response: { id: "r-cut" } }]), { _tag: "OtherFailure" }, true]
      ]
      for (const [reply, reason, retryable] of cases) {
        const error = yield* failureOf(reply)
        expect(error._tag).toBe("TurnFailedError")
        if (error._tag !== "TurnFailedError") continue
        expect(error.reason).toMatchObject(reason)
        expect(error.isRetryable).toBe(retryable)
        expect(error.message).toContain(error.reason._tag)
      }
      const unauthorized = yield* failureOf(MockModel.fail(401, { error: { message: "bad key" } }))
      expect(unauthorized._tag === "TurnFailedError" && Errors.isUnauthorized(unauthorized.reason)).toBe(true)
    }).pipe(Effect.provide(CodexTest.layer())), 180_000)

  it.live("narrows with Effect.catchReason", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(overloaded)
      const thread = yield* (yield* Codex.Codex).threadStart()
      const caught = yield* thread.run("go").pipe(
        Effect.map(() => "ran"),
        Effect.catchReason("TurnFailedError", "ServerOverloaded", (reason) => Effect.succeed(reason._tag))
      )
      expect(caught).toBe("ServerOverloaded")
    }).pipe(Effect.provide(CodexTest.layer())), 60_000)

  it.live("codex's own retries appear on the turn's stream as Reconnecting", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.failed({ code: "server_error" }), MockModel.text("Recovered."))
      const thread = yield* (yield* Codex.Codex).threadStart()
      const retries = yield* Stream.runCollect(Turn.reconnects(thread.stream("go")))
      expect(retries).toHaveLength(1)
      expect(retries[0]).toMatchObject({ _tag: "Reconnecting", attempt: 1, max: 2 })
      expect(retries[0]!.reason.isRetryable).toBe(true)
    }).pipe(Effect.provide(CodexTest.layer({ mock: { streamMaxRetries: 2 } }))), 60_000)
})

describe("Retry.retryTurn on the real binary", () => {
  it.live("retries a transient failure of a turn without side effects, and runs it again", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(overloaded, MockModel.text("Second time lucky."))
      const thread = yield* (yield* Codex.Codex).threadStart()
      const result = yield* thread.run("go").pipe(Retry.retryTurn({ schedule: fast }))
      expect(result.finalResponse).toBe("Second time lucky.")
      expect(yield* mock.responsesRequests).toHaveLength(2)
    }).pipe(Effect.provide(CodexTest.layer())), 60_000)

  it.live("does not retry a turn that ran a command: it fails with the original error", () =>
    Effect.gen(function*() {
      const cwd = yield* workspace
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.shellCall({ command: ["touch", "ran.txt"] }), overloaded, MockModel.text("never"))
      const thread = yield* (yield* Codex.Codex).threadStart({ cwd, approvalPolicy: "untrusted", sandbox: Codex.Sandbox.workspace })
      const error = yield* thread.run("go", { approvals: acceptCommands }).pipe(
        Retry.retryTurn({ schedule: fast }),
        Effect.flip
      )
      expect(error).toMatchObject({ _tag: "TurnFailedError", reason: { _tag: "ServerOverloaded" } })
      if (error._tag !== "TurnFailedError") return
      expect(error.result.items.find((item) => item.type === "commandExecution")).toMatchObject({ status: "completed" })
      expect(Retry.hasSideEffects(error.result)).toBe(true)
      expect(yield* mock.responsesRequests).toHaveLength(2)
    }).pipe(Effect.scoped, Effect.provide(CodexTest.layer())), 60_000)

  it.live("waits for a usage limit's reset before running again; a later reset fails at once with resetsAt", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const thread = yield* (yield* Codex.Codex).threadStart()
      const soon = Math.ceil(Date.now() / 1000) + 2
      yield* mock.enqueue(usageLimit(soon), MockModel.text("After the reset."))
      const result = yield* thread.run("go").pipe(Retry.retryTurn({ maxWait: Duration.seconds(30) }))
      expect(result.finalResponse).toBe("After the reset.")
      const [, retried] = yield* mock.responsesRequests
      expect(retried!.receivedAt).toBeGreaterThanOrEqual(soon * 1000)

      const late = Math.ceil(Date.now() / 1000) + 3600
      yield* mock.enqueue(usageLimit(late))
      const started = Date.now()
      const error = yield* thread.run("again").pipe(Retry.retryTurn({ maxWait: Duration.seconds(30) }), Effect.flip)
      expect(error).toMatchObject({ _tag: "TurnFailedError", reason: { _tag: "UsageLimitExceeded", resetsAt: late } })
      expect(Date.now() - started).toBeLessThan(30_000)
      expect(yield* mock.responsesRequests).toHaveLength(3)
    }).pipe(Effect.provide(CodexTest.layer())), 90_000)
})

describe("Usage and budgets on the real binary", () => {
  it.live("Turn.Result has the turn's own usage beside the thread's running total", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const usage = (input: number, output: number): MockModel.Usage => ({
        input_tokens: input,
        output_tokens: output,
        total_tokens: input + output
      })
      yield* mock.enqueue(MockModel.text("one", { usage: usage(12, 6) }), MockModel.text("two", { usage: usage(10, 5) }))
      const thread = yield* (yield* Codex.Codex).threadStart()
      const first = yield* thread.run("one")
      const second = yield* thread.run("two")
      expect(first.turnUsage?.totalTokens).toBe(18)
      expect(second.turnUsage).toMatchObject({ totalTokens: 15, inputTokens: 10, outputTokens: 5 })
      expect(second.usage?.total.totalTokens).toBe(33)
    }).pipe(Effect.provide(CodexTest.layer())), 60_000)

  it.live("a turn budget interrupts the turn at the usage report that crosses it", () =>
    Effect.gen(function*() {
      const cwd = yield* workspace
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(
        MockModel.shellCall({ command: ["true"] }),
        MockModel.shellCall({ command: ["sleep", "5"] }),
        MockModel.text("never reached")
      )
      const thread = yield* (yield* Codex.Codex).threadStart({ cwd, approvalPolicy: "untrusted", sandbox: Codex.Sandbox.workspace })
      const error = yield* thread.run("go", { approvals: acceptCommands, maxTokens: 20 }).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "TokenBudgetExceededError", scope: "turn", maxTokens: 20, usedTokens: 30 })
      if (error._tag !== "TokenBudgetExceededError") return
      expect(error.result.status).toBe("interrupted")
      expect(error.result.finalResponse).toBeNull()
      expect(yield* mock.responsesRequests).toHaveLength(2)
    }).pipe(Effect.scoped, Effect.provide(CodexTest.layer())), 60_000)

  it.live("a thread budget counts the thread's running total", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const thread = yield* (yield* Codex.Codex).threadStart()
      yield* thread.run("one", { maxThreadTokens: 20 })
      const error = yield* thread.run("two", { maxThreadTokens: 20 }).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "TokenBudgetExceededError", scope: "thread", maxTokens: 20, usedTokens: 30 })
      expect(yield* mock.responsesRequests).toHaveLength(2)
    }).pipe(Effect.provide(CodexTest.layer())), 60_000)
})
