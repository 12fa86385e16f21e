/**
 * The Node.js layers, in one place: each is a platform-neutral layer of the core with Node's child-process
 * spawner, file system and path services (`@effect/platform-node`'s `NodeServices`) provided. The rest of
 * `effect-codex` imports no platform package; on another runtime, provide its own `ChildProcessSpawner` to
 * `Codex.layerStdio` or `AppServer.layer` instead.
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
import * as NodeServices from "@effect/platform-node/NodeServices"
import type * as Config from "effect/Config"
import * as Layer from "effect/Layer"
import * as AppServer from "./AppServer.js"
import * as Codex from "./Codex.js"
import type { StartError } from "./Errors.js"

/**
 * `Codex` over a spawned `codex app-server` (see `Codex.Options`: `codexPath`, `codexHome`, `config`,
 * `apiKey`, ...); the process lives as long as the layer. Replaces `NodeCodex.layer`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Codex.Options = {}): Layer.Layer<Codex.Codex, StartError> =>
  Codex.layerStdio(options).pipe(Layer.provide(NodeServices.layer))

/**
 * {@link layer} configured from the environment (`CODEX_BIN`, `CODEX_HOME`, `OPENAI_API_KEY`,
 * `CODEX_MODEL`; see `Codex.layerConfig`). Replaces `Codex.layerConfig` on Node.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  options: Codex.Options = {}
): Layer.Layer<Codex.Codex, StartError | Config.ConfigError> =>
  Codex.layerConfig(options).pipe(Layer.provide(NodeServices.layer))

/**
 * `AppServer` alone (no `Codex` service) over a spawned `codex app-server`. Replaces `AppServer.layerNode`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerAppServer = (options: AppServer.Options = {}): Layer.Layer<AppServer.AppServer, StartError> =>
  AppServer.layer(options).pipe(Layer.provide(NodeServices.layer))
