/**
 * A chaos run on the local cluster (./local.ts): conversations send turns one after another, without pause, while
 * runners are SIGKILLed and started again one after another (`kills` times; how long that takes depends on how
 * fast a runner starts) and PostgreSQL is restarted once. It returns what
 * every caller got for every turn key, what the conversation store holds, how many model requests each turn key
 * made at the MockModel, and each conversation's history as its thread reads at the end. Used by the chaos test
 * (packages/cluster/test/chaos.test.ts) and bench case 10.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as SqlClient from "effect/sql/SqlClient"
import { CodexCluster } from "@effect-codex/cluster"
import { MockModel, Postgres } from "@effect-codex/testing"
import * as Local from "./local.js"
import { spawn } from "node:child_process"

/** What a caller got for one turn key. */
export type Outcome =
  | { readonly _tag: "Acknowledged"; readonly finalResponse: string }
  | { readonly _tag: "Cut" }
  /** Another error, after `attempts` tries with the same turn key. */
  | { readonly _tag: "Failed"; readonly error: string }

/** Options of {@link run}. */
export interface Options {
  readonly conversations: number
  /** How many runners are killed and started again, one after another (turns are sent until the last is back). */
  readonly kills: number
  /** Time between the end of one runner's restart and the next SIGKILL. */
  readonly killEvery: Duration.Input
  /** Time a killed runner stays down before it is started again. */
  readonly downFor: Duration.Input
}

/** The turn `index` of conversation `conversation`: its key and its prompt token. */
export const turnOf = (conversation: number, index: number) => ({
  key: `chaos-${conversation}`,
  turnKey: `chaos-${conversation}/${index}`,
  token: `c${conversation}-t${index}`
})

/** How often a turn key is tried again after an error other than a cut (the same key: deduplicated). */
const attempts = 5

/** Every error but a cut is tried again with the same turn key, after a second. */
const oneTurn = (cluster: CodexCluster.CodexCluster["Service"], conversation: number, index: number) => {
  const { key, token, turnKey } = turnOf(conversation, index)
  return cluster.conversation(key).runTurn(`ask:${token}`, { turnKey }).pipe(
    Effect.timeoutOrElse({ duration: "90 seconds", orElse: () => Effect.die(new Error(`turn ${turnKey} never answered`)) }),
    Effect.retry({
      while: (error) => error._tag !== "TurnCutError",
      schedule: Schedule.spaced("1 second"),
      times: attempts - 1
    }),
    Effect.match({
      onSuccess: (result): Outcome => ({ _tag: "Acknowledged", finalResponse: result.finalResponse ?? "" }),
      onFailure: (error): Outcome => error._tag === "TurnCutError" ? { _tag: "Cut" } : { _tag: "Failed", error: `${error._tag}: ${error.message}` }
    })
  )
}

/**
 * Runs the chaos on the local cluster in context and gathers what happened.
 */
export const run = (options: Options) =>
  Effect.gen(function*() {
    const cluster = yield* CodexCluster.CodexCluster
    const runners = yield* Local.Runners
    const postgres = yield* Postgres.Postgres
    const mock = yield* MockModel.MockModel
    const sql = yield* SqlClient.SqlClient
    const requestsBefore = (yield* mock.responsesRequests).length

    const outcomes = new Map<string, Outcome>()
    let stopping = false
    const conversation = (index: number) =>
      Effect.gen(function*() {
        for (let turn = 0; !stopping; turn++) {
          outcomes.set(turnOf(index, turn).turnKey, yield* oneTurn(cluster, index, turn))
        }
      })
    const started = performance.now()
    const senders = yield* Effect.forkChild(
      Effect.forEach(Array.from({ length: options.conversations }, (_, index) => index), conversation, {
        concurrency: "unbounded",
        discard: true
      })
    )

    // The chaos: runners killed and started again in turn; PostgreSQL restarted once, after the first runner's.
    const kills: Array<{ readonly runner: string; readonly downMs: number }> = []
    let postgresRestartMs = 0
    for (let round = 0; round < options.kills; round++) {
      yield* Effect.sleep(options.killEvery)
      const victim = runners.all[round % runners.all.length]!
      const killedAt = performance.now()
      yield* runners.kill(victim)
      yield* Effect.sleep(options.downFor)
      yield* runners.restart(victim)
      kills.push({ runner: victim.name, downMs: performance.now() - killedAt })
      if (round === 0) {
        const restartAt = performance.now()
        yield* postgres.restart
        postgresRestartMs = performance.now() - restartAt
      }
    }
    stopping = true
    yield* Fiber.join(senders)
    const elapsedMs = performance.now() - started

    // What the store holds, the model requests per turn, and each conversation's history.
    const stored = new Map(
      (yield* sql<{ turn_key: string; status: string }>`SELECT turn_key, status FROM effect_codex_turns
        WHERE conversation_key LIKE 'chaos-%'`).map((row) => [row.turn_key, row.status])
    )
    const requests = new Map<string, number>()
    for (const request of (yield* mock.responsesRequests).slice(requestsBefore)) {
      const last = [...JSON.stringify(request.body).matchAll(/ask:(c\d+-t\d+)/g)].at(-1)?.[1]
      if (last !== undefined) requests.set(last, (requests.get(last) ?? 0) + 1)
    }
    const histories = yield* Effect.forEach(
      Array.from({ length: options.conversations }, (_, index) => index),
      (index) =>
        cluster.conversation(turnOf(index, 0).key).read.pipe(
          Effect.map((thread) => JSON.stringify(thread.turns)),
          Effect.retry({ schedule: Schedule.spaced("1 second"), times: attempts - 1 })
        ),
      { concurrency: "unbounded" }
    )
    return { outcomes, stored, requests, histories, kills, postgresRestartMs, elapsedMs }
  })

/**
 * Turns sent without pause on `conversations` conversations for `duration`, with `burners` processes spinning on the
 * cores meanwhile, and no runner killed: how many turns were answered, how many were cut, and how often the shard
 * locks changed hands (PostgreSQL's advisory locks, per session, sampled every 250 ms). A shard that moves while
 * every runner lives was taken from a live runner.
 */
export const underLoad = (options: { readonly conversations: number; readonly duration: Duration.Input; readonly burners: number }) =>
  Effect.gen(function*() {
    const cluster = yield* CodexCluster.CodexCluster
    const sql = yield* SqlClient.SqlClient
    const holders = sql<{ pid: number; shards: number }>`SELECT pid, count(*)::int AS shards FROM pg_locks
      WHERE locktype = 'advisory' AND granted GROUP BY pid ORDER BY pid`.pipe(
      Effect.map((rows) => rows.map((row) => `${row.pid}:${row.shards}`).join(" "))
    )
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        Array.from({ length: options.burners }, () =>
          spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }))
      ),
      (burners) => Effect.sync(() => burners.forEach((burner) => burner.kill("SIGKILL")))
    )
    let moves = 0
    let samples = 0
    let last = yield* holders
    const watch = yield* Effect.forkChild(
      holders.pipe(
        Effect.tap((now) =>
          Effect.sync(() => {
            samples++
            if (now !== last) moves++
            last = now
          })
        ),
        Effect.repeat(Schedule.spaced("250 millis"))
      )
    )
    let stopping = false
    let answered = 0
    let cut = 0
    const end = Effect.sleep(options.duration).pipe(Effect.andThen(Effect.sync(() => stopping = true)))
    yield* Effect.forEach(
      Array.from({ length: options.conversations }, (_, index) => index),
      (index) =>
        Effect.gen(function*() {
          for (let turn = 0; !stopping; turn++) {
            const outcome = yield* oneTurn(cluster, 1_000 + index, turn)
            if (outcome._tag === "Acknowledged") answered++
            if (outcome._tag === "Cut") cut++
          }
        }),
      { concurrency: "unbounded", discard: true }
    ).pipe(Effect.zip(end, { concurrent: true }))
    yield* Fiber.interrupt(watch)
    return { answered, cut, moves, samples, locks: last }
  }).pipe(Effect.scoped)
