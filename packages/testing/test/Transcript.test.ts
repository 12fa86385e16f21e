/**
 * Transcripts: a real session on the codex binary tapped into a JSON Lines file, then its server side replayed by
 * a FakeAppServer without the binary.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Approvals, Codex } from "effect-codex"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { CodexTest, MockModel, Transcript } from "../src/index.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(path.join(tmpdir(), "transcript-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const CWD = "/tmp"
const MARKED = "customer-4711-secret"

/** The user's code: one turn that runs a command after an approval, then the thread read back. */
const userCode = (prompt: string, options: { readonly listModels?: boolean } = {}) =>
  Effect.gen(function*() {
    const codex = yield* Codex.Codex
    if (options.listModels === true) yield* codex.models()
    const thread = yield* codex.threadStart({ cwd: CWD, approvalPolicy: "untrusted" })
    const result = yield* thread.run(prompt)
    return {
      threadId: thread.id,
      finalResponse: result.finalResponse,
      items: result.items.map((item) =>
        item.type === "commandExecution" ? { type: item.type, command: item.command, status: item.status } : { type: item.type }
      )
    }
  })

describe("Transcript", () => {
  it.live("taps a real session and replays its server side without the binary; the unexpected fails typed", () =>
    Effect.gen(function*() {
      const file = path.join(yield* tempDir, "session.jsonl")
      const recorded = yield* Effect.gen(function*() {
        const mock = yield* MockModel.MockModel
        yield* mock.enqueue(MockModel.shellCall({ command: "echo hi" }), MockModel.text("Ran it."))
        return yield* userCode(`Run it for ${MARKED}`)
      }).pipe(
        Effect.provide(
          CodexTest.layerTranscript(file, { secrets: [MARKED] }).pipe(Layer.provide(Approvals.acceptAll))
        )
      )
      expect(recorded.finalResponse).toBe("Ran it.")
      expect(recorded.items).toContainEqual(expect.objectContaining({ type: "commandExecution", status: "completed" }))

      const lines = readFileSync(file, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Transcript.Entry)
      expect(lines[0]).toMatchObject({ from: "client", message: { method: "initialize" } })
      expect(lines.some((entry) => entry.from === "server" && (entry.message as { method?: string }).method === "item/commandExecution/requestApproval")).toBe(true)
      expect(readFileSync(file, "utf8")).not.toContain(MARKED)

      // No binary: the FakeAppServer plays the server's side, the real Codex layers the client's (approvals too).
      const replay = Transcript.layerCodexFile(file).pipe(Layer.provide(Approvals.acceptAll))
      const replayed = yield* userCode("Run it for <redacted>").pipe(
        Transcript.failOnMismatch,
        Effect.provide(replay)
      )
      expect(replayed).toEqual(recorded)

      // A request the session never made fails typed, naming it.
      const unexpected = yield* userCode("Run it for <redacted>", { listModels: true }).pipe(
        Transcript.failOnMismatch,
        Effect.flip,
        Effect.provide(replay)
      )
      expect(unexpected).toMatchObject({ _tag: "TranscriptMismatchError", actual: "model/list", expected: "thread/start" })

      // A changed prompt: the turn/start params differ.
      const changed = yield* userCode("Something else").pipe(Transcript.failOnMismatch, Effect.flip, Effect.provide(replay))
      expect(changed).toMatchObject({ _tag: "TranscriptMismatchError", actual: "turn/start", path: "input[0].text" })
    }), { timeout: 120_000 })
})
