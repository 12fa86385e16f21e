/**
 * Turn params kitchen sink: every common `turn/start` option at once, typed by the generated
 * `TurnStartParams` (a typo or a wrong value is a compile error): model, reasoning effort and summary,
 * personality, working directory, sandbox policy, approval policy, plus effect-codex's own turn
 * options (watchdog timeout, per-turn approvals).
 *
 * Run: `npx tsx examples/turn-params-kitchen-sink.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for
 * the real model).
 */
import type { TurnStartParams } from "@effect-codex/protocol"
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Path from "effect/Path"
import { Codex, type Thread } from "effect-codex"
import { runMain } from "./runtime.js"

export const program = Effect.gen(function*() {
  const path = yield* Path.Path
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart()

  // Everything `turn/start` takes besides the thread and the input.
  const params: Omit<TurnStartParams, "threadId" | "input"> = {
    model: thread.info.model ?? null, // any id of `codex.models()`; see model-select.ts
    effort: "low",
    summary: "concise",
    personality: "pragmatic",
    cwd: path.resolve("."),
    sandboxPolicy: { type: "readOnly", networkAccess: false },
    approvalPolicy: "never"
  }
  const options: Thread.TurnOptions = {
    ...params,
    idleTimeout: "2 minutes", // reconcile with `thread/read` after this much silence
    approvals: { "item/commandExecution/requestApproval": () => Effect.succeed({ decision: "decline" }) }
  }
  yield* Console.log(`turn/start params: ${JSON.stringify(params)}`)

  const result = yield* thread.run("In one sentence: what is a read-only sandbox good for?", options)
  yield* Console.log(`${result.status}: ${result.finalResponse}`)
})

export const mockScript = [
  MockModel.text("It lets the agent look around and run harmless commands without changing anything.")
]

runMain(import.meta, { program, mockScript })
