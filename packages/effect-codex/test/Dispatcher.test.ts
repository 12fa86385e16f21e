/**
 * The dispatcher on the real `AppServer` over the in-memory FakeAppServer: notifications and server requests routed
 * by thread id to the routes registered for it (and only those), per-route approvals stacked per thread, and the
 * end of the connection told to every route, also to one registered afterwards.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { AppServer, Approvals } from "effect-codex"
import { FakeAppServer } from "@effect-codex/testing"
import * as Dispatcher from "../src/internal/codex/dispatcher.js"

/** A route that records what it is told. */
const recorder = (approvals?: Approvals.Handlers) => {
  const seen = {
    batches: [] as Array<ReadonlyArray<string>>,
    closed: [] as Array<string>,
    answering: 0,
    answered: 0
  }
  const route: Dispatcher.Route = {
    onNotifications: (batch) => {
      seen.batches.push(batch.map((n) => `${n.method} ${(n.params as { threadId?: string }).threadId ?? "-"}`))
    },
    onClose: (error) => {
      seen.closed.push(error._tag)
    },
    onAnswering: () => {
      seen.answering++
    },
    onAnswered: () => {
      seen.answered++
    },
    approvals
  }
  return { seen, route }
}

const status = (threadId: string) =>
  JSON.stringify({ method: "thread/status/changed", params: { threadId, status: { type: "idle" } } })
const warning = JSON.stringify({ method: "configWarning", params: { summary: "no thread here", details: null } })

const commandApproval = (threadId: string) => ({
  threadId,
  turnId: "turn-1",
  itemId: "item-1",
  startedAtMs: 1795606011100,
  command: "ls"
})
const legacyApproval = (conversationId: string) => ({
  callId: "call-1",
  command: ["ls"],
  conversationId,
  cwd: "/tmp",
  parsedCmd: []
})

const accept: Approvals.Handlers = {
  "item/commandExecution/requestApproval": () => Effect.succeed({ decision: "accept" as const }),
  execCommandApproval: () => Effect.succeed({ decision: "approved" as const })
}

describe("Dispatcher", () => {
  it.effect("routes a chunk's notifications to the routes of their thread only; threadless ones to subscribers", () =>
    Effect.gen(function*() {
      const server = yield* AppServer.AppServer
      const fake = yield* FakeAppServer.FakeAppServer
      const dispatcher = yield* Dispatcher.make(server, Approvals.make({}))
      const a1 = recorder(), a2 = recorder(), b = recorder()
      const others = Array.from({ length: 50 }, () => recorder())
      yield* dispatcher.register("thread-a", a1.route)
      yield* dispatcher.register("thread-a", a2.route)
      yield* dispatcher.register("thread-b", b.route)
      yield* Effect.forEach(others, (other, index) => dispatcher.register(`thread-${index}`, other.route))
      const everything = yield* server.subscribe
      yield* fake.sendLines([status("thread-a"), status("thread-b"), warning, status("thread-a"), status("thread-z")])
      const all = yield* everything.pipe(Stream.take(5), Stream.runCollect)
      expect(all.map((n) => n.method)).toEqual([
        "thread/status/changed",
        "thread/status/changed",
        "configWarning",
        "thread/status/changed",
        "thread/status/changed"
      ])
      const twoOfA = [["thread/status/changed thread-a", "thread/status/changed thread-a"]]
      expect(a1.seen.batches).toEqual(twoOfA)
      expect(a2.seen.batches).toEqual(twoOfA)
      expect(b.seen.batches).toEqual([["thread/status/changed thread-b"]])
      expect(others.flatMap((other) => other.seen.batches)).toEqual([])
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))

  it.effect("a route stops receiving when its scope closes", () =>
    Effect.gen(function*() {
      const server = yield* AppServer.AppServer
      const fake = yield* FakeAppServer.FakeAppServer
      const dispatcher = yield* Dispatcher.make(server, Approvals.make({}))
      const gone = recorder(), stays = recorder()
      const scope = yield* Scope.make()
      yield* Scope.provide(dispatcher.register("thread-a", gone.route), scope)
      yield* dispatcher.register("thread-a", stays.route)
      const everything = yield* server.subscribe
      const received = yield* Stream.toPull(everything)
      yield* fake.sendLines([status("thread-a")])
      yield* received
      expect(gone.seen.batches).toHaveLength(1)
      yield* Scope.close(scope, Exit.void)
      yield* fake.sendLines([status("thread-a")])
      yield* received
      expect(gone.seen.batches).toHaveLength(1)
      expect(stays.seen.batches).toHaveLength(2)
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))

  it.effect("answers a thread's server requests with the approvals of its last route that has some", () =>
    Effect.gen(function*() {
      const server = yield* AppServer.AppServer
      const fake = yield* FakeAppServer.FakeAppServer
      const dispatcher = yield* Dispatcher.make(server, Approvals.make({}))
      const accepting = recorder(accept)
      const plain = recorder()
      const scope = yield* Scope.make()
      yield* Scope.provide(dispatcher.register("thread-a", accepting.route), scope)
      yield* dispatcher.register("thread-a", plain.route)

      const asked = yield* fake.request("item/commandExecution/requestApproval", commandApproval("thread-a"))
      expect(asked).toMatchObject({ result: { decision: "accept" } })
      // The legacy requests name their thread `conversationId`.
      const legacy = yield* fake.request("execCommandApproval", legacyApproval("thread-a"))
      expect(legacy).toMatchObject({ result: { decision: "approved" } })
      // Another thread's request goes to the Codex-wide approvals (declining here).
      const elsewhere = yield* fake.request("item/commandExecution/requestApproval", commandApproval("thread-b"))
      expect(elsewhere).toMatchObject({ result: { decision: "decline" } })
      // Every route of the thread heard of each of its two requests, start and answer.
      for (const { seen } of [accepting, plain]) expect([seen.answering, seen.answered]).toEqual([2, 2])

      yield* Scope.close(scope, Exit.void)
      const after = yield* fake.request("item/commandExecution/requestApproval", commandApproval("thread-a"))
      expect(after).toMatchObject({ result: { decision: "decline" } })
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))

  it.effect("tells every route that the connection ended, also one registered afterwards", () =>
    Effect.gen(function*() {
      const server = yield* AppServer.AppServer
      const fake = yield* FakeAppServer.FakeAppServer
      const dispatcher = yield* Dispatcher.make(server, Approvals.make({}))
      const before = recorder()
      yield* dispatcher.register("thread-a", before.route)
      yield* fake.crash({ exitCode: 101 })
      yield* server.closed
      const late = recorder()
      yield* dispatcher.register("thread-b", late.route)
      expect(before.seen.closed).toEqual(["AppServerExitedError"])
      expect(late.seen.closed).toEqual(["AppServerExitedError"])
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))
})
