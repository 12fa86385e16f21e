/**
 * A conversation that comes back to a runner after turns on another one resumes from the stored rollout, with those
 * turns, not as the copy of its thread that runner's codex still holds loaded. The entity's handlers run through
 * `Entity.makeTestClient` (no sharding), each stay of the conversation on a runner in a scope of its own, over two
 * real codex servers on homes of their own, a real PostgreSQL store and one echoing MockModel.
 */
import { describe, expect, it } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Entity from "effect/cluster/Entity"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { ClusterMetrics, CodexThread, ConversationStore, PendingRequests } from "@effect-codex/cluster"
import { Codex } from "effect-codex"
import { CodexTest, MockModel, Postgres } from "@effect-codex/testing"
import * as Local from "../../../examples/cluster/local.js"
import { handlers, Runner } from "../src/internal/conversation.js"

/** A codex server on a home of its own, set up as `CodexRunner` sets up its pool's processes. */
const runnerCodex = Codex.layer().pipe(
  Layer.provideMerge(CodexTest.appServerLayer({ config: ["thread_unload_delay_secs=0"] })),
  Layer.provideMerge(CodexTest.codexHomeLayer)
)

const store = Layer.merge(ConversationStore.layer, PendingRequests.layer).pipe(
  Layer.provide(Layer.unwrap(Effect.map(Postgres.Postgres, (server) => PgClient.layer({ url: Redacted.make(server.url) })))),
  Layer.provide(Postgres.layer())
)

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
      /** A conversation's entity on a runner, for the current scope. */
      const entityOn = (name: keyof typeof runners, conversation: string) => {
        const codex = runners[name]
        const entity = CodexThread.CodexThread.toLayer(handlers).pipe(
          Layer.provide(Layer.succeedContext(codex)),
          Layer.provide(Layer.succeed(Runner)({ name, codexHome: Context.get(codex, CodexTest.CodexHome).path })),
          Layer.provide(Layer.succeedContext(context))
        )
        return Effect.flatMap(Entity.makeTestClient(CodexThread.CodexThread, entity), (client) => client(conversation))
      }
      /** One stay of the conversation on a runner: the entity started there, one turn, the entity stopped. */
      const turnOn = (name: keyof typeof runners, token: string, conversation = "back-again") =>
        Effect.scoped(Effect.flatMap(
          entityOn(name, conversation),
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
      yield* Effect.scoped(Effect.flatMap(entityOn("a", "forked"), (client) =>
        client.Open({ mode: { _tag: "Fork", from: "back-again" } })))
      expect((yield* turnOn("a", "forked-one", "forked")).finalResponse).toBe(Local.expected(["one", "two", "forked-one"]))
      expect((yield* turnOn("a", "three")).finalResponse).toBe(Local.expected(["one", "two", "three"]))

      // The runners' figures: four turns stored (three and the fork's), three arrivals resumed from the stored
      // rollout (b, the fork's entity started again for its turn, a again), and the size of the last rollout stored.
      expect((yield* count(ClusterMetrics.turnsCompleted)) - completedBefore).toBe(4)
      expect((yield* count(ClusterMetrics.threadsRestored)) - restoredBefore).toBe(3)
      const stored = yield* ConversationStore.ConversationStore.use((store) => store.conversation("back-again"))
      expect(Option.getOrThrow(stored).rollout?.bytes.byteLength).toBe(
        (yield* Metric.value(ClusterMetrics.rolloutBytes)).value
      )
    }).pipe(
      Effect.provide(Layer.mergeAll(store, MockModel.layerWith({ defaultReply: Local.echo }), ShardingConfig.layerDefaults))
    ), 120_000)
})
