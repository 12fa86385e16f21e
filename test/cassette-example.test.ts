/**
 * The README's cassette example: a user's function (`examples/cassette/releaseNotes.ts`) tested on a cassette.
 *
 * `mode: "auto"`: with no cassette and `OPENAI_API_KEY` set, the test records one against the real model
 * (`CODEX_MODEL` picks it); otherwise it replays `test/cassettes/release-notes.json` offline, through the real
 * codex binary. `EFFECT_CODEX_RECORD=1` re-records. A change to the prompt fails with `CassetteMismatchError`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cassette, CodexTest } from "@effect-codex/testing"
import * as Effect from "effect/Effect"
import * as path from "node:path"
import { headline } from "../examples/cassette/releaseNotes.js"

const cassette = path.join(import.meta.dirname, "cassettes", "release-notes.json")

const NOTES = `- Cassettes: record a test's model traffic once, replay it offline in CI.
- Transcripts: replay a session's JSON-RPC traffic without the codex binary.`

describe("a user's function on a cassette", () => {
  it.live("writes a one-line headline", () =>
    Effect.gen(function*() {
      const line = yield* headline(NOTES)
      expect(line.length).toBeGreaterThan(0)
      expect(line).not.toContain("\n")
    }).pipe(Cassette.failOnMismatch, Effect.provide(CodexTest.layerCassette(cassette))))

  it.live("fails loudly when the function asks something new", () =>
    Effect.gen(function*() {
      const error = yield* headline(`${NOTES}\n- Something the cassette never saw.`).pipe(
        Cassette.failOnMismatch,
        Effect.flip
      )
      expect(error).toMatchObject({ _tag: "CassetteMismatchError", index: 0, path: "input[3].content[0]" })
    }).pipe(Effect.provide(CodexTest.layerCassette(cassette, { mode: "replay" }))))
})
