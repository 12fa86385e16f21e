/**
 * Structured output: `thread.runStructured(schema, input)` sends the JSON Schema of an Effect `Schema`
 * as the turn's `outputSchema`, and decodes the final answer with it: `value` is typed, and an answer
 * that does not match is a `StructuredOutputError`.
 *
 * Run: `npx tsx examples/structured-output.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for the
 * real model).
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Codex } from "effect-codex"
import { runMain } from "./runtime.js"

const Country = Schema.Struct({
  name: Schema.String,
  capital: Schema.String,
  population: Schema.Int,
  officialLanguages: Schema.Array(Schema.String)
})

export const program = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart()
  const { value } = yield* thread.runStructured(Country, "Facts about Switzerland, population rounded.").pipe(
    Effect.tapErrorTag("StructuredOutputError", (error) => Console.log(`unusable answer: ${error.reason}`))
  )
  yield* Console.log(`${value.name}: capital ${value.capital}, ${value.population.toLocaleString("en-US")} people`)
  yield* Console.log(`official languages: ${value.officialLanguages.join(", ")}`)
})

export const mockScript = [
  MockModel.text(JSON.stringify({
    name: "Switzerland",
    capital: "Bern",
    population: 9000000,
    officialLanguages: ["German", "French", "Italian", "Romansh"]
  }))
]

runMain(import.meta, { program, mockScript })
