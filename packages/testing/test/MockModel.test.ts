import { describe, expect, it } from "@effect/vitest"
import { MockModel } from "@effect-codex/testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

const post = (baseUrl: string, body: unknown = { model: "mock-model", input: [] }) =>
  Effect.promise(async () => {
    const res = await fetch(`${baseUrl}/responses`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-test": "yes" },
      body: JSON.stringify(body)
    })
    return { status: res.status, contentType: res.headers.get("content-type"), text: await res.text() }
  })

/** Parses an SSE body into `{ event, data }` records. */
const parseSse = (text: string) =>
  text.split("\n\n").filter((b) => b.trim().length > 0).map((block) => {
    const lines = block.split("\n")
    const event = lines.find((l) => l.startsWith("event: "))?.slice(7)
    const data = lines.find((l) => l.startsWith("data: "))?.slice(6)
    return { event, data: data === undefined ? undefined : JSON.parse(data) }
  })

describe("MockModel", () => {
  it.live("answers a scripted text reply as an SSE stream", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      expect(mock.baseUrl).toBe(`http://127.0.0.1:${mock.port}/v1`)
      yield* mock.enqueue(MockModel.text("Hello", { deltas: ["Hel", "lo"], itemId: "msg-1", responseId: "r1" }))
      const res = yield* post(mock.baseUrl)
      expect(res.status).toBe(200)
      expect(res.contentType).toBe("text/event-stream")
      const events = parseSse(res.text)
      expect(events.map((e) => e.event)).toEqual([
        "response.created",
        "response.output_item.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_item.done",
        "response.completed"
      ])
      for (const e of events) expect(e.data.type).toBe(e.event)
      expect(events.filter((e) => e.event === "response.output_text.delta").map((e) => e.data.delta)).toEqual([
        "Hel",
        "lo"
      ])
      expect(events[4]!.data.item).toMatchObject({
        type: "message",
        role: "assistant",
        id: "msg-1",
        content: [{ type: "output_text", text: "Hello" }]
      })
      expect(events[5]!.data.response).toEqual({ id: "r1", usage: MockModel.defaultUsage })
    }).pipe(Effect.provide(MockModel.layer)))

  it.live("records requests with path, headers and parsed body", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* post(mock.baseUrl, { model: "m", input: [{ type: "message" }], text: { format: { type: "json_schema" } } })
      const [req] = yield* mock.responsesRequests
      expect(req).toMatchObject({
        index: 0,
        method: "POST",
        path: "/v1/responses",
        answer: "default",
        body: { model: "m", text: { format: { type: "json_schema" } } }
      })
      expect(req!.headers["x-test"]).toBe("yes")
    }).pipe(Effect.provide(MockModel.layer)))

  it.live("consumes replies in FIFO order, one per request, and flattens arrays", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.text("one"), [
        MockModel.shellCall({ command: ["touch", "a b"], callId: "call-1" }),
        MockModel.text("three")
      ])
      expect(yield* mock.pending).toBe(3)
      const a = parseSse((yield* post(mock.baseUrl)).text)
      const b = parseSse((yield* post(mock.baseUrl)).text)
      const c = parseSse((yield* post(mock.baseUrl)).text)
      expect(a.find((e) => e.event === "response.output_item.done")!.data.item.content[0].text).toBe("one")
      const call = b.find((e) => e.event === "response.output_item.done")!.data.item
      expect(call).toMatchObject({ type: "function_call", name: "exec_command", call_id: "call-1" })
      expect(JSON.parse(call.arguments)).toEqual({ cmd: "touch 'a b'", yield_time_ms: 10_000 })
      expect(c.find((e) => e.event === "response.output_item.done")!.data.item.content[0].text).toBe("three")
      expect(yield* mock.pending).toBe(0)
      expect((yield* mock.requests).map((r) => r.answer)).toEqual(["scripted", "scripted", "scripted"])
    }).pipe(Effect.provide(MockModel.layer)))

  it.live("answers the default reply when the queue is empty and counts it", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const first = parseSse((yield* post(mock.baseUrl)).text)
      expect(first.find((e) => e.event === "response.output_item.done")!.data.item.content[0].text).toBe("fallback")
      yield* mock.setDefaultReply(MockModel.fail(503))
      expect((yield* post(mock.baseUrl)).status).toBe(503)
      expect(yield* mock.defaultReplies).toBe(2)
    }).pipe(Effect.provide(MockModel.layerWith({ defaultReply: MockModel.text("fallback") }))))

  it.live("fails with an HTTP status and JSON body", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.fail(500, { error: { message: "boom" } }), MockModel.failed({ code: "x" }))
      const res = yield* post(mock.baseUrl)
      expect(res.status).toBe(500)
      expect(JSON.parse(res.text)).toEqual({ error: { message: "boom" } })
      const failed = parseSse((yield* post(mock.baseUrl)).text)
      expect(failed.map((e) => e.event)).toEqual(["response.created", "response.failed"])
      expect(failed[1]!.data.response.error).toEqual({ code: "x", message: "mock model failure" })
    }).pipe(Effect.provide(MockModel.layer)))

  it.live("answers GET /v1/models and 404s unknown paths, recording both", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const models = yield* Effect.promise(() => fetch(`${mock.baseUrl}/models`).then((r) => r.json() as Promise<{ data: Array<{ id: string }> }>))
      expect(models.data[0]?.id).toBe("mock-model")
      const missing = yield* Effect.promise(() => fetch(`${mock.baseUrl}/nope?x=1`))
      expect(missing.status).toBe(404)
      const recorded = yield* mock.requests
      expect(recorded.map((r) => [r.method, r.path, r.query, r.answer])).toEqual([
        ["GET", "/v1/models", "", "builtin"],
        ["GET", "/v1/nope", "?x=1", "notFound"]
      ])
      expect(yield* mock.responsesRequests).toEqual([])
    }).pipe(Effect.provide(MockModel.layer)))

  it.live("stalls after the headers, then ends the stream without response.completed", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.stall("150 millis"))
      const start = Date.now()
      const res = yield* post(mock.baseUrl)
      expect(Date.now() - start).toBeGreaterThanOrEqual(140)
      expect(parseSse(res.text).map((e) => e.event)).toEqual(["response.created"])
    }).pipe(Effect.provide(MockModel.layer)))

  it.live("streams events with an interval and awaits requests", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.text("slow", { deltas: ["s", "l", "o", "w"], intervalMs: 20 }))
      const fiber = yield* Effect.forkChild(post(mock.baseUrl))
      const seen = yield* mock.awaitResponsesRequests(1)
      expect(seen).toHaveLength(1)
      const start = Date.now()
      const res = yield* Fiber.join(fiber)
      expect(Date.now() - start).toBeGreaterThanOrEqual(60)
      expect(parseSse(res.text)).toHaveLength(8)
    }).pipe(Effect.provide(MockModel.layer)))

  it.live("builds applyPatch and codex config overrides", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      expect(mock.codexConfig).toEqual([
        `model_provider="mock"`,
        `model_providers.mock={ name="effect-codex mock", base_url="${mock.baseUrl}", wire_api="responses", request_max_retries=0, stream_max_retries=0 }`,
        `model="mock-model"`,
        "features.plugins=false",
        "features.remote_plugin=false",
        "features.apps=false",
        "analytics.enabled=false",
        "check_for_update_on_startup=false"
      ])
      expect(mock.codexArgs[0]).toBe("-c")
      expect(mock.codexArgs).toHaveLength(16)
      const patch = MockModel.applyPatch("*** Add File: a.txt\n+hi\n", { callId: "p1" })
      const item = patch.events.find((e) => e.type === "response.output_item.done")!.item as {
        arguments: string
      }
      expect(JSON.parse(item.arguments).cmd).toBe(
        "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\nEOF\n"
      )
    }).pipe(Effect.provide(MockModel.layer)))

  it.live("closes the server and open streams when the scope closes", () =>
    Effect.gen(function*() {
      const { baseUrl, stalled } = yield* Effect.scoped(
        Effect.gen(function*() {
          const mock = yield* MockModel.MockModel
          yield* mock.enqueue(MockModel.stall())
          // a request that never completes on its own
          const stalled = fetch(`${mock.baseUrl}/responses`, { method: "POST", body: "{}" }).then((r) => r.text())
          yield* mock.awaitResponsesRequests(1)
          return { baseUrl: mock.baseUrl, stalled }
        }).pipe(Effect.provide(MockModel.layer))
      )
      const stalledResult = yield* Effect.promise(() => stalled.then(() => "ended", () => "errored"))
      expect(["ended", "errored"]).toContain(stalledResult)
      const after = yield* Effect.promise(() => fetch(`${baseUrl}/models`).then(() => "ok", () => "refused"))
      expect(after).toBe("refused")
    }))
})
