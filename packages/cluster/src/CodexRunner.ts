/**
 * A runner process of the cluster: a `CodexPool` with its own `CODEX_HOME`, an Effect Cluster runner on a socket
 * (`NodeClusterSocket`, with SQL message and runner storage) and the `CodexThread` entity. Shard ownership is the
 * single-writer guarantee: a conversation runs on the one runner that owns its shard; when that runner dies, the
 * next owner restores the conversation's stored rollout and resumes its thread. Runners and clients share a secret:
 * a runner's socket refuses any connection that does not prove it holds it. A runner is also a client
 * (`CodexCluster`) of the cluster.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { CodexRunner } from "@effect-codex/cluster"
 *
 * // EFFECT_CODEX_CLUSTER_SECRET, EFFECT_CODEX_DATABASE_URL, EFFECT_CODEX_RUNNER_HOST, EFFECT_CODEX_RUNNER_PORT,
 * // CODEX_HOME, ...: see `configFromEnv`.
 * CodexRunner.layerConfig().pipe(Layer.launch, NodeRuntime.runMain)
 * ```
 * @since 0.2.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import type * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Config from "effect/Config"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as SocketServer from "effect/socket/SocketServer"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { type CodexPool, type Errors, NodeCodex, Transport } from "effect-codex"
import type { StoreError } from "./ClusterErrors.js"
import * as CodexCluster from "./CodexCluster.js"
import { CodexThread } from "./CodexThread.js"
import * as ConversationStore from "./ConversationStore.js"
import { handlers, Runner } from "./internal/conversation.js"
import * as Settings from "./internal/config.js"
import * as Monitor from "./internal/monitor.js"
import * as ClusterLayers from "./internal/sharding.js"
import * as StoreMetrics from "./internal/storeMetrics.js"
import * as PendingRequests from "./PendingRequests.js"

/**
 * Options of {@link layer}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options extends CodexCluster.Options {
  /** This runner's own `CODEX_HOME` (runners must not share one). */
  readonly codexHome: string
  /** The address other runners and clients reach this runner at. */
  readonly host: string
  readonly port: number
  /** The address to listen on, when it differs from `host` (e.g. `0.0.0.0`). */
  readonly listenHost?: string | undefined
  /**
   * The cluster's shared secret. Every connection to this runner's socket must prove it holds it (an HMAC of it is
   * the connection's first line); others are closed and logged. Runners and clients must have the same one.
   */
  readonly secret: Redacted.Redacted<string>
  /** The pool's options (processes, turns per process, ...), and those of every codex process. */
  readonly pool?: Omit<CodexPool.Options, "codexHome"> | undefined
  /** Effect Cluster settings over `CodexCluster.shardingDefaults`; the runners and the clients must agree. */
  readonly sharding?: Partial<ShardingConfig.ShardingConfig["Service"]> | undefined
  /** A conversation with no message for this long leaves the runner's memory (its thread stays in the pool). */
  readonly maxIdleTime?: Duration.Input | undefined
}

/**
 * A runner on the `SqlClient` in context (PostgreSQL): the pool, the cluster runner and the `CodexThread` entity.
 * It provides `CodexCluster` (a runner is a client of its cluster too). Closing the layer stops the runner (its
 * shards move to the other runners) and the pool's processes.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<
  CodexCluster.CodexCluster,
  Errors.StartError | StoreError | SocketServer.SocketServerError,
  SqlClient.SqlClient
> => {
  const name = `${options.host}:${options.port}`
  const cluster = ClusterLayers.layerRunner({
    secret: options.secret,
    sharding: {
      ...CodexCluster.shardingDefaults,
      ...options.sharding,
      runnerAddress: Option.some(RunnerAddress.make(options.host, options.port)),
      runnerListenAddress: Option.some(RunnerAddress.make(options.listenHost ?? options.host, options.port))
    }
  })
  const entity = CodexThread.toLayer(handlers, { concurrency: "unbounded", maxIdleTime: options.maxIdleTime }).pipe(
    Layer.provide(NodeCodex.layerPool({
      ...options.pool,
      codexHome: options.codexHome,
      // A thread no connection is subscribed to is unloaded at once (see internal/conversation.ts).
      config: [...Transport.configEntries(options.pool?.config), "thread_unload_delay_secs=0"]
    })),
    Layer.provide(Layer.succeed(Runner)({ name, codexHome: options.codexHome })),
    Layer.provide(StoreMetrics.layer),
    Layer.provide(ConversationStore.layer),
    Layer.provide(NodeFileSystem.layer)
  )
  return Layer.mergeAll(entity, CodexCluster.layer(options), Layer.effectDiscard(Monitor.logMembership(name))).pipe(
    Layer.provide(cluster),
    Layer.provide(PendingRequests.layer)
  )
}

/**
 * Options of {@link layerConfig}: {@link Options} and the PostgreSQL client's.
 *
 * @since 0.2.0
 * @category models
 */
export interface ConfigOptions extends Options {
  readonly database: PgClient.PgPoolConfig
}

/**
 * The settings of {@link layerConfig} from the environment: `EFFECT_CODEX_CLUSTER_SECRET` (redacted),
 * `EFFECT_CODEX_RUNNER_HOST` (default `127.0.0.1`), `EFFECT_CODEX_RUNNER_PORT` (default 34431),
 * `EFFECT_CODEX_RUNNER_LISTEN_HOST` (optional), `CODEX_HOME`, `EFFECT_CODEX_POOL_SIZE` (default 2), and the
 * database's (`CodexCluster.clientConfigFromEnv`): `EFFECT_CODEX_DATABASE_URL`,
 * `EFFECT_CODEX_DATABASE_MAX_MESSAGE_SIZE`, `EFFECT_CODEX_DATABASE_POOL_SIZE`.
 *
 * @since 0.2.0
 * @category configuration
 */
export const configFromEnv: {
  readonly secret: Config.Config<Redacted.Redacted<string>>
  readonly database: Config.Wrap<PgClient.PgPoolConfig>
  readonly host: Config.Config<string>
  readonly port: Config.Config<number>
  readonly listenHost: Config.Config<string | undefined>
  readonly codexHome: Config.Config<string>
  readonly pool: Config.Config<NonNullable<Options["pool"]>>
} = {
  secret: Settings.secret,
  database: Settings.database,
  host: Config.withDefault(Config.String("EFFECT_CODEX_RUNNER_HOST"), "127.0.0.1"),
  port: Config.withDefault(Config.Port("EFFECT_CODEX_RUNNER_PORT"), 34431),
  listenHost: Settings.optional(Config.String("EFFECT_CODEX_RUNNER_LISTEN_HOST")),
  codexHome: Config.String("CODEX_HOME"),
  pool: Config.map(Config.withDefault(Config.Int("EFFECT_CODEX_POOL_SIZE"), 2), (size) => ({ size }))
}

/**
 * {@link layer} with its PostgreSQL client, its settings from `Config` (default: {@link configFromEnv}). To change
 * some of them, spread it: `layerConfig({ ...CodexRunner.configFromEnv, pool: Config.succeed({ size: 4 }) })`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Wrap<ConfigOptions> = configFromEnv
): Layer.Layer<
  CodexCluster.CodexCluster,
  Errors.StartError | StoreError | Config.ConfigError | SocketServer.SocketServerError | SqlError
> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), ({ database, ...runner }) =>
    layer(runner).pipe(Layer.provide(PgClient.layer(database)))))
