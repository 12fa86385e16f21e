/**
 * Where the cluster keeps conversations (SQL): each conversation key's codex thread id and its latest rollout (the
 * rollout file's path relative to `CODEX_HOME` and its bytes), and each turn's status (`running`, `completed`,
 * `cut`) and result. A turn's result and the rollout after it are written in one transaction. The tables are
 * created when the layer is built (`CREATE TABLE IF NOT EXISTS`, under an advisory lock, so runners starting
 * together do not race).
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import { Turn } from "effect-codex"
import { StoreError } from "./ClusterErrors.js"

/**
 * A thread's rollout file: its path relative to `CODEX_HOME`, and its bytes.
 *
 * @since 0.2.0
 * @category models
 */
export interface Rollout {
  readonly path: string
  readonly bytes: Uint8Array
}

/**
 * A conversation's stored state.
 *
 * @since 0.2.0
 * @category models
 */
export interface Conversation {
  readonly key: string
  readonly threadId: string
  /** The latest rollout (null before the thread's first turn). */
  readonly rollout: Rollout | null
  /** The runner that last ran a turn of it. */
  readonly runner: string | null
}

/**
 * A turn's stored state.
 *
 * @since 0.2.0
 * @category models
 */
export interface TurnRecord {
  readonly status: "running" | "completed" | "cut"
  readonly runner: string | null
  readonly result: Turn.Result | null
}

/**
 * What {@link ConversationStore.complete} writes in one transaction.
 *
 * @since 0.2.0
 * @category models
 */
export interface Completion {
  readonly key: string
  readonly turnKey: string
  readonly threadId: string
  /** The rollout after the turn (null keeps the stored one). */
  readonly rollout: Rollout | null
  readonly runner: string
  readonly result: Turn.Result
}

/**
 * The store's operations: the shape of the {@link ConversationStore} service.
 *
 * @since 0.2.0
 * @category models
 */
export interface ConversationStore {
  readonly conversation: (key: string) => Effect.Effect<Option.Option<Conversation>, StoreError>
  /** Maps `key` to a thread, with its rollout when it has one (a new thread has none before its first turn). */
  readonly saveThread: (
    key: string,
    threadId: string,
    runner: string,
    rollout: Rollout | null
  ) => Effect.Effect<void, StoreError>
  readonly turn: (key: string, turnKey: string) => Effect.Effect<Option.Option<TurnRecord>, StoreError>
  readonly markRunning: (key: string, turnKey: string, runner: string) => Effect.Effect<void, StoreError>
  readonly markCut: (key: string, turnKey: string) => Effect.Effect<void, StoreError>
  /** Stores the turn's result and the thread's rollout after it, in one transaction. */
  readonly complete: (completion: Completion) => Effect.Effect<void, StoreError>
}

/**
 * The conversation store.
 *
 * @since 0.2.0
 * @category services
 */
export const ConversationStore: Context.Service<ConversationStore, ConversationStore> = Context.Service<
  ConversationStore
>("effect-codex/cluster/ConversationStore")

/**
 * The store's operations.
 *
 * @deprecated Use {@link ConversationStore} (the interface of the same name as the service).
 * @since 0.2.0
 * @category models
 */
export type Service = ConversationStore

const ResultJson = Schema.fromJsonString(Turn.Result)
const encodeResult = Schema.encodeEffect(ResultJson)
const decodeResult = Schema.decodeUnknownEffect(ResultJson)

/** An arbitrary constant: the advisory lock that serialises table creation across runners. */
const migrationLock = 7_431_042_014

interface ConversationRow {
  readonly thread_id: string
  readonly rollout_path: string | null
  readonly rollout: Uint8Array | null
  readonly runner: string | null
}

interface TurnRow {
  readonly status: TurnRecord["status"]
  readonly runner: string | null
  readonly result: string | null
}

const failWith = (operation: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.mapError(self, (cause) => new StoreError({ operation, cause }))

/**
 * Builds the store on the `SqlClient` in context, creating its tables when missing.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<ConversationStore, StoreError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.withTransaction(Effect.gen(function*() {
    yield* sql`SELECT pg_advisory_xact_lock(${migrationLock})`
    yield* sql`CREATE TABLE IF NOT EXISTS effect_codex_conversations (
      conversation_key text PRIMARY KEY,
      thread_id text NOT NULL,
      rollout_path text,
      rollout bytea,
      runner text,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`
    yield* sql`CREATE TABLE IF NOT EXISTS effect_codex_turns (
      conversation_key text NOT NULL,
      turn_key text NOT NULL,
      status text NOT NULL CHECK (status IN ('running', 'completed', 'cut')),
      runner text,
      result text,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (conversation_key, turn_key)
    )`
  })).pipe(failWith("create its tables"))

  return ConversationStore.of({
    conversation: (key) =>
      sql<ConversationRow>`SELECT thread_id, rollout_path, rollout, runner FROM effect_codex_conversations
        WHERE conversation_key = ${key}`.pipe(
        Effect.map((rows) =>
          Option.map(Option.fromNullishOr(rows[0]), (row) => ({
            key,
            threadId: row.thread_id,
            rollout: row.rollout_path === null || row.rollout === null
              ? null
              : { path: row.rollout_path, bytes: row.rollout },
            runner: row.runner
          }))
        ),
        failWith("read a conversation")
      ),
    saveThread: (key, threadId, runner, rollout) =>
      sql`INSERT INTO effect_codex_conversations (conversation_key, thread_id, rollout_path, rollout, runner)
        VALUES (${key}, ${threadId}, ${rollout?.path ?? null}, ${rollout?.bytes ?? null}, ${runner})
        ON CONFLICT (conversation_key) DO UPDATE SET thread_id = EXCLUDED.thread_id,
          rollout_path = EXCLUDED.rollout_path, rollout = EXCLUDED.rollout, runner = EXCLUDED.runner,
          updated_at = now()`.pipe(Effect.asVoid, failWith("save a thread")),
    turn: (key, turnKey) =>
      sql<TurnRow>`SELECT status, runner, result FROM effect_codex_turns
        WHERE conversation_key = ${key} AND turn_key = ${turnKey}`.pipe(
        Effect.flatMap((rows) => {
          const row = rows[0]
          if (row === undefined) return Effect.succeedNone
          const result = row.result === null ? Effect.succeed(null) : decodeResult(row.result)
          return Effect.map(result, (result) => Option.some({ status: row.status, runner: row.runner, result }))
        }),
        failWith("read a turn")
      ),
    markRunning: (key, turnKey, runner) =>
      sql`INSERT INTO effect_codex_turns (conversation_key, turn_key, status, runner)
        VALUES (${key}, ${turnKey}, 'running', ${runner})
        ON CONFLICT (conversation_key, turn_key) DO UPDATE SET status = 'running', runner = EXCLUDED.runner,
          result = NULL, updated_at = now()`.pipe(Effect.asVoid, failWith("mark a turn running")),
    markCut: (key, turnKey) =>
      sql`UPDATE effect_codex_turns SET status = 'cut', updated_at = now()
        WHERE conversation_key = ${key} AND turn_key = ${turnKey} AND status = 'running'`.pipe(
        Effect.asVoid,
        failWith("mark a turn cut")
      ),
    complete: (completion) =>
      Effect.gen(function*() {
        const result = yield* encodeResult(completion.result)
        yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`INSERT INTO effect_codex_conversations
            (conversation_key, thread_id, rollout_path, rollout, runner)
            VALUES (${completion.key}, ${completion.threadId}, ${completion.rollout?.path ?? null},
              ${completion.rollout?.bytes ?? null}, ${completion.runner})
            ON CONFLICT (conversation_key) DO UPDATE SET thread_id = EXCLUDED.thread_id,
              rollout_path = COALESCE(EXCLUDED.rollout_path, effect_codex_conversations.rollout_path),
              rollout = COALESCE(EXCLUDED.rollout, effect_codex_conversations.rollout), runner = EXCLUDED.runner,
              updated_at = now()`
          yield* sql`INSERT INTO effect_codex_turns (conversation_key, turn_key, status, runner, result)
            VALUES (${completion.key}, ${completion.turnKey}, 'completed', ${completion.runner}, ${result})
            ON CONFLICT (conversation_key, turn_key) DO UPDATE SET status = 'completed', runner = EXCLUDED.runner,
              result = EXCLUDED.result, updated_at = now()`
        }))
      }).pipe(failWith("store a turn and its rollout"))
  })
})

/**
 * The store on the `SqlClient` in context (PostgreSQL).
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<ConversationStore, StoreError, SqlClient.SqlClient> = Layer.effect(ConversationStore)(make)
