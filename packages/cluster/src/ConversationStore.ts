/**
 * Where the cluster keeps conversations (SQL): each conversation key's codex thread id and its rollout, and each
 * turn's status (`running`, `completed`, `cut`), result and input digest.
 *
 * A rollout is stored as pieces of at most {@link pieceBytes} bytes, each at its offset in the file: a turn appends
 * the bytes codex wrote since the stored end, in the transaction that stores the turn's result, so the cost of a turn
 * follows the turn, not the conversation. The conversation's row keeps the rollout's length and the sha256 of all of
 * it, which a restore checks. Small pieces are merged in bounded steps ({@link ConversationStore.compact}). Pieces are read
 * back in batches of at most {@link batchBytes}: no message from the database is larger than a piece.
 *
 * The tables are created (and those of 0.1.0, one `bytea` row per conversation, extended) when the layer is built,
 * under an advisory lock so runners starting together do not race; a conversation stored by 0.1.0 is moved into
 * pieces, inside PostgreSQL, the first time it is read.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { Turn } from "effect-codex"
import { StoreError } from "./ClusterErrors.js"

/**
 * The largest piece of a rollout stored in one row (1 MiB), and so the largest message a restore reads.
 *
 * @since 0.2.0
 * @category constants
 */
export const pieceBytes = 1024 * 1024

/**
 * How many bytes of pieces a restore reads in one query (at most this plus one piece).
 *
 * @since 0.2.0
 * @category constants
 */
export const batchBytes = 4 * pieceBytes

/**
 * Pieces smaller than this (32 KiB) are merged by {@link ConversationStore.compact}. Larger ones stay as they are: their
 * row costs little next to their bytes, and rewriting them would double what a turn writes.
 *
 * @since 0.2.0
 * @category constants
 */
export const smallPieceBytes = 32 * 1024

/**
 * A stored rollout: its path relative to `CODEX_HOME`, its length and the sha256 (hex) of all its bytes.
 *
 * @since 0.2.0
 * @category models
 */
export interface StoredRollout {
  readonly path: string
  readonly length: number
  readonly sha256: string
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
  /** The stored rollout (null before the thread's first turn). */
  readonly rollout: StoredRollout | null
  /** The runner that last ran a turn of it. */
  readonly runner: string | null
}

/**
 * Bytes of a rollout to store: the whole of it (`replace`), or what follows the `storedLength` bytes stored.
 *
 * @since 0.2.0
 * @category models
 */
export interface RolloutWrite {
  /** The rollout's path relative to `CODEX_HOME`. */
  readonly path: string
  /**
   * The stored length these bytes follow. An append fails when the store holds another length (another runner wrote
   * the conversation meanwhile).
   */
  readonly storedLength: number
  /** The bytes are the whole rollout and replace the stored one (codex rewrote the file, or none is stored). */
  readonly replace: boolean
  /** The bytes, in pieces of at most {@link pieceBytes}. */
  readonly pieces: Stream.Stream<Uint8Array, StoreError>
  /** The sha256 (hex) of the whole rollout, read once `pieces` has ended. */
  readonly sha256: Effect.Effect<string>
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
  /** The digest of the turn's input (null for a turn stored by 0.1.0). */
  readonly inputDigest: string | null
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
  /** The rollout bytes the turn wrote (null keeps the stored rollout). */
  readonly rollout: RolloutWrite | null
  readonly runner: string
  readonly result: Turn.Result
  readonly inputDigest: string
}

/**
 * The store's operations: the shape of the {@link ConversationStore} service.
 *
 * @since 0.2.0
 * @category models
 */
export interface ConversationStore {
  readonly conversation: (key: string) => Effect.Effect<Option.Option<Conversation>, StoreError>
  /** The bytes of a stored rollout, from its first, read in batches of at most {@link batchBytes}. */
  readonly readRollout: (key: string, rollout: StoredRollout) => Stream.Stream<Uint8Array, StoreError>
  /** Maps `key` to a thread, with its rollout when it has one (a new thread has none before its first turn). */
  readonly saveThread: (
    key: string,
    threadId: string,
    runner: string,
    rollout: RolloutWrite | null
  ) => Effect.Effect<void, StoreError>
  readonly turn: (key: string, turnKey: string) => Effect.Effect<Option.Option<TurnRecord>, StoreError>
  readonly markRunning: (
    key: string,
    turnKey: string,
    runner: string,
    inputDigest: string
  ) => Effect.Effect<void, StoreError>
  readonly markCut: (key: string, turnKey: string) => Effect.Effect<void, StoreError>
  /** Stores the turn's result and the rollout bytes it wrote, in one transaction. */
  readonly complete: (completion: Completion) => Effect.Effect<void, StoreError>
  /**
   * One bounded step of compaction: merges the first run of consecutive pieces under {@link smallPieceBytes} into
   * one (of at most {@link pieceBytes}). False when there was nothing to merge.
   */
  readonly compact: (key: string) => Effect.Effect<boolean, StoreError>
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
  readonly rollout_length: number | string | bigint
  readonly rollout_sha256: string | null
  readonly runner: string | null
}

interface TurnRow {
  readonly status: TurnRecord["status"]
  readonly runner: string | null
  readonly result: string | null
  readonly input_digest: string | null
}

interface PieceRow {
  readonly start_offset: number | string | bigint
  readonly size: number
  readonly bytes: Uint8Array
}

const failWith = (operation: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.mapError(self, (cause) => cause instanceof StoreError ? cause : new StoreError({ operation, cause }))

/** A batch of a rollout's bytes, and where the next batch starts (none after the last). */
type Page = readonly [ReadonlyArray<Uint8Array>, Option.Option<number>]

/** The pieces that follow `next`, bounded: the one holding byte `next` starts less than a piece before it. */
const nextBatch = (pieces: ReadonlyArray<PieceRow>, next: number, end: number) => {
  const out: Array<Uint8Array> = []
  let at = next
  for (const piece of pieces) {
    const start = Number(piece.start_offset)
    if (start + piece.size <= at) continue
    if (start > at) break
    out.push(piece.bytes.subarray(at - start, Math.min(piece.size, end - start)))
    at = Math.min(start + piece.size, end)
  }
  return { out, at }
}

/**
 * Builds the store on the `SqlClient` in context, creating its tables when missing (and extending those of 0.1.0).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<ConversationStore, StoreError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const legacy = yield* sql.withTransaction(Effect.gen(function*() {
    yield* sql`SELECT pg_advisory_xact_lock(${migrationLock})`
    yield* sql`CREATE TABLE IF NOT EXISTS effect_codex_conversations (
      conversation_key text PRIMARY KEY,
      thread_id text NOT NULL,
      rollout_path text,
      rollout_length bigint NOT NULL DEFAULT 0,
      rollout_sha256 text,
      runner text,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`
    yield* sql`ALTER TABLE effect_codex_conversations
      ADD COLUMN IF NOT EXISTS rollout_length bigint NOT NULL DEFAULT 0,
      ADD COLUMN IF NOT EXISTS rollout_sha256 text`
    // DDL takes no parameters: 1048576 is pieceBytes, 32768 smallPieceBytes.
    yield* sql`CREATE TABLE IF NOT EXISTS effect_codex_rollout_pieces (
      conversation_key text NOT NULL,
      start_offset bigint NOT NULL,
      size integer NOT NULL CHECK (size > 0 AND size <= 1048576),
      bytes bytea NOT NULL,
      PRIMARY KEY (conversation_key, start_offset)
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS effect_codex_rollout_pieces_small
      ON effect_codex_rollout_pieces (conversation_key, start_offset) WHERE size < 32768`
    yield* sql`CREATE TABLE IF NOT EXISTS effect_codex_turns (
      conversation_key text NOT NULL,
      turn_key text NOT NULL,
      status text NOT NULL CHECK (status IN ('running', 'completed', 'cut')),
      runner text,
      result text,
      input_digest text,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (conversation_key, turn_key)
    )`
    yield* sql`ALTER TABLE effect_codex_turns ADD COLUMN IF NOT EXISTS input_digest text`
    // 0.1.0 kept the whole rollout in the conversation's row: such rows are moved into pieces when first read.
    const columns = yield* sql`SELECT 1 FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'effect_codex_conversations' AND column_name = 'rollout'`
    return columns.length > 0
  })).pipe(failWith("create its tables"))

  /** Moves a rollout stored by 0.1.0 (the whole file in the row) into pieces, inside PostgreSQL. */
  const migrate = (key: string) =>
    sql.withTransaction(Effect.gen(function*() {
      const old = yield* sql`SELECT 1 FROM effect_codex_conversations
        WHERE conversation_key = ${key} AND rollout IS NOT NULL FOR UPDATE`
      if (old.length === 0) return
      yield* sql`DELETE FROM effect_codex_rollout_pieces WHERE conversation_key = ${key}`
      yield* sql`INSERT INTO effect_codex_rollout_pieces (conversation_key, start_offset, size, bytes)
        SELECT c.conversation_key, o.at, least(${pieceBytes}, octet_length(c.rollout) - o.at)::int,
          substring(c.rollout FROM (o.at + 1)::int FOR ${pieceBytes}::int)
        FROM effect_codex_conversations c,
          generate_series(0::bigint, octet_length(c.rollout)::bigint - 1, ${pieceBytes}::bigint) AS o(at)
        WHERE c.conversation_key = ${key}`
      yield* sql`UPDATE effect_codex_conversations SET rollout_length = octet_length(rollout),
          rollout_sha256 = encode(sha256(rollout), 'hex'), rollout = NULL
        WHERE conversation_key = ${key}`
    })).pipe(failWith("move a conversation stored by 0.1.0 into pieces"))

  const conversation = (key: string) =>
    Effect.gen(function*() {
      if (legacy) yield* migrate(key)
      const rows = yield* sql<ConversationRow>`SELECT thread_id, rollout_path, rollout_length, rollout_sha256, runner
        FROM effect_codex_conversations WHERE conversation_key = ${key}`
      return Option.map(Option.fromNullishOr(rows[0]), (row): Conversation => ({
        key,
        threadId: row.thread_id,
        rollout: row.rollout_path === null || row.rollout_sha256 === null
          ? null
          : { path: row.rollout_path, length: Number(row.rollout_length), sha256: row.rollout_sha256 },
        runner: row.runner
      }))
    }).pipe(failWith("read a conversation"))

  const readRollout = (key: string, rollout: StoredRollout): Stream.Stream<Uint8Array, StoreError> =>
    Stream.paginate(0, (next: number): Effect.Effect<Page, StoreError> => {
      if (next >= rollout.length) return Effect.succeed([[], Option.none()])
      return sql<PieceRow>`SELECT start_offset, size, bytes FROM effect_codex_rollout_pieces
        WHERE conversation_key = ${key} AND start_offset > ${next - pieceBytes}
          AND start_offset < ${Math.min(next + batchBytes, rollout.length)}
        ORDER BY start_offset`.pipe(
        failWith("read a rollout"),
        Effect.flatMap((pieces) => {
          const { at, out } = nextBatch(pieces, next, rollout.length)
          return at === next
            ? Effect.fail(
              new StoreError({ operation: `read the rollout of ${key}: no piece holds byte ${next} of ${rollout.length}` })
            )
            : Effect.succeed<Page>([out, Option.some(at)])
        })
      )
    })

  /** Writes `rollout`'s pieces and the conversation's row, in the transaction in progress. */
  const writeRollout = Effect.fnUntraced(function*(key: string, threadId: string, runner: string, rollout: RolloutWrite) {
    const locked = yield* sql<{ rollout_length: number | string | bigint }>`SELECT rollout_length
      FROM effect_codex_conversations WHERE conversation_key = ${key} FOR UPDATE`
    const stored = locked[0] === undefined ? 0 : Number(locked[0].rollout_length)
    if (!rollout.replace && stored !== rollout.storedLength) {
      return yield* new StoreError({
        operation: `append to the rollout of ${key}: the store holds ${stored} bytes, not the ${rollout.storedLength}` +
          " this runner extends (another runner wrote the conversation)"
      })
    }
    if (rollout.replace) yield* sql`DELETE FROM effect_codex_rollout_pieces WHERE conversation_key = ${key}`
    let end = rollout.replace ? 0 : stored
    yield* Stream.runForEach(rollout.pieces, (bytes) => {
      const start = end
      end += bytes.byteLength
      return sql`INSERT INTO effect_codex_rollout_pieces (conversation_key, start_offset, size, bytes)
        VALUES (${key}, ${start}, ${bytes.byteLength}, ${bytes})`
    })
    const sha256 = yield* rollout.sha256
    yield* sql`INSERT INTO effect_codex_conversations
      (conversation_key, thread_id, rollout_path, rollout_length, rollout_sha256, runner)
      VALUES (${key}, ${threadId}, ${rollout.path}, ${end}, ${sha256}, ${runner})
      ON CONFLICT (conversation_key) DO UPDATE SET thread_id = EXCLUDED.thread_id,
        rollout_path = EXCLUDED.rollout_path, rollout_length = EXCLUDED.rollout_length,
        rollout_sha256 = EXCLUDED.rollout_sha256, runner = EXCLUDED.runner, updated_at = now()`
  })

  const saveThread = (key: string, threadId: string, runner: string, rollout: RolloutWrite | null) =>
    sql.withTransaction(
      rollout !== null
        ? writeRollout(key, threadId, runner, rollout)
        : Effect.andThen(
          sql`DELETE FROM effect_codex_rollout_pieces WHERE conversation_key = ${key}`,
          sql`INSERT INTO effect_codex_conversations
            (conversation_key, thread_id, rollout_path, rollout_length, rollout_sha256, runner)
            VALUES (${key}, ${threadId}, NULL, 0, NULL, ${runner})
            ON CONFLICT (conversation_key) DO UPDATE SET thread_id = EXCLUDED.thread_id, rollout_path = NULL,
              rollout_length = 0, rollout_sha256 = NULL, runner = EXCLUDED.runner, updated_at = now()`
        )
    ).pipe(Effect.asVoid, failWith("save a thread"))

  const complete = (completion: Completion) =>
    Effect.gen(function*() {
      const result = yield* encodeResult(completion.result)
      yield* sql.withTransaction(Effect.gen(function*() {
        if (completion.rollout !== null) {
          yield* writeRollout(completion.key, completion.threadId, completion.runner, completion.rollout)
        } else {
          yield* sql`UPDATE effect_codex_conversations SET thread_id = ${completion.threadId},
            runner = ${completion.runner}, updated_at = now() WHERE conversation_key = ${completion.key}`
        }
        yield* sql`INSERT INTO effect_codex_turns (conversation_key, turn_key, status, runner, result, input_digest)
          VALUES (${completion.key}, ${completion.turnKey}, 'completed', ${completion.runner}, ${result},
            ${completion.inputDigest})
          ON CONFLICT (conversation_key, turn_key) DO UPDATE SET status = 'completed', runner = EXCLUDED.runner,
            result = EXCLUDED.result, input_digest = EXCLUDED.input_digest, updated_at = now()`
      }))
    }).pipe(failWith("store a turn and its rollout"))

  /** The first run of consecutive small pieces worth merging: closed by a larger piece, or small pieces enough. */
  const compact = (key: string) =>
    sql.withTransaction(Effect.gen(function*() {
      const small = yield* sql<{ start_offset: number | string | bigint; size: number }>`SELECT start_offset, size
        FROM effect_codex_rollout_pieces WHERE conversation_key = ${key} AND size < ${smallPieceBytes}
        ORDER BY start_offset DESC LIMIT 256 FOR UPDATE`
      const conversationRows = yield* sql<{ rollout_length: number | string | bigint }>`SELECT rollout_length
        FROM effect_codex_conversations WHERE conversation_key = ${key}`
      const length = Number(conversationRows[0]?.rollout_length ?? 0)
      const runs: Array<Array<{ start: number; size: number }>> = []
      for (const row of [...small].reverse()) {
        const piece = { start: Number(row.start_offset), size: row.size }
        const run = runs.at(-1)
        const last = run?.at(-1)
        if (run !== undefined && last !== undefined && last.start + last.size === piece.start) run.push(piece)
        else runs.push([piece])
      }
      for (const run of runs) {
        // Up to a piece's bound; a run at the rollout's end may still grow, so it waits until it fills a large piece.
        const taken: Array<{ start: number; size: number }> = []
        let total = 0
        for (const piece of run) {
          if (total + piece.size > pieceBytes) break
          taken.push(piece)
          total += piece.size
        }
        const last = taken.at(-1)!
        const open = taken.length === run.length && last.start + last.size === length
        if (taken.length < 2 || (open && total < smallPieceBytes)) continue
        const first = taken[0]!.start
        const pieces = yield* sql<PieceRow>`DELETE FROM effect_codex_rollout_pieces
          WHERE conversation_key = ${key} AND start_offset >= ${first} AND start_offset <= ${last.start}
          RETURNING start_offset, size, bytes`
        const sorted = [...pieces].sort((a, b) => Number(a.start_offset) - Number(b.start_offset))
        const merged = Buffer.concat(sorted.map((piece) => piece.bytes))
        yield* sql`INSERT INTO effect_codex_rollout_pieces (conversation_key, start_offset, size, bytes)
          VALUES (${key}, ${first}, ${merged.byteLength}, ${merged})`
        return true
      }
      return false
    })).pipe(failWith("compact a rollout"))

  return ConversationStore.of({
    conversation,
    readRollout,
    saveThread,
    turn: (key, turnKey) =>
      sql<TurnRow>`SELECT status, runner, result, input_digest FROM effect_codex_turns
        WHERE conversation_key = ${key} AND turn_key = ${turnKey}`.pipe(
        Effect.flatMap((rows) => {
          const row = rows[0]
          if (row === undefined) return Effect.succeedNone
          const result = row.result === null ? Effect.succeed(null) : decodeResult(row.result)
          return Effect.map(result, (result) =>
            Option.some({ status: row.status, runner: row.runner, result, inputDigest: row.input_digest }))
        }),
        failWith("read a turn")
      ),
    markRunning: (key, turnKey, runner, inputDigest) =>
      sql`INSERT INTO effect_codex_turns (conversation_key, turn_key, status, runner, input_digest)
        VALUES (${key}, ${turnKey}, 'running', ${runner}, ${inputDigest})
        ON CONFLICT (conversation_key, turn_key) DO UPDATE SET status = 'running', runner = EXCLUDED.runner,
          result = NULL, input_digest = EXCLUDED.input_digest, updated_at = now()`.pipe(
        Effect.asVoid,
        failWith("mark a turn running")
      ),
    markCut: (key, turnKey) =>
      sql`UPDATE effect_codex_turns SET status = 'cut', updated_at = now()
        WHERE conversation_key = ${key} AND turn_key = ${turnKey} AND status = 'running'`.pipe(
        Effect.asVoid,
        failWith("mark a turn cut")
      ),
    complete,
    compact
  })
})

/**
 * The store on the `SqlClient` in context (PostgreSQL).
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<ConversationStore, StoreError, SqlClient.SqlClient> = Layer.effect(ConversationStore)(make)
