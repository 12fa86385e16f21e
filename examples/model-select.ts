/**
 * Model select: list the models the server offers (`codex.models()`), choose one and a reasoning
 * effort it supports, and run a turn with them. `CODEX_MODEL=<id>` picks a model by id; otherwise the
 * server's default model is used, with its lightest effort.
 *
 * Run: `npx tsx examples/model-select.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for the real model).
 */
import { MockModel } from "@effect-codex/testing"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Codex } from "effect-codex"
import { runMain } from "./runtime.js"

export const program = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  const { data } = yield* codex.models()
  const visible = data.filter((model) => !model.hidden)
  for (const model of visible) {
    const efforts = model.supportedReasoningEfforts.map((option) => option.reasoningEffort).join("/")
    yield* Console.log(`${model.isDefault ? "*" : " "} ${model.id.padEnd(24)} ${model.displayName} [${efforts}]`)
  }

  const wanted = yield* Config.option(Config.NonEmptyString("CODEX_MODEL"))
  const chosen = Option.isSome(wanted)
    ? visible.find((model) => model.id === wanted.value)
    : visible.find((model) => model.isDefault) ?? visible[0]
  if (chosen === undefined) return yield* Console.log(`no such model: ${Option.getOrElse(wanted, () => "(none)")}`)
  const effort = chosen.supportedReasoningEfforts[0]?.reasoningEffort ?? chosen.defaultReasoningEffort
  yield* Console.log(`chosen: ${chosen.model}, effort ${effort}`)

  const thread = yield* codex.threadStart({ model: chosen.model })
  const result = yield* thread.run("Which model are you? One short sentence.", { effort })
  yield* Console.log(result.finalResponse)
})

export const mockScript = [MockModel.text("I am the model you chose, answering briefly.")]

runMain(import.meta, { program, mockScript })
