/**
 * Thread lifecycle on the real codex binary: resume in a new server on the same CODEX_HOME, fork,
 * list (paged as a Stream), read, rename, archive and unarchive; unsubscribe, after which a resume reads the
 * rollout file again.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { AppServer, Codex, NodeCodex } from "effect-codex"
import { CodexTest, MockModel } from "@effect-codex/testing"
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"

/** A Codex on its own server process, over the MockModel and CodexHome in context. */
const codexOnSharedHome = Codex.layer().pipe(Layer.provide(CodexTest.appServerLayer()))
const sharedHome = Layer.merge(MockModel.layer, CodexTest.codexHomeLayer)

describe("thread lifecycle", () => {
  it.live("resumes a thread in a new server on the same CODEX_HOME", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.text("first answer"), MockModel.text("second answer"))
      const firstPid = { value: 0 }
      const threadId = yield* Effect.gen(function*() {
        const codex = yield* Codex.Codex
        firstPid.value = codex.server.pid!
        const thread = yield* codex.threadStart()
        yield* thread.run("remember this")
        return thread.id
      }).pipe(Effect.provide(codexOnSharedHome))

      const { pid, turns, finalResponse } = yield* Effect.gen(function*() {
        const codex = yield* Codex.Codex
        const thread = yield* codex.threadResume(threadId)
        const result = yield* thread.run("and now?")
        const info = yield* thread.read()
        return { pid: codex.server.pid!, turns: info.turns.length, finalResponse: result.finalResponse }
      }).pipe(Effect.provide(codexOnSharedHome))

      expect(pid).not.toBe(firstPid.value)
      expect(turns).toBe(2)
      expect(finalResponse).toBe("second answer")
      const requests = yield* mock.responsesRequests
      // The resumed thread sent the first exchange along with the new prompt.
      expect(JSON.stringify(requests[1]!.body)).toContain("remember this")
    }).pipe(Effect.provide(sharedHome)))

  it.live("threadUnsubscribe unloads a thread (thread_unload_delay_secs=0): a resume then loads its rollout file, with turns run elsewhere, where a resume of the loaded thread rejoins its stale copy", () =>
    Effect.gen(function*() {
      const unloadAtOnce = { config: ["thread_unload_delay_secs=0"] }
      const mock = yield* MockModel.MockModel
      const home = yield* CodexTest.CodexHome
      const codex = yield* Codex.Codex
      const server = yield* AppServer.AppServer
      const thread = yield* codex.threadStart()
      yield* thread.run("zq-one")
      const rollout = (yield* thread.read({ includeTurns: false })).path!
      const relative = path.relative(home.path, rollout)

      // A second server on a home of its own runs a turn on a copy of the rollout, which is then copied back.
      const elsewhere = mkdtempSync(path.join(tmpdir(), "effect-codex-elsewhere-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(elsewhere, { recursive: true, force: true })))
      const other = Context.get(
        yield* Layer.build(
          Codex.layer().pipe(
            Layer.provide(CodexTest.appServerLayer(unloadAtOnce)),
            Layer.provide(Layer.succeed(CodexTest.CodexHome)({ path: elsewhere })),
            Layer.provide(Layer.succeed(MockModel.MockModel)(mock))
          )
        ),
        Codex.Codex
      )
      const runElsewhere = (text: string) =>
        Effect.gen(function*() {
          mkdirSync(path.dirname(path.join(elsewhere, relative)), { recursive: true })
          copyFileSync(rollout, path.join(elsewhere, relative))
          const copy = yield* other.threadResume(thread.id)
          yield* copy.run(text)
          yield* other.threadUnsubscribe(thread.id)
          copyFileSync(path.join(elsewhere, relative), rollout)
        })
      const lastRequest = Effect.map(mock.responsesRequests, (requests) => JSON.stringify(requests.at(-1)!.body))

      // Still loaded here: the resume rejoins the copy in memory, which has not seen zq-two.
      yield* runElsewhere("zq-two")
      yield* (yield* codex.threadResume(thread.id)).run("zq-three")
      expect(yield* lastRequest).not.toContain("zq-two")

      // Unsubscribed, so unloaded: the resume reads the file, with the turn run elsewhere.
      expect(yield* codex.threadUnsubscribe(thread.id)).toBe("unsubscribed")
      // It closes after the answer: asked again, codex says "notLoaded" once it has.
      yield* codex.threadUnsubscribe(thread.id).pipe(
        Effect.repeat({ until: (status) => status === "notLoaded", schedule: Schedule.spaced("20 millis") }),
        Effect.timeout("10 seconds")
      )
      const loaded = yield* server.request("thread/loaded/list", {})
      expect(loaded.data).not.toContain(thread.id)
      yield* runElsewhere("zq-four")
      yield* (yield* codex.threadResume(thread.id)).run("zq-five")
      expect(yield* lastRequest).toContain("zq-four")
      expect(yield* codex.threadUnsubscribe("00000000-0000-0000-0000-000000000000")).toBe("notLoaded")
    }).pipe(Effect.provide(CodexTest.layer({ config: ["thread_unload_delay_secs=0"] }))))

  it.live("forks, lists, renames, archives and unarchives threads", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.setDefaultReply(MockModel.text("ok"))
      const codex = yield* Codex.Codex
      const original = yield* codex.threadStart()
      yield* original.run("hello")
      const fork = yield* codex.threadFork(original.id)
      expect(fork.id).not.toBe(original.id)
      expect(fork.info.forkedFromId).toBe(original.id)

      yield* original.setName("the original")
      const read = yield* original.read()
      expect(read.name).toBe("the original")
      expect(read.turns).toHaveLength(1)

      const listed = yield* codex.threads({ limit: 1 }).pipe(Stream.map((thread) => thread.id), Stream.runCollect)
      expect(new Set(listed)).toEqual(new Set([original.id, fork.id]))

      yield* codex.threadArchive(fork.id)
      const active = yield* codex.threads().pipe(Stream.map((thread) => thread.id), Stream.runCollect)
      expect(active).toEqual([original.id])
      const archived = yield* codex.threadList({ archived: true })
      expect(archived.data.map((thread) => thread.id)).toEqual([fork.id])

      const restored = yield* codex.threadUnarchive(fork.id)
      expect(restored.id).toBe(fork.id)
      const all = yield* codex.threads().pipe(Stream.runCollect)
      expect(all).toHaveLength(2)
    }).pipe(Effect.provide(CodexTest.layer())))

  it.live("lists models and reads the (signed-out) account", () =>
    Effect.gen(function*() {
      const codex = yield* Codex.Codex
      const models = yield* codex.models()
      expect(models.data.length).toBeGreaterThan(0)
      const account = yield* codex.account
      expect(account.account).toBeNull()
    }).pipe(Effect.provide(CodexTest.layer())))
})

describe("NodeCodex.layerFromEnv", () => {
  it.live("reads CODEX_HOME and CODEX_MODEL from the environment", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const home = yield* CodexTest.CodexHome
      const { metadata, model } = yield* Effect.gen(function*() {
        const codex = yield* Codex.Codex
        const thread = yield* codex.threadStart()
        return { metadata: codex.server.metadata, model: thread.response.model }
      }).pipe(
        Effect.provide(NodeCodex.layerFromEnv({ config: mock.codexConfig.filter((entry) => !entry.startsWith("model=")) })),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ CODEX_HOME: home.path, CODEX_MODEL: "env-model" })))
      )
      expect(metadata.codexHome).toBe(home.path)
      expect(model).toBe("env-model")
    }).pipe(Effect.provide(sharedHome)))
})

describe("NodeCodex.layerConfig", () => {
  it.live("reads each option from the Config given for it, and no fixed environment name", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const home = yield* CodexTest.CodexHome
      const withoutModel = mock.codexConfig.filter((entry) => !entry.startsWith("model="))
      const { metadata, model } = yield* Effect.gen(function*() {
        const codex = yield* Codex.Codex
        const thread = yield* codex.threadStart()
        return { metadata: codex.server.metadata, model: thread.response.model }
      }).pipe(
        Effect.provide(NodeCodex.layerConfig({
          codexHome: Config.String("APP_CODEX_HOME"),
          config: Config.String("APP_MODEL").pipe(Config.map((name) => [...withoutModel, `model="${name}"`])),
          clientInfo: { name: Config.String("APP_NAME"), version: Config.succeed("1.2.3") }
        })),
        // CODEX_HOME and CODEX_MODEL are set too: layerConfig reads only what it was given.
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({
          APP_CODEX_HOME: home.path,
          APP_MODEL: "config-model",
          APP_NAME: "config-app",
          CODEX_HOME: "/nonexistent/codex-home",
          CODEX_MODEL: "env-model"
        })))
      )
      expect(metadata.codexHome).toBe(home.path)
      expect(metadata.userAgent).toContain("config-app")
      expect(model).toBe("config-model")
    }).pipe(Effect.provide(sharedHome)))

  it.effect("fails with the ConfigError naming a missing setting, before any process starts", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(NodeCodex.layerConfig({ codexHome: Config.String("APP_CODEX_HOME") })).pipe(
        Effect.scoped,
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({}))),
        Effect.flip
      )
      expect(error._tag).toBe("ConfigError")
      expect(String(error)).toContain("APP_CODEX_HOME")
    }))
})
