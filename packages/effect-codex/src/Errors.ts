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

/**
 * The turn ended with status `failed`; `result` has the server's `error` and everything that happened.
 *
 * @since 0.2.0
 * @category errors
 */
export class TurnFailedError extends Schema.TaggedError<TurnFailedError>("effect-codex/Errors/TurnFailedError")("TurnFailedError", {
  result: TurnResult
}) {
  override get message(): string {
    return `Turn ${this.result.id} of thread ${this.result.threadId} failed: ${
      this.result.error?.message ?? "no error message"
    }`
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
