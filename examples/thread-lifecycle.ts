/**
 * Thread lifecycle: list, read, rename, fork, archive and unarchive threads.
 *
 * Run: `npx tsx examples/thread-lifecycle.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for the real
 * model; it then works on your own CODEX_HOME, and archives nothing it did not create).
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Codex } from "effect-codex"
import { runMain } from "./runtime.js"

/** The ids of the stored (not archived) threads, every page. */
const storedIds = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  return yield* codex.threads().pipe(Stream.map((thread) => thread.id), Stream.runCollect)
})

export const program = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart()
  // A thread is stored once it has a turn.
  yield* thread.run("Give me a title for a note about sourdough.")
  yield* thread.setName("Sourdough notes")

  const info = yield* thread.read()
  yield* Console.log(`read:       "${info.name}", ${info.turns.length} turn, preview "${info.preview}"`)
  yield* Console.log(`listed:     ${(yield* storedIds).includes(thread.id)}`)

  const fork = yield* codex.threadFork(thread.id)
  yield* Console.log(`forked:     ${fork.id} from ${fork.info.forkedFromId}`)

  yield* codex.threadArchive(thread.id)
  yield* Console.log(`archived:   listed ${(yield* storedIds).includes(thread.id)}`)

  const back = yield* codex.threadUnarchive(thread.id)
  yield* Console.log(`unarchived: "${back.name}", listed ${(yield* storedIds).includes(thread.id)}`)

  // Tidy up: archived threads stay on disk but out of the list.
  yield* codex.threadArchive(fork.id)
  yield* codex.threadArchive(thread.id)
})

export const mockScript = [MockModel.text("Sourdough: starter, timings and hydration.")]

runMain(import.meta, { program, mockScript })
