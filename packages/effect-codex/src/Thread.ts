/**
 * A conversation with codex: run turns on it (`run`, `turn`, `stream`, `runStructured`), read it,
 * rename it, compact it. A handle is only an id plus the connection; it costs nothing to make.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Codex } from "effect-codex"
 *
 * const program = Effect.gen(function*() {
 *   const codex = yield* Codex.Codex
 *   const thread = yield* codex.threadStart({ sandbox: Codex.Sandbox.readOnly })
 *   const result = yield* thread.run("Summarize README.md in one sentence")
 *   yield* Effect.log(result.finalResponse)
 * })
 * ```
 * @since 0.1.0
 */
import type { Thread as ThreadInfo, TurnStartParams } from "@effect-codex/protocol"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Errors from "./Errors.js"
import type { RequestError } from "./Errors.js"
import * as Input from "./Input.js"
import type * as TurnGate from "./internal/codex/turnGate.js"
import type * as PendingRequest from "./PendingRequest.js"
import * as Turn from "./Turn.js"

/**
 * Options of one turn: the `turn/start` params (model, effort, sandbox, ...), watchdog times and approvals.
 *
 * @since 0.1.0
 * @category models
 */
export interface TurnOptions<R = never> extends Omit<TurnStartParams, "threadId" | "input">, Turn.StartOptions<R> {
  /**
   * When a turn of the thread is still running: `"wait"` for it (the default, unless the `Codex` was built with
   * `whenBusy: "fail"`), or `"fail"` at once with `ThreadBusyError`. Turns never merge; `steer` adds input to a
   * running turn.
   */
  readonly whenBusy?: WhenBusy | undefined
}

/**
 * What a turn does when its thread is busy: wait for the running turn, or fail at once with `ThreadBusyError`.
 *
 * @since 0.2.0
 * @category models
 */
export type WhenBusy = TurnGate.WhenBusy

/**
 * Why a turn did not start: its thread is busy (`whenBusy: "fail"`), or a `CodexPool`'s queue is full.
 *
 * @since 0.2.0
 * @category errors
 */
export type BusyError = Errors.ThreadBusyError | Errors.PoolQueueFullError

/**
 * The final response did not match the requested schema (defined in `Errors`, re-exported here).
 *
 * @since 0.1.0
 * @category errors
 */
export const StructuredOutputError = Errors.StructuredOutputError

/**
 * The final response did not match the requested schema (defined in `Errors`, re-exported here).
 *
 * @since 0.1.0
 * @category errors
 */
export type StructuredOutputError = Errors.StructuredOutputError

/**
 * A thread handle.
 *
 * @since 0.1.0
 * @category models
 */
export interface Thread {
  readonly id: string
  /**
   * Starts a turn and returns its handle; the turn is followed in the current scope. Turns of a thread run one at
   * a time: while one is running, the next waits for it (or fails with `ThreadBusyError`, see `whenBusy`).
   */
  readonly turn: <R = never>(
    input: Input.Input,
    options?: TurnOptions<R>
  ) => Effect.Effect<Turn.Handle, RequestError | BusyError, Scope.Scope | R>
  /** Runs a turn to its end. A failed turn is a `TurnFailedError` carrying the whole result. */
  readonly run: <R = never>(
    input: Input.Input,
    options?: TurnOptions<R>
  ) => Effect.Effect<Turn.Result, Turn.TurnFailedError | Turn.StreamError | BusyError, R>
  /** Runs a turn and streams its events, ending with `turn/completed`. */
  readonly stream: <R = never>(
    input: Input.Input,
    options?: TurnOptions<R>
  ) => Stream.Stream<Turn.Event, Turn.StreamError | BusyError, R>
  /**
   * Runs a turn whose final response must match `schema`: its JSON Schema (OpenAI's strict subset,
   * root an object) is sent as `outputSchema` and the response is decoded with it. Prefer `Schema.Int`
   * or `Schema.Finite` to `Schema.Number`, whose JSON Schema also admits "NaN"/"Infinity" strings.
   */
  readonly runStructured: <A, I, R = never>(
    schema: Schema.Codec<A, I>,
    input: Input.Input,
    options?: TurnOptions<R>
  ) => Effect.Effect<
    { readonly value: A; readonly result: Turn.Result },
    StructuredOutputError | Turn.TurnFailedError | Turn.StreamError | BusyError,
    R
  >
  /** Reads the thread (`thread/read`), with its turns unless `includeTurns` is false. */
  readonly read: (options?: { readonly includeTurns?: boolean }) => Effect.Effect<ThreadInfo, RequestError>
  /** Renames the thread. */
  readonly setName: (name: string) => Effect.Effect<void, RequestError>
  /** Starts compaction of the thread's history. */
  readonly compact: Effect.Effect<void, RequestError>
  /**
   * The thread's requests that wait for a person (policy `Approvals.ask`), oldest first: what a client that
   * (re)connects shows. Each is plain data; answer it with {@link respond}.
   */
  readonly pending: Effect.Effect<ReadonlyArray<PendingRequest.PendingRequest>>
  /**
   * Answers the pending request `requestId` (the answer is checked against its method's response). The first answer
   * wins; a later one, or one to a request that timed out or ended with its turn, fails with `RequestNotPendingError`.
   * `by` (who answers) is recorded in the turn's `ServerRequestSettled` event.
   */
  readonly respond: (
    requestId: string,
    answer: unknown,
    options?: PendingRequest.AnswerOptions
  ) => Effect.Effect<void, Errors.AnswerError>
  /** Declines the pending request `requestId` (the answer a timeout sends), with the same rules as {@link respond}. */
  readonly decline: (
    requestId: string,
    options?: PendingRequest.AnswerOptions
  ) => Effect.Effect<void, Errors.RequestNotPendingError>
}
