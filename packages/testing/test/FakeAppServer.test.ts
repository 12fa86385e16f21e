import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
import { AppServer, Codex, Retry, RpcPeer, Transport } from "effect-codex"
import { FakeAppServer } from "../src/index.js"

const approvalParams = (threadId: string, turnId: string) => ({
  kind: "command",
  threadId,
  turnId,
  itemId: "call_shell_1",
  startedAtMs: 1795605932531,
  environmentId: "local",
  command: "/bin/bash -lc 'touch created-by-codex.txt'",
  cwd: "/tmp/fake-codex-cwd",
  commandActions: [{ type: "unknown", command: "touch created-by-codex.txt" }],
  proposedExecpolicyAmendment: ["touch", "created-by-codex.txt"],
  availableDecisions: ["accept", "cancel"]
})

describe("FakeAppServer", () => {
  it.live("answers the handshake and records every client line", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const server = yield* AppServer.AppServer
      expect(server.metadata).toMatchObject({ codexHome: "/tmp/fake-codex-home", platformOs: "linux" })
      expect(server.metadata.userAgent).toMatch(/^effect-codex\/0\.169\.0 /)
      expect(server.pid).toBeUndefined()
      const received = yield* fake.awaitReceived(2)
      expect(received.map((entry) => [entry.kind, entry.message?.method])).toEqual([
        ["request", "initialize"],
        ["notification", "initialized"]
      ])
      expect(received.every((entry) => !entry.line.includes("jsonrpc"))).toBe(true)
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))

  it.live("plays a realistic turn that decodes with the generated schemas", () =>
    Effect.gen(function*() {
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const events = yield* thread.stream("Say hello").pipe(Stream.runCollect)
      expect(events.map((event) => event.method)).toEqual([
        "thread/status/changed",
        "turn/started",
        "item/started",
        "item/completed",
        "item/started",
        "item/agentMessage/delta",
        "item/agentMessage/delta",
        "item/agentMessage/delta",
        "item/completed",
        "thread/tokenUsage/updated",
        "thread/status/changed",
        "turn/completed"
      ])
      // Every notification decoded as a known one (no UnknownNotification).
      expect(events.filter((event) => event._tag !== "Notification")).toEqual([])
      const result = yield* thread.run("Again")
      expect(result).toMatchObject({ status: "completed", finalResponse: "Hello world", threadId: thread.id })
      expect(result.usage?.total.totalTokens).toBe(15)
      const read = yield* thread.read()
      expect(read.turns.map((turn) => turn.status)).toEqual(["completed", "completed"])
      expect(read.turns[0]!.items.map((item) => item.type)).toEqual(["userMessage", "agentMessage"])
      const models = yield* codex.models()
      expect(models.data.map((model) => model.id)).toEqual(["mock-model"])
      const list = yield* codex.threadList()
      expect(list.data.map((info) => info.id)).toEqual([thread.id])
      const fake = yield* FakeAppServer.FakeAppServer
      expect((yield* fake.turns).map((turn) => turn.input)).toEqual(["Say hello", "Again"])
    }).pipe(Effect.provide(FakeAppServer.layerCodex())))

  it.live("answers a scripted overload N times, then the default", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const server = yield* AppServer.AppServer
      yield* fake.script("model/list", ...FakeAppServer.times(2, FakeAppServer.overloaded))
      const first = yield* server.request("model/list", {}).pipe(Effect.flip)
      expect(first).toMatchObject({ _tag: "ServerBusyError", code: -32001 })
      expect((first as { data?: unknown }).data).toBeUndefined()
      const models = yield* server.request("model/list", {}).pipe(
        Retry.retryOnOverload({ maxAttempts: 3, initialDelay: "1 millis" })
      )
      expect(models.data).toHaveLength(1)
      expect(yield* fake.requests("model/list")).toHaveLength(3)
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))

  it.live("runs per-method handlers, delays, withheld replies answered later, raw text and crashes as replies", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const server = yield* AppServer.AppServer
      yield* fake.handle("thread/list", (request) =>
        FakeAppServer.result({ data: [], nextCursor: (request.params as { cursor?: string }).cursor ?? null }))
      const page = yield* server.request("thread/list", { cursor: "c1" })
      expect(page.nextCursor).toBe("c1")

      yield* fake.script("model/list", FakeAppServer.delayed("50 millis"), FakeAppServer.noReply)
      const startedAt = Date.now()
      const delayed = yield* server.request("model/list", {}).pipe(Effect.forkChild)
      const withheld = yield* server.request("model/list", {}).pipe(Effect.forkChild)
      const [, second] = yield* fake.awaitRequests("model/list", 2)
      yield* fake.respond(second!.id, FakeAppServer.result({ data: [], nextCursor: "late" }))
      expect((yield* Fiber.join(withheld)).nextCursor).toBe("late")
      expect((yield* Fiber.join(delayed)).data).toHaveLength(1)
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(45)

      yield* fake.script("account/logout", FakeAppServer.error(-32603, "boom", { detail: 1 }))
      const internal = yield* server.request("account/logout").pipe(Effect.flip)
      expect(internal).toMatchObject({ _tag: "InternalRpcError", data: { detail: 1 } })

      yield* fake.script("account/read", FakeAppServer.raw("{\"id\":\n"))
      const timedOut = yield* server.request("account/read", {}, { timeout: "50 millis" }).pipe(Effect.flip)
      expect(timedOut._tag).toBe("RequestTimeoutError")

      yield* fake.script("thread/list", FakeAppServer.crash({ exitCode: 101, stderrTail: ["panicked"] }))
      const gone = yield* server.request("thread/list", {}).pipe(Effect.flip)
      expect(gone).toMatchObject({ _tag: "AppServerExitedError", exitCode: 101, stderrTail: ["panicked"] })
      expect((yield* fake.closed).exitCode).toBe(101)
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))

  it.live("sends garbage, oversized lines and unknown notifications; the client goes on", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const server = yield* AppServer.AppServer
      const errors = yield* server.protocolErrors.pipe(Stream.take(7), Stream.runCollect, Effect.forkChild)
      const notes = yield* server.subscribe
      yield* Effect.yieldNow
      yield* fake.sendLines([...Object.values(FakeAppServer.garbage), FakeAppServer.oversizedLine(2000)])
      yield* fake.notify("future/feature", { x: 1 })
      yield* fake.notify("warning", { message: "careful", threadId: null })
      const [unknown, known] = yield* notes.pipe(Stream.take(2), Stream.runCollect)
      expect(unknown).toMatchObject({ _tag: "UnknownNotification", method: "future/feature", reason: "unknown method" })
      expect(known).toMatchObject({ _tag: "Notification", method: "warning", params: { message: "careful" } })
      const reasons = (yield* Fiber.join(errors)).map((error) => error.reason)
      expect(reasons).toHaveLength(7)
      expect(reasons.at(-1)).toBe("line longer than 1000 characters dropped")
      const models = yield* server.request("model/list", {})
      expect(models.data).toHaveLength(1)
    }).pipe(Effect.provide(FakeAppServer.layerAppServer({ maxLineLength: 1000 }))))

  it.live("sends server requests and sees the client's answers (declined by default)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const codex = yield* Codex.Codex
      yield* fake.enqueueTurn({ hold: true })
      const thread = yield* codex.threadStart()
      const handle = yield* thread.turn("run something")
      const answer = yield* fake.request("item/commandExecution/requestApproval", approvalParams(thread.id, handle.id))
      expect(answer).toEqual({ id: 0, result: { decision: "decline" } })
      const bad = yield* fake.request("item/tool/unknownThing", {})
      expect(bad).toMatchObject({ id: 1, error: { code: -32601 } })
      const received = yield* fake.received
      expect(received.filter((entry) => entry.kind === "response")).toHaveLength(2)
      const result = yield* handle.interrupt
      expect(result.status).toBe("interrupted")
    }).pipe(Effect.scoped, Effect.provide(FakeAppServer.layerCodex())))

  it.live("held turns end interrupted or play on when released; early notifications are kept", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      yield* fake.enqueueTurn({ hold: true }, { earlyEvents: 5, deltas: ["a", "b"] }, { status: "failed" })
      const held = yield* thread.turn("wait")
      const released = yield* held.result.pipe(Effect.forkChild)
      yield* fake.releaseTurn(held.id)
      expect((yield* Fiber.join(released)).finalResponse).toBe("Hello world")
      const early = yield* thread.run("early")
      expect(early.finalResponse).toBe("ab")
      const failed = yield* thread.run("fail").pipe(Effect.flip)
      expect(failed).toMatchObject({ _tag: "TurnFailedError", result: { status: "failed" } })
      yield* fake.enqueueTurn({ hold: true })
      const stopped = yield* thread.turn("stop me")
      const interrupted = yield* stopped.interrupt
      expect(interrupted.status).toBe("interrupted")
      expect(yield* fake.requests("turn/interrupt")).toEqual([
        expect.objectContaining({ params: { threadId: thread.id, turnId: stopped.id } })
      ])
    }).pipe(Effect.scoped, Effect.provide(FakeAppServer.layerCodex())))

  it.live("crashes mid-turn with an exit code, signal and stderr tail", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const codex = yield* Codex.Codex
      yield* fake.enqueueTurn({ crashAfter: 4, crash: { signal: "SIGKILL", stderrTail: ["last words"] } })
      const thread = yield* codex.threadStart()
      const error = yield* thread.run("die").pipe(Effect.flip)
      expect(error).toMatchObject({
        _tag: "AppServerExitedError",
        exitCode: null,
        signal: "SIGKILL",
        stderrTail: ["last words"]
      })
      const info = yield* fake.closed
      expect(info.reason).toBe("fake app-server crashed mid-turn")
      const later = yield* codex.models().pipe(Effect.flip)
      expect(later._tag).toBe("AppServerExitedError")
    }).pipe(Effect.provide(FakeAppServer.layerCodex())))

  it.live("refuses requests before initialize, like codex", () =>
    Effect.gen(function*() {
      const connection = yield* Transport.Transport
      const peer = yield* RpcPeer.make(connection)
      const refused = yield* peer.request("thread/list", {}).pipe(Effect.flip)
      expect(refused).toMatchObject({ _tag: "InvalidRequestError", code: -32600, message: "Not initialized" })
      yield* peer.request("initialize", { clientInfo: { name: "t", title: null, version: "0" } })
      const again = yield* peer.request("initialize", { clientInfo: { name: "t", title: null, version: "0" } }).pipe(
        Effect.flip
      )
      expect(again).toMatchObject({ message: "Already initialized" })
      const missing = yield* peer.request("turn/start", { threadId: "nope", input: [] }).pipe(Effect.flip)
      expect(missing).toMatchObject({ message: "thread not found: nope" })
    }).pipe(Effect.scoped, Effect.provide(FakeAppServer.layer())))

  it.effect("takes its time from Effect's Clock: timestamps follow TestClock.adjust", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const codex = yield* Codex.Codex
      // The test clock starts at 0: the thread is created then.
      const thread = yield* codex.threadStart()
      expect(thread.info.createdAt).toBe(0)
      yield* TestClock.adjust("1 hour")
      yield* fake.enqueueTurn({ hold: true })
      const turn = yield* thread.turn("Say hello")
      // Two minutes pass while the turn is held.
      yield* TestClock.adjust("2 minutes")
      yield* fake.releaseTurn(turn.id)
      const all = yield* Stream.runCollect(turn.stream)
      const emitted = all.map((event) => event.emittedAtMs)
      expect(emitted[0]).toBe(3_600_000)
      expect(emitted[emitted.length - 1]).toBe(3_720_000)
      const completed = all.find((event) => event.method === "turn/completed")
      expect(completed?._tag === "Notification" && completed.method === "turn/completed" && completed.params.turn)
        .toMatchObject({ startedAt: 3_600, completedAt: 3_720, durationMs: 120_000 })
      // What the client wrote is stamped with the same clock.
      const received = yield* fake.received
      expect(received.find((entry) => entry.message?.method === "turn/start")?.at).toBe(3_600_000)
    }).pipe(Effect.scoped, Effect.provide(FakeAppServer.layerCodex())))

  it.effect("draws its ids from Effect's Random: the same seed gives the same ids", () =>
    Effect.gen(function*() {
      const ids = Effect.gen(function*() {
        const codex = yield* Codex.Codex
        const thread = yield* codex.threadStart()
        const result = yield* thread.run("hi")
        return { thread: thread.id, turn: result.id }
      }).pipe(Effect.provide(FakeAppServer.layerCodex()))
      const first = yield* ids.pipe(Random.withSeed("fake"))
      const again = yield* ids.pipe(Random.withSeed("fake"))
      const other = yield* ids.pipe(Random.withSeed("another"))
      expect(again).toEqual(first)
      expect(other.thread).not.toBe(first.thread)
      expect(first.thread).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(first.turn).not.toBe(first.thread)
    }))
})
