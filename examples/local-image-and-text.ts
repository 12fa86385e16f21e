/**
 * Local image and text: `Input.localImage(path)` lets codex read the image file itself. The example
 * writes a small PNG (a red disc) into a temporary directory, removed at the end.
 *
 * Run: `npx tsx examples/local-image-and-text.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for the
 * real model).
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Path from "effect/Path"
import { Codex, Input } from "effect-codex"
import { runMain } from "./runtime.js"
import { redDiscPng } from "./support.js"

export const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "effect-codex-image-" })
  const image = path.join(dir, "disc.png")
  yield* fs.writeFile(image, redDiscPng())
  yield* Console.log(`wrote ${image}`)

  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart()
  const result = yield* thread.run(["Describe this image in one sentence.", Input.localImage(image)])
  yield* Console.log(result.finalResponse)
}).pipe(Effect.scoped)

export const mockScript = [MockModel.text("A red circle centered on a white square.")]

runMain(import.meta, { program, mockScript })
