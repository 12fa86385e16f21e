/**
 * The remote transport against a real `codex app-server --listen` that the test starts (ws:// with a capability
 * token, and unix://), on the MockModel and a temporary CODEX_HOME: a real turn over the socket, typed errors at
 * layer build for a wrong or missing token, an address where nothing listens, an invalid address and a server that
 * never completes the upgrade; a server killed mid-turn fails the turn and pending calls typed; closing the layer
 * leaves the server running.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Tracer from "effect/Tracer"
import { AppServer, Codex, type Errors, NodeCodex } from "effect-codex"
import { CodexTest, MockModel, Processes } from "@effect-codex/testing"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { recordingTracer } from "../support/tracing.js"

const environment = Layer.merge(MockModel.layer, CodexTest.codexHomeLayer)

const connectError = (options: Codex.RemoteOptions) =>
  Effect.flip(Effect.scoped(Layer.build(NodeCodex.layerRemote(options)))) as Effect.Effect<
    Errors.AppServerConnectError
  >

/** A TCP port with nothing listening on it: bound by the OS, then released. */
const freePort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })
)

for (const listen of ["ws", "unix"] as const) {
  describe(`a running app-server over ${listen}`, () => {
    it.live("runs a real turn; closing the layer closes the connection and leaves the server running", () =>
      Effect.gen(function*() {
        const mock = yield* MockModel.MockModel
        yield* mock.enqueue(MockModel.text("Hello over the socket", { deltas: ["Hello ", "over the socket"] }))
        const server = yield* CodexTest.listeningServer({ listen })
        expect(server.url.startsWith(listen === "ws" ? "ws://127.0.0.1:" : "unix:///")).toBe(true)
        const remote = NodeCodex.layerRemote({ url: server.url, token: server.token })

        const { threadId, result, pid } = yield* Effect.gen(function*() {
          const codex = yield* Codex.Codex
          const thread = yield* codex.threadStart()
          const result = yield* thread.run("Hi")
          return { threadId: thread.id, result, pid: codex.server.pid }
        }).pipe(Effect.provide(remote))
        expect(result.status).toBe("completed")
        expect(result.finalResponse).toBe("Hello over the socket")
        expect(pid).toBeUndefined()

        // The first connection is closed; the server still runs, with the thread, for the next one.
        expect(Processes.isRunning(server.pid)).toBe(true)
        const turns = yield* Effect.gen(function*() {
          const codex = yield* Codex.Codex
          return (yield* codex.thread(threadId).read()).turns.length
        }).pipe(Effect.provide(remote))
        expect(turns).toBe(1)
      }).pipe(Effect.scoped, Effect.provide(environment)))

    it.live("a server killed mid-turn fails the turn and the pending calls with AppServerExitedError", () =>
      Effect.gen(function*() {
        const mock = yield* MockModel.MockModel
        yield* mock.enqueue(MockModel.stall())
        const server = yield* CodexTest.listeningServer({ listen })
        yield* Effect.gen(function*() {
          const codex = yield* Codex.Codex
          const thread = yield* codex.threadStart()
          const turn = yield* thread.run("never ending").pipe(Effect.flip, Effect.forkScoped)
          yield* mock.awaitResponsesRequests(1)
          yield* server.kill()
          // The running turn fails, and so does a call made as the connection drops (pending when the drop is
          // seen, or refused after it: either way typed, never a hang).
          const [turnError, callError] = yield* Effect.all([Fiber.join(turn), codex.models().pipe(Effect.flip)], {
            concurrency: "unbounded"
          })
          expect(turnError).toMatchObject({ _tag: "AppServerExitedError" })
          expect(turnError.message).toContain("the connection to")
          expect(callError).toMatchObject({ _tag: "AppServerExitedError", method: "model/list" })
        }).pipe(Effect.scoped, Effect.provide(NodeCodex.layerRemote({ url: server.url, token: server.token })))
      }).pipe(Effect.scoped, Effect.provide(environment)))
  })
}

describe("connecting to a running app-server fails typed at layer build", () => {
  it.live("a wrong token is Unauthorized, a missing one too; the right one connects; no token in errors or spans", () =>
    Effect.gen(function*() {
      const server = yield* CodexTest.listeningServer({ listen: "ws", token: "the-right-token" })
      const { spans, tracer } = recordingTracer()
      const wrong = yield* connectError({
        url: server.url,
        token: Redacted.make("a-wrong-token"),
        connectTimeout: Duration.minutes(5)
      }).pipe(Effect.provideService(Tracer.Tracer, tracer))
      expect(wrong).toMatchObject({ _tag: "AppServerConnectError", kind: "Unauthorized", address: server.url })
      expect(wrong.message).toContain("refused the token (HTTP 401)")
      expect(JSON.stringify(wrong)).not.toContain("a-wrong-token")
      expect(String(wrong.cause)).not.toContain("a-wrong-token")

      const missing = yield* connectError({ url: server.url, connectTimeout: Duration.minutes(5) })
      expect(missing).toMatchObject({ kind: "Unauthorized" })
      expect(missing.message).toContain("requires a token")

      // The right token, padded as a token file's content often is, connects.
      const models = yield* AppServer.request("model/list", {}).pipe(
        Effect.provide(NodeCodex.layerAppServerRemote({ url: server.url, token: Redacted.make(" the-right-token\n") })),
        Effect.provideService(Tracer.Tracer, tracer)
      )
      expect(models.data.length).toBeGreaterThan(0)
      // Neither token is in a span: the connects were traced, with the address only.
      const connects = spans.filter((span) => span.name === "Transport.remote")
      expect(connects).toHaveLength(2)
      expect(connects[0]!.attributes.get("address")).toBe(server.url)
      const recorded = JSON.stringify(
        spans.map((span) => [span.name, [...span.attributes.entries()], span.status]),
        (_key, value) => typeof value === "bigint" ? value.toString() : value
      )
      expect(recorded).not.toContain("a-wrong-token")
      expect(recorded).not.toContain("the-right-token")

      // So do the address and the token from the environment.
      const fromEnvironment = yield* Effect.gen(function*() {
        const codex = yield* Codex.Codex
        return (yield* codex.models()).data.length
      }).pipe(
        Effect.provide(NodeCodex.layerRemoteFromEnv()),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
          CODEX_APP_SERVER_URL: server.url,
          CODEX_APP_SERVER_TOKEN: "the-right-token"
        })))
      )
      expect(fromEnvironment).toBe(models.data.length)

      // And from the Configs given for them (Config.Wrap), whatever their names.
      const fromConfig = yield* Effect.gen(function*() {
        const codex = yield* Codex.Codex
        return (yield* codex.models()).data.length
      }).pipe(
        Effect.provide(NodeCodex.layerRemoteConfig({
          url: Config.String("APP_SERVER_URL"),
          token: Config.Redacted("APP_SERVER_TOKEN")
        })),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
          APP_SERVER_URL: server.url,
          APP_SERVER_TOKEN: "the-right-token"
        })))
      )
      expect(fromConfig).toBe(models.data.length)
    }).pipe(Effect.scoped, Effect.provide(environment)))

  it.live("nothing listening is Unreachable, for a TCP port and for a unix socket path", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const tcp = yield* connectError({ url: `ws://127.0.0.1:${port}`, connectTimeout: Duration.minutes(5) })
      expect(tcp).toMatchObject({ kind: "Unreachable", address: `ws://127.0.0.1:${port}` })
      expect(tcp.message).toContain("ECONNREFUSED")

      const socket = path.join(tmpdir(), `effect-codex-no-such-${process.pid}.sock`)
      const unix = yield* connectError({ url: `unix://${socket}`, connectTimeout: Duration.minutes(5) })
      expect(unix).toMatchObject({ kind: "Unreachable" })
      expect(unix.message).toContain("ENOENT")
    }))

  it.live("an address that is not ws://, wss:// or unix:///absolute is InvalidAddress", () =>
    Effect.gen(function*() {
      const errors = yield* Effect.forEach(
        ["http://127.0.0.1:1", "unix://relative.sock", "127.0.0.1:4500"],
        (url) => connectError({ url })
      )
      expect(errors.map((error) => error.kind)).toEqual(["InvalidAddress", "InvalidAddress", "InvalidAddress"])
    }))

  it.live("a server that accepts the connection but never answers the upgrade is a Timeout, not a hang", () =>
    Effect.gen(function*() {
      const silent = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<Net.Server>((resolve) => {
            const server = Net.createServer(() => {})
            server.listen(0, "127.0.0.1", () => resolve(server))
          })
        ),
        (server) =>
          Effect.sync(() => {
            server.close()
            server.unref()
          })
      )
      const port = (silent.address() as Net.AddressInfo).port
      const error = yield* connectError({ url: `ws://127.0.0.1:${port}`, connectTimeout: Duration.millis(300) })
      expect(error).toMatchObject({ kind: "Timeout", reason: "the connection did not open within 300 ms" })
    }).pipe(Effect.scoped))
})
