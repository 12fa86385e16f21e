/**
 * The Codex/AppServer layers on the in-memory FakeAppServer: the cases the real binary will not produce
 * on demand (early notifications, silent servers, overloads, malformed messages).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { AppServer, Codex, Retry } from "effect-codex"
import { FakeAppServer } from "@effect-codex/testing"

/** A `thread/read` answer in which turn `turnId` has the given status (shape of a real codex answer). */
const threadWithTurn = (threadId: string, turnId: string, status: string) => ({
  thread: {
    id: threadId,
    sessionId: threadId,
    preview: "",
    ephemeral: false,
    projectId: null,
    modelProvider: "mock",
    createdAt: 1795605940,
    updatedAt: 1795605940,
    status: { type: "idle" },
    cwd: "/tmp",
    cliVersion: "0.169.0",
    source: "vscode",
    turns: [{ id: turnId, status, items: [], error: null }]
  }
})

/** Lets the fibers of the client and the fake pass their messages (the in-memory pipe is asynchronous). */
const settle = Effect.repeat(Effect.yieldNow, { times: 50 })

describe("Codex on a fake app-server", () => {
  it.effect("keeps notifications that arrive before the turn/start response", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      yield* fake.enqueueTurn({ earlyEvents: 3, deltas: ["a", "b"] })
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const events = yield* thread.stream("hi").pipe(Stream.runCollect)
      const methods = events.map((event) => event.method)
      expect(methods.slice(0, 3)).toEqual(["thread/status/changed", "turn/started", "item/started"])
      expect(methods.at(-1)).toBe("turn/completed")
      expect(events.every((event) => event._tag === "Notification")).toBe(true)
    }).pipe(Effect.provide(FakeAppServer.layerCodex())))

  it.live("reconciles a silent turn that thread/read reports finished, and completes it", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      yield* fake.enqueueTurn({ hold: true })
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const handle = yield* thread.turn("hi", { idleTimeout: Duration.millis(200) })
      yield* fake.handle("thread/read", () => FakeAppServer.result(threadWithTurn(thread.id, handle.id, "completed")))
      const result = yield* handle.run
      expect(result).toMatchObject({ id: handle.id, threadId: thread.id, status: "completed" })
      const reads = yield* fake.requests("thread/read")
      expect(reads[0]?.params).toEqual({ threadId: thread.id, includeTurns: true })
    }).pipe(Effect.scoped, Effect.provide(FakeAppServer.layerCodex())))

  it.live("interrupt settles even when the server never confirms", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      yield* fake.enqueueTurn({ hold: true })
      yield* fake.handle("turn/interrupt", () => FakeAppServer.result({}))
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const handle = yield* thread.turn("hi", { interruptGrace: Duration.millis(200) })
      yield* fake.handle("thread/read", () => FakeAppServer.result(threadWithTurn(thread.id, handle.id, "interrupted")))
      const result = yield* handle.interrupt
      expect(result.status).toBe("interrupted")
    }).pipe(Effect.scoped, Effect.provide(FakeAppServer.layerCodex())))

  it.live("interrupts the turn on the server when its scope closes early", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      yield* fake.enqueueTurn({ hold: true })
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const turnId = yield* Effect.scoped(Effect.map(thread.turn("hi"), (handle) => handle.id))
      const [interrupt] = yield* fake.awaitRequests("turn/interrupt", 1)
      expect(interrupt?.params).toEqual({ threadId: thread.id, turnId })
    }).pipe(Effect.provide(FakeAppServer.layerCodex())))

  it.live("fails a turn's stream with AppServerExitedError when the server crashes mid-turn", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      yield* fake.enqueueTurn({ crashAfter: 4, crash: { exitCode: 101, stderrTail: ["panic: boom"] } })
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const error = yield* thread.run("hi").pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "AppServerExitedError", exitCode: 101, stderrTail: ["panic: boom"] })
    }).pipe(Effect.provide(FakeAppServer.layerCodex())))

  it.live("retries an overloaded request and gives up with RetryLimitExceededError", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const codex = yield* Codex.Codex
      const fast = Retry.retryOnOverload({ initialDelay: Duration.millis(5), maxAttempts: 3 })
      yield* fake.script("thread/start", ...FakeAppServer.times(2, FakeAppServer.overloaded))
      const thread = yield* codex.threadStart().pipe(fast)
      expect(thread.id).toMatch(/\S/)
      yield* fake.script("thread/start", ...FakeAppServer.times(3, FakeAppServer.overloaded))
      const error = yield* codex.threadStart().pipe(fast, Effect.flip)
      expect(error).toMatchObject({ _tag: "RetryLimitExceededError", attempts: 3, lastError: { code: -32001 } })
      expect(yield* fake.requests("thread/start")).toHaveLength(3 + 3)
    }).pipe(Effect.provide(FakeAppServer.layerCodex())))
})

describe("turn lifecycle edge cases on a fake app-server", () => {
  const askApproval = (fake: FakeAppServer.FakeAppServer, threadId: string, turnId: string) =>
    fake.request("item/commandExecution/requestApproval", {
      threadId,
      turnId,
      itemId: "i1",
      startedAtMs: Date.now(),
      command: "rm -rf ~"
    })

  it.live("per-turn approvals end with their turn, even when the caller's scope lives on", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      yield* fake.enqueueTurn({ hold: true })
      const first = yield* thread.turn("first", {
        approvals: { "item/commandExecution/requestApproval": () => Effect.succeed({ decision: "accept" as const }) }
      })
      expect(yield* askApproval(fake, thread.id, first.id)).toMatchObject({ result: { decision: "accept" } })
      yield* first.interrupt
      yield* fake.enqueueTurn({ hold: true })
      const second = yield* thread.turn("second")
      expect(yield* askApproval(fake, thread.id, second.id)).toMatchObject({ result: { decision: "decline" } })
      yield* second.interrupt
    }).pipe(Effect.scoped, Effect.provide(FakeAppServer.layerCodex())))

  it.live("a turn waiting on an approval is not silent; a stalled turn is interrupted on the server", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      yield* fake.enqueueTurn({ hold: true })
      const slowApproval = {
        "item/commandExecution/requestApproval": () =>
          Effect.sleep("600 millis").pipe(Effect.as({ decision: "decline" as const }))
      }
      const handle = yield* thread.turn("hi", { idleTimeout: Duration.millis(300), approvals: slowApproval })
      const answer = yield* askApproval(fake, thread.id, handle.id)
      expect(answer).toMatchObject({ result: { decision: "decline" } })
      expect(yield* fake.requests("thread/read")).toHaveLength(0)
      const error = yield* handle.result.pipe(Effect.flip)
      expect(error._tag).toBe("TurnStalledError")
    }).pipe(Effect.scoped, Effect.andThen(Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      expect(yield* fake.requests("turn/interrupt")).toHaveLength(1)
    })), Effect.provide(FakeAppServer.layerCodex())))

  it.effect("the answer to an approval counts as activity: the silence is measured from it", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      yield* fake.enqueueTurn({ hold: true })
      // The user takes 9 s of a 10 s idle timeout to answer; codex then says nothing more.
      const thinking = {
        "item/commandExecution/requestApproval": () =>
          Effect.sleep("9 seconds").pipe(Effect.as({ decision: "decline" as const }))
      }
      const handle = yield* thread.turn("hi", { idleTimeout: Duration.seconds(10), approvals: thinking })
      const answer = yield* askApproval(fake, thread.id, handle.id).pipe(Effect.forkScoped)
      yield* settle
      yield* TestClock.adjust("9 seconds")
      expect(yield* Fiber.join(answer)).toMatchObject({ result: { decision: "decline" } })
      // 10 s after the turn started, but 1 s after the answer: not silent, no reconcile.
      yield* TestClock.adjust("1 second")
      yield* settle
      expect(yield* fake.requests("thread/read")).toHaveLength(0)
      yield* TestClock.adjust("8 seconds")
      yield* settle
      expect(yield* fake.requests("thread/read")).toHaveLength(0)
      // 10 s after the answer: silent, reconciled (still running on the server: stalled).
      yield* TestClock.adjust("1 second")
      const error = yield* handle.result.pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "TurnStalledError", idleMillis: 10_000 })
      expect(yield* fake.requests("thread/read")).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(FakeAppServer.layerCodex())))

  it.effect("a finished turn's watchdog is gone: no thread/read after its idle timeout, also while its scope lives on", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      yield* fake.enqueueTurn({ deltas: ["a"] })
      const finished = yield* thread.turn("hi", { idleTimeout: Duration.seconds(10) })
      expect((yield* finished.result).status).toBe("completed")
      // A second turn, still running, keeps its watchdog: only it is reconciled.
      yield* fake.enqueueTurn({ hold: true })
      const running = yield* thread.turn("again", { idleTimeout: Duration.seconds(10) })
      yield* fake.handle("thread/read", () => FakeAppServer.result(threadWithTurn(thread.id, running.id, "completed")))
      yield* TestClock.adjust("11 seconds")
      yield* settle
      expect((yield* running.result).status).toBe("completed")
      expect(yield* fake.requests("thread/read")).toHaveLength(1)
      yield* TestClock.adjust("60 seconds")
      yield* settle
      expect(yield* fake.requests("thread/read")).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(FakeAppServer.layerCodex())))

  it.live("a caller interrupted while turn/start is in flight still stops the turn it started", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      yield* fake.enqueueTurn({ hold: true })
      yield* fake.script("turn/start", FakeAppServer.delayed("300 millis"))
      const exit = yield* thread.run("hello").pipe(Effect.timeout("50 millis"), Effect.exit)
      expect(exit._tag).toBe("Failure")
      const [turn] = yield* fake.awaitTurns(1)
      const [interrupt] = yield* fake.awaitRequests("turn/interrupt", 1)
      expect(interrupt?.params).toEqual({ threadId: thread.id, turnId: turn?.turnId })
    }).pipe(Effect.provide(FakeAppServer.layerCodex())))

  it.live("a handle whose scope closed early settles, with codex's order (answer, then turn/completed)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      yield* fake.enqueueTurn({ hold: true })
      yield* fake.handle("turn/interrupt", (request) => {
        const { threadId, turnId } = request.params as { threadId: string; turnId: string }
        const completed = { id: turnId, items: [], status: "interrupted", error: null }
        return Effect.forkDetach(
          Effect.sleep("1 millis").pipe(Effect.andThen(fake.notify("turn/completed", { threadId, turn: completed })))
        ).pipe(Effect.as(FakeAppServer.result({})))
      })
      const handle = yield* Effect.scoped(thread.turn("x"))
      const result = yield* handle.result.pipe(Effect.timeout("3 seconds"))
      expect(result.status).toBe("interrupted")
    }).pipe(Effect.provide(FakeAppServer.layerCodex())))
})

describe("AppServer on a fake app-server", () => {
  it.effect("sends clientInfo and the experimentalApi capability in initialize", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const [initialize] = yield* fake.requests("initialize")
      expect(initialize?.params).toEqual({
        clientInfo: { name: "my-app", title: null, version: "1.2.3" },
        capabilities: { experimentalApi: true }
      })
      const received = yield* fake.awaitReceived(2)
      expect(received[1]?.line).toBe(`{"method":"initialized"}`)
    }).pipe(Effect.provide(FakeAppServer.layerAppServer({
      clientInfo: { name: "my-app", version: "1.2.3" },
      experimentalApi: true
    }))))

  it.effect("AppServer.request reaches the server in context", () =>
    Effect.gen(function*() {
      const models = yield* AppServer.request("model/list", {})
      expect(models.data.length).toBeGreaterThan(0)
      const fake = yield* FakeAppServer.FakeAppServer
      expect(yield* fake.requests("model/list")).toHaveLength(1)
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))

  it.effect("fails only the call whose result does not match the protocol, with ProtocolError", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const server = yield* AppServer.AppServer
      yield* fake.script("model/list", FakeAppServer.result({ data: "not a list" }))
      const error = yield* server.request("model/list", {}).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "ProtocolError", method: "model/list" })
      expect(error.message).toContain(`["data"]`)
      const models = yield* server.request("model/list", {})
      expect(models.data.length).toBeGreaterThan(0)
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))

  it.effect("passes unknown and undecodable notifications through as UnknownNotification", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const server = yield* AppServer.AppServer
      const notifications = yield* server.subscribe
      const collected = yield* notifications.pipe(Stream.take(3), Stream.runCollect, Effect.forkScoped)
      yield* fake.notify("future/feature", { x: 1 })
      yield* fake.notify("item/agentMessage/delta", { threadId: 5 })
      yield* fake.notify("configWarning", { summary: "careful" })
      const [future, broken, known] = yield* Fiber.join(collected)
      expect(future).toMatchObject({ _tag: "UnknownNotification", method: "future/feature", reason: "unknown method" })
      expect(broken).toMatchObject({ _tag: "UnknownNotification", method: "item/agentMessage/delta" })
      expect((broken as AppServer.UnknownNotification).reason).toMatch(/^params did not decode: /)
      expect(known).toMatchObject({ _tag: "Notification", method: "configWarning", params: { summary: "careful" } })
      expect(typeof known?.emittedAtMs).toBe("number")
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))

  it.effect("answers server requests with typed handlers, -32602 for bad params, -32601 for unknown methods", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const approval = {
        threadId: "t",
        turnId: "u",
        itemId: "i",
        startedAtMs: 1,
        command: "rm -rf /"
      }
      expect(yield* fake.request("item/commandExecution/requestApproval", approval)).toMatchObject({
        result: { decision: "decline" }
      })
      expect(yield* fake.request("item/fileChange/requestApproval", { threadId: 1 })).toMatchObject({
        error: { code: -32602 }
      })
      expect(yield* fake.request("future/request", {})).toMatchObject({ error: { code: -32601 } })
    }).pipe(Effect.provide(FakeAppServer.layerCodex())))
})
