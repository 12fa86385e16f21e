/**
 * The errors the cluster adds to the SDK's own, and the schemas of what a `CodexThread` message can fail with
 * (the SDK's tagged errors, which cross the wire as they are).
 *
 * @since 0.2.0
 */
import * as Schema from "effect/Schema"
import { Errors } from "effect-codex"

/**
 * A turn was cut by the death of the runner that ran it: the message was delivered again to the conversation's new
 * runner, which found the turn marked running. The conversation goes on from its last completed turn; the cut
 * turn's work (commands it ran, files it wrote) may have happened. Re-run only when the caller says so
 * (`onCut: "rerun"`).
 *
 * @since 0.2.0
 * @category errors
 */
export class TurnCutError extends Schema.TaggedError<TurnCutError>("effect-codex/cluster/TurnCutError")("TurnCutError", {
  conversation: Schema.String,
  turnKey: Schema.String,
  /** The runner that was running it. */
  runner: Schema.NullOr(Schema.String)
}) {
  override get message(): string {
    return `Turn ${this.turnKey} of conversation ${this.conversation} was cut: its runner (${
      this.runner ?? "unknown"
    }) died while running it`
  }
}

/**
 * The conversation store (SQL) failed.
 *
 * @since 0.2.0
 * @category errors
 */
export class StoreError extends Schema.TaggedError<StoreError>("effect-codex/cluster/StoreError")("StoreError", {
  /** What the store was doing. */
  operation: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `The conversation store failed to ${this.operation}`
  }
}

/**
 * A message to a conversation found no runner to take it: for `noRunnerTimeout` (see `CodexCluster.layerClient`) no
 * runner registered in the cluster's storage answered this client (none is registered, all are down or unreachable,
 * or they refuse this client's secret). A `RunTurn` stays stored: a runner that starts later runs it, and a retry
 * with the same `turnKey` answers its result.
 *
 * @since 0.2.0
 * @category errors
 */
export class NoRunnerError extends Schema.TaggedError<NoRunnerError>("effect-codex/cluster/NoRunnerError")("NoRunnerError", {
  conversation: Schema.String,
  /** How long the message waited with no runner answering, in milliseconds. */
  waitedMs: Schema.Number,
  /** Runners registered in the storage as healthy when it gave up (none of them answered). */
  registered: Schema.Number
}) {
  override get message(): string {
    const why = this.registered === 0
      ? "no runner is registered"
      : `${this.registered} runner(s) are registered but none answered (down, unreachable, or refusing this client's secret)`
    return `No runner took a message to conversation ${this.conversation} within ${this.waitedMs} ms: ${why}`
  }
}

/**
 * `Steer` reached a conversation that runs no turn.
 *
 * @since 0.2.0
 * @category errors
 */
export class NoTurnRunningError
  extends Schema.TaggedError<NoTurnRunningError>("effect-codex/cluster/NoTurnRunningError")("NoTurnRunningError", {
    conversation: Schema.String
  })
{
  override get message(): string {
    return `Conversation ${this.conversation} runs no turn`
  }
}

/**
 * `Open` could not open the conversation: the conversation to fork from has no thread, or the thread to resume is
 * not in this runner's `CODEX_HOME`.
 *
 * @since 0.2.0
 * @category errors
 */
export class OpenError extends Schema.TaggedError<OpenError>("effect-codex/cluster/OpenError")("OpenError", {
  conversation: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/**
 * `respond` reached a request that is no longer pending: another client answered it first, its timeout answered it
 * (declined), or its turn ended or was cut. The request as stored says who answered it and when.
 *
 * @since 0.2.0
 * @category errors
 */
export class AlreadyAnsweredError
  extends Schema.TaggedError<AlreadyAnsweredError>("effect-codex/cluster/AlreadyAnsweredError")("AlreadyAnsweredError", {
    requestId: Schema.String,
    /** How it ended: `answered`, `timed_out`, `resolved` (its turn ended first) or `cut`. */
    status: Schema.String,
    answeredBy: Schema.NullOr(Schema.String),
    answeredAt: Schema.NullOr(Schema.Date)
  })
{
  override get message(): string {
    const when = this.answeredAt === null ? "" : ` at ${this.answeredAt.toISOString()}`
    return this.status === "answered"
      ? `Request ${this.requestId} was already answered by ${this.answeredBy ?? "someone"}${when}`
      : `Request ${this.requestId} is no longer pending (${this.status}${when})`
  }
}

/**
 * `respond` named a request the conversation never had.
 *
 * @since 0.2.0
 * @category errors
 */
export class PendingRequestNotFoundError extends Schema.TaggedError<PendingRequestNotFoundError>(
  "effect-codex/cluster/PendingRequestNotFoundError"
)("PendingRequestNotFoundError", {
  conversation: Schema.String,
  requestId: Schema.String
}) {
  override get message(): string {
    return `Conversation ${this.conversation} has no request ${this.requestId}`
  }
}

/**
 * An answer that is not an answer to the request's method (checked against the protocol before it is stored; codex
 * would refuse it). Nothing was stored: the request is still pending.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidAnswerError
  extends Schema.TaggedError<InvalidAnswerError>("effect-codex/cluster/InvalidAnswerError")("InvalidAnswerError", {
    requestId: Schema.String,
    method: Schema.String,
    reason: Schema.String
  })
{
  override get message(): string {
    return `Not an answer to ${this.method} (request ${this.requestId}): ${this.reason}`
  }
}

/**
 * Every way one request to the app-server can fail, as a schema (the SDK's `Errors.RequestError`).
 *
 * @since 0.2.0
 * @category schemas
 */
export const RequestError = Schema.Union([
  Errors.ParseError,
  Errors.InvalidRequestError,
  Errors.MethodNotFoundError,
  Errors.InvalidParamsError,
  Errors.InternalRpcError,
  Errors.ServerBusyError,
  Errors.ExperimentalApiNotEnabledError,
  Errors.JsonRpcError,
  Errors.RequestTimeoutError,
  Errors.AppServerExitedError,
  Errors.ProtocolError
])

/**
 * A turn key already used in this conversation came again with another input: the turn is not run, and the first
 * turn's result is not returned (it answers another question). Use a new key for a new turn.
 *
 * @since 0.2.0
 * @category errors
 */
export class TurnKeyConflictError
  extends Schema.TaggedError<TurnKeyConflictError>("effect-codex/cluster/TurnKeyConflictError")("TurnKeyConflictError", {
    conversation: Schema.String,
    turnKey: Schema.String
  })
{
  override get message(): string {
    return `Turn key ${this.turnKey} of conversation ${this.conversation} was used before with another input`
  }
}

/**
 * A restored rollout is not what codex wrote: its length or its sha256 differs from those stored with it (a piece
 * lost or altered in the database). The conversation is not resumed from it.
 *
 * @since 0.2.0
 * @category errors
 */
export class RolloutMismatchError
  extends Schema.TaggedError<RolloutMismatchError>("effect-codex/cluster/RolloutMismatchError")("RolloutMismatchError", {
    conversation: Schema.String,
    path: Schema.String,
    expectedLength: Schema.Number,
    expectedSha256: Schema.String,
    actualLength: Schema.Number,
    actualSha256: Schema.String
  })
{
  override get message(): string {
    return `The stored rollout of conversation ${this.conversation} (${this.path}) does not check: ` +
      `${this.actualLength} bytes with sha256 ${this.actualSha256}, stored as ${this.expectedLength} bytes with sha256 ` +
      this.expectedSha256
  }
}

/**
 * What a turn through the cluster can fail with: the SDK's turn errors, the store's, and a cut.
 *
 * @since 0.2.0
 * @category schemas
 */
export const TurnError = Schema.Union([
  RequestError,
  Errors.TurnFailedError,
  Errors.TurnStalledError,
  Errors.ThreadBusyError,
  Errors.PoolQueueFullError,
  TurnCutError,
  TurnKeyConflictError,
  StoreError,
  RolloutMismatchError,
  OpenError
])

/**
 * What a turn through the cluster can fail with.
 *
 * @since 0.2.0
 * @category models
 */
export type TurnError = typeof TurnError.Type
