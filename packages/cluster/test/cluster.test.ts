/**
 * The cluster on real parts: one throwaway PostgreSQL, three runner processes (each a CodexPool on the real codex
 * binary with its own CODEX_HOME), a client in this process, and one MockModel that echoes the prompts it received
 * (so each answer shows the conversation's history). Turns land on their conversation; a runner SIGKILLed mid-turn
 * gives the caller a typed cut and the conversation continues on another runner with its history; a retry with the
 * same turn key returns the first answer without a second model request; nothing is left running.
 */
import { afterAll, describe, expect, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { CodexCluster } from "@effect-codex/cluster"
import { MockModel, Processes } from "@effect-codex/testing"
import * as Cluster from "../../../examples/cluster/local.js"
import * as Example from "../../../examples/cluster/main.js"

/** Every process the cluster started: postgres, the runners, their codex processes. */
const started = new Set<number>()

describe("@effect-codex/cluster on three runner processes", () => {
  // The layer is released when this inner block ends, before the outer block's afterAll checks for processes.
  layer(Cluster.standalone(3, started), { timeout: "120 seconds", excludeTestServices: true })("a local cluster", (it) => {
    it.effect("30 turns on 10 conversations each land on their conversation, with its history", () =>
      Effect.gen(function*() {
        const cluster = yield* CodexCluster.CodexCluster
        const runners = yield* Cluster.Runners
        const results = yield* Effect.forEach(
          Array.from({ length: 10 }, (_, index) => `conversation-${index}`),
          (key, index) =>
            Effect.forEach([0, 1, 2], (turn) =>
              cluster.conversation(key).runTurn(`ask:c${index}-t${turn}`, { turnKey: `${key}/t${turn}` })),
          { concurrency: "unbounded" }
        )
        results.forEach((turns, index) => {
          turns.forEach((result, turn) => {
            const history = Array.from({ length: turn + 1 }, (_, earlier) => `c${index}-t${earlier}`)
            expect(result.finalResponse).toBe(Cluster.expected(history))
          })
          // One codex thread per conversation.
          expect(new Set(turns.map((result) => result.threadId)).size).toBe(1)
        })
        // The conversations are spread over the runners.
        const sql = yield* SqlClient.SqlClient
        const used = yield* sql<{ runner: string }>`SELECT DISTINCT runner FROM effect_codex_turns`
        expect(used.length).toBeGreaterThan(1)
        for (const { runner } of used) expect(runners.all.map((r) => r.name)).toContain(runner)
      }), 120_000)

    it.effect("a retry of RunTurn with the same turn key returns the first result, and no second turn runs", () =>
      Effect.gen(function*() {
        const cluster = yield* CodexCluster.CodexCluster
        const mock = yield* MockModel.MockModel
        const chat = cluster.conversation("retried")
        const first = yield* chat.runTurn("ask:once", { turnKey: "retried/1" })
        const requests = (yield* mock.responsesRequests).length
        const again = yield* chat.runTurn("ask:once", { turnKey: "retried/1" })
        expect(again).toEqual(first)
        expect((yield* mock.responsesRequests).length).toBe(requests)
        const read = yield* chat.read
        expect(read.turns.map((turn) => turn.status)).toEqual(["completed"])
      }), 60_000)

    it.effect("StreamTurn streams to turn/completed; Steer without a turn fails typed; Interrupt stops a running turn; a fork starts with its source's history", () =>
      Effect.gen(function*() {
        const cluster = yield* CodexCluster.CodexCluster
        const mock = yield* MockModel.MockModel
        const source = cluster.conversation("source")
        const events = yield* Stream.runCollect(source.streamTurn("ask:streamed", { turnKey: "source/1" }))
        const methods = events.map((event) => event.method)
        expect(methods).toContain("turn/started")
        expect(methods.at(-1)).toBe("turn/completed")
        expect(JSON.stringify(events)).toContain(Cluster.expected(["streamed"]))
        // The streamed turn was stored like any other: the next turn sees it.
        const next = yield* source.runTurn("ask:next", { turnKey: "source/2" })
        expect(next.finalResponse).toBe(Cluster.expected(["streamed", "next"]))

        expect(yield* Effect.flip(source.steer("ask:nobody"))).toMatchObject({ _tag: "NoTurnRunningError" })
        const requests = (yield* mock.responsesRequests).length
        const stalled = yield* Effect.forkChild(source.runTurn("ask:stall-stopped", { turnKey: "source/3" }))
        yield* mock.awaitResponsesRequests(requests + 1)
        yield* source.interrupt
        expect((yield* Fiber.join(stalled)).status).toBe("interrupted")

        const fork = cluster.conversation("fork")
        const opened = yield* fork.open({ _tag: "Fork", from: "source" })
        expect(opened.created).toBe(true)
        expect(opened.threadId).not.toBe(next.threadId)
        const forked = yield* fork.runTurn("ask:forked", { turnKey: "fork/1" })
        expect(forked.finalResponse).toBe(Cluster.expected(["streamed", "next", "stall-stopped", "forked"]))
        // Opening again keeps the thread.
        expect(yield* fork.open()).toEqual({ threadId: opened.threadId, created: false })
      }), 90_000)

    it.effect("SIGKILL of the runner running three turns: the callers of a RunTurn and a StreamTurn get TurnCutError, the other RunTurn (onCut: rerun) is run again elsewhere; the conversations go on with their history", () =>
      Effect.gen(function*() {
        const cluster = yield* CodexCluster.CodexCluster
        const mock = yield* MockModel.MockModel
        const runners = yield* Cluster.Runners
        const chat = cluster.conversation("survivor")
        yield* chat.runTurn("ask:before", { turnKey: "survivor/1" })
        const hostName = yield* Cluster.runnerOfTurn("survivor/1")
        // A second conversation on the same runner: keys are tried until one lands there (a third of them do).
        const onHost = (prefix: string) =>
          Effect.gen(function*() {
            for (let index = 0; index < 30; index++) {
              const key = `${prefix}-${index}`
              yield* cluster.conversation(key).runTurn("ask:first", { turnKey: `${key}/1` })
              if ((yield* Cluster.runnerOfTurn(`${key}/1`)) === hostName) return cluster.conversation(key)
            }
            return yield* Effect.die(new Error(`no conversation landed on ${hostName}`))
          })
        const rerun = yield* onHost("rerun")
        const streamed = yield* onHost("streamed")
        const requests = (yield* mock.responsesRequests).length
        const cut = yield* Effect.forkChild(Effect.flip(chat.runTurn("ask:stall-cut", { turnKey: "survivor/2" })))
        const again = yield* Effect.forkChild(
          rerun.runTurn("ask:stallonce-again", { turnKey: `${rerun.key}/2`, onCut: "rerun" })
        )
        const stream = yield* Effect.forkChild(
          Effect.exit(Stream.runCollect(streamed.streamTurn("ask:stall-streamed", { turnKey: `${streamed.key}/2` })))
        )
        yield* mock.awaitResponsesRequests(requests + 3)
        expect(yield* Cluster.runnerOfTurn("survivor/2")).toBe(hostName)
        const host = runners.all.find((runner) => runner.name === hostName)!
        const codex = runners.codexOf(host)
        expect(codex.length).toBeGreaterThan(0)
        yield* runners.kill(host)

        const error = yield* Fiber.join(cut)
        // The stream's caller gets the same typed cut, not a hang.
        const streamExit = yield* Fiber.join(stream)
        expect(streamExit._tag).toBe("Failure")
        if (streamExit._tag === "Failure") {
          expect(Cause.squash(streamExit.cause)).toMatchObject({
            _tag: "TurnCutError",
            conversation: streamed.key,
            turnKey: `${streamed.key}/2`
          })
        }
        expect(error).toMatchObject({ _tag: "TurnCutError", conversation: "survivor", turnKey: "survivor/2" })
        const after = yield* chat.runTurn("ask:after", { turnKey: "survivor/3" })
        expect(after.finalResponse).toBe(Cluster.expected(["before", "after"]))
        const movedTo = yield* Cluster.runnerOfTurn("survivor/3")
        expect(movedTo).toBeDefined()
        expect(movedTo).not.toBe(hostName)

        // Run again on the conversation's new runner, from the history before it.
        const rerunResult = yield* Fiber.join(again)
        expect(rerunResult.finalResponse).toBe(Cluster.expected(["first", "stallonce-again"]))
        expect(yield* Cluster.runnerOfTurn(`${rerun.key}/2`)).not.toBe(hostName)

        // The killed runner's codex processes ended with it.
        yield* Cluster.eventually(() => codex.every((pid) => !Processes.isRunning(pid)))
      }), 120_000)

    it.effect("the example (npm run example:cluster) runs on this cluster", () =>
      Effect.gen(function*() {
        const outcome = yield* Example.program
        expect(outcome.cut._tag).toBe("TurnCutError")
        expect(outcome.movedTo).not.toBe(outcome.killed)
        expect(outcome.after).toBe(Cluster.expected(["alice-1", "alice-2", "alice-4"]))
      }), 90_000)
  })

  afterAll(() => {
    // postgres, three runners and their codex processes.
    expect(started.size).toBeGreaterThanOrEqual(7)
    expect([...started].filter((pid) => Processes.isRunning(pid))).toEqual([])
  })
})
