/**
 * CodexLanguageModel on the real codex binary with the MockModel: effect/ai's generateText, streamText and
 * generateObject run as codex turns; usage and errors map; what codex cannot take fails clearly.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as LanguageModel from "effect/ai/LanguageModel"
import * as Tool from "effect/ai/Tool"
import * as Toolkit from "effect/ai/Toolkit"
import { CodexTest, MockModel } from "@effect-codex/testing"
import { CodexLanguageModel } from "@effect-codex/ai"

const modelLayer = CodexLanguageModel.layer().pipe(Layer.provideMerge(CodexTest.layer()))

/** The text of every input message of a recorded model request, joined. */
const requestText = (request: MockModel.RecordedRequest | undefined): string => JSON.stringify(request?.body ?? null)

describe("CodexLanguageModel", () => {
  it.live("generateText runs a codex turn: the answer, the usage, system messages as instructions", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.text("Hello from codex", {
        usage: { input_tokens: 12, input_tokens_details: { cached_tokens: 2 }, output_tokens: 7, total_tokens: 19 }
      }))
      const response = yield* LanguageModel.generateText({
        prompt: [
          { role: "system", content: "Always be brief (instruction-marker)." },
          { role: "user", content: [{ type: "text", text: "Say hello" }] }
        ]
      })
      expect(response.text).toBe("Hello from codex")
      expect(response.finishReason).toBe("stop")
      expect(response.usage.inputTokens).toMatchObject({ total: 12, cacheRead: 2, uncached: 10 })
      expect(response.usage.outputTokens).toMatchObject({ total: 7 })
      const [request] = yield* mock.responsesRequests
      expect(requestText(request)).toContain("instruction-marker")
      expect(requestText(request)).toContain("Say hello")
    }).pipe(Effect.provide(modelLayer)))

  it.live("a conversation is sent as one transcript ending with the last user message", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.text("Blue."))
      const response = yield* LanguageModel.generateText({
        prompt: [
          { role: "user", content: "My favourite colour is blue." },
          { role: "assistant", content: "Noted." },
          { role: "user", content: "What is my favourite colour?" }
        ]
      })
      expect(response.text).toBe("Blue.")
      const text = requestText((yield* mock.responsesRequests)[0])
      expect(text).toContain("My favourite colour is blue.")
      expect(text).toContain("Assistant: Noted.")
      expect(text).toContain("What is my favourite colour?")
    }).pipe(Effect.provide(modelLayer)))

  it.live("streamText streams the text deltas as codex writes them, then finish with usage", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.text("Hello streaming world", { deltas: ["Hello", " streaming", " world"] }))
      const parts = yield* LanguageModel.streamText({ prompt: "Stream please" }).pipe(Stream.runCollect)
      const deltas = parts.flatMap((part) => part.type === "text-delta" ? [part.delta] : [])
      expect(deltas).toEqual(["Hello", " streaming", " world"])
      const types = parts.map((part) => part.type)
      expect(types.indexOf("text-start")).toBeLessThan(types.indexOf("text-delta"))
      expect(types).toContain("text-end")
      const finish = parts.find((part) => part.type === "finish")
      expect(finish).toMatchObject({ reason: "stop" })
      expect(finish?.type === "finish" ? finish.usage.outputTokens.total : undefined).toBe(5)
    }).pipe(Effect.provide(modelLayer)))

  it.live("generateObject sends the schema as codex's outputSchema and decodes the answer", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.text(JSON.stringify({ city: "Paris", population: 2_100_000 })))
      const Answer = Schema.Struct({ city: Schema.String, population: Schema.Int })
      const response = yield* LanguageModel.generateObject({ prompt: "Largest city of France?", schema: Answer })
      expect(response.value).toEqual({ city: "Paris", population: 2_100_000 })
      const body = (yield* mock.responsesRequests)[0]?.body as { readonly text?: { readonly format?: unknown } }
      expect(body.text?.format).toMatchObject({ type: "json_schema", schema: { properties: { city: {}, population: {} } } })
    }).pipe(Effect.provide(modelLayer)))

  it.live("a failed turn is an AiError carrying codex's description of the failure", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      yield* mock.enqueue(MockModel.fail(500, { error: { type: "server_error", message: "upstream exploded" } }))
      const error = yield* Effect.flip(LanguageModel.generateText({ prompt: "Hi" }))
      expect(error._tag).toBe("AiError")
      expect(error.module).toBe("CodexLanguageModel")
      expect(error.reason._tag).toBe("InternalProviderError")
      // codex's own message of the failed turn, not a generic one
      expect(error.reason).toMatchObject({ description: expect.stringMatching(/demand|500|error/i) })
      expect(error.message).not.toContain("the codex turn failed")
      const streamError = yield* Effect.flip(
        Effect.andThen(mock.enqueue(MockModel.fail(500)), LanguageModel.streamText({ prompt: "Hi" }).pipe(Stream.runDrain))
      )
      expect(streamError._tag).toBe("AiError")
    }).pipe(Effect.provide(modelLayer)))

  it.live("sampling parameters and a toolkit fail clearly, before any model request", () =>
    Effect.gen(function*() {
      const mock = yield* MockModel.MockModel
      const sampled = yield* Effect.flip(
        LanguageModel.generateText({ prompt: "Hi" }).pipe(CodexLanguageModel.withConfigOverride({ temperature: 0.2 }))
      )
      expect(sampled.reason).toMatchObject({ _tag: "InvalidRequestError", parameter: "temperature" })
      expect(sampled.message).toContain("own agent loop")
      const Echo = Tool.make("echo", { parameters: Schema.Struct({ text: Schema.String }), success: Schema.String })
      const toolkit = Toolkit.make(Echo)
      const withTools = yield* Effect.flip(
        LanguageModel.generateText({ prompt: "Hi", toolkit }).pipe(
          Effect.provide(toolkit.toLayer({ echo: ({ text }) => Effect.succeed(text) }))
        )
      )
      expect(withTools.reason).toMatchObject({ _tag: "InvalidRequestError", parameter: "toolkit" })
      expect(yield* mock.responsesRequests).toEqual([])
    }).pipe(Effect.provide(modelLayer)))

  it.effect("withConfigOverride merges over the settings in force, data-first and piped alike", () =>
    Effect.gen(function*() {
      const current = Effect.serviceOption(CodexLanguageModel.Config).pipe(Effect.map(Option.getOrUndefined))
      const outer = { thread: { model: "outer-model", cwd: "/outer" }, turn: { effort: "low" } } as const
      const piped = yield* current.pipe(
        CodexLanguageModel.withConfigOverride({ thread: { model: "inner-model" } }),
        CodexLanguageModel.withConfigOverride(outer)
      )
      const dataFirst = yield* CodexLanguageModel.withConfigOverride(
        CodexLanguageModel.withConfigOverride(current, { thread: { model: "inner-model" } }),
        outer
      )
      // Thread and turn options merge key by key; the innermost override wins.
      expect(piped).toEqual({ thread: { model: "inner-model", cwd: "/outer" }, turn: { effort: "low" } })
      expect(dataFirst).toEqual(piped)
    }))
})
