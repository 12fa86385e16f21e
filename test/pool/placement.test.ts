/**
 * CodexPool placement on the real codex binary. Each process of the pool is started with its own HTTP header on the
 * model requests (`x-pool-process`, a number per build of the server layer), so the MockModel's recorded requests
 * say which codex process served each turn, independently of the pool's own bookkeeping.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { CodexPool } from "effect-codex"
import { CodexTest, MockModel } from "@effect-codex/testing"
import { byPrompt, lastAsk } from "../support/pool.js"

/** A pool of `size` whose every process adds `x-pool-process: <n>` to its model requests, n = 1, 2, ... per start. */
const poolWithMarkedProcesses = (size: number) => {
  let started = 0
  const server = Layer.unwrap(Effect.sync(() => {
    const process = ++started
    return CodexTest.appServerLayer({ config: [`model_providers.mock.http_headers={ "x-pool-process" = "${process}" }`] })
  }))
  return CodexPool.layerWith({ size }, server).pipe(
    Layer.provideMerge(Layer.merge(MockModel.layerWith({ defaultReply: byPrompt }), CodexTest.codexHomeLayer))
  )
}

/** The process that served a model request, by its header. */
const servedBy = (request: MockModel.RecordedRequest) => String(request.headers["x-pool-process"])

/** Groups `items` by `key`, counting them. */
const countBy = <A>(items: ReadonlyArray<A>, key: (item: A) => string) => {
  const counts = new Map<string, number>()
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1)
  return counts
}

/** The current value of each series of a per-process gauge, by pid. */
const perProcess = (metric: typeof CodexPool.processThreads) =>
  Effect.map(Metric.snapshot, (snapshots) =>
    new Map(snapshots.flatMap((snapshot) =>
      snapshot.id === metric.id
        ? [[String(snapshot.attributes?.["pid"]), (snapshot.state as { readonly value: number }).value] as const]
        : []
    )))

describe("CodexPool placement", () => {
  it.live("12 threads started at once on a pool of 3 spread 4/4/4, shown by the process that sent each model request", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const pool = yield* CodexPool.CodexPool
      // Every start in a fiber of its own, all at once.
      const threads = yield* Effect.forEach(Array.from({ length: 12 }), () => pool.threadStart(), {
        concurrency: "unbounded"
      })
      const tokens = new Map(threads.map((thread, index) => [thread.id, `t${index}`]))
      yield* Effect.forEach(
        threads,
        (thread) => Effect.forEach([1, 2, 3], (turn) => thread.run(`ask:${tokens.get(thread.id)}-${turn}`)),
        { concurrency: "unbounded", discard: true }
      )
      const requests = yield* mock.responsesRequests
      expect(requests).toHaveLength(36)
      // The thread of each request, by its prompt; the process that served it, by its header.
      const threadOf = (request: MockModel.RecordedRequest) => lastAsk(request)!.replace(/^ask:(t\d+)-\d$/, "$1")
      const processOfThread = new Map<string, string>()
      for (const request of requests) {
        const process = servedBy(request)
        // A thread's turns all ran on one process.
        expect(processOfThread.get(threadOf(request)) ?? process).toBe(process)
        processOfThread.set(threadOf(request), process)
      }
      expect([...countBy(requests, servedBy).values()]).toEqual([12, 12, 12])
      expect([...countBy([...processOfThread.values()], (process) => process).values()]).toEqual([4, 4, 4])
      // ownerOf names one pool process per codex process the requests came from.
      const owners = yield* Effect.forEach(threads, (thread) => pool.ownerOf(thread.id))
      const ownerOfProcess = new Map<string, number>()
      threads.forEach((thread, index) => {
        const owner = Option.getOrThrow(owners[index]!)
        const process = processOfThread.get(tokens.get(thread.id)!)!
        expect(ownerOfProcess.get(process) ?? owner.index).toBe(owner.index)
        ownerOfProcess.set(process, owner.index)
      })
      expect(new Set(ownerOfProcess.values()).size).toBe(3)
      // The metrics show 4 threads on each process, and no turn left running.
      const pids = new Set(owners.map((owner) => String(Option.getOrThrow(owner).pid)))
      expect(pids.size).toBe(3)
      const threadsPerProcess = yield* perProcess(CodexPool.processThreads)
      expect([...pids].map((pid) => threadsPerProcess.get(pid))).toEqual([4, 4, 4])
      const turnsPerProcess = yield* perProcess(CodexPool.processTurns)
      expect([...pids].map((pid) => turnsPerProcess.get(pid))).toEqual([0, 0, 0])
    }).pipe(Effect.provide(poolWithMarkedProcesses(3))), 180_000)

  it.live("the metrics show the turns running on each process, and ownerOf follows a thread to its new process", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const pool = yield* CodexPool.CodexPool
      const [first, second] = yield* Effect.forEach([1, 2], () => pool.threadStart())
      const [owner1, owner2] = yield* Effect.forEach([first!, second!], (thread) =>
        Effect.map(pool.ownerOf(thread.id), Option.getOrThrow))
      expect(owner1!.index).not.toBe(owner2!.index)
      const stalled = yield* Effect.forkChild(first!.run("ask:stall-one"))
      yield* mock.awaitResponsesRequests(1)
      const turns = yield* perProcess(CodexPool.processTurns)
      expect([turns.get(String(owner1!.pid)), turns.get(String(owner2!.pid))]).toEqual([1, 0])
      yield* Fiber.interrupt(stalled)
      expect((yield* perProcess(CodexPool.processTurns)).get(String(owner1!.pid))).toBe(0)
      // Its process killed, the thread has no owner until its next operation resumes it on a live process.
      process.kill(owner1!.pid!, "SIGKILL")
      yield* pool.ownerOf(first!.id).pipe(Effect.repeat({ until: Option.isNone, schedule: Schedule.spaced("20 millis") }))
      expect((yield* perProcess(CodexPool.processThreads)).has(String(owner1!.pid))).toBe(false)
      yield* first!.run("ask:after")
      const moved = Option.getOrThrow(yield* pool.ownerOf(first!.id))
      expect(moved.index).not.toBe(owner1!.index)
      expect(moved.pid).not.toBe(owner1!.pid)
    }).pipe(Effect.provide(poolWithMarkedProcesses(2))), 120_000)
})
