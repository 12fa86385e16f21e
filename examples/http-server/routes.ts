/**
 * The HTTP API of the web example, as `effect/http` router routes:
 *
 * - `GET /`: the page.
 * - `POST /threads`: starts a thread, answers `201 {"threadId", "model"}`.
 * - `POST /threads/:id/turns` with `{"prompt": "..."}`: starts a turn and answers with its events as Server-Sent
 *   Events (`text/event-stream`): `turn` (`{"threadId", "turnId"}`), one `delta` per piece of the answer as codex
 *   writes it (a JSON string), then `result` (`{"status", "finalResponse", "error", "durationMs", "totalTokens"}`)
 *   or `error` (`{"message"}`). Closing the stream interrupts the turn.
 * - `POST /threads/:id/interrupt`: interrupts the running turn, answers `{"status"}` once it has settled.
 *
 * Errors are JSON `{"error": "..."}`: 400 for a bad body, 404 for an unknown thread, 409 for a thread that is busy
 * (or has nothing to interrupt), 502 when codex refused.
 */
import * as Effect from "effect/Effect"
import { Sse } from "effect/encoding"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Turn } from "effect-codex"
import { Conversations } from "./Conversations.js"
import { page } from "./page.js"

/** The body of `POST /threads/:id/turns`. */
const TurnRequest = Schema.Struct({ prompt: Schema.NonEmptyString })

/** The body of `POST /threads/:id/turns` is not a `TurnRequest`. */
class InvalidBody extends Schema.TaggedError<InvalidBody>()("InvalidBody", { reason: Schema.String }) {
  override get message() {
    return `expected a JSON body {"prompt": "<some text>"}: ${this.reason}`
  }
}

const turnRequest = HttpServerRequest.schemaBodyJson(TurnRequest).pipe(
  Effect.mapError((error) =>
    new InvalidBody({ reason: error._tag === "SchemaError" ? error.message : "the body is not JSON" })
  )
)

/** One Server-Sent Event whose data is `data` as JSON. */
const sse = (event: string, data: unknown): string =>
  Sse.encoder.write({ _tag: "Event", event, id: undefined, data: JSON.stringify(data) })

/** What the page shows of a finished turn. */
const summary = (result: Turn.Result) => ({
  status: result.status,
  finalResponse: result.finalResponse,
  error: result.error?.message ?? null,
  durationMs: result.durationMs,
  totalTokens: result.usage?.total.totalTokens ?? null
})

/** A running turn as Server-Sent Events: `turn`, its deltas, then `result` (or `error`). */
const turnEvents = (turn: Turn.Handle): Stream.Stream<string> =>
  Stream.make(sse("turn", { threadId: turn.threadId, turnId: turn.id })).pipe(
    Stream.concat(turn.stream.pipe(Turn.textDeltas, Stream.map((delta) => sse("delta", delta)))),
    Stream.concat(Stream.fromEffect(Effect.map(turn.result, (result) => sse("result", summary(result))))),
    Stream.catch((error) => Stream.make(sse("error", { message: error.message })))
  )

const statusOf: Partial<Record<string, number>> = {
  InvalidBody: 400,
  ThreadNotFound: 404,
  TurnInProgress: 409,
  NoRunningTurn: 409
}

/** A failure as a JSON error response; what codex refused is a 502. */
const errorResponse = (error: { readonly _tag: string; readonly message: string }) =>
  Effect.succeed(HttpServerResponse.jsonUnsafe({ error: error.message }, { status: statusOf[error._tag] ?? 502 }))

const threadId = Effect.map(HttpRouter.params, (params) => params.id ?? "")

const startThread = Effect.gen(function*() {
  const conversations = yield* Conversations
  const started = yield* conversations.start()
  return HttpServerResponse.jsonUnsafe(started, { status: 201 })
}).pipe(Effect.catch(errorResponse))

// The turn lives in the request's scope: it ends when the response has been sent, or is interrupted when the
// browser closes the connection first.
const startTurn = Effect.gen(function*() {
  const conversations = yield* Conversations
  const { prompt } = yield* turnRequest
  const turn = yield* conversations.turn(yield* threadId, prompt)
  return HttpServerResponse.stream(Stream.encodeText(turnEvents(turn)), {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache" }
  })
}).pipe(Effect.catch(errorResponse))

const interrupt = Effect.gen(function*() {
  const conversations = yield* Conversations
  const result = yield* conversations.interrupt(yield* threadId)
  return HttpServerResponse.jsonUnsafe({ status: result.status })
}).pipe(Effect.catch(errorResponse))

/** The routes, for `HttpRouter.serve`; they need `Conversations`. */
export const routes = Layer.mergeAll(
  HttpRouter.add("GET", "/", HttpServerResponse.html(page)),
  HttpRouter.add("POST", "/threads", startThread),
  HttpRouter.add("POST", "/threads/:id/turns", startTurn),
  HttpRouter.add("POST", "/threads/:id/interrupt", interrupt)
)
