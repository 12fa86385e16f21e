/**
 * The byte pipe to a `codex app-server`: a scoped connection that carries text both ways and reports how
 * the server ended. The implementations here are the real child process over stdio ({@link layerStdio}) and a
 * connection to a server that is already running, over a WebSocket or a unix socket ({@link layerRemote}); the
 * testing kit has an in-memory pair (`@effect-codex/testing`'s `InMemoryTransport`).
 *
 * The stdio transport never leaves an orphan: when its scope closes (normally, on failure or on
 * interruption) it closes the child's stdin, waits `closeTimeout`, sends SIGTERM to the process group,
 * then SIGKILL after `killTimeout`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import * as CodexBinary from "./CodexBinary.js"
import type { AppServerNotFoundError } from "./Errors.js"
import { AppServerConnectError, AppServerSpawnError } from "./Errors.js"
import * as Args from "./internal/transport/args.js"
import * as LineFramer from "./internal/transport/lineFramer.js"
import * as Remote from "./internal/transport/remote.js"
import * as Stdio from "./internal/transport/stdio.js"

/**
 * How the server side of a connection ended.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExitInfo {
  readonly exitCode: number | null
  readonly signal: string | null
  /** The last lines the server wrote to stderr (empty when the server is not a process). */
  readonly stderrTail: ReadonlyArray<string>
  readonly reason: string
}

/**
 * A live connection to an app-server: the shape of the {@link Transport} service (one connection per layer).
 *
 * @since 0.2.0
 * @category models
 */
export interface Transport {
  /** Text from the server, in order, as it arrives (not split into lines). Ends when the server's output closes. */
  readonly incoming: Stream.Stream<string>
  /**
   * Optional push form of `incoming`, for a transport whose input arrives in callbacks (a Node stream): registers
   * `onChunk`, called synchronously with each chunk of text as it is read, and `onEnd`, called once when the
   * server's output ends, for the life of the current scope. Both must not throw, block or wait. `RpcPeer` reads
   * through it when present (no fiber wakes up per chunk); a connection is read one way, once.
   */
  readonly subscribe?:
    | ((onChunk: (chunk: string) => void, onEnd: () => void) => Effect.Effect<void, never, Scope.Scope>)
    | undefined
  /** Sends text to the server. Text sent after the server has gone is dropped. */
  readonly write: (text: string) => Effect.Effect<void>
  /** Waits until the server has ended and tells how. */
  readonly exit: Effect.Effect<ExitInfo>
  /** The process id of the server, when it is a process. */
  readonly pid: number | undefined
}

/**
 * The transport service: one connection per layer.
 *
 * @since 0.1.0
 * @category services
 */
export const Transport: Context.Service<Transport, Transport> = Context.Service<Transport>("effect-codex/Transport")

/**
 * A live connection to an app-server.
 *
 * @deprecated Use {@link Transport} (the interface of the same name as the service).
 * @since 0.1.0
 * @category models
 */
export type Connection = Transport

/**
 * The `-c` overrides that keep codex off the network at start-up: no plugin sync (which also fetches a
 * git repository of plugins), no apps, no analytics, no update check. With only a model and a provider
 * configured, codex otherwise reaches for the network as it starts (an offline start was measured at
 * 19 s). Passed by `offline: true`; the testing kit's `MockModel.codexConfig` includes them.
 *
 * @since 0.2.0
 * @category constants
 */
export const offlineConfig: ReadonlyArray<string> = Args.offlineConfig

/**
 * Options of the stdio transport.
 *
 * @since 0.1.0
 * @category models
 */
export interface StdioOptions extends CodexBinary.FindOptions {
  /** `-c key=value` overrides passed to `codex app-server` (the value is TOML). */
  readonly config?: Readonly<Record<string, string>> | ReadonlyArray<string> | undefined
  /**
   * Pass {@link offlineConfig} (before `config`, which can override any of it): for a server pointed at
   * your own model provider, or one without network. Default false.
   */
  readonly offline?: boolean | undefined
  /** Features to enable (`--enable NAME`). */
  readonly enable?: ReadonlyArray<string> | undefined
  /** Features to disable (`--disable NAME`). */
  readonly disable?: ReadonlyArray<string> | undefined
  /** Extra arguments after `app-server`, passed as given. */
  readonly args?: ReadonlyArray<string> | undefined
  /** Extra environment variables (merged over the parent's environment). */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** `CODEX_HOME` for the server (where it keeps config, auth and threads). */
  readonly codexHome?: string | undefined
  /** An API key for the server, passed as `OPENAI_API_KEY`; kept redacted. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Working directory of the server process. */
  readonly cwd?: string | undefined
  /** How many stderr lines to keep for exit errors. Default 50. */
  readonly stderrLines?: number | undefined
  /** How long to wait for a clean exit after closing stdin. Default 2 seconds. */
  readonly closeTimeout?: Duration.Input | undefined
  /** How long to wait after SIGTERM before SIGKILL. Default 2 seconds. */
  readonly killTimeout?: Duration.Input | undefined
}

/**
 * The `-c` overrides of `config` as `key=value` entries, whichever form they were given in.
 *
 * @since 0.1.0
 * @category utils
 */
export const configEntries: (config: StdioOptions["config"]) => ReadonlyArray<string> = Args.configEntries

/**
 * The `codex` arguments for the given options: `app-server`, then `-c` ({@link offlineConfig} when
 * `offline`, then `config`), `--enable`, `--disable` and extra args.
 *
 * @since 0.1.0
 * @category utils
 */
export const appServerArgs: (options: StdioOptions) => Array<string> = Args.appServerArgs

const signalPattern = /signal: '([A-Z0-9]+)'/

/**
 * Spawns `codex app-server` as a child process and connects to its stdio, within the current scope.
 *
 * @example
 * ```ts
 * import { NodeServices } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Transport } from "effect-codex"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const connection = yield* Transport.stdio({ codexHome: "/tmp/codex-home" })
 *     yield* connection.write(JSON.stringify({ id: 1, method: "initialize", params: { clientInfo: { name: "demo", title: null, version: "0" } } }) + "\n")
 *   })
 * ).pipe(Effect.provide(NodeServices.layer))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const stdio: (
  options?: StdioOptions
) => Effect.Effect<
  Transport,
  AppServerSpawnError | AppServerNotFoundError,
  Scope.Scope | ChildProcessSpawner.ChildProcessSpawner
> = Effect.fn("Transport.stdio")(function*(options: StdioOptions = {}) {
  const command = yield* Stdio.command(options)
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const handle = yield* spawner.spawn(ChildProcess.make(command.binary, command.args, {
    env: command.env,
    extendEnv: true,
    ...(command.cwd === undefined ? {} : { cwd: command.cwd }),
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    killSignal: "SIGTERM",
    forceKillAfter: command.killTimeout
  })).pipe(Effect.mapError((error) => Stdio.spawnError(command, error)))
  yield* Effect.annotateCurrentSpan("pid", handle.pid)

  const outgoing = yield* Queue.unbounded<string, Cause.Done>()
  yield* Stream.fromQueue(outgoing).pipe(
    Stream.encodeText,
    Stream.run(handle.stdin),
    Effect.ignore,
    Effect.forkScoped
  )

  const stderr = Stdio.stderrTail(options)
  const stderrDone = yield* Stream.decodeText(handle.stderr).pipe(
    Stream.splitLines,
    Stream.runForEach((line) => Effect.sync(() => stderr.push(line))),
    Effect.ignore,
    Effect.forkScoped
  )

  const exited = yield* Deferred.make<ExitInfo>()
  yield* handle.exitCode.pipe(
    Effect.map((code) => ({ exitCode: code as number, signal: null })),
    Effect.catch((error) =>
      // The spawner reports a death by signal only as the text of the underlying error.
      Effect.succeed({ exitCode: null, signal: signalPattern.exec(String(error.reason.cause))?.[1] ?? null })
    ),
    Effect.flatMap((status) => Stdio.reportExit(exited, status, Fiber.await(stderrDone), stderr)),
    Effect.forkScoped
  )

  // Runs before the spawner's own release (finalizers run in reverse order): close stdin and give the
  // server `closeTimeout` to exit by itself; the spawner then sends SIGTERM and, later, SIGKILL.
  yield* Effect.addFinalizer(() => Stdio.endAndWait(options, Queue.end(outgoing), exited))

  return Transport.of({
    pid: handle.pid,
    incoming: Stream.decodeText(handle.stdout).pipe(Stream.catch(() => Stream.empty)),
    write: (text) => Queue.offer(outgoing, text).pipe(Effect.asVoid),
    exit: Deferred.await(exited)
  })
})

/**
 * A layer with the stdio transport; the child process lives as long as the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStdio = (
  options: StdioOptions = {}
): Layer.Layer<Transport, AppServerSpawnError | AppServerNotFoundError, ChildProcessSpawner.ChildProcessSpawner> =>
  Layer.effect(Transport)(stdio(options))

/**
 * Options of a connection to an app-server that is already running (`codex app-server --listen URL`).
 *
 * @since 0.2.0
 * @category models
 */
export interface RemoteOptions {
  /**
   * Where the server listens, as given to `--listen`: `ws://IP:PORT` (or `wss://HOST:PORT` behind a TLS proxy),
   * or `unix:///absolute/path` (codex serves the same WebSocket protocol over a unix socket).
   */
  readonly url: string
  /**
   * The capability token of a server started with `--ws-auth capability-token --ws-token-file FILE` (the file's
   * content; surrounding whitespace is trimmed, as codex does), or a signed bearer token (`--ws-auth
   * signed-bearer-token`). Sent as `Authorization: Bearer …`; kept redacted, never in errors or spans.
   */
  readonly token?: Redacted.Redacted<string> | undefined
  /** How long to wait for the connection to open before failing with `AppServerConnectError` (`Timeout`). Default 10 seconds. */
  readonly connectTimeout?: Duration.Input | undefined
}

/**
 * Connects to a running app-server over a WebSocket (TCP or unix socket), within the current scope: one JSON-RPC
 * message per text frame both ways. Fails with `AppServerConnectError` when no connection opens (classified as
 * `Unreachable`, `Unauthorized`, `Rejected`, `Timeout` or `InvalidAddress`). When the connection drops later, the
 * connection's `exit` reports it, and `RpcPeer` fails pending calls with `AppServerExitedError`. Closing the scope
 * closes the connection; the server keeps running.
 *
 * Needs a `Socket.WebSocketConstructor` that can send headers and dial unix sockets: `NodeWS.layerWebSocketConstructor`
 * from `@effect/platform-node` (the `ws` package), which `NodeCodex.layerRemote` and `NodeCodex.layerAppServerRemote`
 * include.
 *
 * @example
 * ```ts
 * import { NodeWS } from "@effect/platform-node"
 * import { Effect, Redacted } from "effect"
 * import { Transport } from "effect-codex"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const connection = yield* Transport.remote({ url: "ws://127.0.0.1:4500", token: Redacted.make("secret") })
 *     yield* connection.write(JSON.stringify({ id: 1, method: "initialize", params: { clientInfo: { name: "demo", title: null, version: "0" } } }) + "\n")
 *   })
 * ).pipe(Effect.provide(NodeWS.layerWebSocketConstructor))
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const remote: (
  options: RemoteOptions
) => Effect.Effect<Transport, AppServerConnectError, Scope.Scope | Socket.WebSocketConstructor> = Effect.fn(
  "Transport.remote"
)(function*(options: RemoteOptions) {
  const target = Remote.target(options.url)
  if (target instanceof AppServerConnectError) return yield* target
  yield* Effect.annotateCurrentSpan("address", target.address)
  const token = options.token === undefined ? undefined : Redacted.value(options.token).trim()
  const timeout = Duration.fromInputUnsafe(options.connectTimeout ?? Duration.seconds(10))
  const socket = yield* Socket.makeWebSocket(target.url, {
    openTimeout: timeout,
    ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } })
  })
  const reader = yield* socket.reader.pipe(
    Effect.mapError((error) =>
      Remote.connectError(target, error, { withToken: token !== undefined, timeoutMillis: Duration.toMillis(timeout) })
    )
  )
  const writer = yield* socket.writer
  // Once the scope closes, the socket's writer would wait for a next connection that never comes: drop instead.
  // (Added after the reader, this finalizer runs before the reader's.)
  let open = true
  yield* Effect.addFinalizer(() => Effect.sync(() => open = false))

  const exited = yield* Deferred.make<ExitInfo>()
  const decoder = new TextDecoder()
  // RpcPeer frames by newline: each message ends with one. Writes are split back into one message a frame.
  const outgoing = LineFramer.make(Number.MAX_SAFE_INTEGER)
  return Transport.of({
    pid: undefined,
    incoming: Stream.fromEffectRepeat(
      reader.pull.pipe(
        Effect.map((frames) =>
          frames.map((frame) => `${typeof frame === "string" ? frame : decoder.decode(frame)}\n`).join("")
        ),
        Effect.catch((error) =>
          Deferred.succeed(exited, {
            exitCode: null,
            signal: null,
            stderrTail: [],
            reason: Remote.closedReason(target, error)
          }).pipe(Effect.andThen(Cause.done()))
        )
      )
    ),
    // A message written after the connection dropped is lost, as with a process that exited.
    write: (text) =>
      Effect.forEach(
        outgoing.push(text),
        (frame) => open && frame._tag === "Line" ? Effect.ignore(writer.write(frame.line)) : Effect.void,
        { discard: true }
      ),
    exit: Deferred.await(exited)
  })
})

/**
 * A layer with a connection to a running app-server (see {@link remote}); the connection lives as long as the layer.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRemote = (
  options: RemoteOptions
): Layer.Layer<Transport, AppServerConnectError, Socket.WebSocketConstructor> => Layer.effect(Transport)(remote(options))
