/**
 * One turn of a thread: its events as a `Stream`, its result, and the controls `steer` and `interrupt`.
 *
 * Events reach a turn through its `Codex`'s dispatcher (one lookup by thread id per message), on a route opened
 * **before** `turn/start` is sent, so notifications that overtake the `turn/start` response are kept; a pure
 * tracker matches them to the turn and collects the result. Each turn has its own buffer: a
 * slow consumer of one turn never holds up another. A turn always settles: it completes with
 * `turn/completed`, fails with `AppServerExitedError` if the server dies, and a turn that goes silent
 * for `idleTimeout` is reconciled with `thread/read` (completed there → completed here; still running →
 * `TurnStalledError`).
 *
 * @since 0.1.0
 */
import type {
  ThreadItem,
  ThreadTokenUsage,
  Turn as TurnInfo
} from "@effect-codex/protocol"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as AppServer from "./AppServer.js"
import type * as Approvals from "./Approvals.js"
import * as Errors from "./Errors.js"
import type { AppServerExitedError, RequestError } from "./Errors.js"
import * as Input from "./Input.js"
import * as Tracker from "./internal/codex/tracker.js"
import * as ResultSchema from "./internal/codex/turnResult.js"

/**
 * The outcome of a finished turn.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Result = ResultSchema.TurnResult

/**
 * The outcome of a finished turn.
 *
 * @since 0.2.0
 * @category models
 */
export type Result = ResultSchema.TurnResult

/**
 * The turn ended with status `failed` (defined in `Errors`, re-exported here).
 *
 * @since 0.1.0
 * @category errors
 */
export const TurnFailedError = Errors.TurnFailedError

/**
 * The turn ended with status `failed` (defined in `Errors`, re-exported here).
 *
 * @since 0.1.0
 * @category errors
 */
export type TurnFailedError = Errors.TurnFailedError

/**
 * The turn went silent and is still running on the server (defined in `Errors`, re-exported here).
 *
 * @since 0.1.0
 * @category errors
 */
export const TurnStalledError = Errors.TurnStalledError

/**
 * The turn went silent and is still running on the server (defined in `Errors`, re-exported here).
 *
 * @since 0.1.0
 * @category errors
 */
export type TurnStalledError = Errors.TurnStalledError

/**
 * Every way following a turn can fail (besides the turn itself failing).
 *
 * @since 0.1.0
 * @category errors
 */
export type StreamError = AppServerExitedError | TurnStalledError | RequestError

/**
 * A notification that belongs to this turn (or to its thread, such as `thread/status/changed`).
 *
 * @since 0.2.0
 * @category models
 */
export type Event = AppServer.Notification

/**
 * Options of one turn, besides the `turn/start` params.
 *
 * @since 0.1.0
 * @category models
 */
export interface WatchOptions {
  /** Silence after which the turn is reconciled with `thread/read`. Default 5 minutes. */
  readonly idleTimeout?: Duration.Input | undefined
  /** After `interrupt`, how long to wait for `turn/completed` before reconciling. Default 10 seconds. */
  readonly interruptGrace?: Duration.Input | undefined
}

/**
 * The agent's text as it is written: the `item/agentMessage/delta` texts among a turn's events.
 *
 * @since 0.1.0
 * @category utils
 */
export const textDeltas = <E, R>(events: Stream.Stream<Event, E, R>): Stream.Stream<string, E, R> =>
  events.pipe(
    Stream.filter((event): event is Extract<AppServer.KnownNotification, { method: "item/agentMessage/delta" }> =>
      event._tag === "Notification" && event.method === "item/agentMessage/delta"
    ),
    Stream.map((event) => event.params.delta)
  )

/**
 * A running turn.
 *
 * @since 0.2.0
 * @category models
 */
export interface Handle {
  readonly id: string
  readonly threadId: string
  /** The turn as `turn/start` answered it (status `inProgress`). */
  readonly started: TurnInfo
  /**
   * This turn's events, in order, from the first (possibly before the `turn/start` response) to
   * `turn/completed` included, where it ends. Read it once.
   */
  readonly stream: Stream.Stream<Event, StreamError>
  /** Waits for the end and gives the result, whatever the status (the stream need not be read). */
  readonly result: Effect.Effect<Result, StreamError>
  /** {@link result}, failing with `TurnFailedError` when the status is `failed`. */
  readonly run: Effect.Effect<Result, TurnFailedError | StreamError>
  /** Adds input to the running turn (`turn/steer`). */
  readonly steer: (input: Input.Input) => Effect.Effect<void, RequestError>
  /** Asks the server to stop the turn and waits until it has settled. */
  readonly interrupt: Effect.Effect<Result, StreamError>
}

/**
 * The id of an item: of a known item, or of one of a type this protocol version does not know (`type: "@unknown"`,
 * the item as received in `raw`) when it has one.
 *
 * @since 0.2.0
 * @category utils
 */
export const itemId: (item: ThreadItem) => string | undefined = Tracker.itemId

/**
 * Builds the result from the server's final turn and what was seen on the way.
 *
 * @since 0.1.0
 * @category utils
 */
export const resultOf: (
  threadId: string,
  turn: TurnInfo,
  seenItems: ReadonlyArray<ThreadItem>,
  usage: ThreadTokenUsage | null
) => Result = Tracker.resultOf

/**
 * Options of one turn, besides the `turn/start` params: the watchdog times and per-turn approvals.
 *
 * @since 0.2.0
 * @category models
 */
export interface StartOptions extends WatchOptions {
  /** Handlers for this turn's server requests, over the Codex-wide `Approvals`; they last as long as the turn. */
  readonly approvals?: Approvals.Handlers | undefined
}
