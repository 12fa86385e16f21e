/**
 * A connected, initialized `codex app-server`: the layer spawns the server, performs the `initialize` /
 * `initialized` handshake, and offers requests typed by the generated protocol (params and result types
 * are inferred from the method string), decoded notifications and typed server-request handling.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { AppServer, NodeCodex } from "effect-codex"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* AppServer.AppServer
 *   const { data } = yield* server.request("model/list", {})
 *   yield* Effect.log(data.map((model) => model.id))
 * })
 *
 * program.pipe(Effect.provide(NodeCodex.layerAppServer()), NodeRuntime.runMain)
 * ```
 * @since 0.1.0
 */
import {
  ClientRequestParamsExactGuards,
  ClientRequestParamsGuards,
  ClientRequests,
  ClientResponseGuards,
  type ClientRequestMethod,
  type ClientRequestParams,
  type ClientRequestResponse,
  CODEX_VERSION,
  InitializeResponse,
  type ServerNotification,
  ServerNotificationGuards,
  ServerNotifications,
  type ServerRequest,
  ServerRequestParamsGuards,
  ServerRequests
} from "@effect-codex/protocol"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import type { ChildProcessSpawner } from "effect/process"
import {
  type AppServerConnectError,
  type AppServerExitedError,
  ErrorCode,
  excerpt,
  InvalidParamsError,
  ProtocolError,
  type RequestError,
  type RpcErrorObject,
  type StartError,
  type UnsupportedVersionError
} from "./Errors.js"
import * as CodexVersion from "./CodexVersion.js"
import * as Experimental from "./Experimental.js"
import * as RpcPeer from "./RpcPeer.js"
import { schemaIssue } from "./internal/rpc/schemaIssue.js"
import * as Spans from "./internal/codex/spans.js"
import * as Transport from "./Transport.js"

/**
 * A notification of a method the pinned protocol does not know, or whose params did not decode: passed through as is.
 *
 * @since 0.1.0
 * @category models
 */
export interface UnknownNotification {
  readonly _tag: "UnknownNotification"
  readonly method: string
  readonly params: unknown
  readonly emittedAtMs?: number
  /** Why it is not typed: the method is unknown, or the decode error. */
  readonly reason: string
}

/**
 * A decoded notification of a known method.
 *
 * @since 0.1.0
 * @category models
 */
export type KnownNotification = ServerNotification & { readonly _tag: "Notification"; readonly emittedAtMs?: number }

/**
 * Every notification the server sends: decoded when known, passed through otherwise.
 *
 * @since 0.1.0
 * @category models
 */
export type Notification = KnownNotification | UnknownNotification

/**
 * A server→client request of a known method, with decoded params.
 *
 * @since 0.1.0
 * @category models
 */
export type KnownServerRequest = ServerRequest & { readonly id: RpcPeer.RequestId }

/**
 * Answers typed server→client requests. The result is encoded with the method's response schema before
 * it is sent; failing with a JSON-RPC error object sends that error.
 *
 * @since 0.1.0
 * @category models
 */
export type ServerRequestHandler = (request: KnownServerRequest) => Effect.Effect<unknown, RpcErrorObject>

/**
 * Options of one request.
 *
 * @since 0.2.0
 * @category models
 */
export interface RequestOptions extends RpcPeer.RequestOptions {
  /**
   * Send params keys that the protocol does not declare (default false: params with such a key, at any depth, fail
   * with `InvalidParamsError` naming it and are not sent; codex would silently ignore a misspelt key).
   */
  readonly allowUnknownKeys?: boolean | undefined
}

/**
 * Arguments of `request`: params may be left out where the protocol allows no params.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestArgs<M extends ClientRequestMethod> = undefined extends ClientRequestParams<M>
  ? [params?: ClientRequestParams<M>, options?: RequestOptions]
  : [params: ClientRequestParams<M>, options?: RequestOptions]

/**
 * The connected server: the shape of the {@link AppServer} service.
 *
 * @since 0.2.0
 * @category models
 */
export interface AppServer {
  /** What the server answered to `initialize` (user agent, `codexHome`, platform). */
  readonly metadata: typeof InitializeResponse.Type
  /** The server's process id, when it is a process. */
  readonly pid: number | undefined
  /**
   * Sends a request; params are checked against the method's schema before sending (a mismatch, or a key the
   * protocol does not declare unless `allowUnknownKeys`, is an `InvalidParamsError` with code -32602 that never
   * reaches the server) and the result is decoded.
   */
  readonly request: <M extends ClientRequestMethod>(
    method: M,
    ...args: RequestArgs<M>
  ) => Effect.Effect<ClientRequestResponse<M>, RequestError>
  /** codex's experimental API, typed over the experimental protocol (see `Experimental`). */
  readonly experimental: Experimental.Api
  /** Sends a client notification. */
  readonly notify: (method: string, params?: unknown) => Effect.Effect<void, AppServerExitedError>
  /** Subscribes now, in the current scope, to every notification from now on (see `RpcPeer.RpcPeer.subscribe`). */
  readonly subscribe: Effect.Effect<Stream.Stream<Notification, AppServerExitedError>, never, Scope.Scope>
  /** Registers a synchronous listener for the life of the current scope (see `RpcPeer.RpcPeer.listen`). */
  readonly listen: (listener: RpcPeer.Listener<Notification>) => Effect.Effect<void, never, Scope.Scope>
  /** Every notification from when the stream starts. */
  readonly notifications: Stream.Stream<Notification, AppServerExitedError>
  /** Installs the handler of server→client requests (approvals, user input, ...). */
  readonly setRequestHandler: (handler: ServerRequestHandler) => Effect.Effect<void>
  /** Messages that could not be parsed or routed. */
  readonly protocolErrors: Stream.Stream<ProtocolError>
  /** Waits until the server has gone. */
  readonly closed: Effect.Effect<AppServerExitedError>
}

/**
 * The app-server service.
 *
 * @since 0.1.0
 * @category services
 */
export const AppServer: Context.Service<AppServer, AppServer> = Context.Service<AppServer>("effect-codex/AppServer")

/**
 * The connected server.
 *
 * @deprecated Use {@link AppServer} (the interface of the same name as the service).
 * @since 0.1.0
 * @category models
 */
export type Service = AppServer

/**
 * Client identity sent in `initialize`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientInfo {
  readonly name: string
  readonly title?: string | null | undefined
  readonly version: string
}

/**
 * Options of the handshake and the peer.
 *
 * @since 0.1.0
 * @category models
 */
export interface HandshakeOptions extends RpcPeer.PeerOptions {
  /**
   * Sent as `clientInfo`. Default `{ name: "effect-codex", title: "effect-codex", version: SDK_VERSION }` (the
   * package's version).
   */
  readonly clientInfo?: ClientInfo | undefined
  /**
   * Default of {@link RequestOptions.allowUnknownKeys} for every request of this connection (for example to send
   * fields of a codex newer than the pinned protocol through `Codex.threadStart`). Default false.
   */
  readonly allowUnknownKeys?: boolean | undefined
  /**
   * Opt into experimental API methods and fields (`capabilities.experimentalApi`), sent with
   * `server.experimental.request`. Default false.
   */
  readonly experimentalApi?: boolean | undefined
  /** Notification methods the server should not send at all. */
  readonly optOutNotificationMethods?: ReadonlyArray<string> | undefined
  /** Timeout of the `initialize` request. Default 30 seconds. */
  readonly initializeTimeout?: Duration.Input | undefined
  /**
   * Fail the handshake with `UnsupportedVersionError` when the server's codex version is outside
   * `CodexVersion.supported` (or unknown). Default false: one warning is logged and the server is used.
   */
  readonly strictVersion?: boolean | undefined
}

/**
 * Options of {@link layer}: how to start the server and how to greet it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Transport.StdioOptions, HandshakeOptions {}

/**
 * The version of effect-codex, sent in `clientInfo` by default.
 *
 * @since 0.1.0
 * @category constants
 */
export const SDK_VERSION = "0.2.0"

interface MethodSchemas {
  readonly params: Schema.Top
  readonly response: Schema.Top
}
const clientRequestSchemas = ClientRequests as Record<string, MethodSchemas>
const notificationSchemas = ServerNotifications as Record<string, Schema.Top>
const serverRequestSchemas = ServerRequests as Record<string, MethodSchemas>

type Guard = (value: unknown) => boolean
const notificationGuards = ServerNotificationGuards as Record<string, Guard>
const paramsGuards = ClientRequestParamsGuards as Record<string, Guard>
const exactParamsGuards = ClientRequestParamsExactGuards as Record<string, Guard>
const responseGuards = ClientResponseGuards as Record<string, Guard>
const serverRequestGuards = ServerRequestParamsGuards as Record<string, Guard>

/** Compiles a decoder once per schema, on first use. */
const memo = <A>(build: (schema: Schema.Top) => A) => {
  const cache = new Map<Schema.Top, A>()
  return (schema: Schema.Top): A => {
    let value = cache.get(schema)
    if (value === undefined) {
      value = build(schema)
      cache.set(schema, value)
    }
    return value
  }
}
const decoderOf = memo((schema) => Schema.decodeUnknownExit(schema as Schema.Codec<unknown, unknown>))
const encoderOf = memo((schema) => Schema.encodeUnknownExit(schema as Schema.Codec<unknown, unknown>))
const exactEncoderOf = memo((schema) =>
  Schema.encodeUnknownExit(schema as Schema.Codec<unknown, unknown>, { onExcessProperty: "error" })
)

/**
 * Checks a value received from the server against its schema. The generated guard (a compiled check,
 * 20-30× faster than decoding) decides for everything this protocol version knows, and an accepted value is
 * kept as received (with any fields a newer server adds still on it). A rejected value is decoded: that
 * gives the error message, or, when it holds an item type or other variant this version does not know,
 * the value with that variant wrapped as `{ type: "@unknown", raw }` (see generated/README.md).
 */
const checkReceived = (
  guard: Guard | undefined,
  schema: Schema.Top,
  value: unknown
): Result.Result<unknown, string> => {
  if (guard !== undefined && guard(value)) return Result.succeed(value)
  const decoded = decoderOf(schema)(value)
  return Exit.isSuccess(decoded) ? Result.succeed(decoded.value) : Result.fail(issueMessage(decoded))
}

const issueMessage = <A>(exit: Exit.Exit<A, Schema.SchemaError>): string =>
  Exit.isFailure(exit) ? schemaIssue(exit.cause) : ""

/**
 * Decodes one raw notification with the generated schema of its method.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeNotification = (raw: RpcPeer.IncomingNotification): Notification => {
  // The hot path: the compiled guard accepts, and the notification is built in one allocation.
  const guard = notificationGuards[raw.method]
  if (guard !== undefined && guard(raw.params)) {
    return (raw.emittedAtMs === undefined
      ? { _tag: "Notification", method: raw.method, params: raw.params }
      : { _tag: "Notification", method: raw.method, params: raw.params, emittedAtMs: raw.emittedAtMs }) as Notification
  }
  const schema = notificationSchemas[raw.method]
  const checked = schema === undefined
    ? Result.fail("unknown method")
    : checkReceived(undefined, schema, raw.params)
  const notification = Result.isSuccess(checked)
    ? { _tag: "Notification", method: raw.method, params: checked.success } as Notification
    : {
      _tag: "UnknownNotification" as const,
      method: raw.method,
      params: raw.params,
      reason: schema === undefined ? checked.failure : `params did not decode: ${checked.failure}`
    }
  return raw.emittedAtMs === undefined ? notification : Object.assign(notification, { emittedAtMs: raw.emittedAtMs })
}

/**
 * Builds the typed server over an `RpcPeer`: performs the handshake and returns the service.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPeer: (
  peer: RpcPeer.RpcPeer<Notification>,
  pid: number | undefined,
  options?: HandshakeOptions
) => Effect.Effect<AppServer, RequestError | UnsupportedVersionError> = Effect.fn("AppServer.fromPeer")(function*(
  peer: RpcPeer.RpcPeer<Notification>,
  pid: number | undefined,
  options: HandshakeOptions = {}
) {
  const request = <M extends ClientRequestMethod>(
    method: M,
    ...args: RequestArgs<M>
  ): Effect.Effect<ClientRequestResponse<M>, RequestError> =>
    // A span recorded only for an installed tracer: on the default native tracer nothing can read it, and it
    // cost about 0.1 ms of a 1.2 ms round trip on a real server.
    checkedRequest(method, ...args).pipe(Spans.traced("AppServer.request", { attributes: { method } }))

  /** Checks the params, sends, and checks the result against the method's schemas. */
  const checkedRequest = <M extends ClientRequestMethod>(
    method: M,
    ...[params, requestOptions]: RequestArgs<M>
  ): Effect.Effect<ClientRequestResponse<M>, RequestError> =>
    Effect.suspend(() => {
      const schemas = clientRequestSchemas[method]
      if (schemas === undefined) {
        return peer.request(method, params, requestOptions) as Effect.Effect<ClientRequestResponse<M>, RequestError>
      }
      // The compiled guard decides (the exact one, which also rejects undeclared keys, unless the caller allows them;
      // params are sent as given); only rejected params are encoded, for the error message.
      const allowUnknownKeys = (requestOptions?.allowUnknownKeys ?? options.allowUnknownKeys) === true
      const encoded = (allowUnknownKeys ? paramsGuards : exactParamsGuards)[method]!(params)
        ? Exit.succeed(params)
        : (allowUnknownKeys ? encoderOf : exactEncoderOf)(schemas.params)(params)
      if (Exit.isFailure(encoded)) {
        const onlyUnknownKeys = !allowUnknownKeys && paramsGuards[method]!(params)
        return Effect.fail(
          new InvalidParamsError({
            method,
            code: ErrorCode.InvalidParams,
            message: !onlyUnknownKeys
              ? `params of "${method}" do not match the protocol schema (not sent): ${issueMessage(encoded)}`
              : Experimental.acceptsParams(method, params)
              ? `params of "${method}" use an experimental field (not sent): ${issueMessage(encoded)}; ` +
                "send them with `server.experimental.request` on a connection opened with `experimentalApi: true`"
              : `params of "${method}" have a key the protocol does not know (not sent): ${issueMessage(encoded)}; ` +
                "pass `{ allowUnknownKeys: true }` as the request options to send it anyway"
          })
        )
      }
      return peer.request(method, encoded.value, requestOptions).pipe(
        Effect.flatMap((result) => {
          const checked = checkReceived(responseGuards[method], schemas.response, result)
          return Result.isSuccess(checked)
            ? Effect.succeed(checked.success as ClientRequestResponse<M>)
            : Effect.fail(
              new ProtocolError({
                method,
                reason: `result does not match the protocol schema: ${checked.failure}`,
                excerpt: excerpt(JSON.stringify(result) ?? "undefined")
              })
            )
        })
      )
    })

  const clientInfo = options.clientInfo ?? { name: "effect-codex", title: "effect-codex", version: SDK_VERSION }
  const metadata = yield* request("initialize", {
    clientInfo: { name: clientInfo.name, title: clientInfo.title ?? null, version: clientInfo.version },
    capabilities: {
      experimentalApi: options.experimentalApi ?? false,
      ...(options.optOutNotificationMethods === undefined
        ? {}
        : { optOutNotificationMethods: [...options.optOutNotificationMethods] })
    }
  } as ClientRequestParams<"initialize">, { timeout: options.initializeTimeout ?? Duration.seconds(30) })
  yield* CodexVersion.check(metadata.userAgent, { strict: options.strictVersion })
  yield* peer.notify("initialized")

  const setRequestHandler = (handler: ServerRequestHandler) =>
    peer.setRequestHandler((incoming) => {
      const schemas = serverRequestSchemas[incoming.method]
      if (schemas === undefined) return RpcPeer.unhandledRequest(incoming)
      const params = checkReceived(serverRequestGuards[incoming.method], schemas.params, incoming.params)
      if (Result.isFailure(params)) {
        return Effect.fail({
          code: ErrorCode.InvalidParams,
          message: `effect-codex could not decode the params of "${incoming.method}": ${params.failure}`
        })
      }
      const typed = { id: incoming.id, method: incoming.method, params: params.success } as KnownServerRequest
      return handler(typed).pipe(
        Effect.flatMap((result) => {
          const encoded = encoderOf(schemas.response)(result)
          return Exit.isSuccess(encoded)
            ? Effect.succeed(encoded.value)
            : Effect.fail({
              code: ErrorCode.InternalError,
              message: `the handler's answer to "${incoming.method}" does not match the protocol: ${issueMessage(encoded)}`
            })
        })
      )
    })

  return AppServer.of({
    metadata,
    pid,
    request,
    experimental: Experimental.make(peer.request, {
      enabled: options.experimentalApi,
      allowUnknownKeys: options.allowUnknownKeys
    }),
    notify: peer.notify,
    subscribe: peer.subscribe,
    listen: peer.listen,
    notifications: peer.notifications,
    setRequestHandler,
    protocolErrors: peer.protocolErrors,
    closed: peer.closed
  })
})

/**
 * Builds the server over the `Transport` service in the current scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: HandshakeOptions
) => Effect.Effect<AppServer, RequestError | UnsupportedVersionError, Scope.Scope | Transport.Transport> = Effect.fn(
  "AppServer.make"
)(function*(options: HandshakeOptions = {}) {
  const connection = yield* Transport.Transport
  // Notifications are decoded once, for every subscriber.
  const peer = yield* RpcPeer.make(connection, options, decodeNotification)
  return yield* fromPeer(peer, connection.pid, options)
})

/**
 * The server over whatever `Transport` is provided (for example an in-memory one in tests).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTransport = (
  options: HandshakeOptions = {}
): Layer.Layer<AppServer, RequestError | UnsupportedVersionError, Transport.Transport> =>
  Layer.effect(AppServer)(make(options))

/**
 * Spawns `codex app-server` (see `Transport.StdioOptions`) and connects; the process lives exactly as
 * long as the layer. Needs a `ChildProcessSpawner` (on Node, use `NodeCodex.layerAppServer`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<AppServer, StartError, ChildProcessSpawner.ChildProcessSpawner> =>
  layerTransport(options).pipe(Layer.provide(Transport.layerStdio(options)))

/**
 * Options of {@link layerRemote}: where the running server listens, and how to greet it.
 *
 * @since 0.2.0
 * @category models
 */
export interface RemoteOptions extends Transport.RemoteOptions, HandshakeOptions {}

/**
 * Connects to an app-server that is already running (`codex app-server --listen ws://IP:PORT` or
 * `--listen unix://PATH`, see `Transport.remote`) and performs the handshake; the connection lives as long as the
 * layer, the server outlives it. Needs a `Socket.WebSocketConstructor` that sends headers and dials unix sockets: on
 * Node, use `NodeCodex.layerAppServerRemote`, which is this layer with the `ws` package's.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRemote = (
  options: RemoteOptions
): Layer.Layer<
  AppServer,
  AppServerConnectError | RequestError | UnsupportedVersionError,
  Socket.WebSocketConstructor
> => layerTransport(options).pipe(Layer.provide(Transport.layerRemote(options)))

/**
 * Sends a typed request through the `AppServer` in context.
 *
 * @since 0.1.0
 * @category requests
 */
export const request = <M extends ClientRequestMethod>(
  method: M,
  ...args: RequestArgs<M>
): Effect.Effect<ClientRequestResponse<M>, RequestError, AppServer> =>
  Effect.gen(function*() {
    const server = yield* AppServer
    return yield* server.request(method, ...args)
  })

/**
 * The codex version the protocol was generated from.
 *
 * @since 0.1.0
 * @category constants
 */
export const PROTOCOL_VERSION: string = CODEX_VERSION
