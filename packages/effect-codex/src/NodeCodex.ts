/**
 * The Node.js layers, in one place. The stdio ones spawn `codex app-server` with `node:child_process` itself
 * and read its stdout in Node's `data` callback (no Effect stream, no fiber woken per chunk: less client CPU
 * per turn), with the same command, stderr tail, exit report and close sequence as `Transport.stdio`; the
 * remote ones use the `ws` package. The rest of `effect-codex` imports no platform package; on another
 * runtime, provide its own `ChildProcessSpawner` to `Codex.layerStdio` or `AppServer.layer` instead.
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
 * @since 0.2.0
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as AppServer from "./AppServer.js"
import * as Codex from "./Codex.js"
import * as CodexPool from "./CodexPool.js"
import type { AppServerConnectError, RequestError, StartError, UnsupportedVersionError } from "./Errors.js"
import * as NodeStdio from "./internal/transport/nodeStdio.js"
import * as Stdio from "./internal/transport/stdio.js"

/**
 * `Codex` over a spawned `codex app-server` (see `Codex.Options`: `codexPath`, `codexHome`, `config`,
 * `apiKey`, ...); the process lives as long as the layer. Replaces `Codex.layerNode`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Codex.Options = {}): Layer.Layer<Codex.Codex, StartError> =>
  Codex.layer(options).pipe(Layer.provide(layerAppServer(options)))

/**
 * {@link layer} with its options read from `Config`: each option a `Config` of its own (those left out keep their
 * defaults), or one `Config` of the whole options, as Effect's own `layerConfig`s take them (`NodeRedis.layerConfig`,
 * `PgClient.layerConfig`).
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 * import { NodeCodex } from "effect-codex"
 *
 * const CodexLive = NodeCodex.layerConfig({
 *   codexHome: Config.String("MY_APP_CODEX_HOME"),
 *   apiKey: Config.Redacted("MY_APP_OPENAI_KEY"),
 *   config: Config.succeed(["model=\"gpt-5.4\""])
 * })
 * ```
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Wrap<Codex.Options>
): Layer.Layer<Codex.Codex, StartError | Config.ConfigError> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), layer))

/**
 * {@link layer} configured from the environment variables codex itself reads (`CODEX_BIN`, `CODEX_HOME`,
 * `OPENAI_API_KEY`, `CODEX_MODEL`; see `Codex.layerFromEnv`), over the given options (which win). This was
 * `NodeCodex.layerConfig` before 0.2.0.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerFromEnv = (
  options: Codex.Options = {}
): Layer.Layer<Codex.Codex, StartError | Config.ConfigError> => layerConfig(Stdio.environmentConfig(options))

/**
 * `AppServer` alone (no `Codex` service) over a spawned `codex app-server`. Replaces `AppServer.layerNode`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerAppServer = (options: AppServer.Options = {}): Layer.Layer<AppServer.AppServer, StartError> =>
  AppServer.layerTransport(options).pipe(Layer.provide(NodeStdio.layer(options)))

/** Node's WebSocket client (the `ws` package), imported when a remote layer is built: stdio users never load it. */
const webSocket = Layer.unwrap(
  Effect.promise(() => import("@effect/platform-node/NodeWS")).pipe(
    Effect.map((NodeWS) => NodeWS.layerWebSocketConstructor)
  )
)

/**
 * `Codex` over an app-server that is already running (`codex app-server --listen ws://IP:PORT` or
 * `unix://PATH`; see `Codex.layerRemote`), with the `ws` package as the WebSocket client: it sends the token
 * header, dials unix sockets and reports the HTTP status of a refused upgrade.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Redacted } from "effect"
 * import { Codex, NodeCodex } from "effect-codex"
 *
 * const program = Effect.gen(function*() {
 *   const codex = yield* Codex.Codex
 *   const thread = yield* codex.threadStart()
 *   yield* Effect.log((yield* thread.run("Say hello")).finalResponse)
 * })
 *
 * program.pipe(
 *   Effect.provide(NodeCodex.layerRemote({ url: "ws://127.0.0.1:4500", token: Redacted.make("secret") })),
 *   NodeRuntime.runMain
 * )
 * ```
 * @since 0.2.0
 * @category layers
 */
export const layerRemote = (
  options: Codex.RemoteOptions
): Layer.Layer<Codex.Codex, AppServerConnectError | RequestError | UnsupportedVersionError> =>
  Codex.layerRemote(options).pipe(Layer.provide(webSocket))

/**
 * {@link layerRemote} with its options read from `Config` (see `Codex.layerRemoteConfig`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRemoteConfig = (
  options: Config.Wrap<Codex.RemoteOptions>
): Layer.Layer<Codex.Codex, AppServerConnectError | RequestError | UnsupportedVersionError | Config.ConfigError> =>
  Codex.layerRemoteConfig(options).pipe(Layer.provide(webSocket))

/**
 * {@link layerRemote} configured from the environment: `CODEX_APP_SERVER_URL` and `CODEX_APP_SERVER_TOKEN`
 * (see `Codex.layerRemoteFromEnv`). This was `NodeCodex.layerRemoteConfig` before 0.2.0.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRemoteFromEnv = (
  options: Partial<Codex.RemoteOptions> = {}
): Layer.Layer<Codex.Codex, AppServerConnectError | RequestError | UnsupportedVersionError | Config.ConfigError> =>
  Codex.layerRemoteFromEnv(options).pipe(Layer.provide(webSocket))

/**
 * `AppServer` alone over an app-server that is already running (see `AppServer.layerRemote`).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerAppServerRemote = (
  options: AppServer.RemoteOptions
): Layer.Layer<AppServer.AppServer, AppServerConnectError | RequestError | UnsupportedVersionError> =>
  AppServer.layerRemote(options).pipe(Layer.provide(webSocket))

/**
 * `CodexPool` on Node (each process spawned as `layerAppServer` does): `Codex` over `size` app-server processes sharing one
 * `CODEX_HOME`. Replacing `NodeCodex.layer(options)` with `NodeCodex.layerPool({ ...options, size: 3 })` is the only
 * change code written against `Codex` needs.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerPool = (options: CodexPool.Options = {}): Layer.Layer<Codex.Codex | CodexPool.CodexPool, StartError> =>
  CodexPool.layerWith(options, layerAppServer(options))
