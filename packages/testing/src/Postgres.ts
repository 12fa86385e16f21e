/**
 * A throwaway PostgreSQL server for tests: `initdb` into a temporary folder, `postgres` on a free port of
 * 127.0.0.1 (its unix socket inside the folder), stopped (fast shutdown, then SIGKILL) and removed with the scope.
 * The server binaries (`initdb`, `postgres`) come from `PATH` or `/usr/lib/postgresql/<version>/bin` (Debian's
 * `postgresql` package). PostgreSQL refuses to run as root: as root, both run as `nobody` (through `setpriv`).
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Postgres } from "@effect-codex/testing"
 *
 * it.live("has a database", () =>
 *   Effect.gen(function*() {
 *     const postgres = yield* Postgres.Postgres
 *     // postgres.url: "postgres://postgres@127.0.0.1:PORT/postgres"
 *   }).pipe(Effect.provide(Postgres.layer())))
 * ```
 * @since 0.2.0
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import * as path from "node:path"

/**
 * `initdb` or `postgres` is on neither `PATH` nor `/usr/lib/postgresql/<version>/bin` (or not in the folder given as
 * the option `bin`).
 *
 * @since 0.2.0
 * @category errors
 */
export class PostgresNotFoundError extends Schema.TaggedError<PostgresNotFoundError>(
  "effect-codex/testing/Postgres/PostgresNotFoundError"
)("PostgresNotFoundError", {
  /** Where the binaries were looked for. */
  searched: Schema.Array(Schema.String),
  message: Schema.String
}) {}

/**
 * `initdb` or `postgres` failed, or the server did not accept connections in time.
 *
 * @since 0.2.0
 * @category errors
 */
export class PostgresStartError extends Schema.TaggedError<PostgresStartError>(
  "effect-codex/testing/Postgres/PostgresStartError"
)("PostgresStartError", {
  step: Schema.Literals(["initdb", "start"]),
  /** What went wrong, with the end of the program's output. */
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/**
 * A running throwaway server: the shape of the {@link Postgres} service.
 *
 * @since 0.2.0
 * @category models
 */
export interface Postgres {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust auth: no password). */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly database: string
  readonly username: string
  /** The postmaster's process id. */
  readonly pid: number
}

/**
 * The throwaway server of {@link layer}.
 *
 * @since 0.2.0
 * @category services
 */
export const Postgres: Context.Service<Postgres, Postgres> = Context.Service<Postgres>("@effect-codex/testing/Postgres")

/**
 * A running throwaway server.
 *
 * @deprecated Use {@link Postgres} (the interface of the same name as the service).
 * @since 0.2.0
 * @category models
 */
export type Server = Postgres

/**
 * Options of {@link make}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Extra `-c name=value` server settings. */
  readonly settings?: Readonly<Record<string, string | number>> | undefined
  /** How long to wait for the server to accept connections. Default 30 seconds. */
  readonly readyTimeout?: Duration.Input | undefined
  /** The folder holding `initdb` and `postgres`. Default: {@link findBinaries}. */
  readonly bin?: string | undefined
}

/** The unprivileged user the server runs as when this process is root (PostgreSQL refuses root). */
const nobody = 65534

const isRoot = () => process.getuid?.() === 0

/** Folders that may hold the server binaries: `PATH`, then Debian's versioned folders, newest first. */
const searchPath = (): Array<string> => {
  const debian = existsSync("/usr/lib/postgresql")
    ? readdirSync("/usr/lib/postgresql")
      .sort((a, b) => Number(b) - Number(a))
      .map((version) => `/usr/lib/postgresql/${version}/bin`)
    : []
  return [...(process.env.PATH ?? "").split(path.delimiter).filter((dir) => dir !== ""), ...debian]
}

/** The first of `searched` holding both `initdb` and `postgres`. */
const binariesIn = (searched: ReadonlyArray<string>): Effect.Effect<string, PostgresNotFoundError> => {
  const found = searched.find((dir) =>
    existsSync(path.join(dir, "initdb")) && existsSync(path.join(dir, "postgres"))
  )
  return found === undefined
    ? Effect.fail(
      new PostgresNotFoundError({
        searched,
        message: `PostgreSQL server binaries (initdb, postgres) not found in ${searched.join(", ")}; ` +
          "install them (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`), " +
          "or give their folder as the option `bin`"
      })
    )
    : Effect.succeed(found)
}

/**
 * The folder holding both `initdb` and `postgres`: the first on `PATH`, then under `/usr/lib/postgresql/<version>/bin`
 * (Debian's package), newest first.
 *
 * @since 0.2.0
 * @category constructors
 */
export const findBinaries: Effect.Effect<string, PostgresNotFoundError> = Effect.suspend(() =>
  binariesIn(searchPath())
)

/** A free TCP port on 127.0.0.1 (asked of the kernel, then released for the server to bind). */
const freePort = Effect.callback<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** `command args` as this process, or as `nobody` when this process is root (`setpriv` execs, keeping the pid). */
const asServerUser = (command: string, args: ReadonlyArray<string>, options: ChildProcess.CommandOptions = {}) => {
  const common = { extendEnv: true, stdin: "ignore", stdout: "pipe", stderr: "pipe", ...options } as const
  return isRoot()
    ? ChildProcess.make(
      "setpriv",
      [`--reuid=${nobody}`, `--regid=${nobody}`, "--clear-groups", "--", command, ...args],
      { ...common, env: { HOME: "/" } }
    )
    : ChildProcess.make(command, [...args], common)
}

/** Keeps a program's output lines in `output` (for error messages), handing each to `onLine` too. */
const collectLines = (
  stream: Stream.Stream<Uint8Array, unknown>,
  output: Array<string>,
  onLine: (line: string) => Effect.Effect<unknown> = () => Effect.void
) =>
  Stream.decodeText(stream).pipe(
    Stream.splitLines,
    Stream.runForEach((line) =>
      Effect.suspend(() => {
        output.push(line)
        return onLine(line)
      })
    ),
    Effect.ignore
  )

const tail = (output: ReadonlyArray<string>) => output.slice(-20).join("\n")

/** Runs `initdb` into `dataDir` (trust auth, no fsync) and waits for it. */
const initdb = Effect.fnUntraced(function*(bin: string, dataDir: string) {
  const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
  const output: Array<string> = []
  const failed = (reason: string, cause?: unknown) =>
    new PostgresStartError({ step: "initdb", reason: `${reason}\n${tail(output)}`, cause })
  const handle = yield* spawner.spawn(asServerUser(path.join(bin, "initdb"), [
    "-D",
    dataDir,
    "--username=postgres",
    "--auth=trust",
    "--encoding=UTF8",
    "--locale=C",
    "--no-sync",
    "--no-instructions"
  ])).pipe(Effect.mapError((error) => failed("initdb could not start", error)))
  yield* Effect.all([collectLines(handle.stdout, output), collectLines(handle.stderr, output)], { concurrency: 2 })
  const code = yield* handle.exitCode.pipe(Effect.mapError((error) => failed("initdb failed", error)))
  if (code !== 0) return yield* Effect.fail(failed(`initdb exited with code ${code}`))
})

const ready = "database system is ready to accept connections"

/**
 * Starts a throwaway server in the current scope; closing the scope stops it and removes its folder.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  options: Options = {}
): Effect.Effect<Postgres, PostgresNotFoundError | PostgresStartError, Scope.Scope> =>
  Effect.gen(function*() {
    const bin = yield* (options.bin === undefined ? findBinaries : binariesIn([options.bin]))
    const root = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(path.join(tmpdir(), "effect-codex-pg-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    const dataDir = path.join(root, "data")
    const socketDir = path.join(root, "socket")
    mkdirSync(socketDir)
    if (isRoot()) for (const dir of [root, socketDir]) chownSync(dir, nobody, nobody)
    yield* initdb(bin, dataDir)

    const port = yield* freePort
    const settings = {
      fsync: "off",
      synchronous_commit: "off",
      full_page_writes: "off",
      max_connections: 200,
      dynamic_shared_memory_type: "mmap",
      ...options.settings
    }
    const args = [
      "-D",
      dataDir,
      "-p",
      String(port),
      "-h",
      "127.0.0.1",
      "-k",
      socketDir,
      ...Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`])
    ]
    const output: Array<string> = []
    const failed = (reason: string, cause?: unknown) =>
      new PostgresStartError({ step: "start", reason: `${reason}\n${tail(output)}`, cause })
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    // SIGINT is PostgreSQL's fast shutdown; SIGKILL after 5 s.
    const handle = yield* spawner.spawn(
      asServerUser(path.join(bin, "postgres"), args, { killSignal: "SIGINT", forceKillAfter: Duration.seconds(5) })
    ).pipe(Effect.mapError((error) => failed("postgres could not start", error)))
    const accepting = yield* Deferred.make<void>()
    const watch = (stream: Stream.Stream<Uint8Array, unknown>) =>
      Effect.forkScoped(
        collectLines(stream, output, (line) => line.includes(ready) ? Deferred.succeed(accepting, undefined) : Effect.void)
      )
    yield* watch(handle.stdout)
    yield* watch(handle.stderr)
    yield* Effect.raceFirst(
      Deferred.await(accepting),
      handle.exitCode.pipe(Effect.ignore, Effect.andThen(Effect.fail(failed("postgres exited before it was ready"))))
    ).pipe(
      Effect.timeoutOrElse({
        duration: options.readyTimeout ?? Duration.seconds(30),
        orElse: () => Effect.fail(failed("postgres did not accept connections in time"))
      })
    )
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      host: "127.0.0.1",
      port,
      database: "postgres",
      username: "postgres",
      pid: handle.pid
    } satisfies Postgres
  }).pipe(Effect.provide(NodeServices.layer))

/**
 * A throwaway server as a layer: started when the layer is built, stopped and removed when it is released.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Postgres, PostgresNotFoundError | PostgresStartError> =>
  Layer.effect(Postgres)(make(options))
