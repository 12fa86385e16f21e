/**
 * CLI app: a tiny codex chat in the terminal. With arguments, they are the prompt and the answer
 * streams to stdout as it is written; without, it asks for prompts one by one (same thread, so it
 * remembers) until an empty line or Ctrl-D.
 *
 * Run: `npx tsx examples/cli-app.ts "Explain Effect in one line"` or `npx tsx examples/cli-app.ts`
 * (offline with a scripted MockModel; set OPENAI_API_KEY for the real model).
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import * as Terminal from "effect/Terminal"
import { Codex, type Thread, Turn } from "effect-codex"
import { runMain } from "./runtime.js"

/** Streams the answer to `prompt` to stdout, delta by delta. */
const answer = Effect.fn("answer")(function*(thread: Thread.Thread, prompt: string) {
  const stdio = yield* Stdio.Stdio
  yield* thread.stream(prompt).pipe(Turn.textDeltas, Stream.run(stdio.stdout()))
  yield* Console.log("")
})

/** Reads prompts until an empty line or the end of input. */
const chat = Effect.fn("chat")(function*(thread: Thread.Thread) {
  const terminal = yield* Terminal.Terminal
  yield* Console.log("Ask codex anything. An empty line or Ctrl-D quits.")
  while (true) {
    yield* terminal.display("> ")
    const line = yield* terminal.readLine.pipe(Effect.catchTag("QuitError", () => Console.log("").pipe(Effect.as(""))))
    if (line.trim() === "") return
    yield* answer(thread, line)
  }
})

export const program = Effect.gen(function*() {
  const stdio = yield* Stdio.Stdio
  const args = yield* stdio.args
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart()
  if (args.length > 0) yield* answer(thread, args.join(" "))
  else yield* chat(thread)
})

export const mockScript = [
  MockModel.text("Effect is a TypeScript library for typed, composable, resource-safe programs.", {
    deltas: ["Effect is", " a TypeScript library", " for typed,", " composable,", " resource-safe programs."]
  }),
  MockModel.text("You asked me about Effect.", { deltas: ["You asked", " me about", " Effect."] })
]

runMain(import.meta, { program, mockScript })
