/**
 * Turns of one thread run one at a time, on the real codex binary: a second turn waits for the running one (or fails
 * with ThreadBusyError when asked to), also from a second handle of the same thread; it never merges into the
 * running turn (which is what codex does with a second `turn/start`). `steer` still adds input to a running turn.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { Codex } from "effect-codex"
import { CodexTest, MockModel } from "@effect-codex/testing"

/** A reply that streams for a while (so a turn is surely running when the test acts). */
const slow = (text: string) => {
  const words = Array.from({ length: 40 }, (_, index) => `${text}${index} `)
  return MockModel.text(words.join(""), { deltas: words, intervalMs: 15 })
}

describe("per-thread turn ordering", () => {
  it.live("a second run on a busy thread, from another handle, waits and runs as its own turn", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(slow("first"), MockModel.text("second answer"))
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const first = yield* Effect.forkChild(thread.run("first question"))
      yield* mock.awaitResponsesRequests(1)
      const second = yield* codex.thread(thread.id).run("second question")
      const firstResult = yield* Fiber.join(first)
      expect(second.id).not.toBe(firstResult.id)
      expect(firstResult.finalResponse).toContain("first39")
      expect(second.finalResponse).toBe("second answer")
      // The second prompt reached the model after the first turn ended, with that turn's answer as history.
      const requests = yield* mock.responsesRequests
      expect(requests).toHaveLength(2)
      expect(JSON.stringify(requests[1]!.body)).toContain("first39")
      expect(JSON.stringify(requests[0]!.body)).not.toContain("second question")
    }).pipe(Effect.provide(CodexTest.layer())))

  it.live("fails at once with ThreadBusyError when asked to; steer still reaches the running turn", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(slow("busy"), MockModel.text("steered"))
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const result = yield* Effect.scoped(Effect.gen(function*() {
        const running = yield* thread.turn("long task")
        const error = yield* thread.run("meanwhile", { whenBusy: "fail" }).pipe(Effect.flip)
        expect(error).toMatchObject({ _tag: "ThreadBusyError", threadId: thread.id, turnId: running.id })
        yield* mock.awaitResponsesRequests(1)
        yield* running.steer("and one more thing")
        return yield* running.run
      }))
      expect(result.finalResponse).toBe("steered")
      const requests = yield* mock.responsesRequests
      expect(requests.some((request) => JSON.stringify(request.body).includes("meanwhile"))).toBe(false)
      expect(JSON.stringify(requests.at(-1)!.body)).toContain("and one more thing")
    }).pipe(Effect.provide(CodexTest.layer())))

  it.live("whenBusy: \"fail\" on the layer applies to every turn", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(slow("layer"))
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const first = yield* Effect.forkChild(thread.run("first"))
      yield* mock.awaitResponsesRequests(1)
      const error = yield* codex.thread(thread.id).run("second").pipe(Effect.flip)
      expect(error._tag).toBe("ThreadBusyError")
      yield* Fiber.join(first)
    }).pipe(Effect.provide(CodexTest.layer({ whenBusy: "fail" }))))

  it.live("an interrupted waiter leaves no place behind", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(slow("held"), MockModel.text("after"))
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const first = yield* Effect.forkChild(thread.run("first"))
      yield* mock.awaitResponsesRequests(1)
      const waiter = yield* Effect.forkChild(thread.run("never sent"))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(waiter)
      yield* Fiber.join(first)
      // Free again: a turn that refuses to wait starts at once.
      const next = yield* thread.run("after", { whenBusy: "fail" })
      expect(next.finalResponse).toBe("after")
      const requests = yield* mock.responsesRequests
      expect(requests.some((request) => JSON.stringify(request.body).includes("never sent"))).toBe(false)
    }).pipe(Effect.provide(CodexTest.layer())))
})
