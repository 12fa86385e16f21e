/**
 * The schema of a finished turn's outcome, apart from `Turn` so that `Errors` (whose `TurnFailedError` holds it)
 * and `Turn` both import it without a cycle. Users reach it as `Turn.Result`.
 *
 * @since 0.1.0
 *
 * @internal
 */
import { ThreadItem, ThreadTokenUsage, TokenUsageBreakdown, TurnError, TurnStatus } from "@effect-codex/protocol"
import * as Schema from "effect/Schema"

/**
 * The outcome of a finished turn.
 *
 * @since 0.1.0
 * @category schemas
 */
export const TurnResult = Schema.Struct({
  id: Schema.String,
  threadId: Schema.String,
  status: TurnStatus,
  error: Schema.NullOr(TurnError),
  /** Unix seconds. */
  startedAt: Schema.NullOr(Schema.Number),
  /** Unix seconds. */
  completedAt: Schema.NullOr(Schema.Number),
  durationMs: Schema.NullOr(Schema.Number),
  /** The text of the last agent message (the final answer when codex marks one). */
  finalResponse: Schema.NullOr(Schema.String),
  items: Schema.Array(ThreadItem),
  /**
   * The thread's token usage as last reported during the turn: `total` is the **thread's** running total (all its
   * turns so far), `last` the turn's last model call. The turn's own figure is {@link turnUsage}.
   */
  usage: Schema.NullOr(ThreadTokenUsage),
  /**
   * This turn's own tokens (since 0.2.0): the thread's total at the turn's last report minus its total before the
   * turn's first model call. Null when the turn reported no usage.
   */
  turnUsage: Schema.NullOr(TokenUsageBreakdown)
})

/**
 * The outcome of a finished turn.
 *
 * @since 0.1.0
 * @category models
 */
export type TurnResult = typeof TurnResult.Type
