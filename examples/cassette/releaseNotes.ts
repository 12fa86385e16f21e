/**
 * A user's function that drives an agent: it asks codex for a one-line headline of some release notes. Its test,
 * `test/cassette-example.test.ts`, runs it on a cassette: recorded once against the real model, replayed offline
 * through the real codex binary from then on.
 */
import * as Effect from "effect/Effect"
import { Codex } from "effect-codex"

/** A one-line headline for `notes`, written by the model. */
export const headline = (notes: string) =>
  Effect.gen(function*() {
    const codex = yield* Codex.Codex
    const thread = yield* codex.threadStart({ sandbox: Codex.Sandbox.readOnly })
    const result = yield* thread.run(
      `Write a one-line headline (no quotes, no trailing period) for these release notes:\n\n${notes}`
    )
    return (result.finalResponse ?? "").trim()
  })
