/**
 * The Effect Cluster of runners and clients, as `@effect/platform-node`'s `NodeClusterSocket.layer` builds it (SQL
 * message and runner storage, ping health checks, newline-delimited JSON on TCP sockets), with three differences:
 * the runner socket admits only connections that hold the cluster's secret (./auth.ts); every runner checks its
 * peers' health (./peerHealth.ts), not only the one holding Effect Cluster's health-check singleton; the settings are
 * the package's defaults under the caller's, not read from the environment; and the whole is built with a memo map of
 * its own (`Layer.fresh`), so a runner and a client in one process get a `Sharding` each (Effect Cluster's layers
 * are module constants: merged, the client's and the runner's would be one `Sharding`, built for whichever came
 * first, and a client's turn reached no runner).
 *
 * @since 0.2.0
 * @internal
 */
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import type * as MessageStorage from "effect/cluster/MessageStorage"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import type * as RunnerStorage from "effect/cluster/RunnerStorage"
import type * as Sharding from "effect/cluster/Sharding"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import * as SocketServer from "effect/socket/SocketServer"
import type * as SqlClient from "effect/sql/SqlClient"
import * as Auth from "./auth.js"
import * as PeerHealth from "./peerHealth.js"

/**
 * What the cluster layers provide: Effect Cluster's `Sharding`, and the `Runners` and `RunnerStorage` under it (to
 * find out whether any runner answers).
 *
 * @since 0.2.0
 * @category models
 * @internal
 */
export type Services = Sharding.Sharding | Runners.Runners | RunnerStorage.RunnerStorage | MessageStorage.MessageStorage

/**
 * Options of {@link layer}.
 *
 * @since 0.2.0
 * @category models
 * @internal
 */
export interface Options {
  /** Settings over the package's defaults. */
  readonly sharding: Partial<ShardingConfig.ShardingConfig["Service"]>
  /** The cluster's shared secret: every connection to a runner proves it holds it. */
  readonly secret: Redacted.Redacted<string>
}

const clientProtocol = (secret: Redacted.Redacted<string>) =>
  Layer.effect(Runners.RpcClientProtocol)(Auth.clientProtocol(secret))

const socketServer = (secret: Redacted.Redacted<string>) =>
  Layer.effect(SocketServer.SocketServer)(Effect.gen(function*() {
    const config = yield* ShardingConfig.ShardingConfig
    const address = Option.getOrThrow(Option.orElse(config.runnerListenAddress, () => config.runnerAddress))
    return Auth.admitting(yield* NodeSocketServer.make(address), secret)
  }))

const storage = (sharding: Options["sharding"]) =>
  Layer.mergeAll(
    SqlMessageStorage.layer.pipe(Layer.provide(NodeCrypto.layerDigest)),
    Layer.orDie(SqlRunnerStorage.layer)
  ).pipe(
    Layer.provideMerge(ShardingConfig.layer(sharding)),
    Layer.provideMerge(RpcSerialization.layerNdjson)
  )

/**
 * A runner's cluster: it serves the runner socket at `sharding.runnerAddress` and takes shards.
 *
 * @since 0.2.0
 * @category layers
 * @internal
 */
export const layerRunner = (
  options: Options
): Layer.Layer<Services | ShardingConfig.ShardingConfig, SocketServer.SocketServerError, SqlClient.SqlClient> => {
  const protocol = clientProtocol(options.secret)
  const health = RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(protocol))
  return Layer.merge(SocketRunner.layer, PeerHealth.layer).pipe(
    Layer.provide([socketServer(options.secret), protocol, health]),
    Layer.provideMerge(storage(options.sharding)),
    Layer.fresh
  )
}

/**
 * A client's cluster: it sends messages to the runners and takes no shards.
 *
 * @since 0.2.0
 * @category layers
 * @internal
 */
export const layerClient = (options: Options): Layer.Layer<Services, never, SqlClient.SqlClient> =>
  SocketRunner.layerClientOnly.pipe(
    Layer.provide(clientProtocol(options.secret)),
    Layer.provideMerge(storage(options.sharding)),
    Layer.fresh
  )
