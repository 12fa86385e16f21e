/**
 * codex's experimental API on the real pinned binary: an experimental method works on a connection that opted in
 * (`experimentalApi: true`), is refused before sending on one that did not, and codex's own refusal (when a request
 * reaches it anyway) is the same tagged error.
 */
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { AppServer, NodeCodex, RpcPeer, Transport } from "effect-codex"

/** A fresh CODEX_HOME for one test, removed with the scope. */
const tempHome = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(path.join(tmpdir(), "effect-codex-home-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const startServer = (experimentalApi: boolean) =>
  Effect.gen(function*() {
    const codexHome = yield* tempHome
    const context = yield* Layer.build(NodeCodex.layerAppServer({ codexHome, experimentalApi }))
    return context.mapUnsafe.get(AppServer.AppServer.key) as AppServer.AppServer
  })

describe("the experimental API on the real codex binary", () => {
  it.live("works when the connection opted in: an experimental method, and an experimental field", () =>
    Effect.gen(function*() {
      const server = yield* startServer(true)
      expect(server.experimental.enabled).toBe(true)
      // reads codex's collaboration mode presets
      const modes = yield* server.experimental.request("collaborationMode/list", {})
      expect(modes.data.length).toBeGreaterThan(0)
      expect(modes.data.every((mode) => typeof mode.name === "string")).toBe(true)
      const echoed = yield* server.experimental.request("mock/experimentalMethod", { value: "ping" })
      expect(echoed.echoed).toBe("ping")
      // an experimental field of a stable method
      const started = yield* server.experimental.request("thread/start", {
        ephemeral: true,
        dynamicTools: [{ type: "function", name: "clock", description: "Reads the clock", inputSchema: { type: "object" } }]
      })
      expect(started.thread.id).toMatch(/\S/)
      // the stable surface is unchanged on the same connection
      const models = yield* server.request("model/list", {})
      expect(models.data.length).toBeGreaterThan(0)
    }).pipe(Effect.scoped))

  it.live("is refused clearly when it did not: before sending, and by codex itself with the same error", () =>
    Effect.gen(function*() {
      const server = yield* startServer(false)
      const refused = yield* server.experimental.request("collaborationMode/list", {}).pipe(Effect.flip)
      expect(refused).toMatchObject({ _tag: "ExperimentalApiNotEnabledError", method: "collaborationMode/list" })
      expect(refused.message).toContain("experimentalApi: true")
      // an experimental field through the stable request: refused before sending, pointing at the experimental API
      const field = yield* server.request("thread/start", { dynamicTools: [] } as never).pipe(Effect.flip)
      expect(field._tag).toBe("InvalidParamsError")
      expect(field.message).toContain("experimental field")
      // sent anyway (opt-out of the key check): codex refuses it, and the refusal gets the same tag
      const byCodex = yield* server.request("thread/start", { dynamicTools: [] } as never, { allowUnknownKeys: true }).pipe(
        Effect.flip
      )
      expect(byCodex).toMatchObject({
        _tag: "ExperimentalApiNotEnabledError",
        code: -32600,
        message: "thread/start.dynamicTools requires experimentalApi capability"
      })
    }).pipe(Effect.scoped))

  it.live("codex's answer to an experimental method without the opt-in is ExperimentalApiNotEnabledError", () =>
    Effect.gen(function*() {
      const codexHome = yield* tempHome
      const connection = yield* Transport.stdio({ codexHome })
      const peer = yield* RpcPeer.make(connection)
      yield* peer.request("initialize", {
        clientInfo: { name: "t", title: null, version: "0" },
        capabilities: { experimentalApi: false }
      })
      const error = yield* peer.request("collaborationMode/list", {}).pipe(Effect.flip)
      expect(error).toMatchObject({
        _tag: "ExperimentalApiNotEnabledError",
        code: -32600,
        message: "collaborationMode/list requires experimentalApi capability"
      })
    }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
})
