/**
 * Cassettes end to end on the real codex binary: recorded through the recording proxy against a real HTTP
 * upstream (the kit's MockModel, which the recorder knows only as a URL), then replayed with the upstream gone.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { Approvals, Codex } from "effect-codex"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Cassette, CodexTest, MockModel } from "../src/index.js"

const PLANTED_KEY = "sk-planted-0123456789abcdefghijklmnop"
const MARKED = "customer-4711-secret"

/** A folder removed with the scope. */
const tempDir = (prefix: string) =>
  Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(path.join(tmpdir(), prefix))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

/** The user's code under test: two turns, the first runs a command after an approval. */
const userCode = (prompt: string) =>
  Effect.gen(function*() {
    const cwd = yield* tempDir("cassette-ws-")
    const asked: Array<string> = []
    const approvals: Approvals.Handlers = {
      "item/commandExecution/requestApproval": (params) => {
        asked.push(params.command ?? "")
        return Effect.succeed({ decision: "accept" })
      }
    }
    const codex = yield* Codex.Codex
    const thread = yield* codex.threadStart({ cwd, approvalPolicy: "untrusted", sandbox: Codex.Sandbox.workspace })
    const first = yield* thread.run(prompt, { approvals })
    const second = yield* thread.run("Thanks, bye")
    const items = [...first.items, ...second.items].map((item) =>
      item.type === "commandExecution"
        ? { type: item.type, command: item.command, status: item.status }
        : item.type === "agentMessage"
        ? { type: item.type, text: item.text }
        : { type: item.type }
    )
    return {
      responses: [first.finalResponse, second.finalResponse],
      items,
      asked,
      created: existsSync(path.join(cwd, "made-by-agent.txt"))
    }
  }).pipe(Effect.scoped)

const PROMPT = `Create the file for ${MARKED}`

describe("Cassette", () => {
  it.live("records through a real upstream, replays offline the same answers, items and approved commands", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("cassette-file-")
      const file = path.join(dir, "session.json")

      const recorded = yield* Effect.gen(function*() {
        const upstream = yield* MockModel.MockModel
        yield* upstream.enqueue(
          MockModel.shellCall({ command: ["touch", "made-by-agent.txt"] }),
          MockModel.text("Created it.", { deltas: ["Crea", "ted it."] }),
          MockModel.text("Bye!")
        )
        const outcome = yield* userCode(PROMPT).pipe(
          Effect.provide(CodexTest.layerCassette(file, {
            mode: "record",
            upstream: upstream.baseUrl,
            apiKey: Redacted.make(PLANTED_KEY),
            secrets: [MARKED]
          }))
        )
        const requests = yield* upstream.responsesRequests
        expect(requests).toHaveLength(3)
        // The recorder forwarded the key upstream; codex itself never had it.
        expect(requests.map((request) => request.headers.authorization)).toEqual(
          Array(3).fill(`Bearer ${PLANTED_KEY}`)
        )
        return outcome
      }).pipe(Effect.scoped, Effect.provide(MockModel.layer))

      expect(recorded).toMatchObject({ responses: ["Created it.", "Bye!"], created: true })
      expect(recorded.asked).toHaveLength(1)

      // The cassette: readable JSON, no secret.
      const text = readFileSync(file, "utf8")
      expect(text).not.toContain(PLANTED_KEY)
      expect(text).not.toContain(MARKED)
      expect(text.toLowerCase()).not.toContain("authorization")
      const cassette = JSON.parse(text) as Cassette.Cassette
      expect(cassette.interactions).toHaveLength(3)
      const firstInput = (cassette.interactions[0]!.summary as { input: ReadonlyArray<unknown> }).input
      expect(firstInput).toContainEqual({ role: "user", content: ["Create the file for <redacted>"] })

      // The upstream is gone: replay serves the cassette.
      const replayed = yield* userCode(PROMPT).pipe(
        Cassette.failOnMismatch,
        Effect.provide(CodexTest.layerCassette(file, { mode: "replay", secrets: [MARKED] }))
      )
      expect(replayed).toEqual(recorded)

      // A changed prompt fails typed, naming the first part that differs.
      const error = yield* userCode("Create the file for someone else").pipe(
        Cassette.failOnMismatch,
        Effect.flip,
        Effect.provide(CodexTest.layerCassette(file, { mode: "replay", secrets: [MARKED] }))
      )
      expect(error._tag).toBe("CassetteMismatchError")
      expect(error).toMatchObject({
        index: 0,
        expected: "Create the file for <redacted>",
        actual: "Create the file for someone else"
      })
      expect((error as Cassette.CassetteMismatchError).path).toMatch(/^input\[\d+\]\.content\[0\]$/)
    }), { timeout: 120_000 })

  it.live("auto mode: no cassette and no key replays (and fails typed); EFFECT_CODEX_RECORD forces recording", () =>
    Effect.gen(function*() {
      const file = path.join(yield* tempDir("cassette-auto-"), "auto.json")
      const noKey = ConfigProvider.layer(ConfigProvider.fromUnknown({}))
      const missing = yield* Effect.gen(function*() {
        yield* Codex.Codex
      }).pipe(Effect.provide(CodexTest.layerCassette(file).pipe(Layer.provide(noKey))), Effect.flip)
      expect(missing).toMatchObject({ _tag: "CassetteReadError", file })

      const forced = ConfigProvider.layer(ConfigProvider.fromUnknown({ EFFECT_CODEX_RECORD: "true" }))
      yield* Effect.gen(function*() {
        const upstream = yield* MockModel.MockModel
        yield* upstream.enqueue(MockModel.text("Recorded."))
        const answer = yield* Effect.gen(function*() {
          const thread = yield* (yield* Codex.Codex).threadStart()
          return (yield* thread.run("Hi")).finalResponse
        }).pipe(Effect.provide(CodexTest.layerCassette(file, { mode: "replay", upstream: upstream.baseUrl }).pipe(Layer.provide(forced))))
        expect(answer).toBe("Recorded.")
      }).pipe(Effect.scoped, Effect.provide(MockModel.layer))
      const cassette = JSON.parse(readFileSync(file, "utf8")) as Cassette.Cassette
      expect(cassette.interactions).toHaveLength(1)
    }), { timeout: 60_000 })

  it.live("replay mode without a cassette fails typed, naming the file", () =>
    Effect.gen(function*() {
      const missing = path.join(tmpdir(), "no-such-cassette.json")
      const run = Effect.gen(function*() {
        yield* Codex.Codex
      })
      const error = yield* run.pipe(Effect.provide(CodexTest.layerCassette(missing, { mode: "replay" })), Effect.flip)
      expect(error).toMatchObject({ _tag: "CassetteReadError", file: missing })
    }))
})

describe("Cassette replay over HTTP", () => {
  const body = (text: string) => ({
    model: "m",
    stream: true,
    prompt_cache_key: "volatile-1",
    input: [{ type: "message", id: "msg_random", role: "user", content: [{ type: "input_text", text }] }]
  })
  const summary = Cassette.summarize(body("hi"))
  const cassette: Cassette.Cassette = {
    version: 1,
    model: "m",
    interactions: [{
      digest: Cassette.digest(summary),
      summary,
      response: {
        status: 200,
        events: [
          { delayMs: 0, event: "response.created", data: { type: "response.created", response: { id: "r" } } },
          { delayMs: 120, event: "response.completed", data: { type: "response.completed", response: { id: "r" } } }
        ]
      }
    }]
  }
  const post = (baseUrl: string, payload: unknown) =>
    Effect.promise(async () => {
      const response = await fetch(`${baseUrl}/responses`, { method: "POST", body: JSON.stringify(payload) })
      return { status: response.status, text: await response.text() }
    })

  it.live("summaries drop ids and cache keys; a matching request gets the events, with the recorded timing on request", () =>
    Effect.gen(function*() {
      expect(summary).toEqual({ model: "m", options: { stream: true }, input: [{ role: "user", content: ["hi"] }] })
      const mock = yield* MockModel.MockModel
      const session = yield* Cassette.Session
      const startedAt = Date.now()
      const answer = yield* post(mock.baseUrl, { ...body("hi"), prompt_cache_key: "volatile-2" })
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(110)
      expect(answer.status).toBe(200)
      expect(answer.text).toContain("event: response.completed")
      yield* session.verify
    }).pipe(Effect.provide(Cassette.replay(cassette, { timing: "recorded" }))))

  it.live("a different request gets a 400 and the session a typed mismatch; fewer requests fail verify", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const session = yield* Cassette.Session
      const unplayed = yield* Effect.flip(session.verify)
      expect(unplayed).toMatchObject({ _tag: "CassetteUnplayedError", played: 0, recorded: 1 })
      const answer = yield* post(mock.baseUrl, body("hello"))
      expect(answer.status).toBe(400)
      expect(answer.text).toContain("input[0].content[0]")
      const mismatch = yield* Effect.flip(session.verify)
      expect(mismatch).toMatchObject({
        _tag: "CassetteMismatchError",
        index: 0,
        path: "input[0].content[0]",
        expected: "hi",
        actual: "hello"
      })
      const extra = yield* post(mock.baseUrl, body("hi"))
      expect(extra.status).toBe(400)
    }).pipe(Effect.provide(Cassette.replay(cassette))))
})
