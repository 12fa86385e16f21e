/**
 * `npm run example:cluster`: a local `@effect-codex/cluster`, offline, with one command. It starts a throwaway
 * PostgreSQL (`Postgres.layer()` from the testing kit), a `MockModel` that echoes what it received, three runner
 * processes (./runner.ts: `CodexRunner.layerConfig()`, each a CodexPool with its own CODEX_HOME) and a client in
 * this process. It runs three conversations, kills (SIGKILL) the runner that hosts one of them in the middle of a
 * turn, and shows the caller's `TurnCutError` and the conversation going on elsewhere with its history. Everything
 * stops when it ends.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { CodexCluster } from "@effect-codex/cluster"
import { MockModel } from "@effect-codex/testing"
import * as Local from "./local.js"

export const program = Effect.gen(function*() {
  const cluster = yield* CodexCluster.CodexCluster
  const runners = yield* Local.Runners
  const mock = yield* MockModel.MockModel
  yield* Console.log(`runners: ${runners.all.map((runner) => runner.name).join(", ")}`)

  const names = ["alice", "bob", "carol"]
  for (const round of [1, 2]) {
    yield* Effect.forEach(names, (name) =>
      Effect.gen(function*() {
        const turnKey = `${name}/${round}`
        const result = yield* cluster.conversation(name).runTurn(`ask:${name}-${round}`, { turnKey })
        yield* Console.log(`${name} (on ${yield* Local.runnerOfTurn(turnKey)}): ${result.finalResponse}`)
      }), { concurrency: "unbounded" })
  }

  // A turn that does not end, then its runner dies.
  const requests = (yield* mock.responsesRequests).length
  const cut = yield* Effect.forkChild(Effect.flip(cluster.conversation("alice").runTurn("ask:stall", { turnKey: "alice/3" })))
  yield* mock.awaitResponsesRequests(requests + 1)
  const hostName = yield* Local.runnerOfTurn("alice/3")
  const victim = runners.all.find((runner) => runner.name === hostName)!
  yield* Console.log(`SIGKILL ${victim.name} (pid ${victim.pid}), which runs alice's turn`)
  yield* runners.kill(victim)
  const error = yield* Fiber.join(cut)
  yield* Console.log(`alice's caller got ${error._tag}: ${error.message}`)

  const after = yield* cluster.conversation("alice").runTurn("ask:alice-4", { turnKey: "alice/4" })
  const movedTo = yield* Local.runnerOfTurn("alice/4")
  yield* Console.log(`alice (now on ${movedTo}): ${after.finalResponse}`)
  return { cut: error, killed: victim.name, movedTo, after: after.finalResponse }
})

export const layer = Local.standalone(3)

if (import.meta.main) program.pipe(Effect.provide(layer), NodeRuntime.runMain)
