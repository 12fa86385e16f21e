/**
 * A request codex sent the client that waits for a person: a command or file change to approve, questions to
 * answer, an MCP elicitation to fill. With the policy "ask" (`Approvals.ask`), a request is not answered by a
 * function: it becomes a {@link Asked} event on its turn's stream and an entry of its thread's pending requests
 * (`thread.pending`), until someone answers it (`event.respond`, `thread.respond(requestId, ...)`), it times out
 * (answered with the policy's default: decline), its turn ends (cancelled, answered the same way) or codex resolves
 * it itself. Each settlement is a {@link Settled} event on the turn's stream: who answered, when, with what.
 *
 * A {@link PendingRequest} is plain data (JSON as it is): store it, send it to a page or another process, and
 * answer it there by its `requestId`.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Approvals, Codex } from "effect-codex"
 *
 * const program = Effect.gen(function*() {
 *   const codex = yield* Codex.Codex
 *   const thread = yield* codex.threadStart({ approvalPolicy: "untrusted" })
 *   yield* thread.stream("clean the build", { approvals: Approvals.asking() }).pipe(
 *     Stream.runForEach((event) =>
 *       event._tag === "ServerRequest" && event.method === "item/commandExecution/requestApproval"
 *         ? event.respond({ decision: event.params.command === "rm -rf build" ? "accept" : "decline" }, { by: "ops" })
 *         : Effect.void
 *     )
 *   )
 * })
 * ```
 * @since 0.2.0
 */
import type { ServerRequestMethod, ServerRequestParams, ServerRequestResponse } from "@effect-codex/protocol"
import type * as Effect from "effect/Effect"
import type { AnswerError, RequestNotPendingError } from "./Errors.js"

/**
 * How a pending request was settled: `answered` by someone, `timedOut` (the policy's default was sent),
 * `cancelled` (its turn ended or was interrupted while it waited; declined), `resolved` by codex itself
 * (`serverRequest/resolved`: another client answered it, or the turn ended there).
 *
 * @since 0.2.0
 * @category models
 */
export type Outcome = "answered" | "timedOut" | "cancelled" | "resolved"

/**
 * A server request waiting for an answer, as data: its id (unique on its thread), method, typed params, where it
 * belongs (thread, turn, item) and when it arrived and expires (epoch milliseconds).
 *
 * @since 0.2.0
 * @category models
 */
export interface Of<M extends ServerRequestMethod> {
  readonly requestId: string
  readonly method: M
  readonly params: ServerRequestParams<M>
  readonly threadId: string
  readonly turnId: string | null
  readonly itemId: string | null
  readonly createdAt: number
  /** When the policy's default answers it if nobody has. */
  readonly expiresAt: number
}

/**
 * A pending request of any method (narrow it on `method`).
 *
 * @since 0.2.0
 * @category models
 */
export type PendingRequest = { readonly [M in ServerRequestMethod]: Of<M> }[ServerRequestMethod]

/**
 * Options of an answer.
 *
 * @since 0.2.0
 * @category models
 */
export interface AnswerOptions {
  /** Who answers (a user name, an account id): recorded in the {@link Settled} event, for audit. */
  readonly by?: string | undefined
}

/**
 * A request of method `M` on a turn's stream: the request's data, plus `respond` typed by method and `decline`.
 *
 * @since 0.2.0
 * @category models
 */
export interface AskedOf<M extends ServerRequestMethod> extends Of<M> {
  readonly _tag: "ServerRequest"
  /** Sends `answer` to codex, unless the request was settled already (`RequestNotPendingError`). */
  readonly respond: (answer: ServerRequestResponse<M>, options?: AnswerOptions) => Effect.Effect<void, AnswerError>
  /** Sends the answer that refuses the request (what a timeout sends). */
  readonly decline: (options?: AnswerOptions) => Effect.Effect<void, RequestNotPendingError>
}

/**
 * A turn's event: codex asks, and waits for an answer (narrow it on `method` for typed params and answer).
 *
 * @since 0.2.0
 * @category models
 */
export type Asked = { readonly [M in ServerRequestMethod]: AskedOf<M> }[ServerRequestMethod]

/**
 * A turn's event: a request it asked was settled, as an audit record: the request (method, params, ids, when it
 * arrived), `outcome`, `answer` (what codex was sent; `null` when codex resolved it itself), `by` (who answered;
 * `null` for a timeout, a cancellation or codex) and `settledAt` (epoch milliseconds).
 *
 * @since 0.2.0
 * @category models
 */
export type Settled = PendingRequest & {
  readonly _tag: "ServerRequestSettled"
  readonly outcome: Outcome
  readonly answer: unknown
  readonly by: string | null
  readonly settledAt: number
}

/**
 * The events a turn adds to its stream for the requests it asks.
 *
 * @since 0.2.0
 * @category models
 */
export type Event = Asked | Settled

/**
 * The request's data without its functions (what `JSON.stringify` of the event keeps, minus `_tag`).
 *
 * @since 0.2.0
 * @category utils
 */
export const toData = (event: Asked | PendingRequest): PendingRequest => {
  const { requestId, method, params, threadId, turnId, itemId, createdAt, expiresAt } = event
  return { requestId, method, params, threadId, turnId, itemId, createdAt, expiresAt } as PendingRequest
}
