/**
 * Threads and turns on the real pinned codex binary against a scripted local Responses API.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { Codex, Turn } from "effect-codex"
import { CodexTest, MockModel } from "@effect-codex/testing"
import { recordingTracer } from "../support/tracing.js"

const deltasOf = (events: ReadonlyArray<Turn.Event>): Array<string> =>
  events.flatMap((event) =>
    event._tag === "Notification" && event.method === "item/agentMessage/delta" ? [event.params.delta] : []
  )

/** True when the model request carried `text` (in its input, as the user or steering message). */
const carries = (request: MockModel.RecordedRequest, text: string) => JSON.stringify(request.body).includes(text)

describe("Thread.run and Thread.stream", () => {
  it.live("runs a turn to a Turn.Result with the final response, items and usage", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.text("The answer is 42."))
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart({ sandbox: Codex.Sandbox.readOnly })
      expect(thread.response).toMatchObject({ model: "mock-model", modelProvider: "mock", sandbox: { type: "readOnly" } })
      const result = yield* thread.run("What is the answer?")
      expect(result).toMatchObject({ threadId: thread.id, status: "completed", error: null })
      expect(result.finalResponse).toBe("The answer is 42.")
      expect(result.items.map((item) => item.type)).toEqual(["userMessage", "agentMessage"])
      expect(result.usage?.last.totalTokens).toBeGreaterThan(0)
      const [request] = yield* mock.responsesRequests
      expect(carries(request!, "What is the answer?")).toBe(true)
    }).pipe(Effect.provide(CodexTest.layer())))

  it.live("records Thread.run, Thread.turn and Turn.start as nested spans when a tracer is installed", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.text("traced"))
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const result = yield* thread.run("trace this turn").pipe(Effect.provideService(Tracer.Tracer, tracer))
      const named = (name: string) => spans.find((span) => span.name === name)
      const [run, turn, start] = [named("Thread.run"), named("Thread.turn"), named("Turn.start")]
      expect(turn?.parent).toMatchObject({ _tag: "Some", value: run })
      expect(start?.parent).toMatchObject({ _tag: "Some", value: turn })
      expect(Object.fromEntries(start?.attributes ?? [])).toMatchObject({ threadId: thread.id, turnId: result.id })
      expect(spans.filter((span) => span.name === "AppServer.request").length).toBeGreaterThan(0)
    }).pipe(Effect.provide(CodexTest.layer())))

  it.live("streams this turn's events in order, deltas included, ending with turn/completed", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const deltas = Array.from({ length: 50 }, (_, index) => `d${index} `)
      yield* mock.enqueue(MockModel.text(deltas.join(""), { deltas }))
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const events = yield* thread.stream("stream please").pipe(Stream.runCollect)
      expect(deltasOf(events)).toEqual(deltas)
      expect(yield* Turn.textDeltas(Stream.fromIterable(events)).pipe(Stream.runCollect)).toEqual(deltas)
      const methods = events.map((event) => event.method)
      expect(methods.at(-1)).toBe("turn/completed")
      expect(methods.indexOf("turn/started")).toBeLessThan(methods.indexOf("item/agentMessage/delta"))
      expect(methods.filter((method) => method === "turn/completed")).toHaveLength(1)
    }).pipe(Effect.provide(CodexTest.layer())))

  it.live("runs turns on two threads concurrently without cross-talk", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.setDefaultReply(MockModel.dynamic((request) => {
        const which = carries(request, "thread A") ? "A" : "B"
        const words = Array.from({ length: 20 }, (_, index) => `${which}${index} `)
        return MockModel.text(words.join(""), { deltas: words, intervalMs: 5 })
      }))
      const codex = yield* Codex.Codex
      const [a, b] = yield* Effect.all([codex.threadStart(), codex.threadStart()])
      const [eventsA, eventsB] = yield* Effect.all([
        a.stream("thread A").pipe(Stream.runCollect),
        b.stream("thread B").pipe(Stream.runCollect)
      ], { concurrency: 2 })
      expect(deltasOf(eventsA).join("")).toMatch(/^(A\d+ ){20}$/)
      expect(deltasOf(eventsB).join("")).toMatch(/^(B\d+ ){20}$/)
      for (const [events, thread] of [[eventsA, a], [eventsB, b]] as const) {
        for (const event of events) {
          expect((event.params as { threadId?: string }).threadId ?? thread.id).toBe(thread.id)
        }
      }
    }).pipe(Effect.provide(CodexTest.layer())))

  it.live("fails with TurnFailedError carrying the result when the model call fails", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.fail(500, { error: { message: "boom" } }))
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const error = yield* thread.run("fail please").pipe(Effect.flip)
      expect(error._tag).toBe("TurnFailedError")
      if (error._tag !== "TurnFailedError") return
      expect(error.result.status).toBe("failed")
      expect(error.result.error?.message).toMatch(/\S/)
      expect(error.message).toContain(error.result.id)
    }).pipe(Effect.provide(CodexTest.layer())))
})

describe("Turn.Handle controls", () => {
  it.live("interrupts a turn mid-stream: the stream ends with status interrupted", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.stall())
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const handle = yield* thread.turn("never ending")
      const collected = yield* Stream.runCollect(handle.stream).pipe(Effect.forkScoped)
      yield* mock.awaitResponsesRequests(1)
      const result = yield* handle.interrupt
      expect(result.status).toBe("interrupted")
      const events = yield* Fiber.join(collected)
      const last = events.at(-1)
      expect(last?.method).toBe("turn/completed")
      expect((last?.params as { turn: { status: string } }).turn.status).toBe("interrupted")
    }).pipe(Effect.scoped, Effect.provide(CodexTest.layer())))

  it.live("steers a running turn: the steering input reaches the model", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const slow = Array.from({ length: 40 }, (_, index) => `w${index} `)
      yield* mock.enqueue(MockModel.text(slow.join(""), { deltas: slow, intervalMs: 25 }), MockModel.text("Steered."))
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const handle = yield* thread.turn("start slowly")
      yield* mock.awaitResponsesRequests(1)
      yield* handle.steer("also mention bananas")
      const result = yield* handle.run
      expect(result.status).toBe("completed")
      const requests = yield* mock.responsesRequests
      expect(requests.some((request) => carries(request, "also mention bananas"))).toBe(true)
      expect(result.finalResponse).toBe("Steered.")
    }).pipe(Effect.scoped, Effect.provide(CodexTest.layer())))

  it.live("reconciles a silent turn with thread/read and fails with TurnStalledError while it still runs", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.stall())
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const error = yield* thread.run("stall", { idleTimeout: Duration.seconds(1) }).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "TurnStalledError", threadId: thread.id, idleMillis: 1000 })
    }).pipe(Effect.provide(CodexTest.layer())))
})

describe("structured output", () => {
  const Verdict = Schema.Struct({ verdict: Schema.Literals(["yes", "no"]), confidence: Schema.Number })

  it.live("sends the JSON Schema as outputSchema and decodes the final response", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.text(JSON.stringify({ verdict: "yes", confidence: 0.9 })))
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const { value, result } = yield* thread.runStructured(Verdict, "Is it?")
      expect(value).toEqual({ verdict: "yes", confidence: 0.9 })
      expect(result.status).toBe("completed")
      const [request] = yield* mock.responsesRequests
      const format = (request!.body as { text?: { format?: { type?: string; schema?: unknown } } }).text?.format
      expect(format?.type).toBe("json_schema")
      expect(JSON.stringify(format?.schema)).toContain("confidence")
    }).pipe(Effect.provide(CodexTest.layer())))

  it.live("fails with StructuredOutputError when the response does not match", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.text(JSON.stringify({ verdict: "maybe" })), MockModel.text("not json at all"))
      const codex = yield* Codex.Codex
      const thread = yield* codex.threadStart()
      const mismatch = yield* thread.runStructured(Verdict, "Is it?").pipe(Effect.flip)
      expect(mismatch).toMatchObject({ _tag: "StructuredOutputError", response: `{"verdict":"maybe"}` })
      expect(mismatch.message).toContain("does not match")
      const notJson = yield* thread.runStructured(Verdict, "Again?").pipe(Effect.flip)
      expect(notJson).toMatchObject({ _tag: "StructuredOutputError", response: "not json at all" })
      expect(notJson.message).toContain("not JSON")
    }).pipe(Effect.provide(CodexTest.layer())))
})
