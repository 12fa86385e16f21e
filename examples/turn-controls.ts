/**
 * Turn controls: a running turn's handle (`thread.turn`) can be steered (`handle.steer`: more input
 * for the same turn) and interrupted (`handle.interrupt`: stops it and waits until it has settled).
 *
 * Run: `npx tsx examples/turn-controls.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for the real model).
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Codex, type Thread, Turn } from "effect-codex"
import { runMain } from "./runtime.js"

/** Steers the turn as soon as the answer starts, then waits for its end. */
const steer = Effect.fn("steer")(function*(thread: Thread.Thread) {
  const turn = yield* thread.turn("Write a two-line poem about the sea.")
  yield* turn.stream.pipe(Turn.textDeltas, Stream.take(1), Stream.runDrain)
  yield* turn.steer("Change of plan: make the poem about mountains.").pipe(
    Effect.andThen(Console.log("steered: asked for mountains instead")),
    Effect.catch((error) => Console.log(`too late to steer: ${error.message}`))
  )
  const result = yield* turn.run
  yield* Console.log(`steered turn ${result.status}: ${result.finalResponse}`)
}, Effect.scoped)

/** Interrupts the turn once a few deltas have arrived. */
const interrupt = Effect.fn("interrupt")(function*(thread: Thread.Thread) {
  const turn = yield* thread.turn("Count from 1 to 100, one number per line.")
  const seen = yield* turn.stream.pipe(Turn.textDeltas, Stream.take(3), Stream.runCollect)
  yield* Console.log(`received ${JSON.stringify(seen.join(""))}, interrupting`)
  const result = yield* turn.interrupt
  yield* Console.log(`interrupted turn ${result.status}`)
}, Effect.scoped)

export const program = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart()
  yield* steer(thread)
  yield* interrupt(thread)
})

const numbers = Array.from({ length: 100 }, (_, i) => `${i + 1}\n`)

export const mockScript = [
  MockModel.text("The sea rolls in,\nthe sea rolls out.", {
    deltas: ["The sea", " rolls in,\n", "the sea", " rolls out."],
    intervalMs: 100
  }),
  MockModel.text("Peaks hold the sky,\nsnow keeps the time."),
  MockModel.text(numbers.join(""), { deltas: numbers, intervalMs: 100 })
]

runMain(import.meta, { program, mockScript })
