/**
 * The entry point: a `Codex` service over one `codex app-server`, with threads, models, account and
 * login. On Node, build it with `NodeCodex.layer` (spawns the pinned binary), `NodeCodex.layerConfig` (options
 * from `Config`) or `NodeCodex.layerFromEnv` (reads `CODEX_HOME`, `CODEX_MODEL`, ...); elsewhere, {@link layerStdio} with your platform's `ChildProcessSpawner`.
 * Answer approvals with an `Approvals` layer (declined by default).
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Codex, NodeCodex } from "effect-codex"
 *
 * const program = Effect.gen(function*() {
 *   const codex = yield* Codex.Codex
 *   const thread = yield* codex.threadStart()
 *   const result = yield* thread.run("Say hello")
 *   yield* Effect.log(result.finalResponse)
 * })
 *
 * program.pipe(Effect.provide(NodeCodex.layer()), NodeRuntime.runMain)
 * ```
 * @since 0.1.0
 */
import type {
  AccountLoginCompletedNotification,
  GetAccountResponse,
  ModelListParams,
  ModelListResponse,
  Thread as ThreadInfo,
  ThreadForkParams,
  ThreadForkResponse,
  ThreadListParams,
  ThreadListResponse,
  ThreadResumeParams,
  ThreadResumeResponse,
  ThreadStartParams,
  ThreadStartResponse,
  ThreadUnsubscribeStatus
} from "@effect-codex/protocol"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import type { ChildProcessSpawner } from "effect/process"
import * as AppServer from "./AppServer.js"
import * as Approvals from "./Approvals.js"
import type {
  AppServerConnectError,
  AppServerExitedError,
  RequestError,
  StartError,
  UnsupportedVersionError
} from "./Errors.js"
import * as ChatgptTokensInternal from "./internal/codex/chatgptTokens.js"
import * as Dispatcher from "./internal/codex/dispatcher.js"
import * as Remote from "./internal/transport/remote.js"
import * as Stdio from "./internal/transport/stdio.js"
import * as ThreadHandle from "./internal/codex/thread.js"
import * as TurnGate from "./internal/codex/turnGate.js"
import * as Thread from "./Thread.js"
import type * as Turn from "./Turn.js"

/**
 * Sandbox presets for `sandbox` in thread options.
 *
 * @since 0.1.0
 * @category constants
 */
export const Sandbox = {
  /** Read files, run read-only commands; no writes, no network. */
  readOnly: "read-only",
  /** Write inside the workspace (cwd); no network. */
  workspace: "workspace-write",
  /** No sandbox at all. Only where you trust the agent fully. */
  fullAccess: "danger-full-access"
} as const

/**
 * The server's whole answer when a thread is opened (start, resume and fork share these fields).
 *
 * @since 0.1.0
 * @category models
 */
export type OpenResponse = ThreadStartResponse | ThreadResumeResponse | ThreadForkResponse

/**
 * A thread that was just started, resumed or forked: its handle, the thread, and the server's whole
 * answer (the effective `model`, `approvalPolicy`, `sandbox`, `cwd`, `reasoningEffort`, ...).
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenedThread extends Thread.Thread {
  readonly info: ThreadInfo
  readonly response: OpenResponse
}

/**
 * A login in progress (`account/login/start` for ChatGPT or device code).
 *
 * @since 0.1.0
 * @category models
 */
export interface LoginHandle {
  readonly loginId: string
  /** For browser login: the URL to open. */
  readonly authUrl?: string
  /** For device-code login: the URL to visit and the code to enter. */
  readonly verificationUrl?: string
  readonly userCode?: string
  /** Waits for this login's own `account/login/completed` (not another login's). */
  readonly wait: Effect.Effect<AccountLoginCompletedNotification, AppServerExitedError>
  /** Cancels this login. */
  readonly cancel: Effect.Effect<void, RequestError>
}

/**
 * ChatGPT auth tokens your application holds (it manages the ChatGPT login, codex uses the tokens): given to
 * {@link Codex.loginChatgptTokens}, and answered to codex's `account/chatgptAuthTokens/refresh` requests by
 * `Approvals.chatgptTokenRefresh`. The access token never appears in spans or logs.
 *
 * @since 0.2.0
 * @category models
 */
export type ChatgptTokens = ChatgptTokensInternal.ChatgptTokens

/**
 * Threads, models, account and login over one app-server (or a pool of them): the shape of the {@link Codex}
 * service.
 *
 * @since 0.2.0
 * @category models
 */
export interface Codex {
  /** The underlying server, for requests the service does not wrap. */
  readonly server: AppServer.AppServer
  /** Starts a new thread. */
  readonly threadStart: (options?: ThreadStartParams) => Effect.Effect<OpenedThread, RequestError>
  /** A handle on an existing thread id (no request is sent). */
  readonly thread: (id: string) => Thread.Thread
  /** Loads a stored thread into the server (`thread/resume`), with optional overrides. */
  readonly threadResume: (
    id: string,
    overrides?: Omit<ThreadResumeParams, "threadId">
  ) => Effect.Effect<OpenedThread, RequestError>
  /** Forks a thread into a new one. */
  readonly threadFork: (
    id: string,
    options?: Omit<ThreadForkParams, "threadId">
  ) => Effect.Effect<OpenedThread, RequestError>
  /** One page of stored threads. */
  readonly threadList: (params?: ThreadListParams) => Effect.Effect<ThreadListResponse, RequestError>
  /** Every stored thread, following `nextCursor` page by page. */
  readonly threads: (params?: Omit<ThreadListParams, "cursor">) => Stream.Stream<ThreadInfo, RequestError>
  /** Archives a thread. */
  readonly threadArchive: (id: string) => Effect.Effect<void, RequestError>
  /** Brings an archived thread back. */
  readonly threadUnarchive: (id: string) => Effect.Effect<ThreadInfo, RequestError>
  /**
   * Unsubscribes this connection from a loaded thread (`thread/unsubscribe`). Codex unloads a thread no connection
   * is subscribed to once its `thread_unload_delay_secs` has passed (a server setting, 30 minutes by default);
   * after that, `threadResume` loads it from its rollout file again. Answers `"unsubscribed"`, `"notSubscribed"` or
   * `"notLoaded"`. The thread closes after the answer, and a `threadResume` while it is closing is refused
   * (`InvalidRequestError`, "thread … is closing"): asked again, this answers `"notLoaded"` once it has closed.
   */
  readonly threadUnsubscribe: (id: string) => Effect.Effect<ThreadUnsubscribeStatus, RequestError>
  /** The models the server offers. */
  readonly models: (params?: ModelListParams) => Effect.Effect<ModelListResponse, RequestError>
  /** The signed-in account, if any. */
  readonly account: Effect.Effect<GetAccountResponse, RequestError>
  /** Signs in with an API key (the key never appears in spans or logs). */
  readonly loginApiKey: (apiKey: Redacted.Redacted<string>) => Effect.Effect<void, RequestError>
  /**
   * Signs in with ChatGPT tokens your application supplies (`chatgptAuthTokens`); codex asks for fresh ones with
   * `account/chatgptAuthTokens/refresh`, answered by `Approvals.chatgptTokenRefresh`.
   */
  readonly loginChatgptTokens: (tokens: ChatgptTokens) => Effect.Effect<void, RequestError>
  /** Starts a browser (ChatGPT) login. */
  readonly loginChatgpt: Effect.Effect<LoginHandle, RequestError, Scope.Scope>
  /** Starts a device-code login. */
  readonly loginDeviceCode: Effect.Effect<LoginHandle, RequestError, Scope.Scope>
  /** Signs out. */
  readonly logout: Effect.Effect<void, RequestError>
}

/**
 * The Codex service tag.
 *
 * @since 0.1.0
 * @category services
 */
export const Codex: Context.Service<Codex, Codex> = Context.Service<Codex>("effect-codex/Codex")

/**
 * The Codex service.
 *
 * @deprecated Use {@link Codex} (the interface of the same name as the service).
 * @since 0.1.0
 * @category models
 */
export type Service = Codex

/**
 * Options of the Codex service itself (the turn watchdog defaults).
 *
 * @since 0.1.0
 * @category models
 */
export interface ServiceOptions extends Turn.WatchOptions {
  /**
   * What a turn does when its thread is busy, unless the turn says otherwise: `"wait"` (default) for the running
   * turn, or `"fail"` with `ThreadBusyError`.
   */
  readonly whenBusy?: Thread.WhenBusy | undefined
}

/**
 * Builds the service over the `AppServer` in context; answers server requests with `Approvals` (default: decline).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: ServiceOptions
) => Effect.Effect<Codex, never, Scope.Scope | AppServer.AppServer> = Effect.fn("Codex.make")(function*(
  options: ServiceOptions = {}
) {
  const server = yield* AppServer.AppServer
  // One dispatcher for every thread of this server: notifications and server requests, routed by thread id.
  const dispatcher = yield* Dispatcher.make(
    server,
    Option.getOrElse(yield* Effect.serviceOption(Approvals.Approvals), () => Approvals.make({}))
  )
  // One lock per thread id for every handle of this Codex (a CodexPool shares one gate among its processes).
  const gate = Option.getOrElse(yield* Effect.serviceOption(TurnGate.CurrentGate), () =>
    TurnGate.threadLocks(options.whenBusy))
  const dependencies: ThreadHandle.Dependencies = { server, dispatcher, watch: options, gate }
  const thread = ThreadHandle.maker(dependencies)
  const opened = (response: OpenResponse): OpenedThread => ({
    ...thread(response.thread.id),
    info: response.thread,
    response
  })

  const login = (params: { readonly type: "chatgpt" } | { readonly type: "chatgptDeviceCode" }) =>
    Effect.gen(function*() {
      // Subscribe before starting, so a quick completion is not missed; the subscription lives only
      // until this login's completion has arrived.
      const watchScope = yield* Scope.fork(yield* Effect.scope)
      const notifications = yield* Scope.provide(server.subscribe, watchScope)
      const response = yield* server.request("account/login/start", params).pipe(
        Effect.onError(() => Scope.close(watchScope, Exit.void))
      )
      if (response.type !== "chatgpt" && response.type !== "chatgptDeviceCode") {
        return yield* Effect.die(new Error(`unexpected login response type "${response.type}"`))
      }
      const loginId = response.loginId
      const completed = yield* Deferred.make<AccountLoginCompletedNotification, AppServerExitedError>()
      yield* notifications.pipe(
        Stream.filter((event): event is Extract<AppServer.KnownNotification, { method: "account/login/completed" }> =>
          event._tag === "Notification" && event.method === "account/login/completed" &&
          event.params.loginId === loginId
        ),
        Stream.map((event) => event.params),
        Stream.runHead,
        Effect.flatMap(Option.match({
          onNone: () => Effect.die(new Error("notification stream ended")),
          onSome: Effect.succeed
        })),
        Effect.exit,
        Effect.flatMap((exit) => Deferred.done(completed, exit)),
        // Waiting after the handle's scope closed ends (interrupted) instead of hanging.
        Effect.onInterrupt(() => Deferred.interrupt(completed)),
        Effect.ensuring(Scope.close(watchScope, Exit.void)),
        Effect.forkScoped
      )
      return {
        loginId,
        ...(response.type === "chatgpt"
          ? { authUrl: response.authUrl }
          : { verificationUrl: response.verificationUrl, userCode: response.userCode }),
        wait: Deferred.await(completed),
        cancel: server.request("account/login/cancel", { loginId }).pipe(Effect.asVoid)
      } satisfies LoginHandle
    }).pipe(Effect.withSpan("Codex.login", { attributes: { type: params.type } }))

  const threadList = (params: ThreadListParams = {}) => server.request("thread/list", params)

  return Codex.of({
    server,
    thread,
    threadStart: (options = {}) =>
      server.request("thread/start", options).pipe(
        Effect.map(opened),
        Effect.withSpan("Codex.threadStart")
      ),
    threadResume: (id, overrides = {}) =>
      server.request("thread/resume", { ...overrides, threadId: id }).pipe(
        Effect.map(opened),
        Effect.withSpan("Codex.threadResume", { attributes: { threadId: id } })
      ),
    threadFork: (id, options = {}) =>
      server.request("thread/fork", { ...options, threadId: id }).pipe(
        Effect.map(opened),
        Effect.withSpan("Codex.threadFork", { attributes: { threadId: id } })
      ),
    threadList: (params) => threadList(params).pipe(Effect.withSpan("Codex.threadList")),
    threads: (params = {}) =>
      Stream.paginate(undefined as string | undefined, (cursor) =>
        threadList(cursor === undefined ? params : { ...params, cursor }).pipe(
          Effect.map((page) =>
            [page.data, page.nextCursor == null ? Option.none() : Option.some(page.nextCursor)] as const
          )
        )),
    threadArchive: (id) =>
      server.request("thread/archive", { threadId: id }).pipe(
        Effect.asVoid,
        Effect.withSpan("Codex.threadArchive", { attributes: { threadId: id } })
      ),
    threadUnarchive: (id) =>
      server.request("thread/unarchive", { threadId: id }).pipe(
        Effect.map((response) => response.thread),
        Effect.withSpan("Codex.threadUnarchive", { attributes: { threadId: id } })
      ),
    threadUnsubscribe: (id) =>
      server.request("thread/unsubscribe", { threadId: id }).pipe(
        Effect.map((response) => response.status),
        Effect.withSpan("Codex.threadUnsubscribe", { attributes: { threadId: id } })
      ),
    models: (params = {}) => server.request("model/list", params).pipe(Effect.withSpan("Codex.models")),
    account: server.request("account/read", {}).pipe(Effect.withSpan("Codex.account")),
    loginApiKey: (apiKey) =>
      server.request("account/login/start", { type: "apiKey", apiKey: Redacted.value(apiKey) }).pipe(
        Effect.asVoid,
        Effect.withSpan("Codex.loginApiKey")
      ),
    loginChatgptTokens: (tokens) =>
      server.request("account/login/start", { type: "chatgptAuthTokens", ...ChatgptTokensInternal.toWire(tokens) }).pipe(
        Effect.asVoid,
        Effect.withSpan("Codex.loginChatgptTokens", { attributes: { chatgptAccountId: tokens.chatgptAccountId } })
      ),
    loginChatgpt: login({ type: "chatgpt" }),
    loginDeviceCode: login({ type: "chatgptDeviceCode" }),
    logout: server.request("account/logout").pipe(Effect.asVoid, Effect.withSpan("Codex.logout"))
  })
})

/**
 * The service over an `AppServer` provided elsewhere.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ServiceOptions = {}): Layer.Layer<Codex, never, AppServer.AppServer> =>
  Layer.effect(Codex)(make(options))

/**
 * Options of {@link layerStdio} (and `NodeCodex.layer`): how to start the server, greet it, and watch turns.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends AppServer.Options, ServiceOptions {}

/**
 * Spawns the app-server (see `AppServer.Options`: `codexPath`, `codexHome`, `config`, `apiKey`, ...) and
 * builds the service; the process lives as long as the layer. Needs a `ChildProcessSpawner`: on Node,
 * use `NodeCodex.layer`, which is this layer with Node's spawner provided.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStdio = (
  options: Options = {}
): Layer.Layer<Codex, StartError, ChildProcessSpawner.ChildProcessSpawner> =>
  layer(options).pipe(Layer.provide(AppServer.layer(options)))

/**
 * {@link layerStdio} with its options read from `Config`: each option a `Config` of its own (those left out keep
 * their defaults), or one `Config` of the whole options, as Effect's own `layerConfig`s take them. Give a list option
 * (`config`, `enable`, ...) as one `Config` of the list (`Config.succeed([...])`), not a list of `Config`s. On Node,
 * use `NodeCodex.layerConfig`.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Config, Duration, Layer } from "effect"
 * import { Codex } from "effect-codex"
 *
 * const CodexLive = Codex.layerConfig({
 *   codexHome: Config.String("MY_APP_CODEX_HOME"),
 *   apiKey: Config.Redacted("MY_APP_OPENAI_KEY"),
 *   requestTimeout: Config.Duration("MY_APP_CODEX_TIMEOUT").pipe(Config.withDefault(Duration.minutes(2)))
 * }).pipe(Layer.provide(NodeServices.layer))
 * ```
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Wrap<Options>
): Layer.Layer<Codex, StartError | Config.ConfigError, ChildProcessSpawner.ChildProcessSpawner> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), layerStdio))

/**
 * {@link layerStdio} configured from the environment variables codex itself reads: `CODEX_BIN` (binary),
 * `CODEX_HOME`, `OPENAI_API_KEY` (kept redacted) and `CODEX_MODEL` (passed as `-c model=...`), over the given options
 * (which win). This was `layerConfig` before 0.2.0. On Node, use `NodeCodex.layerFromEnv`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerFromEnv = (
  options: Options = {}
): Layer.Layer<Codex, StartError | Config.ConfigError, ChildProcessSpawner.ChildProcessSpawner> =>
  layerConfig(Stdio.environmentConfig(options))

/**
 * Options of {@link layerRemote}: where the running server listens (`url`, `token`, `connectTimeout`), how to greet
 * it, and how to watch turns.
 *
 * @since 0.2.0
 * @category models
 */
export interface RemoteOptions extends AppServer.RemoteOptions, ServiceOptions {}

/**
 * The service over an app-server that is already running (`codex app-server --listen ws://IP:PORT`, or
 * `unix://PATH`) instead of a child process: everything else is the same. A wrong token or an address where
 * nothing listens fails the layer with `AppServerConnectError`; a connection that drops later fails pending calls
 * and running turns with `AppServerExitedError`, as a process exit does. Closing the layer closes the connection
 * and leaves the server running. Needs a `Socket.WebSocketConstructor`: on Node, use `NodeCodex.layerRemote`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRemote = (
  options: RemoteOptions
): Layer.Layer<Codex, AppServerConnectError | RequestError | UnsupportedVersionError, Socket.WebSocketConstructor> =>
  layer(options).pipe(Layer.provide(AppServer.layerRemote(options)))

/**
 * {@link layerRemote} with its options read from `Config` (each option a `Config`, or one `Config` of them all), as
 * Effect's own `layerConfig`s take them. On Node, use `NodeCodex.layerRemoteConfig`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRemoteConfig = (
  options: Config.Wrap<RemoteOptions>
): Layer.Layer<
  Codex,
  AppServerConnectError | RequestError | UnsupportedVersionError | Config.ConfigError,
  Socket.WebSocketConstructor
> => Layer.unwrap(Effect.map(Config.unwrap(options), layerRemote))

/**
 * {@link layerRemote} configured from the environment: `CODEX_APP_SERVER_URL` (`ws://IP:PORT` or `unix://PATH`;
 * required unless `url` is given) and `CODEX_APP_SERVER_TOKEN` (optional, kept redacted), under the given options.
 * On Node, use `NodeCodex.layerRemoteFromEnv`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRemoteFromEnv = (
  options: Partial<RemoteOptions> = {}
): Layer.Layer<
  Codex,
  AppServerConnectError | RequestError | UnsupportedVersionError | Config.ConfigError,
  Socket.WebSocketConstructor
> => layerRemoteConfig(Remote.environmentConfig(options))
