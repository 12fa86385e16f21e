/**
 * Existing thread: continue a stored conversation by its id with `codex.threadResume(id)`.
 *
 * Given an id (`npx tsx examples/existing-thread.ts <thread-id>`), it resumes that thread. Without one, it
 * first starts a thread and runs a turn, then resumes it by id, as another program would later.
 *
 * Run: `npx tsx examples/existing-thread.ts [thread-id]` (offline with a scripted MockModel; set OPENAI_API_KEY
 * for the real model).
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stdio from "effect/Stdio"
import { Codex } from "effect-codex"
import { runMain } from "./runtime.js"

/** Starts a thread with one turn in it and gives its id. */
const createThread = Effect.fn("createThread")(function*() {
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart()
  const result = yield* thread.run("Remember the code word: pineapple. Reply with OK.")
  yield* Console.log(`created thread ${thread.id}: ${result.finalResponse}`)
  return thread.id
})

export const program = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  const stdio = yield* Stdio.Stdio
  const [given] = yield* stdio.args
  const threadId = given ?? (yield* createThread())

  const thread = yield* codex.threadResume(threadId)
  const turns = (yield* thread.read()).turns.length
  yield* Console.log(`resumed thread ${thread.id} (${turns} turn${turns === 1 ? "" : "s"} so far)`)
  const result = yield* thread.run("What was the code word?")
  yield* Console.log(result.finalResponse)
})

export const mockScript = [MockModel.text("OK."), MockModel.text("The code word was pineapple.")]

runMain(import.meta, { program, mockScript })
