/**
 * The requests codex raises during a cluster turn that asks (`ask` in the turn's options), stored in PostgreSQL so
 * that any client process can list and answer them: the conversation and turn they belong to, the method and its
 * params, and how they ended (`answered` by whom and when, `timed_out`, `resolved` by the turn's end, `cut` by the
 * runner's end), kept for audit.
 *
 * A request is answered exactly once across clients: an answer is a conditional `UPDATE ... WHERE status =
 * 'pending'`, and the loser of a race gets {@link AlreadyAnsweredError}. The runner that waits for the answer
 * hears of it by `NOTIFY` (one `LISTEN` connection per process, opened at the first wait), with a poll as a safety
 * net. The table is created when the layer is built (`CREATE TABLE IF NOT EXISTS`, under an advisory lock).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CodexCluster } from "@effect-codex/cluster"
 *
 * // In any client process: approve the commands a conversation waits on.
 * const approveAll = Effect.gen(function*() {
 *   const chat = (yield* CodexCluster.CodexCluster).conversation("customer-42")
 *   for (const request of yield* chat.pending()) {
 *     if (request.method === "item/commandExecution/requestApproval") {
 *       yield* chat.respond(request.requestId, { decision: "accept" }, { by: "alice@example.com" })
 *     }
 *   }
 * })
 * ```
 * @since 0.2.0
 */
import { ServerRequests } from "@effect-codex/protocol"
import type { ServerRequestParams, ServerRequestResponse } from "@effect-codex/protocol"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import { AlreadyAnsweredError, InvalidAnswerError, PendingRequestNotFoundError, StoreError } from "./ClusterErrors.js"

/**
 * The server-request methods a turn can ask a person about (every request codex sends for a turn).
 *
 * @since 0.2.0
 * @category schemas
 */
export const AskableMethod = Schema.Literals([
  "item/commandExecution/requestApproval",
  "item/fileChange/requestApproval",
  "item/permissions/requestApproval",
  "item/tool/requestUserInput",
  "mcpServer/elicitation/request",
  "item/tool/call",
  "execCommandApproval",
  "applyPatchApproval"
])

/**
 * A server-request method a turn can ask a person about.
 *
 * @since 0.2.0
 * @category models
 */
export type AskableMethod = typeof AskableMethod.Type

/**
 * A turn that asks: codex's requests of `methods` (default: every askable method) are stored and wait for a client's
 * answer, declined after `timeout` (default 5 minutes). Methods left out are answered as without asking (the
 * runner's `Approvals`, declining by default).
 *
 * @since 0.2.0
 * @category schemas
 */
export const AskPolicy = Schema.Struct({
  methods: Schema.optional(Schema.Array(AskableMethod)),
  timeout: Schema.optional(Schema.Duration)
})

/**
 * A turn that asks.
 *
 * @since 0.2.0
 * @category models
 */
export type AskPolicy = typeof AskPolicy.Type

/**
 * How a stored request stands: `pending` (waiting for an answer), `answered` (by a client), `timed_out` (declined
 * at its timeout), `resolved` (its turn ended before an answer) or `cut` (its runner, or the turn's caller, went
 * away first).
 *
 * @since 0.2.0
 * @category schemas
 */
export const Status = Schema.Literals(["pending", "answered", "timed_out", "resolved", "cut"])

/**
 * How a stored request stands.
 *
 * @since 0.2.0
 * @category models
 */
export type Status = typeof Status.Type

const commonFields = {
  /** The request's id in the store (not codex's JSON-RPC id). */
  requestId: Schema.String,
  conversation: Schema.String,
  turnKey: Schema.String,
  status: Status,
  /** Who answered: the identity the client passed (null for a timeout, an end or a cut). */
  answeredBy: Schema.NullOr(Schema.String),
  answeredAt: Schema.NullOr(Schema.Date),
  /** When the runner received it from codex (the runner's clock). */
  createdAt: Schema.Date,
  /** The runner that raised it. */
  runner: Schema.String
}

/** The stored request of one method: its params, and the answer codex got (null while pending). */
const fieldsOf = <M extends AskableMethod>(method: M): Schema.Struct<
  typeof commonFields & {
    readonly method: Schema.Literal<M>
    readonly params: (typeof ServerRequests)[M]["params"]
    readonly answer: Schema.NullOr<(typeof ServerRequests)[M]["response"]>
  }
> =>
  Schema.Struct({
    ...commonFields,
    method: Schema.Literal(method),
    params: ServerRequests[method].params,
    answer: Schema.NullOr(ServerRequests[method].response)
  })

/**
 * A request codex raised during a turn that asks, as stored: typed by its method (its params and its answer).
 *
 * @since 0.2.0
 * @category schemas
 */
export const PendingRequest = Schema.Union([
  fieldsOf("item/commandExecution/requestApproval"),
  fieldsOf("item/fileChange/requestApproval"),
  fieldsOf("item/permissions/requestApproval"),
  fieldsOf("item/tool/requestUserInput"),
  fieldsOf("mcpServer/elicitation/request"),
  fieldsOf("item/tool/call"),
  fieldsOf("execCommandApproval"),
  fieldsOf("applyPatchApproval")
])

/**
 * A request codex raised during a turn that asks, as stored.
 *
 * @since 0.2.0
 * @category models
 */
export type PendingRequest = typeof PendingRequest.Type

/**
 * An answer to an askable request: the response of its method (checked against the request's method when given).
 *
 * @since 0.2.0
 * @category models
 */
export type Answer = ServerRequestResponse<AskableMethod>

/**
 * What the runner stores when codex asks.
 *
 * @since 0.2.0
 * @category models
 */
export interface NewRequest<M extends AskableMethod = AskableMethod> {
  readonly conversation: string
  readonly turnKey: string
  readonly runner: string
  readonly method: M
  readonly params: ServerRequestParams<M>
}

/**
 * The ways a request ends without a client's answer.
 *
 * @since 0.2.0
 * @category models
 */
export type Ending = "timed_out" | "resolved" | "cut"

/**
 * The store's operations: the client's (`list`, `respond`) and the runner's (`create`, `end`, `cutConversation`,
 * `awaitEnd`).
 *
 * @since 0.2.0
 * @category models
 */
export interface Service {
  /** A conversation's requests, oldest first: all, or those of one status. */
  readonly list: (
    conversation: string,
    options?: { readonly status?: Status | undefined }
  ) => Effect.Effect<ReadonlyArray<PendingRequest>, StoreError>
  /**
   * Answers a pending request of `conversation`, recording `by` and the time; exactly one answer wins across
   * clients. The answer is checked against the request's method first.
   */
  readonly respond: (
    conversation: string,
    requestId: string,
    answer: Answer,
    options: { readonly by: string }
  ) => Effect.Effect<
    PendingRequest,
    AlreadyAnsweredError | PendingRequestNotFoundError | InvalidAnswerError | StoreError
  >
  /** Stores a new pending request (its id is a fresh UUID). */
  readonly create: <M extends AskableMethod>(request: NewRequest<M>) => Effect.Effect<PendingRequest, StoreError>
  /**
   * Ends a pending request without a client's answer, storing `answer` as what codex got. Gives the request as it
   * then stands: a client that answered first keeps its answer.
   */
  readonly end: (requestId: string, ending: Ending, answer: unknown) => Effect.Effect<PendingRequest, StoreError>
  /** Marks a conversation's pending requests `cut` (their runner is gone); answers how many there were. */
  readonly cutConversation: (conversation: string) => Effect.Effect<number, StoreError>
  /** Waits until the request is no longer pending, and gives it as it then stands. */
  readonly awaitEnd: (requestId: string) => Effect.Effect<PendingRequest, StoreError>
}

/**
 * The pending-request store.
 *
 * @since 0.2.0
 * @category services
 */
export class PendingRequests extends Context.Service<PendingRequests, Service>()(
  "effect-codex/cluster/PendingRequests"
) {}

/** The `NOTIFY` channel of answers; the payload is the request id. */
const channel = "effect_codex_request_answered"

/** An arbitrary constant: the advisory lock that serialises the table's creation across processes. */
const migrationLock = 7_431_042_015

/** How often a waiting runner reads the request when no notification came (the safety net of `LISTEN`). */
const pollInterval = Duration.seconds(1)

interface Row {
  readonly request_id: string
  readonly conversation_key: string
  readonly turn_key: string
  readonly method: string
  readonly params: unknown
  readonly status: string
  readonly answer: unknown
  readonly answered_by: string | null
  readonly answered_at: Date | string | null
  readonly created_at: Date | string
  readonly runner: string
}

const PendingRequestJson = Schema.toCodecJson(PendingRequest)
const decodeRequest = Schema.decodeUnknownEffect(PendingRequestJson)

const isoOf = (date: Date | string) => new Date(date).toISOString()

const fromRow = (row: Row) =>
  decodeRequest({
    requestId: row.request_id,
    conversation: row.conversation_key,
    turnKey: row.turn_key,
    method: row.method,
    params: row.params,
    status: row.status,
    answer: row.answer,
    answeredBy: row.answered_by,
    answeredAt: row.answered_at === null ? null : isoOf(row.answered_at),
    createdAt: isoOf(row.created_at),
    runner: row.runner
  })

/** The params of `method` as JSON. */
const encodeParams = (method: AskableMethod, params: unknown) =>
  Schema.encodeUnknownEffect(Schema.toCodecJson(ServerRequests[method].params))(params)

/** `answer` checked as an answer to `method` (no key the protocol does not declare), as JSON. */
const encodeAnswer = (method: AskableMethod, answer: unknown) =>
  Schema.decodeUnknownEffect(ServerRequests[method].response)(answer, { onExcessProperty: "error" }).pipe(
    Effect.flatMap(Schema.encodeUnknownEffect(Schema.toCodecJson(ServerRequests[method].response)))
  )

const failWith = (operation: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.mapError(self, (cause) => new StoreError({ operation, cause }))

const alreadyAnswered = (request: PendingRequest) =>
  new AlreadyAnsweredError({
    requestId: request.requestId,
    status: request.status,
    answeredBy: request.answeredBy,
    answeredAt: request.answeredAt
  })

/**
 * Builds the store on the `SqlClient` in context (PostgreSQL), creating its table when missing. A runner hears of
 * answers by `LISTEN` when that client is a `PgClient` (as `PgClient.layer` provides it), else by polling alone.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<Service, StoreError, SqlClient.SqlClient | Scope.Scope> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const pg = yield* Effect.serviceOption(PgClient.PgClient)
  const scope = yield* Effect.scope
  yield* sql.withTransaction(Effect.gen(function*() {
    yield* sql`SELECT pg_advisory_xact_lock(${migrationLock})`
    yield* sql`CREATE TABLE IF NOT EXISTS effect_codex_pending_requests (
      request_id text PRIMARY KEY,
      conversation_key text NOT NULL,
      turn_key text NOT NULL,
      method text NOT NULL,
      params jsonb NOT NULL,
      status text NOT NULL CHECK (status IN ('pending', 'answered', 'timed_out', 'resolved', 'cut')),
      answer jsonb,
      answered_by text,
      answered_at timestamptz,
      runner text NOT NULL,
      created_at timestamptz NOT NULL
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS effect_codex_pending_requests_conversation
      ON effect_codex_pending_requests (conversation_key, status)`
  })).pipe(failWith("create its tables"))

  const byId = (requestId: string) =>
    sql<Row>`SELECT * FROM effect_codex_pending_requests WHERE request_id = ${requestId}`.pipe(
      Effect.flatMap((rows) => rows[0] === undefined ? Effect.succeedNone : Effect.asSome(fromRow(rows[0]))),
      failWith("read a request")
    )

  /** The request `requestId`, which must exist (it was stored before it was waited on or ended). */
  const existing = (requestId: string) =>
    Effect.flatMap(byId(requestId), (found) =>
      Option.isSome(found)
        ? Effect.succeed(found.value)
        : Effect.fail(new StoreError({ operation: `find request ${requestId}` })))

  // --- Waiting for answers: one LISTEN per process, opened at the first wait; a poll as the safety net ---

  const waiters = new Map<string, Deferred.Deferred<void>>()
  const wake = (requestId: string) => {
    const waiter = waiters.get(requestId)
    if (waiter !== undefined) Deferred.doneUnsafe(waiter, Effect.void)
  }
  /** Listens (again after a failure) in the layer's scope; done once the first `LISTEN` is confirmed. */
  const listening = yield* Effect.cached(Option.match(pg, {
    onNone: () => Effect.void,
    onSome: (pg) =>
      Effect.gen(function*() {
        const ready = yield* Deferred.make<void>()
        yield* Effect.scoped(Effect.gen(function*() {
          const notifications = yield* pg.listen(channel)
          yield* Deferred.succeed(ready, undefined)
          while (true) wake((yield* Queue.take(notifications)).payload)
        })).pipe(
          Effect.tapError((cause) => Effect.logWarning("effect-codex: listening for answers failed; polling", cause)),
          Effect.retry(Schedule.spaced("1 second")),
          Effect.forkIn(scope)
        )
        // A wait never hangs on a LISTEN that cannot start: the poll finds the answer meanwhile.
        yield* Deferred.await(ready).pipe(Effect.timeoutOption("5 seconds"))
      })
  }))

  const awaitEnd = (requestId: string) =>
    Effect.gen(function*() {
      yield* listening
      while (true) {
        const waiter = yield* Deferred.make<void>()
        waiters.set(requestId, waiter)
        const request = yield* existing(requestId)
        if (request.status !== "pending") return request
        yield* Deferred.await(waiter).pipe(Effect.timeoutOption(pollInterval))
      }
    }).pipe(Effect.ensuring(Effect.sync(() => waiters.delete(requestId))))

  return PendingRequests.of({
    list: (conversation, options = {}) =>
      (options.status === undefined
        ? sql<Row>`SELECT * FROM effect_codex_pending_requests WHERE conversation_key = ${conversation}
            ORDER BY created_at, request_id`
        : sql<Row>`SELECT * FROM effect_codex_pending_requests
            WHERE conversation_key = ${conversation} AND status = ${options.status} ORDER BY created_at, request_id`)
        .pipe(Effect.flatMap(Effect.forEach(fromRow)), failWith("list requests")),

    respond: (conversation, requestId, answer, { by }) =>
      Effect.gen(function*() {
        const found = yield* byId(requestId)
        if (Option.isNone(found) || found.value.conversation !== conversation) {
          return yield* new PendingRequestNotFoundError({ conversation, requestId })
        }
        const request = found.value
        if (request.status !== "pending") return yield* alreadyAnswered(request)
        const encoded = yield* encodeAnswer(request.method, answer).pipe(
          Effect.mapError((issue) => new InvalidAnswerError({ requestId, method: request.method, reason: issue.message }))
        )
        // One statement: the answer wins only while the request is pending, and the runner is told on commit.
        const rows = yield* sql<Row>`WITH answered AS (
            UPDATE effect_codex_pending_requests SET status = 'answered', answer = ${JSON.stringify(encoded)}::jsonb,
              answered_by = ${by}, answered_at = now()
            WHERE request_id = ${requestId} AND status = 'pending' RETURNING *)
          SELECT answered.*, pg_notify(${channel}, answered.request_id) IS NULL AS notified FROM answered`.pipe(
          failWith("answer a request")
        )
        if (rows[0] === undefined) return yield* alreadyAnswered(yield* existing(requestId))
        return yield* fromRow(rows[0]).pipe(failWith("read a request"))
      }),

    create: (request) =>
      Effect.gen(function*() {
        const params = yield* encodeParams(request.method, request.params)
        const rows = yield* sql<Row>`INSERT INTO effect_codex_pending_requests
          (request_id, conversation_key, turn_key, method, params, status, runner, created_at)
          VALUES (${crypto.randomUUID()}, ${request.conversation}, ${request.turnKey}, ${request.method},
            ${JSON.stringify(params)}::jsonb, 'pending', ${request.runner}, ${new Date()})
          RETURNING *`
        return yield* fromRow(rows[0]!)
      }).pipe(failWith("store a request")),

    end: (requestId, ending, answer) =>
      sql`UPDATE effect_codex_pending_requests SET status = ${ending}, answer = ${JSON.stringify(answer)}::jsonb,
          answered_at = now()
        WHERE request_id = ${requestId} AND status = 'pending'`.pipe(
        failWith("end a request"),
        Effect.andThen(existing(requestId))
      ),

    cutConversation: (conversation) =>
      sql<{ request_id: string }>`UPDATE effect_codex_pending_requests SET status = 'cut', answered_at = now()
        WHERE conversation_key = ${conversation} AND status = 'pending' RETURNING request_id`.pipe(
        Effect.map((rows) => rows.length),
        failWith("mark requests cut")
      ),

    awaitEnd
  })
})

/**
 * The store on the `SqlClient` in context (PostgreSQL).
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<PendingRequests, StoreError, SqlClient.SqlClient> = Layer.effect(PendingRequests)(make)
