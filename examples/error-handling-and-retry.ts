/**
 * Error handling and retry: every failure is a tagged error, so `Effect.catchTag` picks the ones to
 * handle and the compiler tracks the rest.
 *
 * 1. A server that cannot start: `AppServerNotFoundError` (a bad `codexPath`).
 * 2. A turn the model fails: `TurnFailedError`, carrying why (`reason`, a tagged class per codex error kind) and
 *    the whole `Turn.Result` (here: an unknown model).
 * 3. A transient failure, retried: `Retry.retryTurn()` for a failed turn (only when the reason is transient and the
 *    turn had no side effects), `Retry.retryOnOverload()` for requests the server refuses as overloaded
 *    (`ServerBusyError`, JSON-RPC -32001).
 * 4. Recipe: the context window is full (`ContextWindowExceeded`): compact the thread, then run again.
 * 5. Recipe: codex is not signed in (`Errors.isUnauthorized`, e.g. an HTTP 401): sign in again, then run again.
 *
 * Run: `npx tsx examples/error-handling-and-retry.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for
 * the real model).
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Redacted from "effect/Redacted"
import { Codex, Errors, NodeCodex, Retry } from "effect-codex"
import type { Input, Thread } from "effect-codex"
import { runMain } from "./runtime.js"

/** 4. A turn whose conversation no longer fits the context window: compact the thread and run the turn again. */
export const runCompacting = (thread: Thread.Thread, input: Input.Input) =>
  thread.run(input).pipe(
    Effect.catchReason("TurnFailedError", "ContextWindowExceeded", () =>
      Console.log("4. context window full: compacting, then running again").pipe(
        Effect.andThen(thread.compact),
        Effect.andThen(thread.run(input))
      ))
  )

/** 5. A turn refused because codex is not signed in: sign in again (`signIn`), then run the turn again. */
export const runSignedIn = <E, R>(thread: Thread.Thread, input: Input.Input, signIn: Effect.Effect<void, E, R>) =>
  thread.run(input).pipe(
    Effect.catchIf(
      (error) => error._tag === "TurnFailedError" && Errors.isUnauthorized(error.reason),
      () =>
        Console.log("5. not signed in: signing in again, then running again").pipe(
          Effect.andThen(signIn),
          Effect.andThen(thread.run(input))
        )
    )
  )

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
      Console.log(`2. turn ${error.result.status} (${error.reason._tag}): ${error.result.error?.message ?? "no message"}`))
  )

  // 3. A turn that fails for a transient reason (and did nothing yet) is tried again, at most twice more.
  const result = yield* thread.run("Say hello.").pipe(
    Effect.tapError((error) =>
      Console.log(`3. attempt failed (${error._tag === "TurnFailedError" ? error.reason._tag : error._tag}), retrying`)
    ),
    Retry.retryTurn({ schedule: Schedule.spaced("200 millis").pipe(Schedule.upTo({ times: 2 })) })
  )
  yield* Console.log(`3. ${result.status}: ${result.finalResponse}`)

  const compacted = yield* runCompacting(thread, "Go on.")
  yield* Console.log(`4. ${compacted.status}: ${compacted.finalResponse}`)

  const signedIn = yield* runSignedIn(thread, "Once more.", codex.loginApiKey(Redacted.make("sk-fresh-key")))
  yield* Console.log(`5. ${signedIn.status}: ${signedIn.finalResponse}`)
})

export const mockScript = [
  MockModel.fail(404, { error: { message: "The model `no-such-model` does not exist", code: "model_not_found" } }),
  MockModel.fail(503, { error: { message: "Service temporarily unavailable" } }),
  MockModel.text("Hello after a retry!"),
  MockModel.failed({ code: "context_length_exceeded", message: "too long" }),
  MockModel.text("Summary of the conversation so far."),
  MockModel.text("Going on after compaction."),
  MockModel.fail(401, { error: { message: "Incorrect API key provided", code: "invalid_api_key" } }),
  MockModel.text("Signed in again.")
]

runMain(import.meta, { program, mockScript })
