/**
 * Image and text: one turn with a text item and an image item (`Input.image(url)`).
 *
 * codex 0.169.0 refuses remote `http(s)` image URLs at `turn/start` ("use an inline data URL instead"),
 * which this example shows by catching the `InvalidRequestError`; it then sends the image as a `data:`
 * URL (a PNG made in memory: a red disc).
 *
 * Run: `npx tsx examples/image-and-text.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for the real model).
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { Codex, Input } from "effect-codex"
import { runMain } from "./runtime.js"
import { redDiscPng } from "./support.js"

const question = "What is in this image? Answer in one sentence."

export const program = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart()

  yield* thread.run([question, Input.image("https://example.com/red-disc.png")]).pipe(
    Effect.catchTag("InvalidRequestError", (error) => Console.log(`remote URL refused: ${error.message}`))
  )

  const result = yield* thread.run([question, Input.imageData(redDiscPng(), "image/png")])
  yield* Console.log(result.finalResponse)
})

export const mockScript = [MockModel.text("A red disc on a white background.")]

runMain(import.meta, { program, mockScript })
