/**
 * Every runner checks its peers' health (internal/peerHealth.ts), so a runner's death is seen even when it held
 * Effect Cluster's health-check singleton. On Effect Cluster's in-memory runner storage, with a `RunnerHealth` that
 * injects the fault (a runner that does not answer pings); the failover it gives on real runner processes is bench
 * case 9's figure.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Runner from "effect/cluster/Runner"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as RunnerStorage from "effect/cluster/RunnerStorage"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as PeerHealth from "../src/internal/peerHealth.js"

const self = RunnerAddress.make("127.0.0.1", 40001)
const live = RunnerAddress.make("127.0.0.1", 40002)
const dead = RunnerAddress.make("127.0.0.1", 40003)

const runner = (address: RunnerAddress.RunnerAddress) => Runner.make({ address, groups: ["default"], weight: 1 })

/** The runners the storage lists, as `port: healthy`. */
const listed = Effect.map(
  Effect.flatMap(RunnerStorage.RunnerStorage, (storage) => storage.getRunners),
  (runners) => Object.fromEntries(runners.map(([runner, healthy]) => [runner.address.port, healthy]))
)

/**
 * The peer checks of the runner at `self`, on a storage listing `runners`; a runner answers pings when `answers`
 * says so. Returns the pings made so far.
 */
const checking = (
  runners: ReadonlyArray<readonly [RunnerAddress.RunnerAddress, boolean]>,
  answers: (address: RunnerAddress.RunnerAddress) => boolean
) => {
  const pinged: Array<number> = []
  const health = Layer.succeed(RunnerHealth.RunnerHealth)({
    isAlive: (address) => Effect.sync(() => (pinged.push(address.port), answers(address)))
  })
  const storage = Layer.effect(RunnerStorage.RunnerStorage)(Effect.gen(function*() {
    const storage = yield* RunnerStorage.makeMemory
    for (const [address, healthy] of runners) yield* storage.register(runner(address), healthy)
    return storage
  }))
  const layer = PeerHealth.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(
      health,
      storage,
      ShardingConfig.layer({ runnerAddress: Option.some(self), runnerHealthCheckInterval: 50 })
    ))
  )
  return { pinged, layer }
}

describe("peer health", () => {
  it.live("a peer that does not answer is marked unhealthy; one that answers keeps its health; itself is not pinged", () => {
    const { layer, pinged } = checking([[self, true], [live, true], [dead, true]], (address) => address !== dead)
    return Effect.gen(function*() {
      const runners = yield* listed.pipe(
        Effect.repeat({ until: (runners) => runners[dead.port] === false, schedule: Schedule.spaced(20) }),
        Effect.timeout("5 seconds")
      )
      expect(runners).toEqual({ [self.port]: true, [live.port]: true, [dead.port]: false })
      expect(pinged).toContain(live.port)
      expect(pinged).not.toContain(self.port)
    }).pipe(Effect.provide(layer))
  })

  it.live("a peer marked unhealthy that answers again is marked healthy", () => {
    const { layer } = checking([[self, true], [live, false]], () => true)
    return Effect.gen(function*() {
      const runners = yield* listed.pipe(
        Effect.repeat({ until: (runners) => runners[live.port] === true, schedule: Schedule.spaced(20) }),
        Effect.timeout("5 seconds")
      )
      expect(runners).toEqual({ [self.port]: true, [live.port]: true })
    }).pipe(Effect.provide(layer))
  })

  it.live("the last healthy runner is never marked unhealthy", () => {
    const { layer, pinged } = checking([[self, false], [dead, true]], (address) => address !== dead)
    return Effect.gen(function*() {
      // Several rounds of checks, each pinging the dead runner.
      yield* Effect.sync(() => pinged.filter((port) => port === dead.port).length).pipe(
        Effect.repeat({ until: (pings) => pings >= 5, schedule: Schedule.spaced(20) }),
        Effect.timeout("5 seconds")
      )
      expect(yield* listed).toEqual({ [self.port]: false, [dead.port]: true })
    }).pipe(Effect.provide(layer))
  })
})
