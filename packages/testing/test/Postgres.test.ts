/**
 * The throwaway PostgreSQL server: it accepts SQL at its URL, and when its scope closes its processes are gone and
 * its folder removed.
 */
import { describe, expect, it } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import { Postgres, Processes } from "@effect-codex/testing"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"

const folders = () => readdirSync(tmpdir()).filter((name) => name.startsWith("effect-codex-pg-"))

/** The server's own folder: the one whose `data/postmaster.pid` names its process (other test files may start theirs meanwhile). */
const folderOf = (pid: number) =>
  folders().find((name) => {
    const file = path.join(tmpdir(), name, "data", "postmaster.pid")
    return existsSync(file) && readFileSync(file, "utf8").split("\n")[0] === String(pid)
  })

describe("Postgres", () => {
  it.live("starts a server that runs SQL, and stops and removes it with its scope", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* Postgres.make().pipe(Scope.provide(scope))
      expect(Processes.isRunning(server.pid)).toBe(true)
      const rows = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE t (n int)`
        yield* sql`INSERT INTO t VALUES (41), (1)`
        return yield* sql<{ total: number }>`SELECT sum(n)::int AS total FROM t`
      }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(server.url) })))
      expect(rows).toEqual([{ total: 42 }])
      const folder = folderOf(server.pid)
      expect(folder).toBeDefined()
      yield* Scope.close(scope, Exit.void)
      expect(Processes.isRunning(server.pid)).toBe(false)
      expect(existsSync(path.join(tmpdir(), folder!))).toBe(false)
    }))

  it.live("a folder without the server binaries fails with PostgresNotFoundError, saying where it looked and what to install", () =>
    Effect.gen(function*() {
      const before = folders()
      const error = yield* Effect.flip(Effect.scoped(Postgres.make({ bin: tmpdir() })))
      expect(error._tag).toBe("PostgresNotFoundError")
      expect(error).toMatchObject({ searched: [tmpdir()] })
      expect(error.message).toContain("apt-get install postgresql")
      expect(folders()).toEqual(before)
    }))
})
