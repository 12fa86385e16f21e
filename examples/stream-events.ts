/**
 * Stream events: `thread.stream` gives every event of one turn as an Effect `Stream`, in order, from
 * `turn/started` to `turn/completed` (where it ends), with the answer's deltas as they arrive.
 *
 * Run: `npx tsx examples/stream-events.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for the real model).
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Codex } from "effect-codex"
import { runMain } from "./runtime.js"
import { describeEvent } from "./support.js"

export const program = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart()
  const count = yield* thread.stream("Name three primary colors.").pipe(
    Stream.tap((event) => Console.log(describeEvent(event))),
    Stream.runCount
  )
  yield* Console.log(`${count} events`)
})

export const mockScript = [
  MockModel.text("Red, yellow and blue.", { deltas: ["Red", ", yellow", " and blue."] })
]

runMain(import.meta, { program, mockScript })
