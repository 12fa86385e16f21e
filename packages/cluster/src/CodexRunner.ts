/**
 * A runner process of the cluster: a `CodexPool` with its own `CODEX_HOME`, an Effect Cluster runner on a socket
 * (`NodeClusterSocket`, with SQL message and runner storage) and the `CodexThread` entity. Shard ownership is the
 * single-writer guarantee: a conversation runs on the one runner that owns its shard; when that runner dies, the
 * next owner restores the conversation's stored rollout and resumes its thread.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { CodexRunner } from "@effect-codex/cluster"
 *
 * // EFFECT_CODEX_DATABASE_URL, EFFECT_CODEX_RUNNER_HOST, EFFECT_CODEX_RUNNER_PORT, CODEX_HOME: see `layerConfig`.
 * CodexRunner.layerConfig().pipe(Layer.launch, NodeRuntime.runMain)
 * ```
 * @since 0.2.0
 */
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import type * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as SocketServer from "effect/socket/SocketServer"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { type CodexPool, type Errors, NodeCodex, Transport } from "effect-codex"
import type { StoreError } from "./ClusterErrors.js"
import { CodexThread } from "./CodexThread.js"
import * as ConversationStore from "./ConversationStore.js"
import { handlers, Runner } from "./internal/conversation.js"
import { serialization } from "./internal/serialization.js"

/**
 * Options of {@link layer}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** This runner's own `CODEX_HOME` (runners must not share one). */
  readonly codexHome: string
  /** The address other runners and clients reach this runner at. */
  readonly host: string
  readonly port: number
  /** The address to listen on, when it differs from `host` (e.g. `0.0.0.0`). */
  readonly listenHost?: string | undefined
  /** The pool's options (processes, turns per process, ...), and those of every codex process. */
  readonly pool?: Omit<CodexPool.Options, "codexHome"> | undefined
  /** Effect Cluster settings (shard lock expiration, poll intervals, ...). */
  readonly sharding?: Partial<ShardingConfig.ShardingConfig["Service"]> | undefined
  /** A conversation with no message for this long leaves the runner's memory (its thread stays in the pool). */
  readonly maxIdleTime?: Duration.Input | undefined
}

/**
 * A runner on the `SqlClient` in context (PostgreSQL): the pool, the cluster runner and the `CodexThread` entity.
 * Closing the layer stops the runner (its shards move to the other runners) and the pool's processes.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<
  never,
  Errors.StartError | StoreError | Config.ConfigError | SocketServer.SocketServerError,
  SqlClient.SqlClient
> =>
  CodexThread.toLayer(handlers, { concurrency: "unbounded", maxIdleTime: options.maxIdleTime }).pipe(
    Layer.provide(NodeCodex.layerPool({
      ...options.pool,
      codexHome: options.codexHome,
      // A thread no connection is subscribed to is unloaded at once (see internal/conversation.ts).
      config: [...Transport.configEntries(options.pool?.config), "thread_unload_delay_secs=0"]
    })),
    Layer.provide(Layer.succeed(Runner)({ name: `${options.host}:${options.port}`, codexHome: options.codexHome })),
    Layer.provide(ConversationStore.layer),
    Layer.provide(NodeFileSystem.layer),
    Layer.provide(NodeClusterSocket.layer({
      storage: "sql",
      serialization,
      shardingConfig: {
        ...options.sharding,
        runnerAddress: Option.some(RunnerAddress.make(options.host, options.port)),
        runnerListenAddress: Option.some(RunnerAddress.make(options.listenHost ?? options.host, options.port))
      }
    }))
  )

/**
 * {@link layer} with its settings from `Config`: `EFFECT_CODEX_DATABASE_URL` (PostgreSQL, redacted),
 * `EFFECT_CODEX_RUNNER_HOST` (default `127.0.0.1`), `EFFECT_CODEX_RUNNER_PORT` (default 34431), `CODEX_HOME`,
 * `EFFECT_CODEX_POOL_SIZE` (default 2). `options` adds to (and wins over) them.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  options: Partial<Options> = {}
): Layer.Layer<
  never,
  Errors.StartError | StoreError | Config.ConfigError | SocketServer.SocketServerError | SqlError
> =>
  Layer.unwrap(Effect.gen(function*() {
    const settings = yield* Config.all({
      host: Config.withDefault(Config.String("EFFECT_CODEX_RUNNER_HOST"), "127.0.0.1"),
      port: Config.withDefault(Config.Port("EFFECT_CODEX_RUNNER_PORT"), 34431),
      codexHome: Config.String("CODEX_HOME"),
      size: Config.withDefault(Config.Int("EFFECT_CODEX_POOL_SIZE"), 2)
    })
    const { size, ...where } = settings
    return layer({ ...where, ...options, pool: { size, ...options.pool } })
  })).pipe(Layer.provide(PgClient.layerConfig({ url: Config.Redacted("EFFECT_CODEX_DATABASE_URL") })))
