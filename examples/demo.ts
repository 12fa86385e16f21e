/**
 * The effect-codex demo (`npm start`): one real turn through the real pinned `codex app-server`
 * binary, with the answer streamed live to the terminal.
 *
 * With `OPENAI_API_KEY` (or `EFFECT_CODEX_REAL=1`, or an existing Codex login in `~/.codex/auth.json`)
 * the real model answers; otherwise the embedded MockModel does, with a scripted answer that explains
 * what just happened. The first line (stderr) says which. The thread is ephemeral (nothing is stored)
 * and the server process ends with the program.
 *
 * Run: `npm start` or `npx tsx examples/demo.ts`.
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import { Codex, Turn } from "effect-codex"
import { type MockScript, runMain } from "./runtime.js"

const prompt = [
  "You are answering inside the effect-codex demo: a TypeScript program built on Effect 4 just spawned",
  "`codex app-server`, started a thread and sent you this turn; your answer is streamed to the terminal.",
  "In three short sentences, explain to the user what just happened."
].join(" ")

export const program = Effect.gen(function*() {
  const stdio = yield* Stdio.Stdio
  const codex = yield* Codex.Codex
  yield* Console.log(`codex app-server pid ${codex.server.pid} (${codex.server.metadata.userAgent})`)

  const thread = yield* codex.threadStart({ ephemeral: true, sandbox: Codex.Sandbox.readOnly })
  yield* Console.log(`thread ${thread.id}, model ${thread.info.model ?? "(default)"}\n`)

  const turn = yield* thread.turn(prompt)
  yield* turn.stream.pipe(Turn.textDeltas, Stream.run(stdio.stdout()))
  const result = yield* turn.run
  const tokens = result.usage === null ? "" : `, ${result.usage.last.totalTokens} tokens`
  yield* Console.log(`\n\nturn ${result.status} in ${result.durationMs ?? "?"} ms${tokens}; shutting codex down.`)
}).pipe(Effect.scoped)

/** What the mock says: built from the request codex actually sent it. */
const explanation = (request: MockModel.RecordedRequest): string => {
  const body = (typeof request.body === "object" && request.body !== null ? request.body : {}) as {
    readonly model?: unknown
    readonly tools?: ReadonlyArray<unknown>
    readonly input?: ReadonlyArray<unknown>
  }
  return [
    "This answer comes from effect-codex's MockModel, a scripted stand-in for the OpenAI Responses API",
    `listening on 127.0.0.1. Here is what just happened: the demo spawned the real, pinned codex binary as`,
    "`codex app-server`, greeted it over JSON-RPC on stdio, started an ephemeral thread and sent turn/start.",
    `codex then called this mock (POST ${request.path}, model ${String(body.model)}, ${body.tools?.length ?? 0} tools`,
    `offered, ${body.input?.length ?? 0} input items), and every chunk of this reply travelled back as an`,
    "item/agentMessage/delta notification, which the demo writes to your terminal as it arrives.",
    "When the program ends its scope closes and the codex process goes with it.",
    "Set OPENAI_API_KEY to hear from the real model instead."
  ].join(" ")
}

export const mockScript: MockScript = [
  MockModel.dynamic((request) => {
    const text = explanation(request)
    return MockModel.text(text, { deltas: text.match(/\S+\s*/g) ?? [text], intervalMs: 15 })
  })
]

runMain(import.meta, { program, mockScript }, { codexLogin: true })
