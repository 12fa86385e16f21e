/**
 * The HTTP API of the web example, as `effect/http` router routes:
 *
 * - `GET /`: the page.
 * - `POST /threads`: starts a thread, answers `201 {"threadId", "model"}`.
 * - `POST /threads/:id/turns` with `{"prompt": "...", "askTimeoutMs"?: n}`: starts a turn and answers with its events as Server-Sent
 *   Events (`text/event-stream`): `turn` (`{"threadId", "turnId"}`), one `delta` per piece of the answer as codex
 *   writes it (a JSON string), then `result` (`{"status", "finalResponse", "error", "durationMs", "totalTokens"}`)
 *   or `error` (`{"message"}`). Closing the stream interrupts the turn.
 *   Among them, when codex asks (a command or file change to approve, questions, an MCP elicitation): `request` (the
 *   pending request as data: `requestId`, `method`, `params`, ids, `createdAt`, `expiresAt`; a file change also
 *   has `changes`, its diffs) and, once it is settled, `settled` (`requestId`, `outcome`, `answer`, `by`,
 *   `settledAt`).
 * - `POST /threads/:id/interrupt`: interrupts the running turn, answers `{"status"}` once it has settled.
 * - `POST /threads/:id/requests/:requestId` with `{"answer": <the method's response>, "by": "<who>"}`: answers a
 *   request (without `answer`: declines it); the first answer wins (a later one is a 409).
 * - `GET /threads/:id/requests`: the thread's pending requests (for a page that reconnects).
 *
 * Every `POST` must come from the page this server served (`Guard`: same origin, the page's secret), else 403.
 * Errors are JSON `{"error": "..."}`: 400 for a bad body, 403 refused, 404 for an unknown thread, 409 for a thread
 * that is busy (or has nothing to interrupt) or a request already settled, 502 when codex refused.
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { Sse } from "effect/encoding"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { PendingRequest, Turn } from "effect-codex"
import { Conversations } from "./Conversations.js"
import { Guard, secretHeader } from "./Guard.js"
import { page } from "./page.js"

/** The body of `POST /threads/:id/turns`. */
const TurnRequest = Schema.Struct({
  prompt: Schema.NonEmptyString,
  /** How long codex's requests wait for an answer (capped by the server's own limit). */
  askTimeoutMs: Schema.optional(Schema.Int.check(Schema.isGreaterThan(0)))
})

/** The body of `POST /threads/:id/turns` is not a `TurnRequest`. */
class InvalidBody extends Schema.TaggedError<InvalidBody>()("InvalidBody", { reason: Schema.String }) {
  override get message() {
    return `expected a JSON body {"prompt": "<some text>"}: ${this.reason}`
  }
}

/** The body of `POST /threads/:id/requests/:requestId`. */
const AnswerRequest = Schema.Struct({ answer: Schema.optional(Schema.Unknown), by: Schema.NonEmptyString })

const bodyOf = <S extends Schema.Top>(schema: S & Schema.Codec<S["Type"], S["Encoded"]>) =>
  HttpServerRequest.schemaBodyJson(schema).pipe(
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

/**
 * A turn's events as the page's Server-Sent Events: deltas, requests (with the diffs of a file change, from its item)
 * and their settlements; the rest is left out.
 */
const pageEvents = (events: Turn.Handle["stream"]): Stream.Stream<string, Turn.StreamError> =>
  Stream.suspend(() => {
    const changes = new Map<string, unknown>()
    return Stream.filterMap(events, (event) => {
      switch (event._tag) {
        case "ServerRequest": {
          const request = PendingRequest.toData(event)
          const item = request.itemId === null ? undefined : changes.get(request.itemId)
          return Result.succeed(sse("request", item === undefined ? request : { ...request, changes: item }))
        }
        case "ServerRequestSettled": {
          const { requestId, method, outcome, answer, by, settledAt } = event
          return Result.succeed(sse("settled", { requestId, method, outcome, answer, by, settledAt }))
        }
        case "Notification":
          if (event.method === "item/agentMessage/delta") return Result.succeed(sse("delta", event.params.delta))
          if (event.method === "item/started" && event.params.item.type === "fileChange") {
            changes.set(event.params.item.id, event.params.item.changes)
          }
          return Result.failVoid
        default:
          return Result.failVoid
      }
    })
  })

/** A running turn as Server-Sent Events: `turn`, its deltas and requests, then `result` (or `error`). */
const turnEvents = (turn: Turn.Handle): Stream.Stream<string> =>
  Stream.make(sse("turn", { threadId: turn.threadId, turnId: turn.id })).pipe(
    Stream.concat(pageEvents(turn.stream)),
    Stream.concat(Stream.fromEffect(Effect.map(turn.result, (result) => sse("result", summary(result))))),
    Stream.catch((error) => Stream.make(sse("error", { message: error.message })))
  )

const statusOf: Partial<Record<string, number>> = {
  InvalidBody: 400,
  InvalidAnswerError: 400,
  Forbidden: 403,
  RequestNotPendingError: 409,
  ThreadNotFound: 404,
  TurnInProgress: 409,
  NoRunningTurn: 409
}

/** A failure as a JSON error response; what codex refused is a 502. */
const errorResponse = (error: { readonly _tag: string; readonly message: string }) =>
  Effect.succeed(HttpServerResponse.jsonUnsafe({ error: error.message }, { status: statusOf[error._tag] ?? 502 }))

const threadId = Effect.map(HttpRouter.params, (params) => params.id ?? "")

const startThread = Effect.gen(function*() {
  yield* Guard.use((guard) => guard.check)
  const conversations = yield* Conversations
  const started = yield* conversations.start()
  return HttpServerResponse.jsonUnsafe(started, { status: 201 })
}).pipe(Effect.catch(errorResponse))

// The turn lives in the request's scope: it ends when the response has been sent, or is interrupted when the
// browser closes the connection first.
const startTurn = Effect.gen(function*() {
  yield* Guard.use((guard) => guard.check)
  const conversations = yield* Conversations
  const { askTimeoutMs, prompt } = yield* bodyOf(TurnRequest)
  const turn = yield* conversations.turn(yield* threadId, prompt, askTimeoutMs)
  return HttpServerResponse.stream(Stream.encodeText(turnEvents(turn)), {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache" }
  })
}).pipe(Effect.catch(errorResponse))

const interrupt = Effect.gen(function*() {
  yield* Guard.use((guard) => guard.check)
  const conversations = yield* Conversations
  const result = yield* conversations.interrupt(yield* threadId)
  return HttpServerResponse.jsonUnsafe({ status: result.status })
}).pipe(Effect.catch(errorResponse))

const answer = Effect.gen(function*() {
  yield* Guard.use((guard) => guard.check)
  const conversations = yield* Conversations
  const { answer, by } = yield* bodyOf(AnswerRequest)
  const requestId = (yield* HttpRouter.params).requestId ?? ""
  yield* conversations.respond(yield* threadId, requestId, answer, by)
  return HttpServerResponse.jsonUnsafe({ requestId, by })
}).pipe(Effect.catch(errorResponse))

const pending = Effect.gen(function*() {
  const conversations = yield* Conversations
  return HttpServerResponse.jsonUnsafe(yield* conversations.pending(yield* threadId))
}).pipe(Effect.catch(errorResponse))

// Each page gets a secret of its own; the page is never cached (nor framed by another site).
const servePage = Effect.map(Guard.use((guard) => guard.issue), (secret) =>
  HttpServerResponse.html(page(secret)).pipe(
    HttpServerResponse.setHeaders({
      "cache-control": "no-store",
      "x-frame-options": "DENY",
      "content-security-policy": "frame-ancestors 'none'"
    })
  ))

/** The routes, for `HttpRouter.serve`; they need `Conversations` and `Guard`. */
export const routes = Layer.mergeAll(
  HttpRouter.add("GET", "/", servePage),
  HttpRouter.add("POST", "/threads", startThread),
  HttpRouter.add("POST", "/threads/:id/turns", startTurn),
  HttpRouter.add("POST", "/threads/:id/interrupt", interrupt),
  HttpRouter.add("POST", "/threads/:id/requests/:requestId", answer),
  HttpRouter.add("GET", "/threads/:id/requests", pending)
)

/** The header a page sends its secret in (see `Guard`). */
export { secretHeader }
