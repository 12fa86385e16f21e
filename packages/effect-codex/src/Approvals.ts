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
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type { KnownServerRequest } from "./AppServer.js"
import { ErrorCode, type RpcErrorObject } from "./Errors.js"
import { type ChatgptTokens, toWire } from "./internal/codex/chatgptTokens.js"
import { optInFor } from "./internal/codex/optIn.js"

/**
 * A handler for one server-request method: typed params in, the typed answer out. It may use services (`R`): they
 * appear in the type of the layer or the turn that uses it.
 *
 * @since 0.1.0
 * @category models
 */
export type MethodHandler<M extends ServerRequestMethod, R = never> = (
  params: ServerRequestParams<M>,
  request: Extract<KnownServerRequest, { readonly method: M }>
) => Effect.Effect<ServerRequestResponse<M>, RpcErrorObject, R>

/**
 * The policy "ask": the request is not answered by a function but surfaced, as data, on its turn's stream and in its
 * thread's pending requests, until someone answers it (see `PendingRequest`) or it times out (declined).
 *
 * @since 0.2.0
 * @category constants
 */
export const ask = "ask" as const

/**
 * The policy "ask" (see {@link ask}).
 *
 * @since 0.2.0
 * @category models
 */
export type Ask = typeof ask

/**
 * The policy by method: a handler function, or {@link ask}; methods left out get the default (declining) answer.
 *
 * @since 0.1.0
 * @category models
 */
export type Handlers<R = never> = { readonly [M in ServerRequestMethod]?: MethodHandler<M, R> | Ask }

/**
 * Surfaces a request and waits for its answer (the dispatcher's side of {@link ask}); after `timeout` the request
 * is answered with {@link declineAnswer}.
 *
 * @since 0.2.0
 * @category models
 */
export type Asker = (
  request: KnownServerRequest,
  options: { readonly timeout: Duration.Duration }
) => Effect.Effect<unknown, RpcErrorObject>

/**
 * Answers one server request; `ask` is how it waits for a person when its policy says so (the `Codex` gives it;
 * without one, a request the policy would ask about is declined).
 *
 * @since 0.2.0
 * @category models
 */
export type Handle = (request: KnownServerRequest, ask?: Asker) => Effect.Effect<unknown, RpcErrorObject>

/** Without a way to ask, a request the policy would ask about is declined. */
const askNobody: Asker = (request) => declineAnswer(request)

/**
 * Answers every server request: the shape of the {@link Approvals} service.
 *
 * @since 0.2.0
 * @category models
 */
export interface Approvals {
  readonly handle: Handle
}

/**
 * The approvals service tag. Provide one of {@link declineAll}, {@link acceptAll}, {@link askAll}, {@link layer}.
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

/**
 * Options of a policy that asks.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** How long an asked request waits for an answer before it is declined. Default 10 minutes. */
  readonly askTimeout?: Duration.Input | undefined
}

/**
 * How long an asked request waits by default: 10 minutes.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultAskTimeout: Duration.Duration = Duration.minutes(10)

/**
 * The answer that refuses a request of each method, without side effects: what the default policy, a timeout and a
 * cancelled request send. Methods without a refusing answer get a JSON-RPC error.
 *
 * @since 0.2.0
 * @category utils
 */
export const declineAnswer = (request: Pick<KnownServerRequest, "method">): Exit.Exit<unknown, RpcErrorObject> => {
  switch (request.method) {
    case "item/commandExecution/requestApproval":
    case "item/fileChange/requestApproval":
      return Exit.succeed({ decision: "decline" })
    case "execCommandApproval":
    case "applyPatchApproval":
      return Exit.succeed({ decision: "denied" })
    case "item/permissions/requestApproval":
      return Exit.succeed({ permissions: {}, scope: "turn" })
    case "item/tool/requestUserInput":
      return Exit.succeed({ answers: {} })
    case "mcpServer/elicitation/request":
      return Exit.succeed({ action: "decline" })
    case "item/tool/call":
      return Exit.succeed({
        success: false,
        contentItems: [{ type: "inputText", text: "effect-codex: no handler for dynamic tool calls" }]
      })
    default:
      return Exit.fail({ code: ErrorCode.MethodNotFound, message: `effect-codex has no handler for "${request.method}"` })
  }
}

/** The answer that approves a request of each approval method (the rest are declined). */
const acceptAnswer: Handle = (request) => {
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
 * Builds the service from a policy by method, falling back to `fallback` for the others (default: decline and log).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (handlers: Handlers, fallback: Handle = declineWithLog, options: Options = {}): Approvals => {
  const timeout = Duration.fromInputUnsafe(options.askTimeout ?? defaultAskTimeout)
  return {
    handle: (request, asker = askNobody) => {
      const handler = handlers[request.method] as
        | ((params: unknown, request: KnownServerRequest) => Effect.Effect<unknown, RpcErrorObject>)
        | Ask
        | undefined
      if (handler === undefined) return fallback(request, asker)
      return handler === ask ? asker(request, { timeout }) : handler(request.params, request)
    }
  }
}

/** Declines, with a log line that says what was declined and the opt-in that answers its method. */
const declineWithLog: Handle = (request) =>
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
 * The methods a person answers: command, file-change and permission approvals (and their legacy forms), questions
 * and MCP elicitations. Dynamic tool calls and token refreshes are for functions.
 *
 * @since 0.2.0
 * @category constants
 */
export const personMethods = [
  "item/commandExecution/requestApproval",
  "item/fileChange/requestApproval",
  "item/permissions/requestApproval",
  "item/tool/requestUserInput",
  "mcpServer/elicitation/request",
  "execCommandApproval",
  "applyPatchApproval"
] as const satisfies ReadonlyArray<ServerRequestMethod>

/**
 * The policy {@link ask} for `methods` (default: {@link personMethods}), to spread into handlers or give a turn.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Approvals } from "effect-codex"
 *
 * // Ask a person about commands; a function answers dynamic tool calls.
 * const handlers: Approvals.Handlers = {
 *   ...Approvals.asking(["item/commandExecution/requestApproval"]),
 *   "item/tool/call": () => Effect.succeed({ success: true, contentItems: [] })
 * }
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const asking = (methods: ReadonlyArray<ServerRequestMethod> = personMethods): Handlers =>
  Object.fromEntries(methods.map((method) => [method, ask]))

/**
 * Asks about every request a person answers (see {@link personMethods}); the rest are declined.
 *
 * @since 0.2.0
 * @category layers
 */
export const askAll = (options: Options = {}): Layer.Layer<Approvals> =>
  Layer.succeed(Approvals)(make(asking(), declineWithLog, options))

/**
 * Your policy as the approvals layer: handlers (which may use services `R`, required by the layer), {@link ask}, or
 * both by method; methods left out are declined (and logged).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <R = never>(handlers: Handlers<R>, options: Options = {}): Layer.Layer<Approvals, never, R> =>
  Layer.effect(Approvals)(
    Effect.map(Effect.context<R>(), (context) => contextual(make(handlers as Handlers, declineWithLog, options), context))
  )

/**
 * The service with its handlers running in `context` (the services they need, the Console, Logger, span, ... of who
 * made it).
 *
 * @since 0.2.0
 * @category utils
 */
export const contextual = <R>(service: Service, context: Context.Context<R>): Service => ({
  handle: (request, asker) => Effect.provideContext(service.handle(request, asker), context)
})

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
): Handlers<never> => ({
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
