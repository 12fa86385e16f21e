/**
 * The policy "ask" on the real codex binary: codex's requests surface as typed events on the turn's stream and in
 * the thread's pending requests, are answered exactly once (by an event's `respond`, by `thread.respond`, by the
 * timeout, by the end of the turn), and every settlement is an audit event (who, when, what).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Approvals, Codex, CodexPool, type PendingRequest, type Turn } from "effect-codex"
import { CodexTest, MockModel } from "@effect-codex/testing"

const workspace = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(path.join(tmpdir(), "effect-codex-ask-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** A thread in a fresh workspace whose model asks to `touch made.txt` (approval asked: `untrusted`). */
const touchThread = Effect.gen(function*() {
  const cwd = yield* workspace
  const mock = yield* MockModel.MockModel
  yield* mock.enqueue(MockModel.shellCall({ command: ["touch", "made.txt"] }), MockModel.text("Done."))
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart({ cwd, approvalPolicy: "untrusted", sandbox: Codex.Sandbox.workspace })
  return { thread, made: () => existsSync(path.join(cwd, "made.txt")) }
})

const isAsked = (event: Turn.Event): event is PendingRequest.Asked => event._tag === "ServerRequest"
const isSettled = (event: Turn.Event): event is PendingRequest.Settled => event._tag === "ServerRequestSettled"

/** The turn's events in the background, and the first asked request once it is on the stream. */
const follow = (handle: Turn.Handle) =>
  Effect.gen(function*() {
    const asked = yield* Deferred.make<PendingRequest.Asked>()
    const events = yield* handle.stream.pipe(
      Stream.tap((event) => isAsked(event) ? Deferred.succeed(asked, event) : Effect.void),
      Stream.runCollect,
      Effect.forkScoped
    )
    return { asked: Deferred.await(asked), events: Fiber.join(events) }
  })

describe("Approvals.ask", () => {
  it.live("a command runs only once it is approved; the answer is audited (who, when) and only the first counts", () =>
    Effect.gen(function*() {
      const { thread, made } = yield* touchThread
      const handle = yield* thread.turn("make the file", { approvals: Approvals.asking() })
      const { asked, events } = yield* follow(handle)
      const request = yield* asked
      expect(request.method).toBe("item/commandExecution/requestApproval")
      if (request.method !== "item/commandExecution/requestApproval") return
      expect(request.params.command).toContain("touch made.txt")
      expect(request).toMatchObject({ threadId: thread.id, turnId: handle.id, itemId: expect.any(String) })
      // Waiting: nothing ran, and the thread lists the request (as plain data).
      yield* Effect.sleep("300 millis")
      expect(made()).toBe(false)
      const pending = yield* thread.pending
      expect(pending).toHaveLength(1)
      expect(JSON.parse(JSON.stringify(pending[0]))).toEqual({
        requestId: request.requestId,
        method: request.method,
        params: request.params,
        threadId: thread.id,
        turnId: handle.id,
        itemId: request.itemId,
        createdAt: request.createdAt,
        expiresAt: request.expiresAt
      })

      const before = Date.now()
      yield* request.respond({ decision: "accept" }, { by: "alice" })
      const late = yield* thread.respond(request.requestId, { decision: "decline" }, { by: "bob" }).pipe(Effect.flip)
      expect(late).toMatchObject({ _tag: "RequestNotPendingError", settledAs: "answered", by: "alice" })
      expect(late.message).toContain("already answered by alice")
      const result = yield* handle.run
      expect(result.status).toBe("completed")
      expect(made()).toBe(true)
      expect(yield* thread.pending).toEqual([])

      const settled = (yield* events).filter(isSettled)
      expect(settled).toHaveLength(1)
      expect(settled[0]).toMatchObject({
        requestId: request.requestId,
        method: "item/commandExecution/requestApproval",
        outcome: "answered",
        answer: { decision: "accept" },
        by: "alice"
      })
      expect(settled[0]!.settledAt).toBeGreaterThanOrEqual(before)
    }).pipe(Effect.scoped, Effect.provide(CodexTest.layer())), 60_000)

  it.live("thread.respond answers by id from elsewhere; a decline leaves no file; a wrong answer is refused typed", () =>
    Effect.gen(function*() {
      const { thread, made } = yield* touchThread
      const handle = yield* thread.turn("make the file", { approvals: Approvals.asking() })
      const { asked, events } = yield* follow(handle)
      const request = yield* asked
      const invalid = yield* thread.respond(request.requestId, { decision: "maybe" }).pipe(Effect.flip)
      expect(invalid._tag).toBe("InvalidAnswerError")
      expect(yield* thread.pending).toHaveLength(1)
      yield* thread.decline(request.requestId, { by: "carol" })
      const result = yield* handle.run
      expect(result.status).toBe("completed")
      expect(made()).toBe(false)
      expect(result.items.find((item) => item.type === "commandExecution")).toMatchObject({ status: "declined" })
      expect((yield* events).filter(isSettled)[0]).toMatchObject({
        outcome: "answered",
        answer: { decision: "decline" },
        by: "carol"
      })
    }).pipe(Effect.scoped, Effect.provide(CodexTest.layer())), 60_000)

  it.live("an unanswered request is declined at its timeout, and the stream says so", () =>
    Effect.gen(function*() {
      const { thread, made } = yield* touchThread
      const events = yield* thread.stream("make the file", { approvals: Approvals.asking(), askTimeout: "400 millis" })
        .pipe(Stream.runCollect)
      const asked = events.filter(isAsked)
      const settled = events.filter(isSettled)
      expect(asked).toHaveLength(1)
      expect(settled).toHaveLength(1)
      expect(settled[0]).toMatchObject({ outcome: "timedOut", by: null, answer: { decision: "decline" } })
      expect(settled[0]!.settledAt - asked[0]!.createdAt).toBeGreaterThanOrEqual(400)
      expect(events.indexOf(settled[0]!)).toBeGreaterThan(events.indexOf(asked[0]!))
      expect(events.at(-1)?.method).toBe("turn/completed")
      expect(made()).toBe(false)
      expect(yield* thread.pending).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(CodexTest.layer())), 60_000)

  it.live("interrupting a turn while a request waits answers it: nothing pending, nothing run, the turn settles", () =>
    Effect.gen(function*() {
      const { thread, made } = yield* touchThread
      const handle = yield* thread.turn("make the file", { approvals: Approvals.asking() })
      const { asked } = yield* follow(handle)
      const request = yield* asked
      const result = yield* handle.interrupt
      expect(result.status).toBe("interrupted")
      expect(yield* thread.pending).toEqual([])
      const late = yield* thread.respond(request.requestId, { decision: "accept" }).pipe(Effect.flip)
      expect(late._tag).toBe("RequestNotPendingError")
      expect(made()).toBe(false)
    }).pipe(Effect.scoped, Effect.provide(CodexTest.layer())), 60_000)

  it.live("closing the turn's scope while a request waits leaves nothing pending", () =>
    Effect.gen(function*() {
      const { thread, made } = yield* touchThread
      yield* Effect.scoped(Effect.gen(function*() {
        const handle = yield* thread.turn("make the file", { approvals: Approvals.asking() })
        yield* (yield* follow(handle)).asked
        expect(yield* thread.pending).toHaveLength(1)
      }))
      expect(yield* thread.pending).toEqual([])
      expect(made()).toBe(false)
    }).pipe(Effect.scoped, Effect.provide(CodexTest.layer())), 60_000)

  it.live("an answered question reaches the model", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(
        MockModel.functionCall({
          name: "request_user_input",
          arguments: {
            questions: [{
              id: "color",
              header: "Color",
              question: "Which color?",
              options: [{ label: "red", description: "warm" }, { label: "blue", description: "cold" }]
            }]
          }
        }),
        MockModel.text("Blue it is.")
      )
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const handle = yield* thread.turn("ask me", { approvals: Approvals.asking() })
      const { asked } = yield* follow(handle)
      const request = yield* asked
      expect(request.method).toBe("item/tool/requestUserInput")
      if (request.method !== "item/tool/requestUserInput") return
      expect(request.params.questions[0]?.options?.map((option) => option.label)).toEqual(["red", "blue"])
      yield* request.respond({ answers: { color: { answers: ["blue"] } } }, { by: "dana" })
      yield* handle.run
      const requests = yield* mock.responsesRequests
      expect(JSON.stringify(requests[1]?.body)).toContain(`{\\"answers\\":{\\"color\\":{\\"answers\\":[\\"blue\\"]}}}`)
    }).pipe(Effect.scoped, Effect.provide(CodexTest.layer({ enable: ["default_mode_request_user_input"] }))), 60_000)
})

class Reviewer extends Context.Service<Reviewer, { readonly allows: (command: string) => boolean }>()("test/Reviewer") {}

describe("Approvals handlers with services", () => {
  it.live("a layer's handlers require their services in the layer's type; a turn's in the turn's", () =>
    Effect.gen(function*() {
      const handlers: Approvals.Handlers<Reviewer> = {
        "item/commandExecution/requestApproval": (params) =>
          Effect.gen(function*() {
            const reviewer = yield* Reviewer
            return { decision: reviewer.allows(params.command ?? "") ? "accept" as const : "decline" as const }
          })
      }
      const approvals: Layer.Layer<Approvals.Approvals, never, Reviewer> = Approvals.layer(handlers)
      const reviewer = Layer.succeed(Reviewer)({ allows: (command) => command.includes("touch") })
      const viaLayer = yield* Effect.gen(function*() {
        const { thread, made } = yield* touchThread
        yield* thread.run("make the file")
        return made()
      }).pipe(Effect.scoped, Effect.provide(CodexTest.layer().pipe(Layer.provide(approvals), Layer.provide(reviewer))))
      expect(viaLayer).toBe(true)

      const viaTurn = yield* Effect.gen(function*() {
        const { thread, made } = yield* touchThread
        const run: Effect.Effect<Turn.Result, unknown, Reviewer> = thread.run("make the file", { approvals: handlers })
        yield* run.pipe(Effect.provideService(Reviewer, { allows: () => false }))
        return made()
      }).pipe(Effect.scoped, Effect.provide(CodexTest.layer()))
      expect(viaTurn).toBe(false)
    }), 90_000)
})

describe("Approvals.askAll on a pool", () => {
  it.live("each process of a pool asks: requests listed by their threads, answered by id, the commands run after", () =>
    Effect.gen(function*() {
      const pool = yield* CodexPool.CodexPool
      const owners: Array<number> = []
      for (const name of ["first", "second"]) {
        const { thread, made } = yield* touchThread
        owners.push(Option.getOrThrow(yield* pool.ownerOf(thread.id)).index)
        const handle = yield* thread.turn(`make the ${name} file`)
        const { asked } = yield* follow(handle)
        const request = yield* asked
        expect(request.method).toBe("item/commandExecution/requestApproval")
        expect(made()).toBe(false)
        const [pending] = yield* thread.pending
        expect(pending?.requestId).toBe(request.requestId)
        yield* thread.respond(request.requestId, { decision: "accept" }, { by: name })
        expect((yield* handle.run).status).toBe("completed")
        expect(made()).toBe(true)
        expect(yield* thread.pending).toEqual([])
      }
      // The second thread was placed on the other process: both processes asked.
      expect(new Set(owners).size).toBe(2)
    }).pipe(
      Effect.scoped,
      Effect.provide(CodexTest.layerPool({ size: 2 }).pipe(Layer.provide(Approvals.askAll({ askTimeout: "1 minute" }))))
    ), 90_000)
})
