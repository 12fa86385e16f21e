/**
 * Error handling and retry: every failure is a tagged error, so `Effect.catchTag` picks the ones to
 * handle and the compiler tracks the rest.
 *
 * 1. A server that cannot start: `AppServerNotFoundError` (a bad `codexPath`).
 * 2. A turn the model fails: `TurnFailedError`, carrying the whole `Turn.Result` (here: an unknown model).
 * 3. A transient failure, retried: `Effect.retry` for a failed turn, `Retry.retryOnOverload()` for
 *    requests the server refuses as overloaded (`ServerBusyError`, JSON-RPC -32001).
 *
 * Run: `npx tsx examples/error-handling-and-retry.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for
 * the real model).
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { Codex, NodeCodex, Retry } from "effect-codex"
import { runMain } from "./runtime.js"

/** 1. Starting a server from a binary that is not there. */
const missingBinary = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  yield* codex.models()
}).pipe(
  Effect.provide(NodeCodex.layer({ codexPath: "/nonexistent/codex" })),
  Effect.catchTag("AppServerNotFoundError", (error) => Console.log(`1. no server: tried ${error.searched.join(", ")}`))
)

export const program = Effect.gen(function*() {
  yield* missingBinary

  const codex = yield* Codex.Codex
  // Requests the server may refuse when overloaded are retried with backoff (4 attempts by default).
  const thread = yield* codex.threadStart().pipe(Retry.retryOnOverload())

  // 2. The model refuses the turn: the turn ends with status "failed".
  yield* thread.run("Hello", { model: "no-such-model" }).pipe(
    Effect.andThen((result) => Console.log(`2. unexpectedly succeeded: ${result.finalResponse}`)),
    Effect.catchTag("TurnFailedError", (error) =>
      Console.log(`2. turn ${error.result.status}: ${error.result.error?.message ?? "no message"}`))
  )

  // 3. A turn that fails once is tried again, at most twice more.
  const result = yield* thread.run("Say hello.").pipe(
    Effect.tapError((error) => Console.log(`3. attempt failed (${error._tag}), retrying`)),
    Effect.retry({
      while: (error) => error._tag === "TurnFailedError",
      schedule: Schedule.spaced("200 millis"),
      times: 2
    })
  )
  yield* Console.log(`3. ${result.status}: ${result.finalResponse}`)
})

export const mockScript = [
  MockModel.fail(404, { error: { message: "The model `no-such-model` does not exist", code: "model_not_found" } }),
  MockModel.fail(503, { error: { message: "Service temporarily unavailable" } }),
  MockModel.text("Hello after a retry!")
]

runMain(import.meta, { program, mockScript })
