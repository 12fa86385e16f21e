/**
 * Answering the requests codex sends to the client during a turn: command and file-change approvals,
 * permission requests, questions to the user, MCP elicitations, dynamic tool calls (and the legacy
 * `execCommandApproval` / `applyPatchApproval`).
 *
 * The default policy ({@link declineAll}) declines every approval and says so in the log: nothing runs
 * unless you opt in, with {@link acceptAll} or your own handlers ({@link make}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Approvals } from "effect-codex"
 *
 * // Accept `ls` and `cat`, decline everything else.
 * const readOnlyCommands = Approvals.layer({
 *   "item/commandExecution/requestApproval": (params) =>
 *     Effect.succeed({ decision: /^(ls|cat)\b/.test(params.command ?? "") ? "accept" : "decline" })
 * })
 * ```
 * @since 0.1.0
 */
import type {
  ChatgptAuthTokensRefreshParams,
  ServerRequestMethod,
  ServerRequestParams,
  ServerRequestResponse
} from "@effect-codex/protocol"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { KnownServerRequest } from "./AppServer.js"
import { ErrorCode, type RpcErrorObject } from "./Errors.js"
import { type ChatgptTokens, toWire } from "./internal/codex/chatgptTokens.js"
import { optInFor } from "./internal/codex/optIn.js"

/**
 * A handler for one server-request method: typed params in, the typed answer out.
 *
 * @since 0.1.0
 * @category models
 */
export type MethodHandler<M extends ServerRequestMethod> = (
  params: ServerRequestParams<M>,
  request: Extract<KnownServerRequest, { readonly method: M }>
) => Effect.Effect<ServerRequestResponse<M>, RpcErrorObject>

/**
 * Handlers by method; methods left out get the default (declining) answer.
 *
 * @since 0.1.0
 * @category models
 */
export type Handlers = { readonly [M in ServerRequestMethod]?: MethodHandler<M> }

/**
 * Answers every server request: the shape of the {@link Approvals} service.
 *
 * @since 0.2.0
 * @category models
 */
export interface Approvals {
  readonly handle: (request: KnownServerRequest) => Effect.Effect<unknown, RpcErrorObject>
}

/**
 * The approvals service tag. Provide one of {@link declineAll}, {@link acceptAll}, {@link layer}.
 *
 * @since 0.1.0
 * @category services
 */
export const Approvals: Context.Service<Approvals, Approvals> = Context.Service<Approvals>("effect-codex/Approvals")

/**
 * The approvals service: answers every server request.
 *
 * @deprecated Use {@link Approvals} (the interface of the same name as the service).
 * @since 0.1.0
 * @category models
 */
export type Service = Approvals

const declined = (message: string): Effect.Effect<never, RpcErrorObject> =>
  Effect.fail({ code: ErrorCode.MethodNotFound, message })

/** The answer that refuses a request of each method, without side effects. */
const declineAnswer = (request: KnownServerRequest): Effect.Effect<unknown, RpcErrorObject> => {
  switch (request.method) {
    case "item/commandExecution/requestApproval":
    case "item/fileChange/requestApproval":
      return Effect.succeed({ decision: "decline" })
    case "execCommandApproval":
    case "applyPatchApproval":
      return Effect.succeed({ decision: "denied" })
    case "item/permissions/requestApproval":
      return Effect.succeed({ permissions: {}, scope: "turn" })
    case "item/tool/requestUserInput":
      return Effect.succeed({ answers: {} })
    case "mcpServer/elicitation/request":
      return Effect.succeed({ action: "decline" })
    case "item/tool/call":
      return Effect.succeed({
        success: false,
        contentItems: [{ type: "inputText", text: "effect-codex: no handler for dynamic tool calls" }]
      })
    default:
      return declined(`effect-codex has no handler for "${request.method}"`)
  }
}

/** The answer that approves a request of each approval method (the rest are declined). */
const acceptAnswer = (request: KnownServerRequest): Effect.Effect<unknown, RpcErrorObject> => {
  switch (request.method) {
    case "item/commandExecution/requestApproval":
    case "item/fileChange/requestApproval":
      return Effect.succeed({ decision: "accept" })
    case "execCommandApproval":
    case "applyPatchApproval":
      return Effect.succeed({ decision: "approved" })
    default:
      return declineAnswer(request)
  }
}

/**
 * Builds the service from per-method handlers, falling back to `fallback` for the others.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  handlers: Handlers,
  fallback: (request: KnownServerRequest) => Effect.Effect<unknown, RpcErrorObject> = declineWithLog
): Approvals => ({
  handle: (request) => {
    const handler = handlers[request.method] as
      | ((params: unknown, request: KnownServerRequest) => Effect.Effect<unknown, RpcErrorObject>)
      | undefined
    return handler === undefined ? fallback(request) : handler(request.params, request)
  }
})

/** Declines, with a log line that says what was declined and the opt-in that answers its method. */
const declineWithLog = (request: KnownServerRequest): Effect.Effect<unknown, RpcErrorObject> =>
  Effect.logInfo(`effect-codex declined "${request.method}" (default policy). ${optInFor(request.method)}`).pipe(
    Effect.andThen(declineAnswer(request))
  )

/**
 * The default policy: decline every approval, answer questions with nothing, log each refusal.
 *
 * @since 0.1.0
 * @category layers
 */
export const declineAll: Layer.Layer<Approvals> = Layer.succeed(Approvals)(make({}))

/**
 * Accepts every command and file change (an explicit opt-in: the agent then runs commands within its
 * sandbox without asking). It never widens the sandbox: permission requests, questions and
 * elicitations are still declined; answer those with your own handlers.
 *
 * @since 0.1.0
 * @category layers
 */
export const acceptAll: Layer.Layer<Approvals> = Layer.succeed(Approvals)(make({}, acceptAnswer))

/**
 * Your handlers as the approvals layer; methods without a handler are declined (and logged).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (handlers: Handlers): Layer.Layer<Approvals> => Layer.succeed(Approvals)(make(handlers))

/**
 * The handler of codex's `account/chatgptAuthTokens/refresh` requests (sent after `Codex.loginChatgptTokens` when
 * the tokens stop working): runs `refresh` and answers with the tokens it gives. A failure of `refresh` is answered
 * as a JSON-RPC error naming it (codex then treats the login as failed); the tokens never appear in logs or spans.
 * Spread it into `Approvals.layer({...})`; build it where `refresh`'s services are at hand.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { Approvals } from "effect-codex"
 *
 * const approvals = Approvals.layer({
 *   ...Approvals.chatgptTokenRefresh((request) =>
 *     Effect.succeed({
 *       accessToken: Redacted.make("eyJ..."),
 *       chatgptAccountId: request.previousAccountId ?? "account-1"
 *     })
 *   )
 * })
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const chatgptTokenRefresh = <E>(
  refresh: (request: ChatgptAuthTokensRefreshParams) => Effect.Effect<ChatgptTokens, E>
): Handlers => ({
  "account/chatgptAuthTokens/refresh": (params) =>
    refresh(params).pipe(
      Effect.map(toWire),
      Effect.catchCause((cause) =>
        Effect.logWarning("effect-codex: refreshing the ChatGPT tokens failed", cause).pipe(
          Effect.andThen(Effect.fail({
            code: ErrorCode.InternalError,
            message: `the client could not refresh the ChatGPT tokens: ${Cause.pretty(cause).split("\n")[0]}`
          }))
        )
      ),
      Effect.withSpan("Approvals.chatgptTokenRefresh")
    )
})
