/**
 * Run: `thread.run` waits for the end of a turn and gives a `Turn.Result` (status, final response, items,
 * token usage, timings). Two turns on one thread: the second one sees the first.
 *
 * Run: `npx tsx examples/run.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for the real model).
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { Codex, type Turn } from "effect-codex"
import { runMain } from "./runtime.js"

const report = (result: Turn.Result) =>
  Console.log(
    [
      `status:   ${result.status}`,
      `answer:   ${result.finalResponse}`,
      `items:    ${result.items.map((item) => item.type).join(", ")}`,
      `tokens:   ${result.usage?.last.inputTokens ?? 0} in, ${result.usage?.last.outputTokens ?? 0} out`,
      `duration: ${result.durationMs ?? "?"} ms`
    ].join("\n")
  )

export const program = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart()
  yield* Console.log(`thread ${thread.id}`)

  const first = yield* thread.run("Pick a color and tell me only its name.")
  yield* report(first)

  const second = yield* thread.run("Which color did you pick? Answer in one sentence.")
  yield* report(second)
})

export const mockScript = [
  MockModel.text("Teal."),
  MockModel.text("I picked teal.", { usage: { input_tokens: 42, output_tokens: 6, total_tokens: 48 } })
]

runMain(import.meta, { program, mockScript })
