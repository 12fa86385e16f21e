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
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  AppServerExitedError,
  ErrorCode,
  excerpt,
  fromRpcError,
  ProtocolError,
  RequestTimeoutError,
  type RpcError,
  type RpcErrorObject
} from "./Errors.js"
import * as Deadlines from "./Deadlines.js"
import * as LineFramer from "./LineFramer.js"
import { type Connection, type ExitInfo, Transport } from "./Transport.js"

/** A JSON-RPC request id. */
export type RequestId = string | number

/** A notification from the server, as received. */
export interface IncomingNotification {
  readonly method: string
  readonly params: unknown
  /** When the server emitted it (milliseconds since the epoch), if it said. */
  readonly emittedAtMs?: number
}

/** A request from the server that the client must answer. */
export interface IncomingRequest {
  readonly id: RequestId
  readonly method: string
  readonly params: unknown
}

/**
 * Answers server→client requests: succeed with the result, or fail with a JSON-RPC error object that is
 * sent back as the error response. A defect is answered as an internal error (-32603).
 */
export type ServerRequestHandler = (request: IncomingRequest) => Effect.Effect<unknown, RpcErrorObject>

/** Options of a single request. */
export interface RequestOptions {
  /** Overrides the peer's default timeout for this call; `Duration.infinity` waits forever. */
  readonly timeout?: Duration.Input | undefined
}

/** Options of the peer. */
export interface PeerOptions {
  /** Default timeout of every request. Default 60 seconds. */
  readonly requestTimeout?: Duration.Input | undefined
  /** The longest line accepted from the server, in characters; longer lines are dropped as a `ProtocolError`. Default 64 MiB. */
  readonly maxLineLength?: number | undefined
}

/**
 * Receives notifications synchronously, as each chunk read from the server is routed (see `Peer.listen`).
 * Both callbacks run inside the peer's reader: they must not throw, block or wait.
 */
export interface Listener<N> {
  /** The notifications of one chunk, in order. */
  readonly onNotifications: (notifications: ReadonlyArray<N>) => void
  /** The connection ended; called once, after the last notification. */
  readonly onClose: (error: AppServerExitedError) => void
}

/** The peer's interface; `N` is the notification type (raw, or decoded once for every subscriber). */
export interface Peer<N = IncomingNotification> {
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

/** The peer service. */
export class RpcPeer extends Context.Service<RpcPeer, Peer>()("effect-codex/RpcPeer") {}

/** The handler used until another is set: every server request is answered "method not found". */
export const unhandledRequest: ServerRequestHandler = (request) =>
  Effect.fail({
    code: ErrorCode.MethodNotFound,
    message: `effect-codex has no handler for server request "${request.method}"; provide one (for example an Approvals layer)`
  })

interface Pending {
  readonly method: string
  readonly response: Deferred.Deferred<unknown, RpcError | AppServerExitedError | RequestTimeoutError>
  readonly timeout: Duration.Duration
}

const subscriptionClosed = "effect-codex: a notification subscription was read after its scope closed"

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isRequestId = (value: unknown): value is RequestId => typeof value === "string" || typeof value === "number"

const isRpcErrorObject = (value: unknown): value is RpcErrorObject =>
  isObject(value) && typeof value.code === "number" && typeof value.message === "string"

/**
 * Builds a peer over a connection, within the current scope (its reader and the server-request handlers
 * run in that scope). `decode` turns each raw notification into `N` once, before it is published.
 */
export const make: {
  (connection: Connection, options?: PeerOptions): Effect.Effect<Peer, never, Scope.Scope>
  <N>(
    connection: Connection,
    options: PeerOptions,
    decode: (notification: IncomingNotification) => N
  ): Effect.Effect<Peer<N>, never, Scope.Scope>
} = Effect.fn("RpcPeer.make")(function*(
  connection: Connection,
  options: PeerOptions = {},
  decode: (notification: IncomingNotification) => unknown = (notification) => notification
): Effect.fn.Return<Peer<any>, never, Scope.Scope> {
  type N = unknown
  const defaultTimeout = Duration.fromInputUnsafe(options.requestTimeout ?? Duration.seconds(60))
  const framer = LineFramer.make(options.maxLineLength ?? 64 * 1024 * 1024)
  const pending = new Map<RequestId, Pending>()
  // Ids of requests given up (timed out or interrupted): their late answers are dropped quietly.
  const abandoned = new Set<RequestId>()
  const protocolErrors = yield* PubSub.unbounded<ProtocolError>()
  const handler = yield* Ref.make<ServerRequestHandler>(unhandledRequest)
  const closedSignal = yield* Deferred.make<AppServerExitedError>()
  const scope = yield* Effect.scope
  let nextId = 1
  let closedWith: AppServerExitedError | undefined
  const listeners = new Set<Listener<N>>()

  const abandon = (id: RequestId) => {
    deadlines.delete(id)
    if (pending.delete(id) && abandoned.size < 10_000) abandoned.add(id)
  }
  const deadlines: Deadlines.Deadlines<RequestId> = yield* Deadlines.make((id: RequestId) => {
    const entry = pending.get(id)
    if (entry === undefined) return
    abandon(id)
    Deferred.doneUnsafe(
      entry.response,
      Exit.fail(new RequestTimeoutError({ method: entry.method, timeoutMillis: Duration.toMillis(entry.timeout) }))
    )
  })

  const exitedError = (info: ExitInfo, method?: string) =>
    new AppServerExitedError({
      ...(method === undefined ? {} : { method, sent: true }),
      exitCode: info.exitCode,
      signal: info.signal,
      stderrTail: [...info.stderrTail],
      reason: info.reason
    })

  const reportProtocolError = (error: ProtocolError) =>
    Effect.logWarning(error.message).pipe(Effect.andThen(PubSub.publish(protocolErrors, error)), Effect.asVoid)
  const protocolError = (reason: string, line: string, method?: string) =>
    reportProtocolError(new ProtocolError({ ...(method === undefined ? {} : { method }), reason, excerpt: excerpt(line) }))

  const send = (message: Record<string, unknown>) => connection.write(`${JSON.stringify(message)}\n`)

  // The handler in place when the request arrives answers it, even if another is set meanwhile.
  const answer = Effect.fnUntraced(function*(request: IncomingRequest, handle: ServerRequestHandler) {
    const reply = yield* handle(request).pipe(
      Effect.map((result) => ({ id: request.id, result: result ?? null })),
      Effect.catch((error) => Effect.succeed({ id: request.id, error })),
      Effect.catchDefect((defect) =>
        Effect.succeed({
          id: request.id,
          error: { code: ErrorCode.InternalError, message: `effect-codex handler failed: ${String(defect)}` }
        })
      )
    )
    yield* send(reply)
  })

  /**
   * Routes the lines of one chunk synchronously: responses settle their pending call at once,
   * notifications go to the listeners as one batch, and only server requests and protocol errors need effects.
   */
  const route = (frames: ReadonlyArray<LineFramer.Frame>): Effect.Effect<void> => {
    const notifications: Array<N> = []
    const effects: Array<Effect.Effect<void>> = []
    for (const frame of frames) {
      if (frame._tag === "Oversized") {
        effects.push(protocolError(`line longer than ${frame.limit} characters dropped`, frame.start))
        continue
      }
      const line = frame.line
      let message: unknown
      try {
        message = JSON.parse(line)
      } catch (error) {
        effects.push(protocolError(`invalid JSON: ${(error as Error).message}`, line))
        continue
      }
      if (!isObject(message)) {
        effects.push(protocolError("not a JSON object", line))
        continue
      }
      const { id, method } = message
      if (typeof method === "string") {
        if (isRequestId(id)) {
          const request = { id, method, params: message.params }
          const answering = Effect.flatMap(Ref.get(handler), (handle) => Effect.forkIn(answer(request, handle), scope))
          effects.push(Effect.asVoid(answering))
        } else {
          const raw: IncomingNotification = typeof message.emittedAtMs === "number"
            ? { method, params: message.params, emittedAtMs: message.emittedAtMs }
            : { method, params: message.params }
          notifications.push(decode(raw))
        }
        continue
      }
      const entry = isRequestId(id) ? pending.get(id) : undefined
      if (entry === undefined && isRequestId(id) && abandoned.delete(id)) continue
      if (entry === undefined || !("result" in message || "error" in message)) {
        effects.push(protocolError(
          entry === undefined && isRequestId(id)
            ? `response to unknown or abandoned request id ${id}`
            : "neither a request, a response nor a notification",
          line
        ))
        continue
      }
      pending.delete(id as RequestId)
      deadlines.delete(id as RequestId)
      if (!("error" in message)) {
        Deferred.doneUnsafe(entry.response, Exit.succeed(message.result))
      } else if (isRpcErrorObject(message.error)) {
        Deferred.doneUnsafe(entry.response, Exit.fail(fromRpcError(entry.method, message.error)))
      } else {
        effects.push(protocolError("malformed error object", line, entry.method))
        Deferred.doneUnsafe(
          entry.response,
          Exit.fail(fromRpcError(entry.method, {
            code: ErrorCode.InternalError,
            message: `malformed error response: ${excerpt(line)}`
          }))
        )
      }
    }
    if (notifications.length > 0) {
      for (const listener of listeners) listener.onNotifications(notifications)
    }
    return effects.length === 0 ? Effect.void : Effect.all(effects, { discard: true })
  }

  const close = (info: ExitInfo) =>
    Effect.suspend(() => {
      if (closedWith !== undefined) return Effect.void
      const error = exitedError(info)
      closedWith = error
      for (const listener of listeners) listener.onClose(error)
      listeners.clear()
      const failures = [...pending.values()].map((entry) =>
        Deferred.fail(entry.response, exitedError(info, entry.method))
      )
      for (const id of pending.keys()) deadlines.delete(id)
      pending.clear()
      return Effect.all(failures, { discard: true }).pipe(
        Effect.andThen(Deferred.succeed(closedSignal, error)),
        Effect.asVoid
      )
    })

  const reader = yield* connection.incoming.pipe(
    Stream.runForEach((chunk) => route(framer.push(chunk))),
    // A last message without a trailing newline still counts.
    Effect.andThen(Effect.suspend(() => route(framer.end()))),
    Effect.forkScoped
  )
  // When the server's output ends, the process is exiting: wait briefly for its exit status.
  yield* Fiber.await(reader).pipe(
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
    Effect.tap(() => Fiber.await(reader).pipe(Effect.timeoutOption(Duration.millis(200)))),
    Effect.flatMap(close),
    Effect.forkScoped
  )
  yield* Effect.addFinalizer(() =>
    close({ exitCode: null, signal: null, stderrTail: [], reason: "the client closed the connection" })
  )

  /** The error of a call made after the connection ended: it is never sent. */
  const refused = (closed: AppServerExitedError, method: string) =>
    new AppServerExitedError({ ...closed, method, sent: false })

  const request: Peer<N>["request"] = (method, params, requestOptions) =>
    Effect.suspend(() => {
      if (closedWith !== undefined) return Effect.fail(refused(closedWith, method))
      const id = nextId++
      const response = Deferred.makeUnsafe<unknown, RpcError | AppServerExitedError | RequestTimeoutError>()
      const timeout = requestOptions?.timeout === undefined
        ? defaultTimeout
        : Duration.fromInputUnsafe(requestOptions.timeout)
      pending.set(id, { method, response, timeout })
      deadlines.set(id, timeout)
      return send(params === undefined ? { id, method } : { id, method, params }).pipe(
        Effect.andThen(Deferred.await(response)),
        Effect.onInterrupt(() => Effect.sync(() => abandon(id)))
      )
    })

  const notify: Peer<N>["notify"] = (method, params) =>
    Effect.suspend(() =>
      closedWith !== undefined
        ? Effect.fail(refused(closedWith, method))
        : send(params === undefined ? { method } : { method, params })
    )

  const listen: Peer<N>["listen"] = (listener) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        if (closedWith === undefined) listeners.add(listener)
        else listener.onClose(closedWith)
      }),
      () => Effect.sync(() => listeners.delete(listener))
    )

  // A queue per subscriber, filled by a listener: it ends with the reason the connection closed, after
  // the last notification.
  const subscribe: Peer<N>["subscribe"] = Effect.gen(function*() {
    const queue = yield* Queue.unbounded<N, AppServerExitedError>()
    yield* listen({
      onNotifications: (notifications) => {
        Queue.offerAllUnsafe(queue, notifications)
      },
      onClose: (error) => {
        Queue.failCauseUnsafe(queue, Cause.fail(error))
      }
    })
    // Read after its scope closed, the stream would wait forever: it dies with a clear message instead.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (closedWith === undefined) Queue.failCauseUnsafe(queue, Cause.die(new Error(subscriptionClosed)))
      })
    )
    return Stream.fromQueue(queue)
  })

  const peer: Peer<N> = {
    request,
    notify,
    subscribe,
    listen,
    notifications: Stream.unwrap(subscribe),
    protocolErrors: Stream.fromPubSub(protocolErrors).pipe(Stream.interruptWhen(Deferred.await(closedSignal))),
    setRequestHandler: (next) => Ref.set(handler, next),
    closed: Deferred.await(closedSignal)
  }
  return peer
})

/** The peer as a layer over the `Transport` service. */
export const layer = (options: PeerOptions = {}): Layer.Layer<RpcPeer, never, Transport> =>
  Layer.effect(RpcPeer)(Effect.gen(function*() {
    return RpcPeer.of(yield* make(yield* Transport, options))
  }))

