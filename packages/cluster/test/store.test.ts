/**
 * The conversation store on a real PostgreSQL: a rollout stored piece by piece (a base, then appends) reads back
 * whole in messages no larger than a piece, under a client whose largest message is far smaller than the rollout;
 * an append against a stale length is refused; small pieces compact in bounded steps; a database of 0.1.0 (one
 * `bytea` row per conversation) is read through the new store.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { ConversationStore } from "@effect-codex/cluster"
import { Postgres } from "@effect-codex/testing"
import { createHash } from "node:crypto"

/** `size` bytes of JSONL-like text, different for each `seed`. */
const lines = (size: number, seed: number) => {
  const out = Buffer.alloc(size)
  let state = seed * 2654435761 >>> 0
  for (let i = 0; i < size; i++) {
    state = (state * 1103515245 + 12345) >>> 0
    out[i] = i % 100 === 99 ? 0x0a : 97 + (state >>> 16) % 26
  }
  return out
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** A write of `bytes` (in pieces of at most a piece's bound) following `storedLength` bytes, `whole` the result. */
const writeOf = (bytes: Buffer, storedLength: number, whole: Buffer): ConversationStore.RolloutWrite => ({
  path: "sessions/rollout-test.jsonl",
  storedLength,
  replace: storedLength === 0,
  pieces: Stream.fromIterable(
    Array.from(
      { length: Math.ceil(bytes.byteLength / ConversationStore.pieceBytes) },
      (_, i) => bytes.subarray(i * ConversationStore.pieceBytes, (i + 1) * ConversationStore.pieceBytes)
    )
  ),
  sha256: Effect.succeed(sha256(whole))
})

const result = (id: string) => ({
  id,
  threadId: "thread-1",
  status: "completed" as const,
  error: null,
  startedAt: null,
  completedAt: null,
  durationMs: null,
  finalResponse: `answer ${id}`,
  items: [],
  usage: null,
  turnUsage: null
})

const readAll = (store: ConversationStore.ConversationStore, key: string) =>
  Effect.gen(function*() {
    const stored = Option.getOrThrow(yield* store.conversation(key))
    const bytes = yield* Stream.runCollect(store.readRollout(key, stored.rollout!))
    return { stored, bytes: Buffer.concat(bytes) }
  })

/** A client whose largest accepted message (1.5 MiB) is far smaller than the rollouts written here. */
const client = (database?: string) =>
  Layer.unwrap(Effect.map(Postgres.Postgres, (server) =>
    PgClient.layer({
      url: Redacted.make(database === undefined ? server.url : server.url.replace(/\/[^/]*$/, `/${database}`)),
      maxMessageSize: 1.5 * 1024 * 1024
    })))

const pieces = (key: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ size: number }>`SELECT size FROM effect_codex_rollout_pieces WHERE conversation_key = ${key}
      ORDER BY start_offset`).pipe(Effect.map((rows) => rows.map((row) => row.size)))

describe("ConversationStore", () => {
  layer(Layer.provideMerge(client(), Postgres.layer()), { timeout: "60 seconds" })("on PostgreSQL", (it) => {
    it.effect("stores a rollout as a base and appends, and reads it back whole in bounded messages", () =>
      Effect.gen(function*() {
        const store = yield* ConversationStore.make
        const whole = lines(5.5 * 1024 * 1024, 1)
        const base = 3 * 1024 * 1024 + 17
        yield* store.saveThread("long", "thread-1", "runner-a", writeOf(whole.subarray(0, base), 0, whole.subarray(0, base)))
        let at = base
        for (const [turn, end] of [[1, base + 70_000], [2, 5 * 1024 * 1024], [3, whole.byteLength]] as const) {
          yield* store.complete({
            key: "long",
            turnKey: `long/${turn}`,
            threadId: "thread-1",
            rollout: writeOf(whole.subarray(at, end), at, whole.subarray(0, end)),
            runner: "runner-a",
            result: result(`turn-${turn}`),
            inputDigest: `digest-${turn}`
          })
          at = end
        }
        const { bytes, stored } = yield* readAll(store, "long")
        expect(stored.rollout).toEqual({ path: "sessions/rollout-test.jsonl", length: whole.byteLength, sha256: sha256(whole) })
        expect(bytes.equals(whole)).toBe(true)
        const sizes = yield* pieces("long")
        expect(Math.max(...sizes)).toBeLessThanOrEqual(ConversationStore.pieceBytes)
        expect(sizes.reduce((a, b) => a + b, 0)).toBe(whole.byteLength)
        const turn = Option.getOrThrow(yield* store.turn("long", "long/2"))
        expect(turn).toMatchObject({ status: "completed", inputDigest: "digest-2", result: { finalResponse: "answer turn-2" } })

        // An append computed against a length the store no longer holds is refused, and nothing of it is stored.
        const stale = yield* Effect.flip(store.complete({
          key: "long",
          turnKey: "long/stale",
          threadId: "thread-1",
          rollout: writeOf(lines(1000, 9), base, whole),
          runner: "runner-b",
          result: result("stale"),
          inputDigest: "digest-stale"
        }))
        expect(stale._tag).toBe("StoreError")
        expect(stale.operation).toContain("another runner wrote the conversation")
        expect(Option.isNone(yield* store.turn("long", "long/stale"))).toBe(true)
        expect((yield* readAll(store, "long")).bytes.equals(whole)).toBe(true)

        // A base replaces what was stored.
        const rewritten = lines(2000, 3)
        yield* store.saveThread("long", "thread-1", "runner-a", writeOf(rewritten, 0, rewritten))
        expect((yield* readAll(store, "long")).bytes.equals(rewritten)).toBe(true)
        expect(yield* pieces("long")).toEqual([2000])
      }))

    it.effect("merges small pieces in bounded steps, leaving the bytes as they were", () =>
      Effect.gen(function*() {
        const store = yield* ConversationStore.make
        const whole = lines(200 * 1024, 2)
        const turns = 200
        const step = whole.byteLength / turns
        yield* store.saveThread("chatty", "thread-2", "runner-a", null)
        for (let turn = 0; turn < turns; turn++) {
          yield* store.complete({
            key: "chatty",
            turnKey: `chatty/${turn}`,
            threadId: "thread-2",
            rollout: writeOf(whole.subarray(turn * step, (turn + 1) * step), turn * step, whole.subarray(0, (turn + 1) * step)),
            runner: "runner-a",
            result: result(`chatty-${turn}`),
            inputDigest: "d"
          })
        }
        expect((yield* pieces("chatty")).length).toBe(turns)
        let steps = 0
        while (yield* store.compact("chatty")) steps++
        // 200 KiB of 1 KiB pieces: one step merges them all (a step takes at most a piece's bound of 1 MiB).
        expect(steps).toBe(1)
        expect(yield* pieces("chatty")).toEqual([whole.byteLength])
        expect((yield* readAll(store, "chatty")).bytes.equals(whole)).toBe(true)

        // A few more small turns: an open run under 32 KiB waits for more.
        const more = Buffer.concat([whole, lines(10 * 1024, 4)])
        for (let turn = 0; turn < 10; turn++) {
          const from = whole.byteLength + turn * 1024
          yield* store.complete({
            key: "chatty",
            turnKey: `chatty/more-${turn}`,
            threadId: "thread-2",
            rollout: writeOf(more.subarray(from, from + 1024), from, more.subarray(0, from + 1024)),
            runner: "runner-a",
            result: result(`more-${turn}`),
            inputDigest: "d"
          })
        }
        expect(yield* store.compact("chatty")).toBe(false)
        expect((yield* pieces("chatty")).length).toBe(11)
        expect((yield* readAll(store, "chatty")).bytes.equals(more)).toBe(true)
      }))

    it.effect("reads a conversation stored by 0.1.0 (the whole rollout in its row), moving it into pieces", () =>
      Effect.gen(function*() {
        const admin = yield* SqlClient.SqlClient
        yield* admin`CREATE DATABASE legacy`
        const whole = lines(3 * 1024 * 1024 + 5, 5)
        const [migrated, turn, sizes] = yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          // The tables as 0.1.0 created them, and its rows.
          yield* sql`CREATE TABLE effect_codex_conversations (
            conversation_key text PRIMARY KEY, thread_id text NOT NULL, rollout_path text, rollout bytea, runner text,
            updated_at timestamptz NOT NULL DEFAULT now())`
          yield* sql`CREATE TABLE effect_codex_turns (
            conversation_key text NOT NULL, turn_key text NOT NULL,
            status text NOT NULL CHECK (status IN ('running', 'completed', 'cut')), runner text, result text,
            updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (conversation_key, turn_key))`
          yield* sql`INSERT INTO effect_codex_conversations (conversation_key, thread_id, rollout_path, rollout, runner)
            VALUES ('old', 'thread-old', 'sessions/rollout-old.jsonl', ${whole}, 'runner-old'),
              ('fresh', 'thread-fresh', NULL, NULL, 'runner-old')`
          yield* sql`INSERT INTO effect_codex_turns (conversation_key, turn_key, status, runner, result)
            VALUES ('old', 'old/1', 'completed', 'runner-old', ${JSON.stringify(result("old-1"))})`

          const store = yield* ConversationStore.make
          const read = yield* readAll(store, "old")
          expect(Option.getOrThrow(yield* store.conversation("fresh")).rollout).toBeNull()
          return [read, Option.getOrThrow(yield* store.turn("old", "old/1")), yield* pieces("old")] as const
        }).pipe(Effect.provide(client("legacy")))
        expect(migrated.stored).toMatchObject({
          threadId: "thread-old",
          runner: "runner-old",
          rollout: { path: "sessions/rollout-old.jsonl", length: whole.byteLength, sha256: sha256(whole) }
        })
        expect(migrated.bytes.equals(whole)).toBe(true)
        expect(sizes).toEqual([ConversationStore.pieceBytes, ConversationStore.pieceBytes, ConversationStore.pieceBytes, 5])
        expect(turn).toMatchObject({ status: "completed", inputDigest: null, result: { finalResponse: "answer old-1" } })
      }))
  })
})
