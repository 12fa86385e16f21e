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
 * - A long conversation (issue 22): `longTurns` turns with answers of about 20 KB (queued MockModel replies), each
 *   through the cluster and on a plain `Codex` thread, alternating which goes first. Per turn: both latencies, the
 *   WAL PostgreSQL wrote during the cluster turn (`pg_current_wal_lsn()` before and after) and the rollout bytes the
 *   turn added (the stored length before and after). And the store step alone, as a runner runs it (the bytes codex
 *   wrote since the stored end, read and stored with the turn's result in one transaction), on the plain thread's
 *   rollout after each of its turns, timed with its WAL. Figures at turn 10 (median of turns 6-15) and at the end
 *   (the last 10 turns).
 * - A large rollout: a conversation's stored rollout composed to `bigMB` MB (its first turn's rollout and user
 *   messages of 100 KB each, written to the store as a base), its runner SIGKILLed, then its next turn: answered on
 *   another runner, which restores the whole rollout; the first model request after it must hold the first turn and
 *   the first and last composed messages (codex compacts a history that large before the turn's own request). The restore alone (stored pieces → file, checked) is timed in this process, per MB.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { Codex, NodeCodex } from "effect-codex"
import { CodexCluster, ConversationStore } from "@effect-codex/cluster"
import { MockModel } from "@effect-codex/testing"
import { createHash } from "node:crypto"
import * as Local from "../../examples/cluster/local.js"
import * as Rollout from "../../packages/cluster/src/internal/rollout.js"
import { CODEX_BINARY, median, round, tempDir } from "../lib.js"

const words = ["rollout", "piece", "store", "turn", "codex", "cluster", "runner", "answer", "history", "shard", "write",
  "ahead", "log", "stream", "batch", "offset", "digest", "restore", "resume", "thread", "model", "request", "bytes"]

/** About `size` bytes of words, different for each `seed` (text that compresses as prose does, not as padding). */
const prose = (size: number, seed: number) => {
  let state = (seed * 2654435761) >>> 0
  const out: Array<string> = []
  let length = 0
  while (length < size) {
    state = (state * 1103515245 + 12345) >>> 0
    const word = `${words[(state >>> 8) % words.length]}${(state >>> 20) % 1000}`
    out.push(word)
    length += word.length + 1
  }
  return out.join(" ")
}

/** The WAL position of PostgreSQL, in bytes. */
const walPosition = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ lsn: string }>`SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::text AS lsn`).pipe(
  Effect.map((rows) => Number(rows[0]!.lsn)),
  Effect.orDie
)

const storedLength = (key: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ length: string }>`SELECT rollout_length::text AS length FROM effect_codex_conversations
      WHERE conversation_key = ${key}`).pipe(Effect.map((rows) => Number(rows[0]?.length ?? 0)), Effect.orDie)

/** Medians of `values` at turn 10 (turns 6-15) and over the last 10 turns (fewer turns: the first and last half). */
const windows = (values: ReadonlyArray<number>) => {
  const early = values.length >= 30 ? values.slice(5, 15) : values.slice(0, Math.ceil(values.length / 2))
  const late = values.length >= 30 ? values.slice(-10) : values.slice(Math.floor(values.length / 2))
  return { early: median(early), late: median(late) }
}

/** `bytes`'s user messages cloned to about `size` bytes, 100 KB each, the first and the last marked. */
const compose = (bytes: Uint8Array, size: number) => {
  const lines = Buffer.from(bytes).toString("utf8").split("\n").filter((line) => line.length > 0)
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, any>)
  const user = parsed.find((line) =>
    line.type === "response_item" && line.payload?.type === "message" && line.payload?.role === "user"
  )
  if (user === undefined) throw new Error("9: no user message in the rollout to clone")
  let ordinal = Math.max(0, ...parsed.map((line) => typeof line.ordinal === "number" ? line.ordinal : 0))
  const count = Math.ceil(size / 100_000)
  const clones = Array.from({ length: count }, (_, index) => {
    const mark = index === 0 ? "FILLER-FIRST " : index === count - 1 ? "FILLER-LAST " : ""
    const text = mark + prose(100_000, index)
    const clone: Record<string, any> = { ...user, payload: { ...user.payload, content: [{ type: "input_text", text }] } }
    if (typeof user.ordinal === "number") clone.ordinal = ++ordinal
    return JSON.stringify(clone)
  })
  return Buffer.from([...lines, ...clones].join("\n") + "\n")
}

/** Per-turn times of `turns` sequential turns made by `turn(index)`. */
const timed = <E, R>(turns: number, turn: (index: number) => Effect.Effect<unknown, E, R>) =>
  Effect.forEach(Array.from({ length: turns }, (_, index) => index), (index) =>
    Effect.gen(function*() {
      const t0 = performance.now()
      yield* turn(index)
      return performance.now() - t0
    }))

export const run = (options: {
  readonly turns: number
  readonly rounds: number
  readonly runners: number
  readonly longTurns: number
  readonly answerBytes: number
  readonly bigMB: number
}) =>
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

    // A long conversation, ~20 KB answers.
    const store = yield* ConversationStore.make
    const files = yield* Layer.build(NodeFileSystem.layer)
    const long = yield* codex.threadStart()
    let stepPosition: Rollout.Position | undefined
    const turns: Array<{ cluster: number; plain: number; wal: number; added: number; step: number; stepWal: number; stepAdded: number }> = []
    for (let index = 0; index < options.longTurns; index++) {
      const answer = () => mock.enqueue(MockModel.text(prose(options.answerBytes, index)))
      const lengthBefore = yield* storedLength("long")
      const viaCluster = Effect.gen(function*() {
        yield* answer()
        const walBefore = yield* walPosition
        const t0 = performance.now()
        yield* cluster.conversation("long").runTurn(`ask:long-${index}`, { turnKey: `long/${index}` })
        const ms = performance.now() - t0
        return { ms, wal: (yield* walPosition) - walBefore }
      })
      const viaPlain = Effect.gen(function*() {
        yield* answer()
        const t0 = performance.now()
        const result = yield* long.run(`ask:long-${index}`)
        return { ms: performance.now() - t0, result }
      })
      const [c, p] = index % 2 === 0
        ? [yield* viaCluster, yield* viaPlain]
        : yield* Effect.map(Effect.zip(viaPlain, viaCluster), ([p, c]) => [c, p] as const)
      const added = (yield* storedLength("long")) - lengthBefore
      // The store step, as a runner runs it, on the plain thread's rollout.
      const walBefore = yield* walPosition
      const t0 = performance.now()
      const info = yield* long.read({ includeTurns: false })
      const update = yield* Rollout.since(home, info.path, stepPosition).pipe(Effect.provide(files))
      yield* store.complete({
        key: "store-step",
        turnKey: `store-step/${index}`,
        threadId: long.id,
        rollout: Option.isSome(update) ? update.value.write : null,
        runner: "bench",
        result: p.result,
        inputDigest: "bench"
      }).pipe(Effect.provide(files))
      const step = performance.now() - t0
      const stepWal = (yield* walPosition) - walBefore
      const stepAdded = Option.isSome(update) ? (yield* update.value.after).length - (stepPosition?.length ?? 0) : 0
      if (Option.isSome(update)) stepPosition = yield* update.value.after
      turns.push({ cluster: c.ms, plain: p.ms, wal: c.wal, added, step, stepWal, stepAdded })
      yield* mock.reset
    }
    const ratioAt = windows(turns.map((turn) => turn.cluster / turn.plain))
    const stepAt = windows(turns.map((turn) => turn.step))
    const clusterAt = windows(turns.map((turn) => turn.cluster))
    const plainAt = windows(turns.map((turn) => turn.plain))
    const sum = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0)
    const walPerNewByte = sum(turns.map((turn) => turn.wal)) / sum(turns.map((turn) => turn.added))
    const stepWalPerNewByte = sum(turns.map((turn) => turn.stepWal)) / sum(turns.map((turn) => turn.stepAdded))
    const rolloutMB = (yield* storedLength("long")) / 1e6

    // A large rollout fails over (its failure is reported, not lost with the figures above).
    const bigRun = Effect.gen(function*() {
      const bigChat = cluster.conversation("big")
      yield* bigChat.runTurn("ask:big-first", { turnKey: "big/1" })
      const first = Option.getOrThrow(yield* store.conversation("big"))
      const firstBytes = Buffer.concat(yield* Stream.runCollect(store.readRollout("big", first.rollout!)))
      const composed = compose(firstBytes, options.bigMB * 1e6)
      const owner = runners.all.find((runner) => runner.name === first.runner)
      if (owner === undefined) throw new Error(`9: no runner ${first.runner}`)
      yield* runners.kill(owner)
      yield* store.saveThread("big", first.threadId, "bench", {
        path: first.rollout!.path,
        storedLength: 0,
        replace: true,
        pieces: Stream.fromIterable(Array.from(
          { length: Math.ceil(composed.byteLength / ConversationStore.pieceBytes) },
          (_, i) => composed.subarray(i * ConversationStore.pieceBytes, (i + 1) * ConversationStore.pieceBytes)
        )),
        sha256: Effect.sync(() => createHash("sha256").update(composed).digest("hex"))
      })
      yield* mock.reset
      const t0 = performance.now()
      const after = yield* bigChat.runTurn("ask:big-after", { turnKey: "big/2" })
      const bigTurnMs = performance.now() - t0
      if (after.finalResponse?.startsWith("answer:big-after") !== true) throw new Error(`9: unexpected answer ${after.finalResponse}`)
      // The first model request after the failover holds the whole history (codex may then compact a history that
      // large before the turn's own request: that one then holds the summary).
      const bigRequests = yield* mock.responsesRequests
      const request = bigRequests[0]!
      const bigRequestMB = request.rawBody.length / 1e6
      for (const mark of ["FILLER-FIRST", "FILLER-LAST", "ask:big-first"]) {
        if (!request.rawBody.includes(mark)) throw new Error(`9: the model request after the failover lacks ${mark}`)
      }
      yield* mock.reset
      const restoreHome = yield* tempDir("restore")
      const r0 = performance.now()
      const stored = Option.getOrThrow(yield* store.conversation("big")).rollout!
      yield* Rollout.restore(restoreHome, "big", stored, store.readRollout("big", stored)).pipe(Effect.provide(files))
      const restoreMs = performance.now() - r0
      return {
        rolloutMB: round(composed.byteLength / 1e6, 1),
        /** SIGKILL of its runner → next turn answered elsewhere, whole history in the model request. */
        failoverTurnMs: round(bigTurnMs, 0),
        requestMB: round(bigRequestMB, 1),
        /** Model requests of that turn (2: codex compacted the history first). */
        requests: bigRequests.length,
        restoreMs: round(restoreMs, 0),
        restoreMsPerMB: round(restoreMs / (composed.byteLength / 1e6), 2)
      }
    })
    const big = yield* bigRun.pipe(Effect.catchCause((cause) => Effect.succeed({ error: String(cause) })))

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
      failoverMs: round(answeredMs, 0),
      long: {
        turns: options.longTurns,
        answerBytes: options.answerBytes,
        rolloutMB: round(rolloutMB, 1),
        clusterMsEarly: round(clusterAt.early),
        clusterMsLate: round(clusterAt.late),
        plainMsEarly: round(plainAt.early),
        plainMsLate: round(plainAt.late),
        ratioEarly: round(ratioAt.early, 3),
        ratioLate: round(ratioAt.late, 3),
        /** The cluster/plain ratio at the end over the one at turn 10 (target: within ±20%). */
        ratioDrift: round(ratioAt.late / ratioAt.early, 3),
        storeStepMsEarly: round(stepAt.early),
        storeStepMsLate: round(stepAt.late),
        /** The store step at the end over the one at turn 10 (target ≤ 1.2). */
        storeStepGrowth: round(stepAt.late / stepAt.early, 3),
        /** WAL of the store step per rollout byte the turn added (target ≤ 2). */
        storeStepWalPerNewByte: round(stepWalPerNewByte, 3),
        /** WAL of the whole cluster turn (message, reply, turn, rollout) per rollout byte it added. */
        clusterTurnWalPerNewByte: round(walPerNewByte, 3)
      },
      big
    }
  }).pipe(Effect.provide(Local.standalone(options.runners)))))
