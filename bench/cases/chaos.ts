/**
 * Case 10: the cluster under load and under chaos (examples/cluster/chaos.ts), on the local cluster of three
 * runner processes with the shipped settings (`CodexCluster.shardingDefaults`).
 *
 * - Under load: ten conversations send turns without pause while two processes spin on the cores, no runner
 *   killed: the turns answered, the turns cut, and how often the shard locks changed hands (sampled every 250 ms; a
 *   move with every runner alive is a shard taken from a live runner).
 * - Chaos: the same while a runner is SIGKILLed and started again every few seconds and PostgreSQL is restarted
 *   once: turns acknowledged per second, turns cut, failovers, and the turns that made more than one model request
 *   or were stored cut without their caller being told (both must be 0; the chaos test asserts them).
 */
import * as Effect from "effect/Effect"
import * as Chaos from "../../examples/cluster/chaos.js"
import * as Local from "../../examples/cluster/local.js"
import { round } from "../lib.js"

export const run = (options: { readonly loadSeconds: number; readonly kills: number }) =>
  Effect.runPromise(Effect.gen(function*() {
    const load = yield* Chaos.underLoad({ conversations: 10, duration: `${options.loadSeconds} seconds`, burners: 2 })
    const chaos = yield* Chaos.run({
      conversations: 10,
      kills: options.kills,
      killEvery: "4 seconds",
      downFor: "1 second"
    })
    const outcomes = [...chaos.outcomes.values()]
    const reportedCut = new Set([...chaos.outcomes].filter(([, outcome]) => outcome._tag === "Cut").map(([key]) => key))
    const acknowledged = outcomes.filter((outcome) => outcome._tag === "Acknowledged").length
    return {
      loadSeconds: options.loadSeconds,
      loadAnswered: load.answered,
      loadCut: load.cut,
      loadShardMoves: load.moves,
      loadSamples: load.samples,
      chaosSeconds: round(chaos.elapsedMs / 1000, 1),
      acknowledged,
      turnsPerSecond: round(acknowledged / (chaos.elapsedMs / 1000), 2),
      cut: reportedCut.size,
      failed: outcomes.filter((outcome) => outcome._tag === "Failed").length,
      failovers: chaos.kills.length,
      postgresRestartMs: round(chaos.postgresRestartMs, 0),
      ranTwice: [...chaos.requests.values()].filter((count) => count > 1).length,
      cutUnreported: [...chaos.stored].filter(([key, status]) => status === "cut" && !reportedCut.has(key)).length
    }
  }).pipe(Effect.provide(Local.standalone(3))))
