/**
 * Asking across processes, on real parts: a throwaway PostgreSQL, two runner processes (each a CodexPool on the real
 * codex binary), client processes (./fixtures/client.ts) that start turns and answer requests, and a MockModel that
 * asks to run `touch <file>` in the conversation's workspace (`Local.touching`; `approvalPolicy: "untrusted"`: codex
 * asks first).
 * A command runs only after another process approved it; one answer wins across clients; a client's death does not
 * stop the turn; a runner's death cuts the turn and the request reads cut; every answer is stored with who gave it.
 */
import { afterAll, describe, expect, layer } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { CodexCluster, CodexThread } from "@effect-codex/cluster"
import { Codex } from "effect-codex"
import { Postgres, Processes } from "@effect-codex/testing"
import * as Redacted from "effect/Redacted"
import * as Local from "../../../examples/cluster/local.js"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"

/** Every process started: postgres, the runners, their codex processes, the clients. */
const started = new Set<number>()

const clientScript = path.join(import.meta.dirname, "fixtures", "client.ts")

/** A line a client process wrote. */
type Line = Record<string, any>

/** A client process (./fixtures/client.ts). */
interface Client {
  readonly pid: number
  readonly send: (command: Record<string, unknown>) => Effect.Effect<void>
  /** The next line of command `id` (after those already taken) that `matches`. */
  readonly next: (id: string, matches?: (line: Line) => boolean) => Effect.Effect<Line>
  readonly kill: Effect.Effect<void>
}

const exited = (child: ChildProcess) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
  })

/** Starts a client process on the database and waits until it is ready; killed with the scope. */
const startClient = Effect.fnUntraced(function*() {
  const postgres = yield* Postgres.Postgres
  const lines: Array<Line> = []
  const taken = new Set<Line>()
  let output = ""
  const ready = yield* Deferred.make<void, Error>()
  const child = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, ["--conditions=@effect-codex/source", "--import", "tsx", clientScript], {
        env: {
          ...process.env,
          EFFECT_CODEX_DATABASE_URL: postgres.url,
          EFFECT_CODEX_CLUSTER_SECRET: Redacted.value(Local.secret)
        },
        stdio: ["pipe", "pipe", "pipe"]
      })
      let partial = ""
      child.stdout!.on("data", (chunk: Buffer) => {
        partial += chunk.toString()
        const complete = partial.split("\n")
        partial = complete.pop()!
        for (const text of complete) {
          output += `${text}\n`
          try {
            const line = JSON.parse(text) as Line
            if (line.ready === true) Deferred.doneUnsafe(ready, Effect.void)
            else lines.push(line)
          } catch {
            // a log line
          }
        }
      })
      child.stderr!.on("data", (chunk: Buffer) => output += chunk.toString())
      child.once("exit", (code, signal) =>
        Deferred.doneUnsafe(ready, Effect.fail(new Error(`client exited (${code ?? signal}):\n${output}`))))
      return child
    }),
    (child) => Effect.sync(() => child.kill("SIGKILL")).pipe(Effect.andThen(exited(child)))
  )
  started.add(child.pid!)
  yield* Deferred.await(ready).pipe(
    Effect.timeoutOrElse({
      duration: Duration.seconds(90),
      orElse: () => Effect.die(new Error(`client did not start:\n${output}`))
    }),
    Effect.orDie
  )
  return {
    pid: child.pid!,
    send: (command) => Effect.sync(() => child.stdin!.write(`${JSON.stringify(command)}\n`)),
    next: (id, matches = () => true) =>
      Effect.sync(() => lines.find((line) => line.id === id && !taken.has(line) && matches(line))).pipe(
        Effect.repeat({ until: (line) => line !== undefined, schedule: Schedule.spaced("50 millis") }),
        Effect.map((line) => {
          taken.add(line!)
          return line!
        }),
        Effect.timeoutOrElse({
          duration: Duration.seconds(90),
          orElse: () => Effect.die(new Error(`no line for ${id}:\n${output}`))
        })
      ),
    kill: Effect.sync(() => child.kill("SIGKILL")).pipe(Effect.andThen(exited(child)))
  } satisfies Client
})

/** A workspace for a conversation's commands, removed with the scope. */
const workspace = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(path.join(tmpdir(), "effect-codex-asks-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** A conversation whose thread works in a fresh workspace, asking before every command. */
const openAsking = Effect.fnUntraced(function*(key: string) {
  const cwd = yield* workspace
  const cluster = yield* CodexCluster.CodexCluster
  yield* cluster.conversation(key).open({
    _tag: "Start",
    params: { cwd, approvalPolicy: "untrusted", sandbox: Codex.Sandbox.workspace }
  })
  return { chat: cluster.conversation(key), cwd }
})

/** The turn's state in the conversation store. */
const turnStatus = (turnKey: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ status: string }>`SELECT status FROM effect_codex_turns WHERE turn_key = ${turnKey}`
    return rows[0]?.status
  })

/** Polls `check` until it holds. */
const until = <A, E, R>(check: Effect.Effect<A, E, R>, holds: (value: A) => boolean) =>
  check.pipe(Effect.repeat({ until: holds, schedule: Schedule.spaced("100 millis") }))

describe("@effect-codex/cluster: asking across processes", () => {
  layer(Local.standalone(2, started, Local.touching), { timeout: "180 seconds", excludeTestServices: true })("two runners, clients in processes of their own", (it) => {
    it.effect("client A streams a turn that asks; the command runs only after client B approves it; the answer is stored with who gave it", () =>
      Effect.gen(function*() {
        const [a, b] = yield* Effect.all([startClient(), startClient()], { concurrency: "unbounded" })
        const { chat, cwd } = yield* openAsking("approved")
        const file = path.join(cwd, "approved.txt")
        yield* a.send({ id: "turn", op: "streamTurn", conversation: "approved", turnKey: "approved/1", input: "touch:approved.txt", ask: {} })
        const event = yield* a.next("turn", (line) => line.request !== undefined)
        expect(event.request).toMatchObject({ method: "item/commandExecution/requestApproval", status: "pending", turnKey: "approved/1" })
        expect(event.request.params.command).toContain("touch approved.txt")
        // B sees it in the conversation's pending requests; nothing has run.
        const pending = yield* chat.pending()
        expect(pending.map((request) => request.requestId)).toEqual([event.request.requestId])
        expect(existsSync(file)).toBe(false)
        // An answer that is not one to its method is refused before it is stored: the request still waits.
        const invalid = yield* Effect.flip(chat.respond(event.request.requestId, { decision: "yes-please" } as never, { by: "eve" }))
        expect(invalid).toMatchObject({ _tag: "InvalidAnswerError", method: "item/commandExecution/requestApproval" })
        expect((yield* chat.pending()).length).toBe(1)

        yield* b.send({ id: "ok", op: "respond", conversation: "approved", requestId: event.request.requestId, answer: { decision: "accept" }, by: "bob" })
        const responded = yield* b.next("ok")
        expect(responded.responded).toMatchObject({ status: "answered", answeredBy: "bob", answer: { decision: "accept" } })
        // A hears how it ended, then the turn ends; the command ran after the answer.
        const ended = yield* a.next("turn", (line) => line.request !== undefined)
        expect(ended.request).toMatchObject({ requestId: event.request.requestId, status: "answered", answeredBy: "bob" })
        expect(yield* a.next("turn", (line) => line.done === true || line.error !== undefined)).toMatchObject({ done: true })
        expect(existsSync(file)).toBe(true)

        const [stored] = yield* chat.requests()
        expect(stored).toMatchObject({ status: "answered", answeredBy: "bob", answer: { decision: "accept" } })
        expect(stored!.answeredAt!.getTime()).toBeGreaterThanOrEqual(stored!.createdAt.getTime())
        expect(yield* chat.pending()).toEqual([])
        // A second answer to an answered request fails typed; so does an answer that is not one to its method.
        const again = yield* Effect.flip(chat.respond(stored!.requestId, { decision: "decline" }, { by: "carol" }))
        expect(again).toMatchObject({ _tag: "AlreadyAnsweredError", status: "answered", answeredBy: "bob" })
        expect(yield* Effect.flip(chat.respond("no-such-request", { decision: "accept" }, { by: "carol" }))).toMatchObject({
          _tag: "PendingRequestNotFoundError"
        })
      }).pipe(Effect.scoped), 180_000)

    it.effect("two clients answer at once: exactly one wins, the other gets AlreadyAnsweredError, and codex acts on the winner's answer", () =>
      Effect.gen(function*() {
        const [a, b, c] = yield* Effect.all([startClient(), startClient(), startClient()], { concurrency: "unbounded" })
        const { chat, cwd } = yield* openAsking("raced")
        yield* a.send({ id: "turn", op: "runTurn", conversation: "raced", turnKey: "raced/1", input: "touch:raced.txt", ask: {} })
        const [request] = yield* until(chat.pending(), (pending) => pending.length === 1)
        const answer = (client: Client, decision: string, by: string) =>
          client.send({ id: "answer", op: "respond", conversation: "raced", requestId: request!.requestId, answer: { decision }, by })
        yield* Effect.all([answer(b, "accept", "bob"), answer(c, "decline", "carol")], { concurrency: "unbounded" })
        const outcomes = yield* Effect.all([b.next("answer"), c.next("answer")], { concurrency: "unbounded" })
        const winners = outcomes.filter((line) => line.responded !== undefined)
        const losers = outcomes.filter((line) => line.error !== undefined)
        expect(winners).toHaveLength(1)
        expect(losers).toHaveLength(1)
        expect(losers[0]!.error._tag).toBe("AlreadyAnsweredError")
        const winner = winners[0]!.responded
        expect(losers[0]!.error.message).toContain(winner.answeredBy)
        expect((yield* a.next("turn")).result).toMatchObject({ status: "completed" })
        expect(existsSync(path.join(cwd, "raced.txt"))).toBe(winner.answer.decision === "accept")
        expect((yield* chat.requests()).map((stored) => [stored.status, stored.answeredBy])).toEqual([["answered", winner.answeredBy]])
      }).pipe(Effect.scoped), 180_000)

    it.effect("client A is killed while its request waits: B still answers and the turn completes", () =>
      Effect.gen(function*() {
        const [a, b] = yield* Effect.all([startClient(), startClient()], { concurrency: "unbounded" })
        const { chat, cwd } = yield* openAsking("orphaned")
        yield* a.send({ id: "turn", op: "runTurn", conversation: "orphaned", turnKey: "orphaned/1", input: "touch:orphaned.txt", ask: {} })
        const [request] = yield* until(chat.pending(), (pending) => pending.length === 1)
        yield* a.kill
        yield* b.send({ id: "ok", op: "respond", conversation: "orphaned", requestId: request!.requestId, answer: { decision: "accept" }, by: "bob" })
        expect((yield* b.next("ok")).responded).toMatchObject({ status: "answered" })
        expect(yield* until(turnStatus("orphaned/1"), (status) => status === "completed")).toBe("completed")
        expect(existsSync(path.join(cwd, "orphaned.txt"))).toBe(true)
        // A retry of the turn (same key) from B gets the stored result; no second turn runs.
        yield* b.send({ id: "retry", op: "runTurn", conversation: "orphaned", turnKey: "orphaned/1", input: "touch:orphaned.txt", ask: {} })
        expect((yield* b.next("retry")).result).toMatchObject({ status: "completed", finalResponse: "done" })
        expect((yield* chat.requests()).length).toBe(1)
      }).pipe(Effect.scoped), 180_000)

    it.effect("client A streaming the turn is killed while its request waits: the turn stops, and the request is declined and reads cut", () =>
      Effect.gen(function*() {
        const a = yield* startClient()
        const { chat, cwd } = yield* openAsking("unfollowed")
        yield* a.send({ id: "turn", op: "streamTurn", conversation: "unfollowed", turnKey: "unfollowed/1", input: "touch:unfollowed.txt", ask: {} })
        yield* a.next("turn", (line) => line.request !== undefined)
        yield* a.kill
        // StreamTurn is not persisted: its caller gone, the runner stops the turn, and the request is declined, cut.
        const [ended] = yield* until(chat.requests(), (requests) => requests[0]?.status !== "pending")
        expect(ended).toMatchObject({ status: "cut", answer: { decision: "decline" }, answeredBy: null })
        expect(existsSync(path.join(cwd, "unfollowed.txt"))).toBe(false)
      }).pipe(Effect.scoped), 180_000)

    it.effect("a request nobody answers is declined at its timeout and stored timed_out; the stream says so", () =>
      Effect.gen(function*() {
        const { chat, cwd } = yield* openAsking("unanswered")
        const events = yield* chat.streamTurn("touch:unanswered.txt", { turnKey: "unanswered/1", ask: { timeout: "2 seconds" } }).pipe(
          Stream.runCollect
        )
        const requests = events.filter(CodexThread.isRequestEvent).map((event) => event.params)
        expect(requests.map((request) => request.status)).toEqual(["pending", "timed_out"])
        expect(requests[1]).toMatchObject({ answer: { decision: "decline" }, answeredBy: null })
        expect(events.at(-1)?.method).toBe("turn/completed")
        expect(existsSync(path.join(cwd, "unanswered.txt"))).toBe(false)
        expect((yield* chat.requests()).map((request) => request.status)).toEqual(["timed_out"])
      }).pipe(Effect.scoped), 180_000)

    it.effect("an answer written without its NOTIFY still reaches the runner (the poll)", () =>
      Effect.gen(function*() {
        const { chat, cwd } = yield* openAsking("polled")
        const sql = yield* SqlClient.SqlClient
        const turn = yield* Effect.forkChild(chat.runTurn("touch:polled.txt", { turnKey: "polled/1", ask: true }))
        const [request] = yield* until(chat.pending(), (pending) => pending.length === 1)
        yield* sql`UPDATE effect_codex_pending_requests SET status = 'answered', answer = ${`{"decision":"accept"}`}::jsonb,
          answered_by = 'sql', answered_at = now() WHERE request_id = ${request!.requestId}`
        expect((yield* Fiber.join(turn)).status).toBe("completed")
        expect(existsSync(path.join(cwd, "polled.txt"))).toBe(true)
      }).pipe(Effect.scoped), 180_000)

    it.effect("the runner is killed while a request waits: A gets TurnCutError, and the request is listed as cut", () =>
      Effect.gen(function*() {
        const a = yield* startClient()
        const runners = yield* Local.Runners
        const { chat, cwd } = yield* openAsking("stranded")
        yield* a.send({ id: "turn", op: "runTurn", conversation: "stranded", turnKey: "stranded/1", input: "touch:stranded.txt", ask: {} })
        const [request] = yield* until(chat.pending(), (pending) => pending.length === 1)
        const host = runners.all.find((runner) => runner.name === request!.runner)!
        yield* runners.kill(host)
        expect((yield* a.next("turn")).error).toMatchObject({ _tag: "TurnCutError" })
        expect((yield* chat.requests()).map((stored) => stored.status)).toEqual(["cut"])
        expect(yield* Effect.flip(chat.respond(request!.requestId, { decision: "accept" }, { by: "bob" }))).toMatchObject({
          _tag: "AlreadyAnsweredError",
          status: "cut"
        })
        expect(existsSync(path.join(cwd, "stranded.txt"))).toBe(false)
      }).pipe(Effect.scoped), 180_000)
  })

  afterAll(() => {
    expect([...started].filter((pid) => Processes.isRunning(pid))).toEqual([])
  })
})
