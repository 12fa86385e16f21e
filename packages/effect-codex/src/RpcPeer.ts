/**
 * The JSON-RPC peer of a `codex app-server` connection: newline framing, request ids and correlation,
 * per-request timeouts, notifications as `Stream`s, answers to server→client requests, and failing every
 * pending call with `AppServerExitedError` when the connection ends.
 *
 * The wire format is the app-server's own: one JSON object per line and **no** `"jsonrpc"` field.
 * The peer is untyped (params and results are `unknown`); `AppServer` adds the generated schemas.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  AppServerExitedError,
  ErrorCode,
  excerpt,
  fromRpcError,
  ProtocolError,
  type RequestTimeoutError,
  type RpcError,
  type RpcErrorObject
} from "./Errors.js"
import * as Broadcast from "./internal/rpc/broadcast.js"
import * as LineFramer from "./internal/transport/lineFramer.js"
import * as Message from "./internal/rpc/message.js"
import * as PendingTable from "./internal/rpc/pendingTable.js"
import { type ExitInfo, Transport } from "./Transport.js"

/**
 * A JSON-RPC request id.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestId = string | number

/**
 * A notification from the server, as received.
 *
 * @since 0.1.0
 * @category models
 */
export interface IncomingNotification {
  readonly method: string
  readonly params: unknown
  /** When the server emitted it (milliseconds since the epoch), if it said. */
  readonly emittedAtMs?: number
}

/**
 * A request from the server that the client must answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface IncomingRequest {
  readonly id: RequestId
  readonly method: string
  readonly params: unknown
}

/**
 * Answers server→client requests: succeed with the result, or fail with a JSON-RPC error object that is
 * sent back as the error response. A defect is answered as an internal error (-32603).
 *
 * @since 0.1.0
 * @category models
 */
export type ServerRequestHandler = (request: IncomingRequest) => Effect.Effect<unknown, RpcErrorObject>

/**
 * Options of a single request.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions {
  /** Overrides the peer's default timeout for this call; `Duration.infinity` waits forever. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * Options of the peer.
 *
 * @since 0.1.0
 * @category models
 */
export interface PeerOptions {
  /** Default timeout of every request. Default 60 seconds. */
  readonly requestTimeout?: Duration.Input | undefined
  /** The longest line accepted from the server, in characters; longer lines are dropped as a `ProtocolError`. Default 64 MiB. */
  readonly maxLineLength?: number | undefined
}

/**
 * Receives notifications synchronously, as each chunk read from the server is routed (see `RpcPeer.listen`).
 * Both callbacks run inside the peer's reader: they must not throw, block or wait.
 *
 * @since 0.1.0
 * @category models
 */
export interface Listener<N> {
  /** The notifications of one chunk, in order. */
  readonly onNotifications: (notifications: ReadonlyArray<N>) => void
  /** The connection ended; called once, after the last notification. */
  readonly onClose: (error: AppServerExitedError) => void
}

/**
 * The peer: the shape of the {@link RpcPeer} service; `N` is the notification type (raw, or decoded once for every
 * subscriber).
 *
 * @since 0.2.0
 * @category models
 */
export interface RpcPeer<N = IncomingNotification> {
  /** Sends a request and waits for its result (`unknown`, not yet decoded). */
  readonly request: (
    method: string,
    params: unknown,
    options?: RequestOptions
  ) => Effect.Effect<unknown, RpcError | RequestTimeoutError | AppServerExitedError>
  /** Sends a notification. */
  readonly notify: (method: string, params?: unknown) => Effect.Effect<void, AppServerExitedError>
  /**
   * Subscribes now, in the current scope, to every notification that arrives from now on, and returns
   * them as a `Stream` that fails with `AppServerExitedError` when the connection ends. Subscribe before
   * sending a request whose notifications you need: nothing is lost in between.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<N, AppServerExitedError>, never, Scope.Scope>
  /**
   * Registers a synchronous listener for the life of the current scope: no fiber, no queue, no wake-up per
   * notification. For routing on the hot path (a turn follows its events this way); `subscribe` is the
   * general, `Stream`-based form. A listener registered after the end is told `onClose` at once.
   */
  readonly listen: (listener: Listener<N>) => Effect.Effect<void, never, Scope.Scope>
  /** Every notification from when the stream starts running (a convenience over `subscribe`). */
  readonly notifications: Stream.Stream<N, AppServerExitedError>
  /** Messages that could not be parsed or routed; each is also logged as a warning. */
  readonly protocolErrors: Stream.Stream<ProtocolError>
  /** Replaces the handler of server→client requests. */
  readonly setRequestHandler: (handler: ServerRequestHandler) => Effect.Effect<void>
  /** Waits until the connection has ended. */
  readonly closed: Effect.Effect<AppServerExitedError>
}

/**
 * The peer service.
 *
 * @since 0.1.0
 * @category services
 */
export const RpcPeer: Context.Service<RpcPeer, RpcPeer> = Context.Service<RpcPeer>("effect-codex/RpcPeer")

/**
 * The peer's interface.
 *
 * @deprecated Use {@link RpcPeer} (the interface of the same name as the service).
 * @since 0.1.0
 * @category models
 */
export type Peer<N = IncomingNotification> = RpcPeer<N>

/**
 * The handler used until another is set: every server request is answered "method not found".
 *
 * @since 0.1.0
 * @category utils
 */
export const unhandledRequest: ServerRequestHandler = (request) =>
  Effect.fail({
    code: ErrorCode.MethodNotFound,
    message: `effect-codex has no handler for server request "${request.method}"; provide one (for example an Approvals layer)`
  })

/** The reply to a server request from `handle`: its result, its error, or -32603 for a defect. */
const reply = (request: IncomingRequest, handle: ServerRequestHandler): Effect.Effect<Record<string, unknown>> =>
  handle(request).pipe(
    Effect.map((result) => ({ id: request.id, result: result ?? null })),
    Effect.catch((error) => Effect.succeed({ id: request.id, error })),
    Effect.catchDefect((defect) =>
      Effect.succeed({
        id: request.id,
        error: { code: ErrorCode.InternalError, message: `effect-codex handler failed: ${String(defect)}` }
      })
    )
  )

/** How many characters the reader routes before it lets the consumers run (see `pull`). */
const yieldEvery = 64 * 1024

/** The error of the end of a connection, or of a call (`method`) it ended while pending. */
const exitedError = (info: ExitInfo, method?: string) =>
  new AppServerExitedError({
    ...(method === undefined ? {} : { method, sent: true }),
    exitCode: info.exitCode,
    signal: info.signal,
    stderrTail: [...info.stderrTail],
    reason: info.reason
  })

/** The error of a call made after the connection ended: it is never sent. */
const refused = (closed: AppServerExitedError, method: string) =>
  new AppServerExitedError({ ...closed, method, sent: false })

/**
 * Reads `incoming` in a fiber of the current scope, routing each chunk. After every `yieldEvery` characters
 * read, the reader lets the consumers of what it routed run before it reads on: a burst of input (a backlog, a
 * long stream of deltas) is handed on a slice at a time instead of being parsed whole into their queues first.
 * Small chunks (a turn's few lines) never yield. Returns an effect that waits until the input has ended.
 */
const pull = Effect.fnUntraced(function*(
  incoming: Stream.Stream<string>,
  route: (frames: ReadonlyArray<LineFramer.Frame>) => Effect.Effect<void>,
  framer: LineFramer.LineFramer,
  flush: Effect.Effect<void>
) {
  let sinceYield = 0
  const reader = yield* incoming.pipe(
    Stream.runForEach((chunk) => {
      const routed = route(framer.push(chunk))
      sinceYield += chunk.length
      if (sinceYield < yieldEvery) return routed
      sinceYield = 0
      return Effect.andThen(routed, Effect.yieldNow)
    }),
    Effect.andThen(flush),
    Effect.forkScoped
  )
  return Fiber.await(reader).pipe(Effect.asVoid)
})

/**
 * Routes each chunk inside the transport's own callback (`Transport.subscribe`): no fiber wakes up per chunk,
 * responses settle and notifications reach the listeners synchronously; only what needs effects (server
 * requests, protocol errors) is forked. Each chunk arrives in a callback of its own, so consumers run between
 * chunks without yielding. Returns an effect that waits until the input has ended.
 */
const push = Effect.fnUntraced(function*(
  subscribe: NonNullable<Transport["subscribe"]>,
  route: (frames: ReadonlyArray<LineFramer.Frame>) => Effect.Effect<void>,
  framer: LineFramer.LineFramer,
  flush: Effect.Effect<void>
) {
  const context = yield* Effect.context<never>()
  const run = (effect: Effect.Effect<void>) => {
    if (effect !== Effect.void) Effect.runForkWith(context)(effect)
  }
  const ended = yield* Deferred.make<void>()
  yield* subscribe(
    (chunk) => run(route(framer.push(chunk))),
    () => run(Effect.ensuring(flush, Deferred.succeed(ended, undefined)))
  )
  return Deferred.await(ended)
})

/**
 * Builds a peer over a connection, within the current scope (its reader and the server-request handlers
 * run in that scope). `decode` turns each raw notification into `N` once, before it is published.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  (connection: Transport, options?: PeerOptions): Effect.Effect<RpcPeer, never, Scope.Scope>
  <N>(
    connection: Transport,
    options: PeerOptions,
    decode: (notification: IncomingNotification) => N
  ): Effect.Effect<RpcPeer<N>, never, Scope.Scope>
} = Effect.fn("RpcPeer.make")(function*(
  connection: Transport,
  options: PeerOptions = {},
  decode: (notification: IncomingNotification) => unknown = (notification) => notification
): Effect.fn.Return<RpcPeer<any>, never, Scope.Scope> {
  // Wiring only: framing (internal/LineFramer) → classify (internal/Message) → route, with the pending
  // calls and their deadlines in internal/PendingTable and the listeners in internal/Broadcast.
  type N = unknown
  const defaultTimeout = Duration.fromInputUnsafe(options.requestTimeout ?? Duration.seconds(60))
  const framer = LineFramer.make(options.maxLineLength ?? 64 * 1024 * 1024)
  const calls = yield* PendingTable.make
  const protocolErrors = yield* PubSub.unbounded<ProtocolError>()
  const handler = yield* Ref.make<ServerRequestHandler>(unhandledRequest)
  const closedSignal = yield* Deferred.make<AppServerExitedError>()
  const scope = yield* Effect.scope
  const broadcast = Broadcast.make<N>()

  const protocolError = (reason: string, line: string, method?: string) => {
    const error = new ProtocolError({ ...(method === undefined ? {} : { method }), reason, excerpt: excerpt(line) })
    return Effect.logWarning(error.message).pipe(Effect.andThen(PubSub.publish(protocolErrors, error)), Effect.asVoid)
  }

  const send = (message: Record<string, unknown>) => connection.write(`${JSON.stringify(message)}\n`)

  // The handler in place when the request arrives answers it, even if another is set meanwhile.
  const answer = (request: IncomingRequest) =>
    Effect.flatMap(Ref.get(handler), (handle) => Effect.forkIn(Effect.flatMap(reply(request, handle), send), scope))

  /**
   * Routes the frames of one chunk synchronously: responses settle their call at once, notifications go to
   * the listeners as one batch, and only server requests and protocol errors need effects.
   */
  const route = (frames: ReadonlyArray<LineFramer.Frame>): Effect.Effect<void> => {
    const notifications: Array<N> = []
    const effects: Array<Effect.Effect<void>> = []
    for (const frame of frames) {
      if (frame._tag === "Oversized") {
        effects.push(protocolError(`line longer than ${frame.limit} characters dropped`, frame.start))
        continue
      }
      const message = Message.classify(frame.line)
      switch (message._tag) {
        case "Notification": {
          notifications.push(decode(message.notification))
          break
        }
        case "Request": {
          effects.push(Effect.asVoid(answer(message.request)))
          break
        }
        case "Invalid": {
          effects.push(protocolError(message.reason, frame.line))
          break
        }
        default: {
          const call = calls.take(message.id)
          if (call === "late") break
          if (call === undefined) {
            effects.push(protocolError(`response to unknown or abandoned request id ${message.id}`, frame.line))
          } else if (message._tag === "Response") {
            Deferred.doneUnsafe(call.response, Exit.succeed(message.result))
          } else {
            if (message.problem !== undefined) effects.push(protocolError(message.problem, frame.line, call.method))
            Deferred.doneUnsafe(call.response, Exit.fail(fromRpcError(call.method, message.error)))
          }
        }
      }
    }
    if (notifications.length > 0) broadcast.publish(notifications)
    return effects.length === 0 ? Effect.void : Effect.all(effects, { discard: true })
  }

  const close = (info: ExitInfo) =>
    Effect.suspend(() => {
      if (broadcast.ended() !== undefined) return Effect.void
      const error = exitedError(info)
      broadcast.end(error)
      calls.failAll((method) => exitedError(info, method))
      return Deferred.succeed(closedSignal, error).pipe(Effect.asVoid)
    })

  // A last message without a trailing newline still counts.
  const flush = Effect.suspend(() => route(framer.end()))
  const readerDone = connection.subscribe === undefined
    ? yield* pull(connection.incoming, route, framer, flush)
    : yield* push(connection.subscribe, route, framer, flush)
  // When the server's output ends, the process is exiting: wait briefly for its exit status.
  yield* readerDone.pipe(
    Effect.andThen(connection.exit.pipe(Effect.timeoutOption(Duration.millis(500)))),
    Effect.flatMap((exit) =>
      close(exit._tag === "Some"
        ? exit.value
        : { exitCode: null, signal: null, stderrTail: [], reason: "server closed its output" })
    ),
    Effect.forkScoped
  )
  // A server that exits while something still holds its output open: let the reader drain, then close.
  yield* connection.exit.pipe(
    Effect.tap(() => readerDone.pipe(Effect.timeoutOption(Duration.millis(200)))),
    Effect.flatMap(close),
    Effect.forkScoped
  )
  yield* Effect.addFinalizer(() =>
    close({ exitCode: null, signal: null, stderrTail: [], reason: "the client closed the connection" })
  )

  const request: RpcPeer<N>["request"] = (method, params, requestOptions) =>
    Effect.suspend(() => {
      const closed = broadcast.ended()
      if (closed !== undefined) return Effect.fail(refused(closed, method))
      const call = calls.open(
        method,
        requestOptions?.timeout === undefined ? defaultTimeout : Duration.fromInputUnsafe(requestOptions.timeout)
      )
      const id = call.id
      return send(params === undefined ? { id, method } : { id, method, params }).pipe(
        Effect.andThen(Deferred.await(call.response)),
        Effect.onInterrupt(() => Effect.sync(() => calls.abandon(id)))
      )
    })

  const notify: RpcPeer<N>["notify"] = (method, params) =>
    Effect.suspend(() => {
      const closed = broadcast.ended()
      return closed !== undefined
        ? Effect.fail(refused(closed, method))
        : send(params === undefined ? { method } : { method, params })
    })

  const peer: RpcPeer<N> = {
    request,
    notify,
    subscribe: broadcast.subscribe,
    listen: broadcast.listen,
    notifications: Stream.unwrap(broadcast.subscribe),
    protocolErrors: Stream.fromPubSub(protocolErrors).pipe(Stream.interruptWhen(Deferred.await(closedSignal))),
    setRequestHandler: (next) => Ref.set(handler, next),
    closed: Deferred.await(closedSignal)
  }
  return peer
})

/**
 * The peer as a layer over the `Transport` service.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: PeerOptions = {}): Layer.Layer<RpcPeer, never, Transport> =>
  Layer.effect(RpcPeer)(Effect.gen(function*() {
    return RpcPeer.of(yield* make(yield* Transport, options))
  }))

