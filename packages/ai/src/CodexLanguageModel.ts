/**
 * codex as an `effect/ai` `LanguageModel`: `LanguageModel.generateText`, `streamText` and `generateObject` run as
 * codex turns, each on a fresh thread (ephemeral by default) of the `Codex` in context.
 *
 * How a request maps: system messages become the thread's `developerInstructions`; a single user message is the
 * turn's input, a longer conversation is sent as one transcript; `generateObject`'s schema is sent as the turn's
 * `outputSchema` (OpenAI's strict subset, as `Thread.runStructured`); `streamText` streams the agent's text as codex
 * writes it (`item/agentMessage/delta`); the usage is the thread's token usage; failures are `AiError`s.
 *
 * What does not map, and fails with an `AiError` (`InvalidRequestError`) rather than being ignored: codex runs its
 * own agent loop with its own model settings, so sampling parameters (`temperature`, `topP`, `topK`,
 * `maxOutputTokens`, `seed`, penalties, stop sequences) have no place to go; a `toolkit` (give codex your tools
 * with `CodexTools` instead), a `toolChoice`, and files, tool calls or tool results in the prompt are refused too.
 * Choose the model, effort, sandbox and the rest with {@link Config} (thread and turn options).
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { LanguageModel } from "effect/ai"
 * import { Codex, NodeCodex } from "effect-codex"
 * import { CodexLanguageModel } from "@effect-codex/ai"
 *
 * const program = Effect.gen(function*() {
 *   const response = yield* LanguageModel.generateText({ prompt: "Say hello" })
 *   yield* Effect.log(response.text)
 * })
 *
 * program.pipe(
 *   Effect.provide(CodexLanguageModel.layer({ thread: { sandbox: Codex.Sandbox.readOnly } }).pipe(
 *     Layer.provide(NodeCodex.layer())
 *   )),
 *   NodeRuntime.runMain
 * )
 * ```
 * @since 0.2.0
 */
import type { ThreadStartParams, ThreadTokenUsage, TurnError } from "@effect-codex/protocol"
import * as AiError from "effect/ai/AiError"
import * as LanguageModel from "effect/ai/LanguageModel"
import * as OpenAiStructuredOutput from "effect/ai/OpenAiStructuredOutput"
import type * as Prompt from "effect/ai/Prompt"
import type * as Response from "effect/ai/Response"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { Codex, type Thread, Turn } from "effect-codex"

/**
 * Settings of the codex language model: the thread and turn options, and, so that asking for them fails clearly,
 * the sampling parameters codex does not take.
 *
 * @since 0.2.0
 * @category models
 */
export interface Settings {
  /** `thread/start` params of each request's thread (model, cwd, sandbox, approvalPolicy, ...). Ephemeral by default. */
  readonly thread?: Omit<ThreadStartParams, "developerInstructions"> | undefined
  /** Options of each request's turn (effort, summary, watchdog times, approvals, ...). */
  readonly turn?: Omit<Thread.TurnOptions, "outputSchema"> | undefined
  /** Not supported by codex (its agent loop sets its own): asking fails with `InvalidRequestError`. */
  readonly temperature?: number | undefined
  /** Not supported by codex: asking fails with `InvalidRequestError`. */
  readonly topP?: number | undefined
  /** Not supported by codex: asking fails with `InvalidRequestError`. */
  readonly topK?: number | undefined
  /** Not supported by codex: asking fails with `InvalidRequestError`. */
  readonly maxOutputTokens?: number | undefined
  /** Not supported by codex: asking fails with `InvalidRequestError`. */
  readonly seed?: number | undefined
  /** Not supported by codex: asking fails with `InvalidRequestError`. */
  readonly presencePenalty?: number | undefined
  /** Not supported by codex: asking fails with `InvalidRequestError`. */
  readonly frequencyPenalty?: number | undefined
  /** Not supported by codex: asking fails with `InvalidRequestError`. */
  readonly stopSequences?: ReadonlyArray<string> | undefined
}

/**
 * Per-request overrides of the {@link Settings} (see {@link withConfigOverride}).
 *
 * @since 0.2.0
 * @category services
 */
export class Config extends Context.Service<Config, Settings>()("@effect-codex/ai/CodexLanguageModel/Config") {}

/**
 * Runs `effect` with `overrides` over the settings in force (thread and turn options are merged key by key).
 *
 * @since 0.2.0
 * @category utils
 */
export const withConfigOverride: {
  (overrides: Settings): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, overrides: Settings): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(effect: Effect.Effect<A, E, R>, overrides: Settings): Effect.Effect<A, E, R> =>
    Effect.flatMap(
      Effect.serviceOption(Config),
      (current) => Effect.provideService(effect, Config, merge(Option.getOrElse(current, () => ({})), overrides))
    )
)

const merge = (base: Settings, over: Settings): Settings => ({
  ...base,
  ...over,
  thread: { ...base.thread, ...over.thread },
  turn: { ...base.turn, ...over.turn }
})

const unsupportedSettings = [
  "temperature",
  "topP",
  "topK",
  "maxOutputTokens",
  "seed",
  "presencePenalty",
  "frequencyPenalty",
  "stopSequences"
] as const

const fail = (method: string, reason: AiError.AiErrorReason) =>
  Effect.fail(AiError.make({ module: "CodexLanguageModel", method, reason }))

const invalid = (method: string, parameter: string, description: string) =>
  fail(method, new AiError.InvalidRequestError({ parameter, description }))

/** What codex does not take, as an `InvalidRequestError` naming it; undefined when the request maps. */
const refusal = (
  method: string,
  settings: Settings,
  options: LanguageModel.ProviderOptions
): Effect.Effect<never, AiError.AiError> | undefined => {
  for (const key of unsupportedSettings) {
    if (settings[key] !== undefined) {
      return invalid(
        method,
        key,
        `codex runs its own agent loop with its own model settings: "${key}" cannot be passed to it`
      )
    }
  }
  if (options.tools.length > 0) {
    return invalid(
      method,
      "toolkit",
      "codex runs its own agent loop and calls tools itself: give it your tools with CodexTools (MCP or dynamic tools), not as a LanguageModel toolkit"
    )
  }
  return undefined
}

/** A prompt as codex input: the system messages as developer instructions, the conversation as the turn's text. */
const toInput = (
  method: string,
  prompt: Prompt.Prompt
): Effect.Effect<{ readonly instructions: string | undefined; readonly text: string }, AiError.AiError> => {
  const system: Array<string> = []
  const turns: Array<{ readonly role: "user" | "assistant"; readonly text: string }> = []
  for (const message of prompt.content) {
    if (message.role === "system") {
      system.push(message.content)
      continue
    }
    if (message.role === "tool") {
      return invalid(method, "prompt", "codex cannot take tool results in the prompt: it runs tools itself")
    }
    const texts: Array<string> = []
    for (const part of message.content) {
      if (part.type === "text") texts.push(part.text)
      else if (part.type !== "reasoning") {
        return invalid(
          method,
          "prompt",
          `codex takes text prompts here; a "${part.type}" part in a ${message.role} message cannot be sent`
        )
      }
    }
    turns.push({ role: message.role, text: texts.join("\n") })
  }
  const last = turns[turns.length - 1]
  if (last === undefined || last.role !== "user") {
    return invalid(method, "prompt", "the prompt must end with a user message (codex answers it)")
  }
  const text = turns.length === 1
    ? last.text
    : "The conversation so far:\n\n" +
      turns.slice(0, -1).map((turn) => `${turn.role === "user" ? "User" : "Assistant"}: ${turn.text}`).join("\n\n") +
      `\n\nAnswer this last message of the user:\n\n${last.text}`
  return Effect.succeed({ instructions: system.length === 0 ? undefined : system.join("\n\n"), text })
}

/** The thread's token usage as `effect/ai` usage (the thread is the request's own, so its total is the request's). */
const toUsage = (usage: ThreadTokenUsage | null): typeof Response.Usage.Encoded => {
  if (usage === null) return { inputTokens: {}, outputTokens: {} }
  const total = usage.total
  return {
    inputTokens: {
      total: total.inputTokens,
      uncached: total.inputTokens - total.cachedInputTokens,
      cacheRead: total.cachedInputTokens,
      ...(total.cacheWriteInputTokens === undefined ? {} : { cacheWrite: total.cacheWriteInputTokens })
    },
    outputTokens: {
      total: total.outputTokens,
      reasoning: total.reasoningOutputTokens,
      text: total.outputTokens - total.reasoningOutputTokens
    }
  }
}

/** A failed turn's error as the `AiError` reason a caller can act on. */
const turnReason = (error: TurnError | null): AiError.AiErrorReason => {
  const description = error?.message ?? "the codex turn failed"
  switch (error?.codexErrorInfo) {
    case "contextWindowExceeded":
    case "badRequest":
      return new AiError.InvalidRequestError({ description })
    case "usageLimitExceeded":
    case "sessionBudgetExceeded":
      return new AiError.QuotaExhaustedError({})
    case "rateLimitExceeded":
      return new AiError.RateLimitError({})
    case "unauthorized":
      return new AiError.AuthenticationError({ kind: "Unknown", description })
    case "cyberPolicy":
    case "misalignmentPolicyViolation":
      return new AiError.ContentPolicyError({ description })
    default:
      return new AiError.InternalProviderError({ description })
  }
}

/** How running a codex turn can fail (a busy thread or a full pool queue included). */
type TurnFailure = Turn.StreamError | Turn.TurnFailedError | Thread.BusyError

/** How following a codex turn failed, as an `AiError` reason. */
const streamReason = (error: TurnFailure): AiError.AiErrorReason => {
  switch (error._tag) {
    case "TurnFailedError":
      return turnReason(error.result.error)
    case "ServerBusyError":
    case "PoolQueueFullError":
      return new AiError.RateLimitError({})
    case "InvalidParamsError":
      return new AiError.InvalidRequestError({ description: error.message })
    default:
      return new AiError.InternalProviderError({ description: error.message })
  }
}

const mapTurnError = (method: string) => (error: TurnFailure) =>
  AiError.make({ module: "CodexLanguageModel", method, reason: streamReason(error) })

const responseMetadata = (result: { readonly threadId: string; readonly id: string }, model: string) => ({
  type: "response-metadata" as const,
  id: `${result.threadId}/${result.id}`,
  modelId: model,
  timestamp: new Date().toISOString()
})

/**
 * Builds the `LanguageModel` over the `Codex` in context, with `settings` under any {@link Config} in force.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (
  settings?: Settings
) => Effect.Effect<LanguageModel.LanguageModel, never, Codex.Codex> = Effect.fnUntraced(function*(
  settings: Settings = {}
) {
  const codex = yield* Codex.Codex

  /** The settings of one request, the checks, and its thread. */
  const prepare = (method: string, options: LanguageModel.ProviderOptions) =>
    Effect.gen(function*() {
      const config = merge(settings, Option.getOrElse(yield* Effect.serviceOption(Config), () => ({})))
      const refused = refusal(method, config, options)
      if (refused !== undefined) return yield* refused
      const input = yield* toInput(method, options.prompt)
      const format = options.responseFormat
      const outputSchema = format.type === "json"
        ? yield* Effect.try({
          try: () => OpenAiStructuredOutput.toCodecOpenAI(format.schema as never).jsonSchema,
          catch: (error) =>
            AiError.make({
              module: "CodexLanguageModel",
              method,
              reason: new AiError.UnsupportedSchemaError({ description: String(error) })
            })
        })
        : undefined
      const thread = yield* codex.threadStart({
        ephemeral: true,
        ...config.thread,
        ...(input.instructions === undefined ? {} : { developerInstructions: input.instructions })
      }).pipe(Effect.mapError(mapTurnError(method)))
      const turnOptions: Thread.TurnOptions = {
        ...config.turn,
        ...(outputSchema === undefined ? {} : { outputSchema })
      }
      return { thread, text: input.text, turnOptions, model: thread.response.model }
    })

  return yield* LanguageModel.make({
    codecTransformer: OpenAiStructuredOutput.toCodecOpenAI,
    generateText: (options) =>
      Effect.gen(function*() {
        const { model, text, thread, turnOptions } = yield* prepare("generateText", options)
        const result = yield* thread.run(text, turnOptions).pipe(Effect.mapError(mapTurnError("generateText")))
        const parts: Array<Response.PartEncoded> = [responseMetadata(result, model)]
        if (result.finalResponse !== null) parts.push({ type: "text", text: result.finalResponse })
        parts.push({ type: "finish", reason: "stop", usage: toUsage(result.usage) })
        return parts
      }),
    streamText: (options) =>
      Stream.unwrap(Effect.gen(function*() {
        const { model, text, thread, turnOptions } = yield* prepare("streamText", options)
        const open = new Set<string>()
        let usage: ThreadTokenUsage | null = null
        const toParts = (event: Turn.Event): Effect.Effect<ReadonlyArray<Response.StreamPartEncoded>, AiError.AiError> => {
          if (event._tag !== "Notification") return Effect.succeed([])
          switch (event.method) {
            case "item/agentMessage/delta": {
              const id = event.params.itemId
              const delta: Response.StreamPartEncoded = { type: "text-delta", id, delta: event.params.delta }
              if (open.has(id)) return Effect.succeed([delta])
              open.add(id)
              return Effect.succeed([{ type: "text-start", id }, delta])
            }
            case "item/completed": {
              const id = Turn.itemId(event.params.item)
              return Effect.succeed(id !== undefined && open.delete(id) ? [{ type: "text-end", id }] : [])
            }
            case "thread/tokenUsage/updated":
              usage = event.params.tokenUsage
              return Effect.succeed([])
            case "turn/completed": {
              const turn = event.params.turn
              if (turn.status === "failed") {
                return fail("streamText", turnReason(turn.error ?? null))
              }
              return Effect.succeed([
                responseMetadata({ threadId: thread.id, id: turn.id }, model),
                ...[...open].map((id): Response.StreamPartEncoded => ({ type: "text-end", id })),
                { type: "finish", reason: turn.status === "completed" ? "stop" : "other", usage: toUsage(usage) }
              ])
            }
            default:
              return Effect.succeed([])
          }
        }
        return thread.stream(text, turnOptions).pipe(
          Stream.mapError(mapTurnError("streamText")),
          Stream.mapEffect(toParts),
          Stream.flattenIterable
        )
      }))
  })
})

/**
 * The `LanguageModel` layer over the `Codex` in context.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (settings: Settings = {}): Layer.Layer<LanguageModel.LanguageModel, never, Codex.Codex> =>
  Layer.effect(LanguageModel.LanguageModel)(make(settings))
