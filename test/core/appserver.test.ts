/**
 * The core against the real pinned codex binary: handshake, typed requests, error classification,
 * a server killed mid-request, and no process left behind however the scope ends.
 */
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { AppServer, NodeCodex, RpcPeer, Transport } from "effect-codex"
import { Processes } from "@effect-codex/testing"

/** A fresh CODEX_HOME for one test, removed with the scope. */
const tempHome = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(path.join(tmpdir(), "effect-codex-home-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** The server layer on a fresh home, as a scoped effect giving the service. */
const startServer = Effect.gen(function*() {
  const codexHome = yield* tempHome
  const context = yield* Layer.build(NodeCodex.layerAppServer({ codexHome }))
  return { server: context.mapUnsafe.get(AppServer.AppServer.key) as AppServer.AppServer, codexHome }
})

describe("AppServer on the real codex binary", () => {
  it.live("performs the handshake and answers typed requests", () =>
    Effect.gen(function*() {
      const { server, codexHome } = yield* startServer
      expect(server.metadata.codexHome).toBe(codexHome)
      expect(server.metadata.userAgent).toMatch(/^effect-codex\//)
      expect(server.pid).toBeGreaterThan(0)
      const models = yield* server.request("model/list", {})
      expect(models.data.length).toBeGreaterThan(0)
      const started = yield* server.request("thread/start", { ephemeral: true })
      expect(started.thread.id).toMatch(/\S/)
      const logout = yield* server.request("account/logout")
      expect(logout).toEqual({})
    }).pipe(Effect.scoped))

  it.live("classifies an unknown method and bad params", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer
      const unknown = yield* server.request("no/such/method" as "model/list", {}).pipe(Effect.flip)
      expect(unknown._tag).toBe("MethodNotFoundError")
      // codex lists every method it knows: the list is a field, the message stays short.
      if (unknown._tag !== "MethodNotFoundError") return
      expect(unknown.expected).toEqual(expect.arrayContaining(["initialize", "thread/start", "turn/start"]))
      expect(unknown.message).toBe(
        `Invalid request: unknown variant \`no/such/method\` (the server knows ${unknown.expected!.length} methods, listed in \`expected\`)`
      )
      // Checked before sending: the server never sees params of the wrong shape.
      const local = yield* server.request("thread/start", { cwd: 5 as unknown as string }).pipe(Effect.flip)
      expect(local).toMatchObject({ _tag: "InvalidParamsError", code: -32602, method: "thread/start" })
      expect(local.message).toContain(`["cwd"]`)
    }).pipe(Effect.scoped))

  it.live("sends the server's own invalid-params answer through as InvalidParamsError", () =>
    Effect.gen(function*() {
      const codexHome = yield* tempHome
      const connection = yield* Transport.stdio({ codexHome })
      const peer = yield* RpcPeer.make(connection)
      yield* peer.request("initialize", { clientInfo: { name: "t", title: null, version: "0" } })
      const error = yield* peer.request("thread/start", { cwd: 5 }).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "InvalidParamsError", code: -32600, method: "thread/start" })
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

  it.live("fails every pending request with AppServerExitedError within 1 s when the server is killed", () =>
    Effect.gen(function*() {
      const { server } = yield* startServer
      const pid = server.pid!
      // Freeze the server so the requests are surely pending, then kill it.
      process.kill(pid, "SIGSTOP")
      const pending = yield* Effect.forEach(
        ["model/list", "thread/list", "model/list"] as const,
        (method) => server.request(method, {}).pipe(Effect.flip, Effect.forkScoped)
      )
      yield* Effect.sleep("100 millis")
      const killedAt = Date.now()
      process.kill(pid, "SIGKILL")
      const errors = yield* Effect.forEach(pending, Fiber.join)
      const settledIn = Date.now() - killedAt
      expect(settledIn).toBeLessThan(1000)
      for (const error of errors) {
        expect(error).toMatchObject({ _tag: "AppServerExitedError", signal: "SIGKILL" })
      }
      expect(errors.map((error) => (error as { method?: string }).method)).toEqual([
        "model/list",
        "thread/list",
        "model/list"
      ])
      const later = yield* server.request("model/list", {}).pipe(Effect.flip)
      expect(later._tag).toBe("AppServerExitedError")
    }).pipe(Effect.scoped))

  it.live("leaves no process behind when the scope closes normally, on interruption and on failure", () =>
    Effect.gen(function*() {
      // Normal close.
      const normal = yield* Effect.scoped(Effect.map(startServer, ({ server }) => server.pid!))
      expect(Processes.isRunning(normal)).toBe(false)

      // Interruption while the server is in use.
      let interruptedPid = 0
      const fiber = yield* Effect.scoped(
        Effect.gen(function*() {
          const { server } = yield* startServer
          interruptedPid = server.pid!
          return yield* Effect.never
        })
      ).pipe(Effect.forkChild)
      while (interruptedPid === 0) yield* Effect.sleep("20 millis")
      expect(Processes.isRunning(interruptedPid)).toBe(true)
      yield* Fiber.interrupt(fiber)
      expect(Processes.isRunning(interruptedPid)).toBe(false)

      // Failure inside the scope.
      let failedPid = 0
      const exit = yield* Effect.scoped(
        Effect.gen(function*() {
          const { server } = yield* startServer
          failedPid = server.pid!
          return yield* Effect.fail("boom" as const)
        })
      ).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(Processes.isRunning(failedPid)).toBe(false)
    }))
})
