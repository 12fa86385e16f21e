/**
 * The schema of a finished turn's outcome, apart from `Turn` so that `Errors` (whose `TurnFailedError` holds it)
 * and `Turn` both import it without a cycle. Users reach it as `Turn.Result`.
 *
 * @since 0.1.0
 *
 * @internal
 */
import { ThreadItem, ThreadTokenUsage, TurnError, TurnStatus } from "@effect-codex/protocol"
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
  /** Token usage reported during the turn (the last report). */
  usage: Schema.NullOr(ThreadTokenUsage)
})

/**
 * The outcome of a finished turn.
 *
 * @since 0.1.0
 * @category models
 */
export type TurnResult = typeof TurnResult.Type
