/**
 * Every runner checks its peers' health. Effect Cluster checks it from a singleton (`Sharding`'s
 * `effect/cluster/Sharding/RunnerHealth`), which runs on the runner holding its shard: when that runner is the one
 * that dies (with 3 runners, a third of the kills), nobody pings it, and its shards move only when its heartbeat
 * expires (`shardLockExpiration`, 10 s), not a few seconds after its death. Here each runner also pings the runners
 * the storage lists, with the same check (`RunnerHealth`: pings retried for a few seconds) and the same rules as the
 * singleton: a runner that does not answer is marked unhealthy (never the last healthy one), one that answers again
 * is marked healthy. A runner that answers pings keeps its shards.
 *
 * @since 0.2.0
 * @internal
 */
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as RunnerStorage from "effect/cluster/RunnerStorage"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"

/**
 * Checks the peers of this runner (`ShardingConfig.runnerAddress`) every `runnerHealthCheckInterval`, until the layer
 * is released.
 *
 * @since 0.2.0
 * @category layers
 * @internal
 */
export const layer: Layer.Layer<
  never,
  never,
  RunnerHealth.RunnerHealth | RunnerStorage.RunnerStorage | ShardingConfig.ShardingConfig
> = Layer.effectDiscard(Effect.gen(function*() {
  const config = yield* ShardingConfig.ShardingConfig
  const storage = yield* RunnerStorage.RunnerStorage
  const health = yield* RunnerHealth.RunnerHealth
  const self = config.runnerAddress

  const check = Effect.gen(function*() {
    const runners = yield* storage.getRunners
    let healthy = runners.filter(([, isHealthy]) => isHealthy).length
    yield* Effect.forEach(runners, ([runner, wasHealthy]) =>
      Option.isSome(self) && Equal.equals(runner.address, self.value) ? Effect.void : Effect.flatMap(
        health.isAlive(runner.address),
        (alive) => {
          if (alive === wasHealthy) return Effect.void
          if (!alive && healthy <= 1) return Effect.void
          healthy += alive ? 1 : -1
          return storage.setRunnerHealth(runner.address, alive)
        }
      ), { concurrency: 10, discard: true })
  })

  yield* check.pipe(
    Effect.catchCause((cause) => Effect.logDebug("could not check the runners' health", cause)),
    Effect.repeat(Schedule.spaced(config.runnerHealthCheckInterval)),
    Effect.forkScoped
  )
}))
