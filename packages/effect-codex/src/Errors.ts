/**
 * Every failure a user of effect-codex can meet, as tagged, schema-backed errors.
 *
 * JSON-RPC errors answered by `codex app-server` are classified by their code (never only by `data`),
 * client-side failures (timeouts, a dead server, an undecodable message) have their own tags, and all of
 * them carry the method they belong to, so `Effect.catchTag` narrows exhaustively.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AppServer } from "effect-codex"
 *
 * const models = AppServer.request("model/list", {}).pipe(
 *   Effect.catchTag("ServerBusyError", (error) => Effect.logWarning(error.message))
 * )
 * ```
 * @since 0.1.0
 */
import type { CodexErrorInfo, TurnError } from "@effect-codex/protocol"
import * as Schema from "effect/Schema"
import { TurnResult } from "./internal/codex/turnResult.js"

/**
 * JSON-RPC error codes the app-server uses.
 *
 * @since 0.1.0
 * @category constants
 */
export const ErrorCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  ServerOverloaded: -32001
} as const

const rpcFields = {
  /** The JSON-RPC method of the request that failed. */
  method: Schema.String,
  /** The JSON-RPC error code the server answered. */
  code: Schema.Number,
  /** The server's message. */
  message: Schema.String,
  /** The server's `data`, when it sent any. */
  data: Schema.optional(Schema.Unknown)
}

/**
 * The server could not parse what was sent (JSON-RPC -32700).
 *
 * @since 0.1.0
 * @category errors
 */
export class ParseError extends Schema.TaggedError<ParseError>("effect-codex/Errors/ParseError")("ParseError", rpcFields) {}

/**
 * The server rejected the request's shape (JSON-RPC -32600).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRequestError extends Schema.TaggedError<InvalidRequestError>("effect-codex/Errors/InvalidRequestError")("InvalidRequestError", rpcFields) {}

/**
 * The server does not know the method (JSON-RPC -32601, or codex's -32600 "unknown variant"). codex lists
 * every method it knows (about 109): that list is in `expected`, and `message` is kept short.
 *
 * @since 0.1.0
 * @category errors
 */
export class MethodNotFoundError extends Schema.TaggedError<MethodNotFoundError>("effect-codex/Errors/MethodNotFoundError")("MethodNotFoundError", {
  ...rpcFields,
  /** The methods the server says it knows, when it listed them. */
  expected: Schema.optional(Schema.Array(Schema.String))
}) {}

/**
 * The server rejected the request's params (JSON-RPC -32602).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidParamsError extends Schema.TaggedError<InvalidParamsError>("effect-codex/Errors/InvalidParamsError")("InvalidParamsError", rpcFields) {}

/**
 * The server failed while handling the request (JSON-RPC -32603).
 *
 * @since 0.1.0
 * @category errors
 */
export class InternalRpcError extends Schema.TaggedError<InternalRpcError>("effect-codex/Errors/InternalRpcError")("InternalRpcError", rpcFields) {}

/**
 * The server is overloaded and asks to retry later (JSON-RPC -32001, or an overload marker in
 * `data.codex_error_info`). Retried by `Retry.retryOnOverload`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerBusyError extends Schema.TaggedError<ServerBusyError>("effect-codex/Errors/ServerBusyError")("ServerBusyError", rpcFields) {}

/**
 * The method (or a field of its params) belongs to codex's experimental API and the connection did not opt in
 * (`experimentalApi: true` in the handshake options). Raised before sending by `server.experimental.request`, and
 * for codex's own answer (-32600 "… requires experimentalApi capability").
 *
 * @since 0.2.0
 * @category errors
 */
export class ExperimentalApiNotEnabledError extends Schema.TaggedError<ExperimentalApiNotEnabledError>("effect-codex/Errors/ExperimentalApiNotEnabledError")(
  "ExperimentalApiNotEnabledError",
  rpcFields
) {}

/**
 * Any other JSON-RPC error code.
 *
 * @since 0.1.0
 * @category errors
 */
export class JsonRpcError extends Schema.TaggedError<JsonRpcError>("effect-codex/Errors/JsonRpcError")("JsonRpcError", rpcFields) {}

/**
 * No response arrived within the request's timeout; the request was abandoned.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestTimeoutError extends Schema.TaggedError<RequestTimeoutError>("effect-codex/Errors/RequestTimeoutError")("RequestTimeoutError", {
  method: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `No response to "${this.method}" within ${this.timeoutMillis} ms; the request was abandoned`
  }
}

/**
 * The app-server process ended (or its output closed) while the request was pending (`sent: true`), or
 * before it was sent: a call made after the server had exited is refused (`sent: false`).
 *
 * @since 0.1.0
 * @category errors
 */
export class AppServerExitedError extends Schema.TaggedError<AppServerExitedError>("effect-codex/Errors/AppServerExitedError")("AppServerExitedError", {
  /** The method of the request (or notification) this error answers, when there is one. */
  method: Schema.optional(Schema.String),
  /**
   * Whether that request had been sent: true when it was pending as the server exited, false when it
   * was refused because the server had already exited. Absent without a `method`.
   */
  sent: Schema.optional(Schema.Boolean),
  exitCode: Schema.NullOr(Schema.Number),
  signal: Schema.NullOr(Schema.String),
  /** The last lines the server wrote to stderr. */
  stderrTail: Schema.Array(Schema.String),
  reason: Schema.String,
  /**
   * Set by `CodexPool` on a turn cut by the end of its process: the thread's next operation resumes it on a
   * live process (re-running the cut turn is the caller's decision: its commands may already have run).
   */
  resumable: Schema.optional(Schema.Boolean)
}) {
  override get message(): string {
    const tail = this.stderrTail.length === 0 ? "" : `; last stderr lines:\n${this.stderrTail.join("\n")}`
    if (this.method !== undefined && this.sent === false) {
      const ended = this.signal !== null
        ? `been killed by ${this.signal}`
        : this.exitCode !== null
        ? `exited with code ${this.exitCode}`
        : "gone"
      return `"${this.method}" was refused (not sent): codex app-server had already ${ended} (${this.reason})${tail}`
    }
    const how = this.signal !== null
      ? `killed by ${this.signal}`
      : this.exitCode !== null
      ? `exited with code ${this.exitCode}`
      : "is gone"
    const during = this.method === undefined ? "" : ` while "${this.method}" was pending`
    const next = this.resumable === true ? "; the thread resumes on a live process at its next operation" : ""
    return `codex app-server ${how}${during} (${this.reason})${next}${tail}`
  }
}

/**
 * No codex binary was found; `searched` lists every place that was tried, in order.
 *
 * @since 0.1.0
 * @category errors
 */
export class AppServerNotFoundError extends Schema.TaggedError<AppServerNotFoundError>("effect-codex/Errors/AppServerNotFoundError")("AppServerNotFoundError", {
  searched: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `No codex binary found. Pass \`codexPath\`, set CODEX_BIN, or install @openai/codex. Tried:\n  ${
      this.searched.join("\n  ")
    }`
  }
}

/**
 * The server's codex version is outside `CodexVersion.supported` (or its `userAgent` names no version),
 * and the handshake was asked to be strict (`strictVersion: true`). Without strict mode this is a
 * warning in the log, not an error.
 *
 * @since 0.2.0
 * @category errors
 */
export class UnsupportedVersionError extends Schema.TaggedError<UnsupportedVersionError>("effect-codex/Errors/UnsupportedVersionError")("UnsupportedVersionError", {
  /** The version read from `userAgent`, or null when it names none. */
  found: Schema.NullOr(Schema.String),
  /** The server's `userAgent`, as answered to `initialize`. */
  userAgent: Schema.String,
  /** The supported range, e.g. `>=0.160.0 <0.172.0`. */
  supported: Schema.String
}) {
  override get message(): string {
    return this.found === null
      ? `Cannot tell the codex version from the userAgent "${this.userAgent}"; effect-codex supports ${this.supported}`
      : `codex ${this.found} is outside the versions effect-codex supports (${this.supported}): requests and ` +
        `notifications may not match the protocol; point \`codexPath\` or CODEX_BIN at a supported codex`
  }
}

/**
 * The codex binary was found but could not be started (permissions, bad cwd, ...).
 *
 * @since 0.1.0
 * @category errors
 */
export class AppServerSpawnError extends Schema.TaggedError<AppServerSpawnError>("effect-codex/Errors/AppServerSpawnError")("AppServerSpawnError", {
  command: Schema.String,
  reason: Schema.String,
  /** The spawn failure as the platform raised it. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `Could not start ${this.command}: ${this.reason}`
  }
}

/**
 * A message from the server could not be parsed or did not match the protocol schema.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProtocolError extends Schema.TaggedError<ProtocolError>("effect-codex/Errors/ProtocolError")("ProtocolError", {
  /** The method the message belongs to, when known. */
  method: Schema.optional(Schema.String),
  reason: Schema.String,
  /** The start of the offending line (at most 500 characters). */
  excerpt: Schema.String,
  /** The underlying parse or decoding failure, when there is one. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    const where = this.method === undefined ? "" : ` for "${this.method}"`
    return `Protocol error${where}: ${this.reason} (message: ${this.excerpt})`
  }
}

/**
 * Overload retries were exhausted; `lastError` is the last `ServerBusyError`.
 *
 * @since 0.1.0
 * @category errors
 */
export class RetryLimitExceededError extends Schema.TaggedError<RetryLimitExceededError>("effect-codex/Errors/RetryLimitExceededError")("RetryLimitExceededError", {
  attempts: Schema.Number,
  lastError: ServerBusyError
}) {
  override get message(): string {
    return `Still overloaded after ${this.attempts} attempts: ${this.lastError.message}`
  }
}

// ---------------------------------------------------------------------------
// Why a turn failed: one reason per codexErrorInfo kind
// ---------------------------------------------------------------------------

const reasonId = (name: string) => `effect-codex/Errors/TurnFailureReason/${name}`

/** An HTTP status worth trying again: none known (a connection that broke), a timeout, 429, or a server error. */
const transientStatus = (status: number | null | undefined): boolean =>
  status == null || status === 408 || status === 429 || status >= 500

const httpStatusCode = Schema.NullOr(Schema.Number)

/**
 * The conversation no longer fits the model's context window: compact the thread (`thread.compact`) or start a new
 * one, then run again. Not retryable as it is.
 *
 * @since 0.2.0
 * @category reasons
 */
export class ContextWindowExceeded extends Schema.TaggedError<ContextWindowExceeded>(reasonId("ContextWindowExceeded"))("ContextWindowExceeded", {}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The session's own budget is spent. Not retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class SessionBudgetExceeded extends Schema.TaggedError<SessionBudgetExceeded>(reasonId("SessionBudgetExceeded"))("SessionBudgetExceeded", {}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The account's usage limit is reached. `resetsAt` (Unix seconds) is when it resets, when known: codex does not put
 * it in `codexErrorInfo`, so it is taken from the latest `account/rateLimits/updated` snapshot (the exhausted window,
 * else the latest reset). Not retryable at once; `Retry.retryTurn` waits for `resetsAt` when it is near enough.
 *
 * @since 0.2.0
 * @category reasons
 */
export class UsageLimitExceeded extends Schema.TaggedError<UsageLimitExceeded>(reasonId("UsageLimitExceeded"))("UsageLimitExceeded", {
  resetsAt: Schema.NullOr(Schema.Number)
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The provider's rate limit answered the model request (e.g. `response.failed` with `rate_limit_exceeded`).
 * Retryable after a pause.
 *
 * @since 0.2.0
 * @category reasons
 */
export class RateLimitExceeded extends Schema.TaggedError<RateLimitExceeded>(reasonId("RateLimitExceeded"))("RateLimitExceeded", {}) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * The flex service tier has no capacity now. Retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class FlexUnavailable extends Schema.TaggedError<FlexUnavailable>(reasonId("FlexUnavailable"))("FlexUnavailable", {}) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * The model is at capacity (HTTP 503 `server_is_overloaded`/`slow_down`, or the stream said so). Retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class ServerOverloaded extends Schema.TaggedError<ServerOverloaded>(reasonId("ServerOverloaded"))("ServerOverloaded", {}) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * The model does not exist for this provider or account. Not retryable: pick another model.
 *
 * @since 0.2.0
 * @category reasons
 */
export class ModelNotFound extends Schema.TaggedError<ModelNotFound>(reasonId("ModelNotFound"))("ModelNotFound", {}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The capacity reserved by a policy is unavailable now. Retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class PolicyCapacityUnavailable extends Schema.TaggedError<PolicyCapacityUnavailable>(reasonId("PolicyCapacityUnavailable"))("PolicyCapacityUnavailable", {}) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * The request was flagged for possible cybersecurity risk. Not retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class CyberPolicy extends Schema.TaggedError<CyberPolicy>(reasonId("CyberPolicy"))("CyberPolicy", {}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The turn was blocked as misaligned (`TurnError.misalignment` may say how to continue). Not retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class MisalignmentPolicyViolation extends Schema.TaggedError<MisalignmentPolicyViolation>(reasonId("MisalignmentPolicyViolation"))("MisalignmentPolicyViolation", {}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Too many approvals were denied in the turn. Not retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class TooManyDenials extends Schema.TaggedError<TooManyDenials>(reasonId("TooManyDenials"))("TooManyDenials", {}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The provider (or codex itself) failed internally (HTTP 500). Retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class InternalServerError extends Schema.TaggedError<InternalServerError>(reasonId("InternalServerError"))("InternalServerError", {}) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * codex could not authenticate (its ChatGPT tokens could not be refreshed): log in again, or hand it fresh tokens,
 * then run again. Not retryable as it is. See also {@link isUnauthorized}, which also covers an HTTP 401.
 *
 * @since 0.2.0
 * @category reasons
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>(reasonId("Unauthorized"))("Unauthorized", {}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The request was refused as malformed (or named a thread or operation codex does not have). Not retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class BadRequest extends Schema.TaggedError<BadRequest>(reasonId("BadRequest"))("BadRequest", {}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * A `thread/rollback` could not be applied. Not retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class ThreadRollbackFailed extends Schema.TaggedError<ThreadRollbackFailed>(reasonId("ThreadRollbackFailed"))("ThreadRollbackFailed", {}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The sandbox failed (or denied what the turn needed). Not retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class SandboxError extends Schema.TaggedError<SandboxError>(reasonId("SandboxError"))("SandboxError", {}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * An inference hook denied the model request. Not retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class InferenceHookDenied extends Schema.TaggedError<InferenceHookDenied>(reasonId("InferenceHookDenied"))("InferenceHookDenied", {}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The model request could not be made (`httpStatusCode`: the status, when one came back, e.g. 401 for a refused
 * key). Retryable without a status, on 408, 429 and 5xx.
 *
 * @since 0.2.0
 * @category reasons
 */
export class HttpConnectionFailed extends Schema.TaggedError<HttpConnectionFailed>(reasonId("HttpConnectionFailed"))("HttpConnectionFailed", {
  httpStatusCode
}) {
  get isRetryable(): boolean {
    return transientStatus(this.httpStatusCode)
  }
}

/**
 * The response stream could not be opened. Retryable without a status, on 408, 429 and 5xx.
 *
 * @since 0.2.0
 * @category reasons
 */
export class ResponseStreamConnectionFailed extends Schema.TaggedError<ResponseStreamConnectionFailed>(reasonId("ResponseStreamConnectionFailed"))("ResponseStreamConnectionFailed", {
  httpStatusCode
}) {
  get isRetryable(): boolean {
    return transientStatus(this.httpStatusCode)
  }
}

/**
 * The response stream broke before the response completed. Retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class ResponseStreamDisconnected extends Schema.TaggedError<ResponseStreamDisconnected>(reasonId("ResponseStreamDisconnected"))("ResponseStreamDisconnected", {
  httpStatusCode
}) {
  get isRetryable(): boolean {
    return true
  }
}

/**
 * codex gave up after its own retries (`request_max_retries`), e.g. "exceeded retry limit, last status: 429"
 * (a plain 429 without a usage limit). Retryable without a status, on 408, 429 and 5xx.
 *
 * @since 0.2.0
 * @category reasons
 */
export class ResponseTooManyFailedAttempts extends Schema.TaggedError<ResponseTooManyFailedAttempts>(reasonId("ResponseTooManyFailedAttempts"))("ResponseTooManyFailedAttempts", {
  httpStatusCode
}) {
  get isRetryable(): boolean {
    return transientStatus(this.httpStatusCode)
  }
}

/**
 * `turn/steer` on a turn that cannot be steered (`turnKind`, e.g. a review or a compaction). Not retryable.
 *
 * @since 0.2.0
 * @category reasons
 */
export class ActiveTurnNotSteerable extends Schema.TaggedError<ActiveTurnNotSteerable>(reasonId("ActiveTurnNotSteerable"))("ActiveTurnNotSteerable", {
  turnKind: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
}

/** codex's words for a stream cut before `response.completed` (`CodexErr::Stream`), reported as kind `other`. */
const streamCut = "stream disconnected before completion"

/**
 * codex's `other`, or no kind at all. `message` is the server's. Retryable only when the message is codex's own for
 * a stream that was cut before the response completed ("stream disconnected before completion: …", which codex
 * 0.169.0 reports as `other` once its stream retries are spent).
 *
 * @since 0.2.0
 * @category reasons
 */
export class OtherFailure extends Schema.TaggedError<OtherFailure>(reasonId("OtherFailure"))("OtherFailure", {
  message: Schema.String
}) {
  get isRetryable(): boolean {
    return this.message.startsWith(streamCut)
  }
}

/**
 * A kind this version of effect-codex does not know, kept as received in `raw`. Not retryable (nothing is known
 * of it).
 *
 * @since 0.2.0
 * @category reasons
 */
export class UnknownFailure extends Schema.TaggedError<UnknownFailure>(reasonId("UnknownFailure"))("UnknownFailure", {
  raw: Schema.Unknown,
  message: Schema.String
}) {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * Why a turn failed (or why codex is retrying, in an `error` notification).
 *
 * @since 0.2.0
 * @category reasons
 */
export const TurnFailureReason = Schema.Union([
  ContextWindowExceeded,
  SessionBudgetExceeded,
  UsageLimitExceeded,
  RateLimitExceeded,
  FlexUnavailable,
  ServerOverloaded,
  ModelNotFound,
  PolicyCapacityUnavailable,
  CyberPolicy,
  MisalignmentPolicyViolation,
  TooManyDenials,
  InternalServerError,
  Unauthorized,
  BadRequest,
  ThreadRollbackFailed,
  SandboxError,
  InferenceHookDenied,
  HttpConnectionFailed,
  ResponseStreamConnectionFailed,
  ResponseStreamDisconnected,
  ResponseTooManyFailedAttempts,
  ActiveTurnNotSteerable,
  OtherFailure,
  UnknownFailure
])

/**
 * Why a turn failed (or why codex is retrying, in an `error` notification).
 *
 * @since 0.2.0
 * @category reasons
 */
export type TurnFailureReason = typeof TurnFailureReason.Type

/** The reasons without fields, by their `codexErrorInfo` string. */
const plain = {
  contextWindowExceeded: () => new ContextWindowExceeded(),
  sessionBudgetExceeded: () => new SessionBudgetExceeded(),
  rateLimitExceeded: () => new RateLimitExceeded(),
  flexUnavailable: () => new FlexUnavailable(),
  serverOverloaded: () => new ServerOverloaded(),
  modelNotFound: () => new ModelNotFound(),
  policyCapacityUnavailable: () => new PolicyCapacityUnavailable(),
  cyberPolicy: () => new CyberPolicy(),
  misalignmentPolicyViolation: () => new MisalignmentPolicyViolation(),
  tooManyDenials: () => new TooManyDenials(),
  internalServerError: () => new InternalServerError(),
  unauthorized: () => new Unauthorized(),
  badRequest: () => new BadRequest(),
  threadRollbackFailed: () => new ThreadRollbackFailed(),
  sandboxError: () => new SandboxError(),
  inferenceHookDenied: () => new InferenceHookDenied()
} satisfies Record<string, () => TurnFailureReason>

/** The reasons with an HTTP status, by their `codexErrorInfo` key. */
const withStatus = {
  httpConnectionFailed: (code: number | null) => new HttpConnectionFailed({ httpStatusCode: code }),
  responseStreamConnectionFailed: (code: number | null) => new ResponseStreamConnectionFailed({ httpStatusCode: code }),
  responseStreamDisconnected: (code: number | null) => new ResponseStreamDisconnected({ httpStatusCode: code }),
  responseTooManyFailedAttempts: (code: number | null) => new ResponseTooManyFailedAttempts({ httpStatusCode: code })
} satisfies Record<string, (code: number | null) => TurnFailureReason>

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The one key of an object kind and its fields, when it has exactly one key whose value is an object. */
const objectKind = (info: unknown): readonly [string, Record<string, unknown>] | undefined => {
  if (!isRecord(info)) return undefined
  const keys = Object.keys(info)
  const fields = keys.length === 1 ? info[keys[0]!] : undefined
  return isRecord(fields) ? [keys[0]!, fields] : undefined
}

/**
 * The reason of a turn's error: its `codexErrorInfo` kind as a class, `UsageLimitExceeded` with `resetsAt` when
 * given. A missing error or kind is `OtherFailure`; a kind this version does not know is `UnknownFailure` with the
 * raw value (the generated schema keeps unknown values as `{ type: "@unknown", raw }`, unwrapped here).
 *
 * @since 0.2.0
 * @category constructors
 */
export const reasonOf = (
  error: TurnError | null | undefined,
  resetsAt: number | null = null
): TurnFailureReason => {
  const message = error?.message ?? ""
  const info: CodexErrorInfo | null | undefined = error?.codexErrorInfo
  if (info == null || info === "other") return new OtherFailure({ message })
  if (info === "usageLimitExceeded") return new UsageLimitExceeded({ resetsAt })
  if (typeof info === "string") {
    const make = (plain as Record<string, (() => TurnFailureReason) | undefined>)[info]
    return make !== undefined ? make() : new UnknownFailure({ raw: info, message })
  }
  const kind = objectKind(info)
  if (kind !== undefined) {
    const [key, fields] = kind
    const make = (withStatus as Record<string, ((code: number | null) => TurnFailureReason) | undefined>)[key]
    if (make !== undefined) return make(typeof fields.httpStatusCode === "number" ? fields.httpStatusCode : null)
    if (key === "activeTurnNotSteerable") {
      return new ActiveTurnNotSteerable({ turnKind: String(fields.turnKind ?? "") })
    }
  }
  const unknown: unknown = info
  const raw = isRecord(unknown) && unknown.type === "@unknown" && "raw" in unknown ? unknown.raw : unknown
  return new UnknownFailure({ raw, message })
}

/**
 * True when the reason says codex is not (or no longer) signed in: `Unauthorized`, or an HTTP 401 from the model
 * provider (`HttpConnectionFailed` and its kin with `httpStatusCode: 401`). Log in again, then run again.
 *
 * @since 0.2.0
 * @category guards
 */
export const isUnauthorized = (reason: TurnFailureReason): boolean =>
  reason._tag === "Unauthorized" || ("httpStatusCode" in reason && reason.httpStatusCode === 401)

/**
 * The turn ended with status `failed`. `reason` says why, as a tagged class per `codexErrorInfo` kind (see
 * `TurnFailureReason`): narrow it with `Effect.catchReason("TurnFailedError", "UsageLimitExceeded", ...)`, ask
 * `error.isRetryable`, or read the whole `result` (the server's `error` and everything that happened).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Thread } from "effect-codex"
 *
 * declare const thread: Thread.Thread
 * const answer = thread.run("Summarize the changes").pipe(
 *   Effect.catchReason("TurnFailedError", "UsageLimitExceeded", (reason) =>
 *     Effect.logWarning(`usage limit; resets at ${reason.resetsAt}`)
 *   )
 * )
 * ```
 * @since 0.1.0
 * @category errors
 */
export class TurnFailedError extends Schema.TaggedError<TurnFailedError>("effect-codex/Errors/TurnFailedError")("TurnFailedError", {
  result: TurnResult,
  /** Why the turn failed (since 0.2.0). */
  reason: TurnFailureReason
}) {
  override get message(): string {
    return `Turn ${this.result.id} of thread ${this.result.threadId} failed (${this.reason._tag}): ${
      this.result.error?.message ?? "no error message"
    }`
  }

  /** The reason, as the error's cause. */
  override readonly cause = this.reason

  /** Whether trying the turn again may succeed (see the reason's `isRetryable`). */
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

/**
 * The `TurnFailedError` of a failed turn's result, its reason read from `result.error`; `resetsAt` (Unix seconds)
 * completes a usage limit's reason.
 *
 * @since 0.2.0
 * @category constructors
 */
export const turnFailed = (result: TurnResult, resetsAt: number | null = null): TurnFailedError =>
  new TurnFailedError({ result, reason: reasonOf(result.error, resetsAt) })

/**
 * A token budget stopped the turn: the turn's own tokens (`scope: "turn"`) or the thread's running total
 * (`scope: "thread"`) reached `maxTokens` (`usedTokens` when the budget was checked). The turn was interrupted there;
 * `result` is its result (status `interrupted`).
 *
 * @since 0.2.0
 * @category errors
 */
export class TokenBudgetExceededError extends Schema.TaggedError<TokenBudgetExceededError>("effect-codex/Errors/TokenBudgetExceededError")("TokenBudgetExceededError", {
  scope: Schema.Literals(["turn", "thread"]),
  maxTokens: Schema.Number,
  usedTokens: Schema.Number,
  result: TurnResult
}) {
  override get message(): string {
    return `Turn ${this.result.id} of thread ${this.result.threadId} was stopped: the ${this.scope} used ${this.usedTokens} tokens, over its budget of ${this.maxTokens}`
  }
}

/**
 * The turn sent nothing for `idleMillis` and `thread/read` says it is still running.
 *
 * @since 0.2.0
 * @category errors
 */
export class TurnStalledError extends Schema.TaggedError<TurnStalledError>("effect-codex/Errors/TurnStalledError")("TurnStalledError", {
  threadId: Schema.String,
  turnId: Schema.String,
  idleMillis: Schema.Number
}) {
  override get message(): string {
    return `Turn ${this.turnId} of thread ${this.threadId} sent nothing for ${this.idleMillis} ms and is still in progress on the server`
  }
}

/**
 * A turn was asked for on a thread whose turn is still running, with `whenBusy: "fail"` (by default the new
 * turn waits for the running one). Add input to a running turn with its handle's `steer`.
 *
 * @since 0.2.0
 * @category errors
 */
export class ThreadBusyError extends Schema.TaggedError<ThreadBusyError>("effect-codex/Errors/ThreadBusyError")("ThreadBusyError", {
  threadId: Schema.String,
  /** The running turn, once the server has given its id. */
  turnId: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const running = this.turnId === undefined ? "a turn that is starting" : `turn ${this.turnId}`
    return `Thread ${this.threadId} is busy with ${running}; wait for it, or steer it to add input`
  }
}

/**
 * Every process of a `CodexPool` was at `maxTurnsPerProcess` and `maxQueued` callers were already waiting.
 *
 * @since 0.2.0
 * @category errors
 */
export class PoolQueueFullError extends Schema.TaggedError<PoolQueueFullError>("effect-codex/Errors/PoolQueueFullError")("PoolQueueFullError", {
  threadId: Schema.String,
  maxTurnsPerProcess: Schema.Number,
  maxQueued: Schema.Number
}) {
  override get message(): string {
    return `No room for a turn of thread ${this.threadId}: its process runs ${this.maxTurnsPerProcess} turns and ${this.maxQueued} callers are waiting; retry later or raise the pool's limits`
  }
}

/**
 * The final response did not match the requested schema (or was not JSON).
 *
 * @since 0.2.0
 * @category errors
 */
export class StructuredOutputError extends Schema.TaggedError<StructuredOutputError>("effect-codex/Errors/StructuredOutputError")("StructuredOutputError", {
  threadId: Schema.String,
  turnId: Schema.optional(Schema.String),
  /** The final response as received, if any. */
  response: Schema.NullOr(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `Structured output of thread ${this.threadId} is not usable: ${this.reason}`
  }
}

/**
 * An answer to a server request codex asked the client (`Approvals.ask`) came too late: the request was already
 * settled (answered by someone else, timed out, cancelled with its turn, resolved on the server's side), or no
 * request of that id is pending on the thread. Exactly one answer reaches codex: the first.
 *
 * @since 0.2.0
 * @category errors
 */
export class RequestNotPendingError extends Schema.TaggedError<RequestNotPendingError>("effect-codex/Errors/RequestNotPendingError")("RequestNotPendingError", {
  threadId: Schema.String,
  requestId: Schema.String,
  /** How the request was settled, or `unknown` when no such request is pending (any more). */
  settledAs: Schema.Literals(["answered", "timedOut", "cancelled", "resolved", "unknown"]),
  /** Who gave the answer that won, when it was answered. */
  by: Schema.NullOr(Schema.String)
}) {
  override get message(): string {
    const request = `Request ${this.requestId} of thread ${this.threadId}`
    switch (this.settledAs) {
      case "answered":
        return `${request} was already answered${this.by === null ? "" : ` by ${this.by}`}; only the first answer counts`
      case "timedOut":
        return `${request} timed out and was answered with the policy's default`
      case "cancelled":
        return `${request} was cancelled: its turn ended while it waited`
      case "resolved":
        return `${request} was resolved on the server's side (another client answered it, or its turn ended)`
      case "unknown":
        return `${request} is not pending: list the thread's pending requests with thread.pending`
    }
  }
}

/**
 * An answer to a server request does not match the protocol's response of its method; codex was not sent it, and the
 * request is still pending.
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidAnswerError extends Schema.TaggedError<InvalidAnswerError>("effect-codex/Errors/InvalidAnswerError")("InvalidAnswerError", {
  threadId: Schema.String,
  requestId: Schema.String,
  method: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `The answer to request ${this.requestId} ("${this.method}") of thread ${this.threadId} does not match the protocol: ${this.reason}`
  }
}

/**
 * Why an answer to a pending server request was refused.
 *
 * @since 0.2.0
 * @category errors
 */
export type AnswerError = RequestNotPendingError | InvalidAnswerError

/**
 * An error answered by the server in a JSON-RPC error response.
 *
 * @since 0.1.0
 * @category errors
 */
export type RpcError =
  | ParseError
  | InvalidRequestError
  | MethodNotFoundError
  | InvalidParamsError
  | InternalRpcError
  | ServerBusyError
  | ExperimentalApiNotEnabledError
  | JsonRpcError

/**
 * Every way one request to the app-server can fail.
 *
 * @since 0.1.0
 * @category errors
 */
export type RequestError = RpcError | RequestTimeoutError | AppServerExitedError | ProtocolError

/**
 * Every way starting the app-server can fail.
 *
 * @since 0.1.0
 * @category errors
 */
export type StartError = AppServerNotFoundError | AppServerSpawnError | RequestError | UnsupportedVersionError

/**
 * The JSON-RPC error object of a response.
 *
 * @since 0.1.0
 * @category models
 */
export interface RpcErrorObject {
  readonly code: number
  readonly message: string
  readonly data?: unknown
}

const overloadMarkers = ["serveroverloaded", "server_overloaded", "overloaded"]

/** True when `data.codex_error_info` marks the error as an overload, whatever the code. */
const hasOverloadMarker = (data: unknown): boolean => {
  if (typeof data !== "object" || data === null || !("codex_error_info" in data)) return false
  const info = JSON.stringify((data as { codex_error_info: unknown }).codex_error_info).toLowerCase()
  return overloadMarkers.some((marker) => info.includes(marker))
}

/** serde's "unknown variant `x`, expected one of `a`, `b`, ...": the message before the list, and the list. */
const expectedOneOf = /^([\s\S]*?), expected one of (`[\s\S]*)$/

/** `MethodNotFoundError` with codex's list of known methods moved from the message to `expected`. */
const methodNotFound = (fields: ConstructorParameters<typeof MethodNotFoundError>[0]): MethodNotFoundError => {
  const match = expectedOneOf.exec(fields.message)
  if (match === null) return new MethodNotFoundError(fields)
  const expected = Array.from(match[2]!.matchAll(/`([^`]*)`/g), (name) => name[1]!)
  return new MethodNotFoundError({
    ...fields,
    message: `${match[1]} (the server knows ${expected.length} methods, listed in \`expected\`)`,
    expected
  })
}

/** serde's wording for params that do not fit the method's params type. */
const paramsProblem = /invalid type|invalid value|missing field|unknown field|invalid length/

/**
 * Turns a JSON-RPC error object into its tagged error, classified by code first (an overload is
 * recognised by code -32001 even without `data`), then by overload markers in `data`. codex answers
 * an unknown method and params of the wrong shape with -32600 ("Invalid request: unknown variant …",
 * "Invalid request: invalid type …"): those become `MethodNotFoundError` and `InvalidParamsError`, and
 * "… requires experimentalApi capability" becomes `ExperimentalApiNotEnabledError`, keeping the original `code`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRpcError = (method: string, error: RpcErrorObject): RpcError => {
  const fields = {
    method,
    code: error.code,
    message: error.message,
    ...(error.data === undefined ? {} : { data: error.data })
  }
  if (error.code === ErrorCode.ServerOverloaded || hasOverloadMarker(error.data)) return new ServerBusyError(fields)
  switch (error.code) {
    case ErrorCode.ParseError:
      return new ParseError(fields)
    case ErrorCode.InvalidRequest:
      // codex deserializes method and params together and reports both failures as -32600.
      if (error.message.includes(`unknown variant \`${method}\``)) return methodNotFound(fields)
      if (paramsProblem.test(error.message)) return new InvalidParamsError(fields)
      if (error.message.endsWith("requires experimentalApi capability")) return new ExperimentalApiNotEnabledError(fields)
      return new InvalidRequestError(fields)
    case ErrorCode.MethodNotFound:
      return new MethodNotFoundError(fields)
    case ErrorCode.InvalidParams:
      return new InvalidParamsError(fields)
    case ErrorCode.InternalError:
      return new InternalRpcError(fields)
    default:
      return new JsonRpcError(fields)
  }
}

/**
 * Cuts a line to at most 500 characters for error messages.
 *
 * @since 0.1.0
 * @category utils
 */
export const excerpt = (line: string): string => line.length <= 500 ? line : `${line.slice(0, 500)}…`

/**
 * No connection could be made to a running app-server (`Transport.remote`): the address is not valid, nothing
 * listens there, the server refused the token, it answered the WebSocket upgrade with another HTTP status, or the
 * connection did not open within the connect timeout. The token is never part of the error.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Codex, NodeCodex } from "effect-codex"
 *
 * const program = Effect.gen(function*() {
 *   const codex = yield* Codex.Codex
 *   return yield* codex.models()
 * }).pipe(
 *   Effect.provide(NodeCodex.layerRemote({ url: "ws://127.0.0.1:4500" })),
 *   Effect.catchTag("AppServerConnectError", (error) => Effect.logError(error.kind, error.message))
 * )
 * ```
 * @since 0.2.0
 * @category errors
 */
export class AppServerConnectError extends Schema.TaggedError<AppServerConnectError>("effect-codex/Errors/AppServerConnectError")("AppServerConnectError", {
  /** The address that was dialled, as given (`ws://IP:PORT` or `unix://PATH`). */
  address: Schema.String,
  /**
   * `InvalidAddress` (not a `ws://`, `wss://` or `unix://` URL), `Unreachable` (nothing listens: refused, no such
   * socket, host unknown), `Unauthorized` (HTTP 401/403: a missing or wrong token), `Rejected` (another HTTP status)
   * or `Timeout` (no connection within the connect timeout).
   */
  kind: Schema.Literals(["InvalidAddress", "Unreachable", "Unauthorized", "Rejected", "Timeout"]),
  reason: Schema.String,
  /** The failure as the platform raised it. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `Could not connect to codex app-server at ${this.address}: ${this.reason}`
  }
}
