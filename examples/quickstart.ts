/**
 * Quickstart: start a thread, run one turn, print the answer.
 *
 * Run: `npx tsx examples/quickstart.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for the real model).
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { Codex } from "effect-codex"
import { runMain } from "./runtime.js"

export const program = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart()
  const result = yield* thread.run("Say hello in one short sentence.")
  yield* Console.log(result.finalResponse)
})

export const mockScript = [MockModel.text("Hello! Nice to meet you.")]

runMain(import.meta, { program, mockScript })
