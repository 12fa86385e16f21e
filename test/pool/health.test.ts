/**
 * CodexPool health on the real codex binary: a process that stops answering the probe (SIGSTOP) is replaced and its
 * thread resumes elsewhere; the pool grows on demand up to `size` and stops idle processes above `minSize`.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import { Codex, CodexPool } from "effect-codex"
import { CodexTest, MockModel, Processes } from "@effect-codex/testing"
import { byPrompt, codexChildren, gauge } from "../support/pool.js"

/** Waits until `check` holds, polling. */
const eventually = (check: () => boolean) =>
  Effect.sync(check).pipe(Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("50 millis") }))

describe("CodexPool health", () => {
  it.live("replaces a process that stops answering the probe; its thread resumes on a live one", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const codex = yield* Codex.Codex
      const restartsBefore = (yield* Metric.value(CodexPool.restarts)).count
      const thread = yield* codex.threadStart()
      const frozen = codex.server.pid!
      yield* thread.run("ask:before")
      process.kill(frozen, "SIGSTOP")
      yield* eventually(() => !Processes.isRunning(frozen) && codexChildren().length === 2)
      expect((yield* Metric.value(CodexPool.restarts)).count - restartsBefore).toBe(1)
      const after = yield* thread.run("ask:after")
      expect(after.finalResponse).toBe("answer:after")
      expect(JSON.stringify((yield* mock.responsesRequests).at(-1)!.body)).toContain("answer:before")
    }).pipe(Effect.provide(CodexTest.layerPool({
      size: 2,
      probeInterval: "200 millis",
      probeTimeout: "300 millis",
      mock: { defaultReply: byPrompt }
    }))))

  it.live("grows up to size while busy, and stops an idle process above minSize after the time to live", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const codex = yield* Codex.Codex
      const processesBefore = yield* gauge(CodexPool.processes)
      expect(codexChildren()).toHaveLength(1)
      const first = yield* codex.threadStart()
      const busy = yield* Effect.forkChild(first.run("ask:slow-busy"))
      yield* mock.awaitResponsesRequests(1)
      // Every process is busy: a new thread starts another process (in the background).
      const second = yield* codex.threadStart()
      yield* eventually(() => codexChildren().length === 2)
      yield* Fiber.join(busy)
      // Both idle: the one above minSize stops after the time to live.
      yield* eventually(() => codexChildren().length === 1)
      expect(yield* gauge(CodexPool.processes)).toBe(processesBefore)
      // Both threads go on: both were placed on the process that stayed (the new one owned none).
      const results = yield* Effect.forEach([first, second], (thread, index) => thread.run(`ask:again-${index}`))
      expect(results.map((result) => result.finalResponse)).toEqual(["answer:again-0", "answer:again-1"])
    }).pipe(Effect.provide(CodexTest.layerPool({
      size: 2,
      minSize: 1,
      idleTimeToLive: "500 millis",
      mock: { defaultReply: byPrompt }
    }))))
})
