/**
 * What `AppServer.request` and `server.experimental.request` refuse before sending, on the FakeAppServer (which
 * records every line the client writes, so "never sent" is observable): params with a key the protocol does not
 * declare (a typo), unless the caller opts out, and experimental requests on a connection that did not opt in.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { AppServer, Codex } from "effect-codex"
import { FakeAppServer } from "@effect-codex/testing"

/** The methods of every request the fake received. */
const sentMethods = Effect.gen(function*() {
  const fake = yield* FakeAppServer.FakeAppServer
  const received = yield* fake.received
  return received.flatMap((r) => (r.kind === "request" && typeof r.message?.["method"] === "string" ? [r.message["method"]] : []))
})

describe("params with keys the protocol does not declare", () => {
  it.effect("a typo'd key is rejected naming it, and never reaches the server", () =>
    Effect.gen(function*() {
      const codex = yield* Codex.Codex
      // a runtime-built or cast object: the type checker cannot see the typo
      const options = JSON.parse(`{ "sandox": "read-only" }`) as Parameters<Codex.Codex["threadStart"]>[0]
      const error = yield* codex.threadStart(options).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "InvalidParamsError", code: -32602, method: "thread/start" })
      expect(error.message).toContain(`["sandox"]`)
      expect(error.message).toContain("allowUnknownKeys")
      expect(yield* sentMethods).not.toContain("thread/start")
    }).pipe(Effect.provide(FakeAppServer.layerCodex())))

  it.effect("a nested unknown key is rejected with its path", () =>
    Effect.gen(function*() {
      const server = yield* AppServer.AppServer
      const params = {
        threadId: "thr-1",
        input: [{ type: "text", text: "hi", text_elements: [], txet: "typo" }]
      } as unknown as AppServer.RequestArgs<"turn/start">[0]
      const error = yield* server.request("turn/start", params).pipe(Effect.flip)
      expect(error._tag).toBe("InvalidParamsError")
      expect(error.message).toContain(`["input"][0]["txet"]`)
      expect(yield* sentMethods).not.toContain("turn/start")
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))

  it.effect("the opt-out sends a deliberate extra key as given", () =>
    Effect.gen(function*() {
      const server = yield* AppServer.AppServer
      const fake = yield* FakeAppServer.FakeAppServer
      const params = { ephemeral: true, futureOption: { enabled: true } } as AppServer.RequestArgs<"thread/start">[0]
      yield* server.request("thread/start", params, { allowUnknownKeys: true })
      const [sent] = yield* fake.requests("thread/start")
      expect(sent?.params).toEqual({ ephemeral: true, futureOption: { enabled: true } })
      // the opt-out does not relax the rest of the schema
      const wrong = yield* server.request("thread/start", { ephemeral: "yes" } as unknown as typeof params, {
        allowUnknownKeys: true
      }).pipe(Effect.flip)
      expect(wrong._tag).toBe("InvalidParamsError")
      expect(wrong.message).toContain(`["ephemeral"]`)
      expect(yield* fake.requests("thread/start")).toHaveLength(1)
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))

  it.effect("the connection-wide opt-out lets Codex.threadStart send a field the pinned protocol does not know", () =>
    Effect.gen(function*() {
      const codex = yield* Codex.Codex
      const fake = yield* FakeAppServer.FakeAppServer
      const options = { ephemeral: true, newerCodexField: 1 } as AppServer.RequestArgs<"thread/start">[0]
      yield* codex.threadStart(options)
      const [sent] = yield* fake.requests("thread/start")
      expect(sent?.params).toEqual({ ephemeral: true, newerCodexField: 1 })
      // a request can still ask for the check
      const checked = yield* codex.server.request("thread/start", options, { allowUnknownKeys: false }).pipe(Effect.flip)
      expect(checked.message).toContain(`["newerCodexField"]`)
    }).pipe(Effect.provide(FakeAppServer.layerCodex({ allowUnknownKeys: true }))))

  it.effect("keys inside free-form values (config maps, JSON Schemas) are not restricted", () =>
    Effect.gen(function*() {
      const server = yield* AppServer.AppServer
      const fake = yield* FakeAppServer.FakeAppServer
      yield* server.request("thread/start", { config: { "model_providers.mock.name": "mock", anything: { at: 1 } } })
      expect(yield* fake.requests("thread/start")).toHaveLength(1)
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))
})

describe("the experimental API without the opt-in", () => {
  it.effect("is refused with ExperimentalApiNotEnabledError and never sent", () =>
    Effect.gen(function*() {
      const server = yield* AppServer.AppServer
      expect(server.experimental.enabled).toBe(false)
      const error = yield* server.experimental.request("memory/status", {}).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "ExperimentalApiNotEnabledError", method: "memory/status" })
      expect(error.message).toContain("experimentalApi: true")
      expect(yield* sentMethods).not.toContain("memory/status")
    }).pipe(Effect.provide(FakeAppServer.layerAppServer())))

  it.effect("with the opt-in, checks params against the experimental schema before sending", () =>
    Effect.gen(function*() {
      const server = yield* AppServer.AppServer
      expect(server.experimental.enabled).toBe(true)
      const error = yield* server.experimental.request("memory/status", { minConsolidated: 3 } as never).pipe(Effect.flip)
      expect(error._tag).toBe("InvalidParamsError")
      expect(error.message).toContain(`["minConsolidated"]`)
      expect(yield* sentMethods).not.toContain("memory/status")
    }).pipe(Effect.provide(FakeAppServer.layerAppServer({ experimentalApi: true }))))
})
