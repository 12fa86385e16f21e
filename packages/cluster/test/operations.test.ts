/**
 * Operating the cluster, in this process on real parts (a throwaway PostgreSQL, the real codex binary, one echoing
 * MockModel): a runner and a client in one process answer turns; the runner logs what it does with its address; a
 * message with no runner to take it fails typed instead of waiting; a client or a connection without the cluster's
 * secret is refused, and the runner logs the attempt.
 */
import { describe, expect, it } from "@effect/vitest"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Redacted from "effect/Redacted"
import * as References from "effect/References"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { ClusterMetrics, CodexCluster, CodexRunner } from "@effect-codex/cluster"
import { MockModel, Postgres } from "@effect-codex/testing"
import * as Local from "../../../examples/cluster/local.js"
import { mkdtempSync, rmSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import * as path from "node:path"

interface Logged {
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** A logger that keeps every message with its annotations. */
const recording = () => {
  const logged: Array<Logged> = []
  const logger = Logger.make((options) => {
    logged.push({
      message: String(options.message),
      annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) }
    })
  })
  return { logged, layer: Logger.layer([logger], { mergeWithExisting: false }) }
}

const database = Layer.unwrap(Effect.map(Postgres.Postgres, (server) => PgClient.layer({ url: Redacted.make(server.url) })))

/** A runner in this process on a free port and a home of its own, with `secret`. */
const runnerLayer = (secret: Redacted.Redacted<string>) =>
  Effect.gen(function*() {
    const mock = yield* MockModel.MockModel
    const port = yield* Local.freePort
    const codexHome = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(path.join(tmpdir(), "effect-codex-ops-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    const name = `127.0.0.1:${port}`
    const layer = CodexRunner.layer({ codexHome, host: "127.0.0.1", port, secret, pool: { size: 1, config: mock.codexConfig } })
    return { name, port, layer }
  })

const secret = Redacted.make("the cluster's secret")

/** Waits until `check` holds (polling every 100 ms, for at most 30 s). */
const eventually = (check: () => boolean) =>
  Effect.sync(check).pipe(
    Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("100 millis") }),
    Effect.timeout("30 seconds")
  )

describe("operating @effect-codex/cluster", () => {
  it.live("a runner and a client in one process answer turns; the runner logs, with its address, its join, its shards and the conversation's arrival", () =>
    Effect.gen(function*() {
      const { layer: logs, logged } = recording()
      const runner = yield* runnerLayer(secret)
      const services = yield* Layer.build(
        Layer.merge(
          runner.layer,
          Layer.effect(Client)(Effect.service(CodexCluster.CodexCluster)).pipe(Layer.provide(CodexCluster.layerClient({ secret })))
        ).pipe(Layer.provide(database), Layer.provide(logs))
      )
      const client = Context.get(services, Client)
      const onRunner = Context.get(services, CodexCluster.CodexCluster)

      const result = yield* client.conversation("one-process").runTurn("ask:first", { turnKey: "one-process/1" })
      expect(result.finalResponse).toBe(Local.expected(["first"]))
      // The runner's own CodexCluster reaches the same conversation.
      const next = yield* onRunner.conversation("one-process").runTurn("ask:second", { turnKey: "one-process/2" })
      expect(next.finalResponse).toBe(Local.expected(["first", "second"]))
      expect(yield* client.conversation("one-process").runner).toBe(runner.name)
      expect((yield* Metric.value(ClusterMetrics.pendingMessages)).value).toBe(0)
      const completed = yield* Metric.value(Metric.withAttributes(ClusterMetrics.storeLatency, { operation: "complete" }))
      expect(completed.count).toBeGreaterThanOrEqual(2)

      const byRunner = (message: string) =>
        logged.filter((entry) => entry.message === message && entry.annotations.runner === runner.name)
      yield* eventually(() => byRunner("shards acquired").length > 0)
      expect(byRunner("runner joined the cluster")).toHaveLength(1)
      expect(byRunner("shards acquired")[0]!.annotations).toMatchObject({ count: 300, shards: "default:1-300" })
      expect(byRunner("a conversation arrived").map((entry) => entry.annotations.conversation)).toContain("one-process")
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.merge(Postgres.layer(), MockModel.layerWith({ defaultReply: Local.echo })))
    ), 120_000)

  it.live("a message with no runner registered fails with NoRunnerError after noRunnerTimeout", () =>
    Effect.gen(function*() {
      const cluster = yield* Layer.build(
        CodexCluster.layerClient({ secret, noRunnerTimeout: "1 second" }).pipe(Layer.provide(database))
      ).pipe(Effect.map(Context.get(CodexCluster.CodexCluster)))
      const started = Date.now()
      const error = yield* Effect.flip(cluster.conversation("nobody").runTurn("ask:hello", { turnKey: "nobody/1" }))
      expect(error).toMatchObject({ _tag: "NoRunnerError", conversation: "nobody", registered: 0 })
      expect(error.message).toContain("no runner is registered")
      expect(Date.now() - started).toBeLessThan(10_000)
      // Streams fail the same way.
      const streamed = yield* Effect.flip(
        Effect.scoped(Effect.asVoid(cluster.conversation("nobody").streamTurn("ask:hello").pipe(Stream.runDrain)))
      )
      expect(streamed).toMatchObject({ _tag: "NoRunnerError" })
    }).pipe(Effect.scoped, Effect.provide(Postgres.layer())), 60_000)

  it.live("a client with another secret is refused (NoRunnerError, the runner logs it); so is a connection that does not open with the secret's proof", () =>
    Effect.gen(function*() {
      const { layer: logs, logged } = recording()
      const runner = yield* runnerLayer(secret)
      yield* Layer.build(runner.layer.pipe(Layer.provide(database), Layer.provide(logs)))
      const intruder = yield* Layer.build(
        CodexCluster.layerClient({ secret: Redacted.make("a guess"), noRunnerTimeout: "2 seconds" }).pipe(
          Layer.provide(database)
        )
      ).pipe(Effect.map(Context.get(CodexCluster.CodexCluster)))
      // Messages that are not persisted go over the runner socket only. (A persisted RunTurn goes through the database,
      // which this client can write to: the database must stay as private as the secret.)
      const error = yield* Effect.flip(intruder.conversation("guarded").read)
      expect(error).toMatchObject({ _tag: "NoRunnerError", registered: 1 })

      const refusals = () => logged.filter((entry) => entry.message === "refused a connection to the runner socket")
      expect(refusals().length).toBeGreaterThan(0)
      expect(refusals()[0]!.annotations).toMatchObject({ reason: "wrong secret" })
      expect(String(refusals()[0]!.annotations.peer)).toMatch(/^127\.0\.0\.1:\d+$/)

      // A raw connection that sends an RPC request straight away is closed without an answer.
      const before = refusals().length
      const answer = yield* Effect.callback<string>((resume) => {
        const socket = connect(runner.port, "127.0.0.1", () => socket.write(`{"_tag":"Ping"}\n`))
        let received = ""
        socket.on("data", (chunk) => received += chunk.toString())
        socket.on("close", () => resume(Effect.succeed(received)))
        socket.on("error", () => undefined)
      })
      expect(answer).toBe("")
      yield* eventually(() => refusals().length > before)

      // The cluster's own client gets in.
      const cluster = yield* Layer.build(CodexCluster.layerClient({ secret }).pipe(Layer.provide(database))).pipe(
        Effect.map(Context.get(CodexCluster.CodexCluster))
      )
      expect((yield* cluster.conversation("guarded").runTurn("ask:hello", { turnKey: "guarded/1" })).finalResponse)
        .toBe(Local.expected(["hello"]))
    }).pipe(
      Effect.scoped,
      Effect.provide(Layer.merge(Postgres.layer(), MockModel.layerWith({ defaultReply: Local.echo })))
    ), 120_000)
})

/** The client's `CodexCluster`, kept apart from the runner's in the test's context. */
class Client extends Context.Service<Client, CodexCluster.CodexCluster["Service"]>()("test/Client") {}
