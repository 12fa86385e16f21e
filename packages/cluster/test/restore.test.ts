/**
 * A conversation that comes back to a runner after turns on another one resumes from the stored rollout, with those
 * turns, not as the copy of its thread that runner's codex still holds loaded. The entity's handlers run through
 * `Entity.makeTestClient` (no sharding), each stay of the conversation on a runner in a scope of its own, over two
 * real codex servers on homes of their own, a real PostgreSQL store and one echoing MockModel.
 */
import { describe, expect, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Entity from "effect/cluster/Entity"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { ClusterMetrics, CodexThread, ConversationStore, PendingRequests } from "@effect-codex/cluster"
import { readFileSync } from "node:fs"
import { AppServer, Codex } from "effect-codex"
import { CodexTest, MockModel, Postgres } from "@effect-codex/testing"
import * as Local from "../../../examples/cluster/local.js"
import { handlers, Runner } from "../src/internal/conversation.js"

/** A codex server on a home of its own, set up as `CodexRunner` sets up its pool's processes. */
const runnerCodex = Codex.layer().pipe(
  Layer.provideMerge(CodexTest.appServerLayer({ config: ["thread_unload_delay_secs=0"] })),
  Layer.provideMerge(CodexTest.codexHomeLayer)
)

/** A client of the database `name` of the test's PostgreSQL. */
const database = (name = "postgres") =>
  Layer.unwrap(Effect.map(Postgres.Postgres, (server) =>
    PgClient.layer({ url: Redacted.make(server.url.replace(/\/[^/]*$/, `/${name}`)) })))

const store = Layer.merge(ConversationStore.layer, PendingRequests.layer).pipe(Layer.provideMerge(database()), Layer.provideMerge(Postgres.layer()))

/** A conversation's entity on the codex `codex`, with the store in `context`, for the current scope. */
const entityOn = (
  codex: Context.Context<Codex.Codex | CodexTest.CodexHome>,
  context: Context.Context<ConversationStore.ConversationStore | PendingRequests.PendingRequests>,
  conversation: string,
  name = "runner"
) => {
  const entity = CodexThread.CodexThread.toLayer(handlers).pipe(
    Layer.provide(Layer.succeedContext(codex)),
    Layer.provide(Layer.succeed(Runner)({ name, codexHome: Context.get(codex, CodexTest.CodexHome).path })),
    Layer.provide(Layer.succeedContext(context)),
    Layer.provide(NodeFileSystem.layer)
  )
  return Effect.flatMap(Entity.makeTestClient(CodexThread.CodexThread, entity), (client) => client(conversation))
}

describe("a conversation back on a runner", () => {
  it.live("resumes from the stored rollout, with the turns run elsewhere meanwhile", () =>
    Effect.gen(function*() {
      const context = yield* Effect.context<
        ConversationStore.ConversationStore | PendingRequests.PendingRequests | MockModel.MockModel
      >()
      const runners = {
        a: yield* Layer.build(runnerCodex.pipe(Layer.provide(Layer.succeedContext(context)))),
        b: yield* Layer.build(runnerCodex.pipe(Layer.provide(Layer.succeedContext(context))))
      }
      /** One stay of the conversation on a runner: the entity started there, one turn, the entity stopped. */
      const turnOn = (name: keyof typeof runners, token: string, conversation = "back-again") =>
        Effect.scoped(Effect.flatMap(
          entityOn(runners[name], context, conversation, name),
          (client) => client.RunTurn({ turnKey: `${conversation}/${token}`, input: `ask:${token}` })
        ))

      const count = (metric: typeof ClusterMetrics.turnsCompleted) =>
        Effect.map(Metric.value(metric), (state) => state.count)
      const completedBefore = yield* count(ClusterMetrics.turnsCompleted)
      const restoredBefore = yield* count(ClusterMetrics.threadsRestored)

      expect((yield* turnOn("a", "one")).finalResponse).toBe(Local.expected(["one"]))
      expect((yield* turnOn("b", "two")).finalResponse).toBe(Local.expected(["one", "two"]))
      // Runner a's codex still has the thread loaded as it was after "one".
      const loaded = yield* Context.get(runners.a, Codex.Codex).server.request("thread/loaded/list", {})
      expect(loaded.data.length).toBe(1)
      // A fork made there starts from the stored rollout (written there first: codex forks from the file), not from
      // the history that copy has.
      yield* Effect.scoped(Effect.flatMap(entityOn(runners.a, context, "forked", "a"), (client) =>
        client.Open({ mode: { _tag: "Fork", from: "back-again" } })))
      expect((yield* turnOn("a", "forked-one", "forked")).finalResponse).toBe(Local.expected(["one", "two", "forked-one"]))
      expect((yield* turnOn("a", "three")).finalResponse).toBe(Local.expected(["one", "two", "three"]))

      // The runners' figures: four turns stored (three and the fork's), three arrivals resumed from the stored
      // rollout (b, the fork's entity started again for its turn, a again), and the size of the last rollout stored.
      expect((yield* count(ClusterMetrics.turnsCompleted)) - completedBefore).toBe(4)
      expect((yield* count(ClusterMetrics.threadsRestored)) - restoredBefore).toBe(3)
      const stored = yield* ConversationStore.ConversationStore.use((store) => store.conversation("back-again"))
      expect(Option.getOrThrow(stored).rollout?.length).toBe((yield* Metric.value(ClusterMetrics.rolloutBytes)).value)

      // The same turn key again: with the same input, the stored answer; with another, a typed refusal.
      const again = yield* turnOn("a", "three")
      expect(again.finalResponse).toBe(Local.expected(["one", "two", "three"]))
      const conflict = yield* Effect.flip(Effect.scoped(Effect.flatMap(
        entityOn(runners.a, context, "back-again", "a"),
        (client) => client.RunTurn({ turnKey: "back-again/three", input: "ask:other" })
      )))
      expect(conflict).toMatchObject({ _tag: "TurnKeyConflictError", conversation: "back-again", turnKey: "back-again/three" })
    }).pipe(
      Effect.provide(Layer.mergeAll(store, MockModel.layerWith({ defaultReply: Local.echo }), ShardingConfig.layerDefaults))
    ), 120_000)

  it.live("a runner whose codex ran a turn the store never got lists, once the conversation is back, the stored turns only", () =>
    Effect.gen(function*() {
      const context = yield* Effect.context<
        ConversationStore.ConversationStore | PendingRequests.PendingRequests | MockModel.MockModel
      >()
      const codexOn = (home: Layer.Layer<CodexTest.CodexHome>) =>
        Layer.build(Codex.layer().pipe(
          Layer.provideMerge(CodexTest.appServerLayer({ config: ["thread_unload_delay_secs=0"] })),
          Layer.provideMerge(home),
          Layer.provide(Layer.succeedContext(context))
        ))
      const a = yield* codexOn(CodexTest.codexHomeLayer)
      const b = yield* codexOn(CodexTest.codexHomeLayer)
      const turnOn = (runner: typeof a, name: string, token: string) =>
        Effect.scoped(Effect.flatMap(
          entityOn(runner, context, "cut-here", name),
          (client) => client.RunTurn({ turnKey: `cut-here/${token}`, input: `ask:${token}` })
        ))

      const one = yield* turnOn(a, "a", "one")
      // A turn runs on a until a's codex is killed: a's rollout (and codex's projection of it) has its start, the
      // store does not.
      const cut = yield* Effect.forkChild(Effect.flip(turnOn(a, "a", "stall-two")))
      const mock = Context.get(context, MockModel.MockModel)
      yield* mock.awaitResponsesRequests(2)
      yield* Effect.sleep("1 second")
      process.kill(Context.get(a, AppServer.AppServer).pid!, "SIGKILL")
      expect((yield* Fiber.join(cut))._tag).toBe("AppServerExitedError")

      const three = yield* turnOn(b, "b", "three")
      // a again, its codex started again on the same home.
      const again = yield* codexOn(Layer.succeed(CodexTest.CodexHome)(Context.get(a, CodexTest.CodexHome)))
      const four = yield* turnOn(again, "a", "four")
      expect(four.finalResponse).toBe(Local.expected(["one", "three", "four"]))

      const read = yield* Effect.scoped(Effect.flatMap(entityOn(again, context, "cut-here", "a"), (client) => client.Read()))
      const acknowledged = [one, three, four]
      expect(read.turns.map((turn) => turn.id)).toEqual(acknowledged.map((turn) => turn.id))
      for (const [index, turn] of read.turns.entries()) {
        expect(turn.status, turn.id).toBe("completed")
        const items = JSON.stringify(turn.items)
        expect(items, turn.id).toContain(`ask:${["one", "three", "four"][index]}`)
        expect(items, turn.id).toContain(acknowledged[index]!.finalResponse)
      }
    }).pipe(
      Effect.provide(Layer.mergeAll(store, MockModel.layerWith({ defaultReply: Local.echo }), ShardingConfig.layerDefaults))
    ), 120_000)

  it.live("codex rewriting its rollout (thread/revert writes a new file) is stored whole; a stored rollout altered in the database is refused typed; a database of 0.1.0 restores", () =>
    Effect.gen(function*() {
      const context = yield* Effect.context<ConversationStore.ConversationStore | PendingRequests.PendingRequests | MockModel.MockModel>()
      const a = yield* Layer.build(runnerCodex.pipe(Layer.provide(Layer.succeedContext(context))))
      const b = yield* Layer.build(runnerCodex.pipe(Layer.provide(Layer.succeedContext(context))))
      const sql = yield* SqlClient.SqlClient
      const store = Context.get(context, ConversationStore.ConversationStore)
      const run = (client: Effect.Success<ReturnType<typeof entityOn>>, conversation: string, token: string) =>
        client.RunTurn({ turnKey: `${conversation}/${token}`, input: `ask:${token}` })

      // Reverted on a: codex writes the history before the reverted turn to a new rollout, at a new path. The next
      // turn stores that file whole: the store then holds exactly the file on a.
      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* entityOn(a, context, "reverted", "a")
        yield* run(client, "reverted", "one")
        const two = yield* run(client, "reverted", "two")
        const before = Option.getOrThrow(yield* store.conversation("reverted")).rollout!
        yield* Context.get(a, Codex.Codex).server.request("thread/revert", { threadId: two.threadId, beforeTurnId: two.id })
        expect((yield* run(client, "reverted", "three")).finalResponse).toBe(Local.expected(["one", "three"]))
        const after = Option.getOrThrow(yield* store.conversation("reverted")).rollout!
        expect(after.path).not.toBe(before.path)
        const onDisk = readFileSync(`${Context.get(a, CodexTest.CodexHome).path}/${after.path}`)
        const stored = Buffer.concat(yield* Stream.runCollect(store.readRollout("reverted", after)))
        expect(stored.equals(onDisk)).toBe(true)
        expect(after.length).toBe(onDisk.byteLength)
      }))

      // A byte of a stored piece altered: the restore on another runner fails typed, codex never sees the file.
      yield* Effect.scoped(Effect.flatMap(entityOn(a, context, "altered", "a"), (client) => run(client, "altered", "one")))
      yield* sql`UPDATE effect_codex_rollout_pieces SET bytes = overlay(bytes PLACING '\\x58'::bytea FROM 10)
        WHERE conversation_key = 'altered' AND start_offset = 0`
      const altered = yield* Effect.flip(Effect.scoped(Effect.flatMap(entityOn(b, context, "altered", "b"), (client) =>
        run(client, "altered", "two"))))
      const stored = Option.getOrThrow(yield* store.conversation("altered")).rollout!
      expect(altered).toMatchObject({
        _tag: "RolloutMismatchError",
        conversation: "altered",
        expectedLength: stored.length,
        actualLength: stored.length,
        expectedSha256: stored.sha256
      })

      // A database as 0.1.0 left it, with a rollout codex wrote on a: the new store restores it on b.
      const thread = yield* Context.get(a, Codex.Codex).threadStart()
      yield* thread.run("ask:legacy-one")
      const info = yield* thread.read({ includeTurns: false })
      const bytes = readFileSync(info.path!)
      const relative = info.path!.slice(Context.get(a, CodexTest.CodexHome).path.length + 1)
      yield* sql`CREATE DATABASE legacy`
      const oldDatabase = yield* Layer.build(database("legacy"))
      const old = Context.get(oldDatabase, SqlClient.SqlClient)
      yield* old`CREATE TABLE effect_codex_conversations (
        conversation_key text PRIMARY KEY, thread_id text NOT NULL, rollout_path text, rollout bytea, runner text,
        updated_at timestamptz NOT NULL DEFAULT now())`
      yield* old`INSERT INTO effect_codex_conversations (conversation_key, thread_id, rollout_path, rollout, runner)
        VALUES ('legacy', ${thread.id}, ${relative}, ${bytes}, 'a')`
      const legacy = Context.make(
        ConversationStore.ConversationStore,
        yield* ConversationStore.make.pipe(Effect.provide(oldDatabase))
      ).pipe(Context.add(PendingRequests.PendingRequests, Context.get(context, PendingRequests.PendingRequests)))
      const answer = yield* Effect.scoped(Effect.flatMap(entityOn(b, legacy, "legacy", "b"), (client) =>
        run(client, "legacy", "legacy-two")))
      expect(answer.finalResponse).toBe(Local.expected(["legacy-one", "legacy-two"]))
    }).pipe(
      Effect.provide(Layer.mergeAll(store, MockModel.layerWith({ defaultReply: Local.echo }), ShardingConfig.layerDefaults))
    ), 180_000)
})
