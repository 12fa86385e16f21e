/**
 * A runner's account of the cluster, as structured logs annotated with its address: it joined and left; other
 * runners joined, left, or changed health (as the cluster's storage lists them); it acquired or released shards.
 * Polled at the cluster's `refreshAssignmentsInterval`.
 *
 * @since 0.2.0
 * @internal
 */
import * as RunnerStorage from "effect/cluster/RunnerStorage"
import * as Sharding from "effect/cluster/Sharding"
import * as ShardId from "effect/cluster/ShardId"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

/** `ids` (sorted) as ranges: `1-4,9,12-13`. */
const ranges = (ids: ReadonlyArray<number>): string => {
  const parts: Array<string> = []
  let start = ids[0]
  for (let i = 1; i <= ids.length; i++) {
    const previous = ids[i - 1]!
    if (ids[i] === previous + 1) continue
    parts.push(start === previous ? `${start}` : `${start}-${previous}`)
    start = ids[i]
  }
  return parts.join(",")
}

/** The entries of `next` that are not in `previous`. */
const added = <A>(next: Iterable<A>, previous: { has: (a: A) => boolean }) => [...next].filter((a) => !previous.has(a))

/**
 * Logs this runner's membership (`runner` is its address) until the scope closes.
 *
 * @since 0.2.0
 * @category logging
 * @internal
 */
export const logMembership = Effect.fnUntraced(function*(runner: string) {
  const sharding = yield* Sharding.Sharding
  const storage = yield* RunnerStorage.RunnerStorage
  const config = yield* ShardingConfig.ShardingConfig
  const annotate = Effect.annotateLogs({ runner })
  const groups = config.assignedShardGroups

  yield* Effect.logInfo("runner joined the cluster").pipe(annotate)
  yield* Effect.addFinalizer(() => Effect.logInfo("runner left the cluster").pipe(annotate))

  let peers = new Map<string, boolean>()
  let shards = new Set<string>()

  const logShards = (message: string, changed: ReadonlyArray<string>) =>
    changed.length === 0 ? Effect.void : Effect.logInfo(message).pipe(
      Effect.annotateLogs({
        count: changed.length,
        shards: groups.map((group) => {
          const ids = changed.filter((id) => id.startsWith(`${group}:`)).map((id) => Number(id.slice(group.length + 1)))
          return `${group}:${ranges(ids.sort((a, b) => a - b))}`
        }).join(" "),
        held: shards.size
      }),
      annotate
    )

  const poll = Effect.gen(function*() {
    const listed = new Map((yield* storage.getRunners).map(([peer, healthy]) => [`${peer.address.host}:${peer.address.port}`, healthy]))
    for (const peer of added(listed.keys(), peers)) {
      yield* Effect.logInfo("a runner joined").pipe(Effect.annotateLogs({ peer, healthy: listed.get(peer) }), annotate)
    }
    for (const peer of added(peers.keys(), listed)) {
      yield* Effect.logInfo("a runner left").pipe(Effect.annotateLogs({ peer }), annotate)
    }
    for (const [peer, healthy] of listed) {
      const before = peers.get(peer)
      if (before !== undefined && before !== healthy) {
        yield* (healthy ? Effect.logInfo("a runner is healthy again") : Effect.logWarning("a runner is unhealthy")).pipe(
          Effect.annotateLogs({ peer }),
          annotate
        )
      }
    }
    peers = listed

    const held = new Set<string>()
    for (const group of groups) {
      for (let id = 1; id <= config.shardsPerGroup; id++) {
        if (sharding.hasShardId(ShardId.make(group, id))) held.add(`${group}:${id}`)
      }
    }
    const acquired = added(held, shards)
    const released = added(shards, held)
    shards = held
    yield* logShards("shards acquired", acquired)
    yield* logShards("shards released", released)
  })

  yield* poll.pipe(
    Effect.catchCause((cause) => Effect.logDebug("could not read the cluster's runners", cause)),
    Effect.repeat(Schedule.spaced(config.refreshAssignmentsInterval)),
    Effect.forkScoped
  )
})
