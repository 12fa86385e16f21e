/**
 * Case 9: `@effect-codex/cluster`. The local cluster of the example (examples/cluster/local.ts: a throwaway
 * PostgreSQL, runner processes each with a pool of one codex process, a client in this process), against a plain
 * `Codex` in this process on the same MockModel.
 *
 * - Turn latency: `turns` sequential turns on one conversation through `RunTurn` (client → owning runner → codex,
 *   the turn and the rollout stored in SQL), against the same turns on one thread of a plain `Codex`; medians per
 *   turn, as a ratio, same run. Rounds alternate the order.
 * - Failover: a turn that never ends, then SIGKILL of the runner running it: the time until its caller gets
 *   `TurnCutError`, and until the conversation's next turn is answered by another runner.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { Codex, NodeCodex } from "effect-codex"
import { CodexCluster } from "@effect-codex/cluster"
import { MockModel } from "@effect-codex/testing"
import * as Local from "../../examples/cluster/local.js"
import { CODEX_BINARY, median, round, tempDir } from "../lib.js"

/** Per-turn times of `turns` sequential turns made by `turn(index)`. */
const timed = <E, R>(turns: number, turn: (index: number) => Effect.Effect<unknown, E, R>) =>
  Effect.forEach(Array.from({ length: turns }, (_, index) => index), (index) =>
    Effect.gen(function*() {
      const t0 = performance.now()
      yield* turn(index)
      return performance.now() - t0
    }))

export const run = (options: { readonly turns: number; readonly rounds: number; readonly runners: number }) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const mock = yield* MockModel.MockModel
    const cluster = yield* CodexCluster.CodexCluster
    const runners = yield* Local.Runners
    const home = yield* tempDir("home")
    const plain = yield* Layer.build(
      NodeCodex.layer({ codexPath: CODEX_BINARY, codexHome: home, config: mock.codexConfig })
    )
    const codex = Context.get(plain, Codex.Codex)
    // Warm both paths: the conversation's entity and thread, the plain thread.
    const thread = yield* codex.threadStart()
    yield* thread.run("ask:warm")
    yield* cluster.conversation("bench").runTurn("ask:warm", { turnKey: "bench/warm" })

    const viaCluster: Array<number> = []
    const viaPlain: Array<number> = []
    for (let r = 0; r < options.rounds; r++) {
      const clusterRound = timed(options.turns, (index) =>
        cluster.conversation("bench").runTurn(`ask:r${r}-${index}`, { turnKey: `bench/${r}/${index}` }))
      const plainRound = timed(options.turns, (index) => thread.run(`ask:r${r}-${index}`))
      const [first, second] = r % 2 === 0 ? [clusterRound, plainRound] : [plainRound, clusterRound]
      const a = yield* first
      const b = yield* second
      viaCluster.push(median(r % 2 === 0 ? a : b))
      viaPlain.push(median(r % 2 === 0 ? b : a))
    }

    // Failover.
    yield* cluster.conversation("failover").runTurn("ask:before", { turnKey: "failover/0" })
    const requests = (yield* mock.responsesRequests).length
    const cut = yield* Effect.forkChild(
      Effect.flip(cluster.conversation("failover").runTurn("ask:stall", { turnKey: "failover/1" }))
    )
    yield* mock.awaitResponsesRequests(requests + 1)
    const hostName = yield* Local.runnerOfTurn("failover/1")
    const victim = runners.all.find((runner) => runner.name === hostName)!
    const killedAt = performance.now()
    yield* runners.kill(victim)
    const error = yield* Fiber.join(cut)
    const cutMs = performance.now() - killedAt
    if (error._tag !== "TurnCutError") throw new Error(`9: the cut turn failed with ${error._tag}`)
    const next = yield* cluster.conversation("failover").runTurn("ask:after", { turnKey: "failover/2" })
    const answeredMs = performance.now() - killedAt
    if (next.finalResponse !== Local.expected(["before", "after"])) throw new Error(`9: unexpected answer ${next.finalResponse}`)

    const clusterMs = median(viaCluster)
    const plainMs = median(viaPlain)
    return {
      runners: options.runners,
      turns: options.turns,
      rounds: options.rounds,
      clusterTurnMs: round(clusterMs),
      plainTurnMs: round(plainMs),
      /** Median over the rounds of the round's cluster / plain median turn time. */
      ratio: round(median(viaCluster.map((ms, i) => ms / viaPlain[i]!)), 3),
      cutMs: round(cutMs, 0),
      failoverMs: round(answeredMs, 0)
    }
  }).pipe(Effect.provide(Local.standalone(options.runners)))))
