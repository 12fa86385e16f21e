/**
 * CodexPool on the real codex binary and the MockModel: many turns on many threads over three processes, per-thread
 * ordering across the pool, a process SIGKILLed mid-turn (its turn fails typed and resumable, the process is
 * replaced, the thread resumes with its history, other turns go on), the queue bound, and no process left after
 * close.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import { Codex, CodexPool } from "effect-codex"
import { CodexTest, MockModel, Processes } from "@effect-codex/testing"
import { byPrompt, codexChildren, gauge, lastAsk } from "../support/pool.js"

describe("CodexPool", () => {
  it.live("a pool of 3 runs 30 turns on 12 threads at once, every answer on its own thread", () =>
    Effect.gen(function*() {
      const codex = yield* Codex.Codex
      expect(codexChildren()).toHaveLength(3)
      const threads = yield* Effect.forEach(Array.from({ length: 12 }), () => codex.threadStart(), {
        concurrency: "unbounded"
      })
      // All 30 at once: a thread's turns queue behind each other (per-thread ordering), threads run side by side.
      const turns = Array.from({ length: 30 }, (_, index) => ({ thread: threads[index % 12]!, token: `t${index}` }))
      const results = yield* Effect.forEach(
        turns,
        ({ thread, token }) => thread.run(`ask:${token}`),
        { concurrency: "unbounded" }
      )
      results.forEach((result, index) => {
        expect(result.threadId).toBe(turns[index]!.thread.id)
        expect(result.finalResponse).toBe(`answer:${turns[index]!.token}`)
      })
      const histories = yield* Effect.forEach(threads, (thread) => thread.read(), { concurrency: 4 })
      histories.forEach((info, index) => {
        expect(info.turns.map((turn) => turn.status)).toEqual(Array(index < 6 ? 3 : 2).fill("completed"))
      })
      // threadUnsubscribe goes to each thread's owner (another process has not loaded it: "notLoaded").
      const unsubscribed = yield* Effect.forEach(threads, (thread) => codex.threadUnsubscribe(thread.id))
      expect(unsubscribed).toEqual(Array(12).fill("unsubscribed"))
      expect(yield* codex.threadUnsubscribe("00000000-0000-0000-0000-000000000000")).toBe("notLoaded")
    }).pipe(Effect.provide(CodexTest.layerPool({ size: 3, mock: { defaultReply: byPrompt } }))), 180_000)

  it.live("a second run on a busy thread waits, or fails with ThreadBusyError when asked", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const first = yield* Effect.forkChild(thread.run("ask:slow-first"))
      yield* mock.awaitResponsesRequests(1)
      const busy = yield* codex.thread(thread.id).run("ask:refused", { whenBusy: "fail" }).pipe(Effect.flip)
      expect(busy).toMatchObject({ _tag: "ThreadBusyError", threadId: thread.id })
      const second = yield* codex.thread(thread.id).run("ask:second")
      const firstResult = yield* Fiber.join(first)
      expect(second.id).not.toBe(firstResult.id)
      expect(firstResult.finalResponse).toContain("answer:slow-first")
      expect(second.finalResponse).toBe("answer:second")
      const prompts = (yield* mock.responsesRequests).map(lastAsk)
      expect(prompts).toEqual(["ask:slow-first", "ask:second"])
    }).pipe(Effect.provide(CodexTest.layerPool({ size: 2, mock: { defaultReply: byPrompt } }))))

  it.live("SIGKILL of a process mid-turn: its turn fails resumable within 1 s, the process is replaced, the thread resumes with its history, other turns go on", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const codex = yield* Codex.Codex
      const restartsBefore = (yield* Metric.value(CodexPool.restarts)).count
      // Placed one per process (fewest threads first); the first lands on the process `codex.server` names.
      const [victim, other1, other2] = yield* Effect.forEach([1, 2, 3], () => codex.threadStart())
      const victimPid = codex.server.pid!
      yield* Effect.forEach([victim!, other1!, other2!], (thread, index) => thread.run(`ask:remember-${index}`), {
        concurrency: "unbounded"
      })
      const cut = yield* Effect.forkChild(victim!.run("ask:stall-victim").pipe(Effect.flip, Effect.timed))
      const others = yield* Effect.forkChild(
        Effect.forEach([other1!, other2!], (thread, index) => thread.run(`ask:slow-${index}`), {
          concurrency: "unbounded"
        })
      )
      yield* mock.awaitResponsesRequests(6)
      const killedAt = Date.now()
      process.kill(victimPid, "SIGKILL")
      const [, error] = yield* Fiber.join(cut)
      const failedIn = Date.now() - killedAt
      expect(error).toMatchObject({ _tag: "AppServerExitedError", signal: "SIGKILL", resumable: true })
      expect(failedIn).toBeLessThan(1000)
      // The turns on the other processes finish normally.
      const othersDone = yield* Fiber.join(others)
      expect(othersDone.map((result) => result.finalResponse?.endsWith(`answer:slow-${othersDone.indexOf(result)}`)))
        .toEqual([true, true])
      // The pool replaces the process.
      yield* Effect.sync(() => codexChildren().length).pipe(
        Effect.repeat({ until: (count) => count === 3, schedule: Schedule.spaced("50 millis") })
      )
      expect(Processes.isRunning(victimPid)).toBe(false)
      expect((yield* Metric.value(CodexPool.restarts)).count - restartsBefore).toBe(1)
      // The thread's next turn resumes it on a live process, with its history (the cut turn: interrupted).
      const after = yield* victim!.run("ask:after")
      expect(after.finalResponse).toBe("answer:after")
      const last = (yield* mock.responsesRequests).at(-1)!
      expect(JSON.stringify(last.body)).toContain("answer:remember-0")
      const info = yield* victim!.read()
      expect(info.turns.map((turn) => turn.status)).toEqual(["completed", "interrupted", "completed"])
    }).pipe(Effect.provide(CodexTest.layerPool({ size: 3, mock: { defaultReply: byPrompt } }))))

  it.live("back-pressure: past maxTurnsPerProcess callers wait in the queue, past maxQueued they fail", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const codex = yield* Codex.Codex
      const [a, b, c] = yield* Effect.forEach([1, 2, 3], () => codex.threadStart())
      const queuedBefore = yield* gauge(CodexPool.queueLength)
      const holder = yield* Effect.forkChild(a!.run("ask:stall-holder"))
      yield* mock.awaitResponsesRequests(1)
      const waiter = yield* Effect.forkChild(b!.run("ask:waited"))
      yield* gauge(CodexPool.queueLength).pipe(
        Effect.repeat({ until: (queued) => queued === queuedBefore + 1, schedule: Schedule.spaced("10 millis") })
      )
      const full = yield* c!.run("ask:refused").pipe(Effect.flip)
      expect(full).toMatchObject({ _tag: "PoolQueueFullError", threadId: c!.id, maxTurnsPerProcess: 1, maxQueued: 1 })
      // Nothing but the holder reached the model while the process was full.
      expect((yield* mock.responsesRequests).map(lastAsk)).toEqual(["ask:stall-holder"])
      yield* Fiber.interrupt(holder)
      const waited = yield* Fiber.join(waiter)
      expect(waited.finalResponse).toBe("answer:waited")
      expect(yield* gauge(CodexPool.queueLength)).toBe(queuedBefore)
    }).pipe(Effect.provide(CodexTest.layerPool({
      size: 1,
      maxTurnsPerProcess: 1,
      maxQueued: 1,
      mock: { defaultReply: byPrompt }
    }))))

  it.live("closing the scope stops every process, also one started after a crash", () =>
    Effect.gen(function*() {
      const before = codexChildren()
      const processesBefore = yield* gauge(CodexPool.processes)
      const killed: Array<number> = []
      // Children started by this pool, but the one killed (which may still be listed for a moment after the kill).
      const fresh = () => codexChildren().filter((pid) => !before.includes(pid) && !killed.includes(pid))
      const pids = yield* Effect.gen(function*() {
        const codex = yield* Codex.Codex
        const thread = yield* codex.threadStart()
        yield* thread.run("ask:one")
        killed.push(codex.server.pid!)
        process.kill(codex.server.pid!, "SIGKILL")
        // Replaced: two processes again, counted by the gauge.
        yield* Effect.all([Effect.sync(fresh), gauge(CodexPool.processes)]).pipe(
          Effect.repeat({
            until: ([alive, counted]) => alive.length === 2 && counted === processesBefore + 2,
            schedule: Schedule.spaced("50 millis")
          })
        )
        return fresh()
      }).pipe(Effect.provide(CodexTest.layerPool({ size: 2, mock: { defaultReply: byPrompt } })))
      expect(pids).toHaveLength(2)
      expect(pids.filter(Processes.isRunning)).toEqual([])
      expect(yield* gauge(CodexPool.processes)).toBe(processesBefore)
    }))
})
