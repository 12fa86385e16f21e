/**
 * A local cluster on one machine: runner processes (./runner.ts, real child processes) on the PostgreSQL and the
 * MockModel in context, each with its own temporary `CODEX_HOME`, and a client (`CodexCluster.layerClient`) in this
 * process. Used by the example (./main.ts), the cluster's tests (packages/cluster/test) and bench case 9.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import { CodexCluster } from "@effect-codex/cluster"
import { MockModel, Postgres, Processes } from "@effect-codex/testing"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import * as path from "node:path"

/** The local cluster's shared secret (new for each run of this process). */
export const secret = Redacted.make(randomBytes(32).toString("hex"))

/** Effect Cluster's default number of shards. */
const shardsPerGroup = 300


/** One runner process. */
export interface RunnerProcess {
  /** Its cluster address, `127.0.0.1:PORT` (what the store records as `runner`). */
  readonly name: string
  readonly pid: number
  readonly codexHome: string
}

/** The runners, and ways to kill one and to start it again. */
export class Runners extends Context.Service<Runners, {
  /** The runners as they are now (a restarted runner has a new pid). */
  readonly all: ReadonlyArray<RunnerProcess>
  /** The codex processes (children named codex) of a runner. */
  readonly codexOf: (runner: RunnerProcess) => ReadonlyArray<number>
  /** SIGKILL, and waits until it has exited. */
  readonly kill: (runner: RunnerProcess) => Effect.Effect<void>
  /** Starts a killed runner again, on its address and `CODEX_HOME`, and waits until it is ready. */
  readonly restart: (runner: RunnerProcess) => Effect.Effect<RunnerProcess>
}>()("examples/cluster/Runners") {}

const parentOf = (pid: string) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  return {
    command: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
    ppid: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
  }
}

/** Live processes named codex whose parent is `pid`. */
const codexChildrenOf = (pid: number) =>
  readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((name) => {
    try {
      const { command, ppid } = parentOf(name)
      return ppid === pid && command.startsWith("codex") && Processes.isRunning(Number(name)) ? [Number(name)] : []
    } catch {
      return []
    }
  })

/** A free TCP port on 127.0.0.1. */
export const freePort = Effect.callback<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    server.close(() => resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0)))
  })
})

const runnerScript = path.join(import.meta.dirname, "runner.ts")

/** Waits until `child` exits (at once when it already has). */
const exited = (child: ChildProcess) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
  })

/** Starts one runner and waits until it has joined; stopped with the scope (SIGTERM, SIGKILL after 10 s). */
const startRunner = Effect.fnUntraced(function*(
  databaseUrl: string,
  codexConfig: ReadonlyArray<string>,
  /** Where a restarted runner was: its port and its home (removed by its first start's scope). */
  place?: { readonly port: number; readonly codexHome: string }
) {
  const port = place?.port ?? (yield* freePort)
  const codexHome = place?.codexHome ?? (yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(path.join(tmpdir(), "effect-codex-runner-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ))
  const output: Array<string> = []
  const ready = yield* Deferred.make<void, Error>()
  const child = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, ["--conditions=@effect-codex/source", "--import", "tsx", runnerScript], {
        env: {
          ...process.env,
          CODEX_HOME: codexHome,
          EFFECT_CODEX_RUNNER_PORT: String(port),
          EFFECT_CODEX_DATABASE_URL: databaseUrl,
          EFFECT_CODEX_CLUSTER_SECRET: Redacted.value(secret),
          EFFECT_CODEX_POOL_SIZE: "1",
          CODEX_CONFIG: JSON.stringify(codexConfig)
        },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const collect = (chunk: Buffer) => {
        output.push(chunk.toString())

        if (chunk.toString().includes("ready")) Deferred.doneUnsafe(ready, Effect.void)
      }
      child.stdout!.on("data", collect)
      child.stderr!.on("data", (chunk: Buffer) => output.push(chunk.toString()))
      if (process.env.DEBUG_RUNNERS) child.stdout!.pipe(createWriteStream(`/tmp/runner-${port}.log`))
      child.once("exit", (code, signal) =>
        Deferred.doneUnsafe(ready, Effect.fail(new Error(`runner exited (${code ?? signal}):\n${output.join("")}`))))
      return child
    }),
    (child) =>
      Effect.sync(() => child.kill("SIGTERM")).pipe(
        Effect.andThen(exited(child)),
        Effect.timeoutOrElse({
          duration: Duration.seconds(10),
          orElse: () => Effect.sync(() => child.kill("SIGKILL")).pipe(Effect.andThen(exited(child)))
        })
      )
  )
  yield* Deferred.await(ready).pipe(
    Effect.timeoutOrElse({
      // A runner starts in a few seconds; minutes on a machine shared by many test runs.
      duration: Duration.seconds(150),
      orElse: () => Effect.die(new Error(`runner did not start:\n${output.join("")}`))
    }),
    Effect.orDie
  )
  return { runner: { name: `127.0.0.1:${port}`, pid: child.pid!, codexHome }, child }
})

/**
 * Waits until every shard is held, by as many PostgreSQL sessions as there are runners, and has stayed so for a
 * second (Effect Cluster's shard locks are advisory locks), so the tests do not start while shards still move to the
 * runners that joined last.
 */
const settled = (runners: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const held = sql<{ pid: number; shards: number }>`
      SELECT pid, count(*)::int AS shards FROM pg_locks WHERE locktype = 'advisory' AND granted GROUP BY pid`.pipe(
      Effect.map((rows) =>
        rows.length === runners && rows.reduce((total, row) => total + row.shards, 0) === shardsPerGroup
      ),
      Effect.orDie
    )
    let stable = 0
    yield* held.pipe(
      Effect.map((ok) => stable = ok ? stable + 1 : 0),
      Effect.repeat({ until: (polls) => polls >= 5, schedule: Schedule.spaced("200 millis") }),
      Effect.timeoutOrElse({
        duration: Duration.seconds(60),
        orElse: () => Effect.die(new Error("the shards did not settle on the runners"))
      })
    )
  })

/**
 * `count` runners and the client, on the `Postgres` and `MockModel` in context. Every process seen (postgres, the
 * runners, their codex processes) is added to `seen`, last when the layer is released, for a "nothing left running"
 * check after it.
 */
export const layer = (count: number, seen: Set<number> = new Set()): Layer.Layer<
  Runners | CodexCluster.CodexCluster,
  never,
  Postgres.Postgres | MockModel.MockModel
> =>
  Layer.unwrap(Effect.gen(function*() {
    const postgres = yield* Postgres.Postgres
    const mock = yield* MockModel.MockModel
    const started = Effect.forEach(
      Array.from({ length: count }),
      () => startRunner(postgres.url, mock.codexConfig),
      { concurrency: "unbounded" }
    )
    const runners = Layer.effect(Runners)(Effect.gen(function*() {
      const processes = yield* started
      yield* settled(processes.length)
      for (const pid of [postgres.pid, ...processes.map(({ runner }) => runner.pid)]) seen.add(pid)
      const codexOf = (runner: RunnerProcess) => {
        const pids = codexChildrenOf(runner.pid)
        for (const pid of pids) seen.add(pid)
        return pids
      }
      const listAll = Effect.sync(() => processes.forEach(({ runner }) => codexOf(runner)))
      yield* listAll
      // Runs before the runners stop (finalizers run in reverse): their codex processes are still there to list.
      yield* Effect.addFinalizer(() => listAll)
      const scope = yield* Effect.scope
      const indexOf = (runner: RunnerProcess) => processes.findIndex((process) => process.runner.name === runner.name)
      return Runners.of({
        get all() {
          return processes.map(({ runner }) => runner)
        },
        codexOf,
        kill: (runner) => {
          const child = processes[indexOf(runner)]!.child
          return Effect.sync(() => {
            codexOf(runner)
            child.kill("SIGKILL")
          }).pipe(Effect.andThen(exited(child)))
        },
        restart: (runner) =>
          Effect.gen(function*() {
            const index = indexOf(runner)
            const { codexHome } = processes[index]!.runner
            const port = Number(runner.name.split(":")[1])
            const restarted = yield* startRunner(postgres.url, mock.codexConfig, { port, codexHome }).pipe(
              Effect.provideService(Scope.Scope, scope)
            )
            processes[index] = restarted
            seen.add(restarted.runner.pid)
            return restarted.runner
          })
      })
    }))
    const sql = PgClient.layer({ url: Redacted.make(postgres.url) })
    const client = CodexCluster.layerClient({ secret }).pipe(Layer.provide(sql))
    return Layer.merge(runners, client).pipe(Layer.provide(sql), Layer.orDie)
  }))

/** The user prompts of a model request, in order (`ask:<token>`; answers carry no `ask:`). */
const asks = (request: MockModel.RecordedRequest) =>
  [...JSON.stringify(request.body).matchAll(/ask:([\w-]+)/g)].map((match) => match[1]!)

/** Tokens `stallonce…` already stalled once. */
const stalledOnce = new Set<string>()

/**
 * The local cluster's model (a `MockModel` reply): answers the last prompt `ask:<token>` and lists every prompt it
 * saw in the request, `answer:<token> history:<t0>+<t1>+...`, so an answer shows its conversation's history. A token
 * starting with `stallonce` is not answered the first time it is asked, one starting with `stall` never is.
 */
export const echo = MockModel.dynamic((request) => {
  const tokens = asks(request)
  const last = tokens.at(-1) ?? "none"
  const stall = last.startsWith("stallonce") ? !stalledOnce.has(last) : last.startsWith("stall")
  if (last.startsWith("stallonce")) stalledOnce.add(last)
  return stall ? MockModel.stall() : MockModel.text(`answer:${last} history:${tokens.join("+")}`)
})

/** The prompts `touch:<file>` of a model request, in order. */
const touches = (request: MockModel.RecordedRequest) =>
  [...JSON.stringify(request.body).matchAll(/touch:([\w.-]+)/g)].map((match) => match[1]!)

/**
 * A model (a `MockModel` reply) for turns that ask: for the last prompt `touch:<file>` it calls the shell tool with
 * `touch <file>` (codex asks first under `approvalPolicy: "untrusted"`); once the command's output, or its refusal,
 * is back, it says `done`. Used by the cluster's asking tests and bench case 10.
 */
export const touching = MockModel.dynamic((request) => {
  const input = (request.body as { readonly input?: ReadonlyArray<{ readonly type?: string }> }).input ?? []
  if (input.at(-1)?.type === "function_call_output") return MockModel.text("done")
  const file = touches(request).at(-1)
  return file === undefined ? MockModel.text("nothing to do") : MockModel.shellCall({ command: ["touch", file] })
})

/** What {@link echo} answers after the prompts `history`. */
export const expected = (history: ReadonlyArray<string>) => `answer:${history.at(-1)} history:${history.join("+")}`

/** The runner the conversation store says ran a turn. */
export const runnerOfTurn = (turnKey: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ runner: string }>`SELECT runner FROM effect_codex_turns WHERE turn_key = ${turnKey}`
    return rows[0]?.runner
  })

/**
 * Everything, started here: a throwaway PostgreSQL, a `MockModel` answering with `model` (default {@link echo}),
 * `count` runners and the client, and a `SqlClient` on the database (to read the conversation store).
 */
export const standalone = (count: number, seen?: Set<number>, model: MockModel.Reply = echo) => {
  const database = Layer.unwrap(Effect.gen(function*() {
    const postgres = yield* Postgres.Postgres
    return PgClient.layer({ url: Redacted.make(postgres.url) })
  }))
  return Layer.mergeAll(layer(count, seen), database).pipe(
    Layer.provideMerge(Layer.merge(Postgres.layer(), MockModel.layerWith({ defaultReply: model }))),
    Layer.orDie
  )
}

/** Waits until `check` holds, polling. */
export const eventually = (check: () => boolean) =>
  Effect.sync(check).pipe(Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("100 millis") }))
