/**
 * The web example (`examples/http-server`) over HTTP: its server on a free port, on the real codex binary and the
 * offline MockModel, driven with `fetch` and its Server-Sent Events parsed as they arrive.
 */
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { MockModel } from "@effect-codex/testing"
import { answerDeltas, lastPrompt } from "../examples/http-server/mock.js"
import { existsSync, rmSync } from "node:fs"
import * as path from "node:path"
import {
  baseUrl,
  offlineServer,
  post,
  type Received,
  settledStatus,
  sseEvents,
  workspace
} from "./support/httpServer.js"


const json = (response: Response) => Effect.promise(() => response.json() as Promise<Record<string, unknown>>)

const startThread = Effect.gen(function*() {
  const response = yield* post("/threads")
  expect(response.status).toBe(201)
  return String((yield* json(response)).threadId)
})

const deltasOf = (events: ReadonlyArray<Received>) => events.filter((event) => event.event === "delta")

/** The response's events in a queue, read as they arrive (in the current scope). */
const follow = (response: Response) => Stream.toQueue(sseEvents(response), { capacity: "unbounded" })

/** Takes events from the queue until `count` deltas have arrived; gives those deltas. */
const takeDeltas = (queue: Queue.Dequeue<Received, unknown>, count: number) =>
  Effect.gen(function*() {
    const deltas: Array<Received> = []
    while (deltas.length < count) {
      const event = yield* Queue.take(queue)
      if (event.event === "delta") deltas.push(event)
    }
    return deltas
  })

layer(offlineServer, { excludeTestServices: true })("web example over HTTP", (it) => {
  it.effect("serves the page", () =>
    Effect.gen(function*() {
      const response = yield* Effect.flatMap(baseUrl, (url) => Effect.promise(() => fetch(url)))
      expect(response.headers.get("content-type")).toMatch(/^text\/html/)
      const html = yield* Effect.promise(() => response.text())
      expect(html).toContain(`id="prompt"`)
      expect(html).toContain(`id="stop"`)
    }))

  it.effect("streams a turn's deltas as Server-Sent Events as they are written, then its result", () =>
    Effect.gen(function*() {
      const threadId = yield* startThread
      const prompt = "Say hello over HTTP"
      const response = yield* post(`/threads/${threadId}/turns`, { prompt })
      expect(response.status).toBe(200)
      expect(response.headers.get("content-type")).toBe("text/event-stream")
      const events = yield* Stream.runCollect(sseEvents(response))

      expect(events[0]).toMatchObject({ event: "turn", data: { threadId } })
      const deltas = deltasOf(events)
      const expected = answerDeltas(prompt)
      expect(deltas.map((event) => event.data)).toEqual(expected)
      // Written as they came: the deltas arrived over many reads of the body, not in one piece at the end.
      expect(new Set(deltas.map((event) => event.read)).size).toBeGreaterThan(expected.length / 2)
      expect(events.at(-1)).toEqual({
        event: "result",
        data: expect.objectContaining({ status: "completed", finalResponse: expected.join(""), error: null }),
        read: expect.any(Number)
      })
      expect(events.filter((event) => event.event === "result")).toHaveLength(1)

      const mock = yield* MockModel.MockModel
      const requests = yield* mock.responsesRequests
      expect(lastPrompt(requests.at(-1)!)).toBe(prompt)
    }))

  it.effect("POST /threads/:id/interrupt stops the turn: the stream ends with an interrupted result", () =>
    Effect.gen(function*() {
      const threadId = yield* startThread
      const response = yield* post(`/threads/${threadId}/turns`, { prompt: "Please count to 400" })
      const events = yield* follow(response)
      const seen = yield* takeDeltas(events, 3)
      expect(seen.map((event) => event.data)).toEqual(["1 ", "2 ", "3 "])

      // A second turn on the busy thread is refused.
      const second = yield* post(`/threads/${threadId}/turns`, { prompt: "another" })
      expect(second.status).toBe(409)

      const interrupted = yield* post(`/threads/${threadId}/interrupt`)
      expect(interrupted.status).toBe(200)
      expect(yield* json(interrupted)).toEqual({ status: "interrupted" })

      const remaining = yield* Stream.runCollect(Stream.fromQueue(events))
      expect(deltasOf(remaining).length).toBeLessThan(answerDeltas("count").length - 3)
      expect(remaining.at(-1)).toMatchObject({ event: "result", data: { status: "interrupted" } })
      expect(yield* settledStatus(threadId)).toBe("interrupted")

      // The thread is free again: nothing left to interrupt, and a new turn runs.
      expect((yield* post(`/threads/${threadId}/interrupt`)).status).toBe(409)
      const next = yield* post(`/threads/${threadId}/turns`, { prompt: "and now?" })
      const nextEvents = yield* Stream.runCollect(sseEvents(next))
      expect(nextEvents.at(-1)).toMatchObject({ event: "result", data: { status: "completed" } })
    }).pipe(Effect.scoped))

  it.effect("closing the event stream interrupts the turn on the server", () =>
    Effect.gen(function*() {
      const threadId = yield* startThread
      const abort = new AbortController()
      const response = yield* post(`/threads/${threadId}/turns`, { prompt: "count slowly" }, { signal: abort.signal })
      yield* takeDeltas(yield* follow(response), 2)
      abort.abort()
      expect(yield* settledStatus(threadId)).toBe("interrupted")
    }).pipe(Effect.scoped))

  it.effect("answers bad requests with JSON errors: 400, 404", () =>
    Effect.gen(function*() {
      const threadId = yield* startThread
      const empty = yield* post(`/threads/${threadId}/turns`, { prompt: "" })
      expect(empty.status).toBe(400)
      expect(yield* json(empty)).toEqual({ error: expect.stringMatching(/^expected a JSON body .*at \["prompt"\]$/s) })
      const notJson = yield* post(`/threads/${threadId}/turns`, undefined, {
        body: "prompt=hi",
        headers: { "content-type": "application/json" }
      })
      expect(notJson.status).toBe(400)
      expect(yield* json(notJson)).toEqual({ error: expect.stringContaining("the body is not JSON") })
      const unknown = yield* post("/threads/no-such-thread/turns", { prompt: "hi" })
      expect(unknown.status).toBe(404)
      expect(yield* json(unknown)).toEqual({ error: "no thread no-such-thread on this server" })
      expect((yield* post("/threads/no-such-thread/interrupt")).status).toBe(404)
    }))

  it.effect("a command codex asks about runs once answered over HTTP; the answer says who; a second answer is a 409", () =>
    Effect.gen(function*() {
      const file = path.join(workspace, "over-http.txt")
      rmSync(file, { force: true })
      const threadId = yield* startThread
      const response = yield* post(`/threads/${threadId}/turns`, { prompt: "please run `touch over-http.txt`" })
      const events = yield* follow(response)
      let request = yield* Queue.take(events)
      while (request.event !== "request") request = yield* Queue.take(events)
      const data = request.data as { requestId: string; method: string; params: { command: string; cwd: string } }
      expect(data.method).toBe("item/commandExecution/requestApproval")
      expect(data.params.command).toContain("touch over-http.txt")
      expect(data.params.cwd).toBe(workspace)
      expect(existsSync(file)).toBe(false)
      const pending = yield* Effect.flatMap(baseUrl, (url) =>
        Effect.promise(() => fetch(`${url}/threads/${threadId}/requests`).then((r) => r.json())))
      expect(pending).toEqual([expect.objectContaining({ requestId: data.requestId })])

      const answered = yield* post(`/threads/${threadId}/requests/${data.requestId}`, {
        answer: { decision: "accept" },
        by: "erin"
      })
      expect(answered.status).toBe(200)
      const again = yield* post(`/threads/${threadId}/requests/${data.requestId}`, {
        answer: { decision: "decline" },
        by: "frank"
      })
      expect(again.status).toBe(409)
      expect(yield* json(again)).toEqual({ error: expect.stringContaining("already answered by erin") })
      const rest = yield* Stream.runCollect(Stream.fromQueue(events))
      expect(rest.find((event) => event.event === "settled")).toMatchObject({
        data: { requestId: data.requestId, outcome: "answered", by: "erin", answer: { decision: "accept" } }
      })
      expect(rest.at(-1)).toMatchObject({ event: "result", data: { status: "completed" } })
      expect(existsSync(file)).toBe(true)
    }).pipe(Effect.scoped))

  it.effect("refuses a POST without the page's secret, with a wrong one, or from another origin: 403", () =>
    Effect.gen(function*() {
      const threadId = yield* startThread
      const answer = { answer: { decision: "accept" }, by: "mallory" }
      const missing = yield* post(`/threads/${threadId}/requests/0`, answer, { secret: null })
      expect(missing.status).toBe(403)
      expect(yield* json(missing)).toEqual({ error: "refused: a missing or wrong x-page-secret" })
      expect((yield* post(`/threads/${threadId}/requests/0`, answer, { secret: "guessed" })).status).toBe(403)
      const crossSite = yield* post(`/threads/${threadId}/requests/0`, answer, {
        headers: { origin: "http://evil.example" }
      })
      expect(crossSite.status).toBe(403)
      expect((yield* post("/threads", undefined, { secret: null })).status).toBe(403)
      // With the secret, from the same origin: past the guard (no such request: 409).
      const url = yield* baseUrl
      expect((yield* post(`/threads/${threadId}/requests/0`, answer, { headers: { origin: url } })).status).toBe(409)
    }))
})
