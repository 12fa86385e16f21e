/**
 * A turn as a pure, synchronous tracker: its thread's notifications in, this turn's events, its result and how it
 * ended out. No effect, no clock, no server: `start` in `internal/turn.ts` wraps it in the effectful shell (`turn/start`, the
 * watchdog, interrupt, the finaliser) and the tests drive it with plain arrays of captured events.
 *
 * It owns the turn id matching, the buffer of events that arrive before the `turn/start` answer, what the
 * result collects on the way (completed items, the last token usage) and the settlement at `turn/completed`.
 *
 * @since 0.1.0
 *
 * @internal
 */
import type { ThreadItem, ThreadTokenUsage, Turn as TurnInfo } from "@effect-codex/protocol"
import { excerpt, ProtocolError } from "../../Errors.js"
import type { Event as TurnEvent } from "../../Turn.js"
import type { TurnResult } from "./turnResult.js"

/**
 * How a turn ended, as its own events tell: `turn/completed`, or a `turn/completed` that did not decode.
 *
 * @since 0.2.0
 * @category models
 */
export type End =
  | { readonly _tag: "Completed"; readonly result: TurnResult }
  | { readonly _tag: "Malformed"; readonly error: ProtocolError }

/** The text of the final answer among the items: the last agent message marked final, else the last one. */
const finalResponseOf = (items: ReadonlyArray<ThreadItem>): string | null => {
  const messages = items.filter((item): item is Extract<ThreadItem, { type: "agentMessage" }> =>
    item.type === "agentMessage"
  )
  const final = messages.filter((message) => message.phase === "final_answer")
  return (final.at(-1) ?? messages.at(-1))?.text ?? null
}

/**
 * The id of an item, known or of a type this protocol version does not know (`type: "@unknown"`).
 *
 * @since 0.2.0
 * @category utils
 */
export const itemId = (item: ThreadItem): string | undefined =>
  item.type === "@unknown" ? (typeof item.raw["id"] === "string" ? item.raw["id"] : undefined) : item.id

/**
 * Builds the result from the server's final turn and what was seen on the way.
 *
 * @since 0.1.0
 * @category utils
 */
export const resultOf = (
  threadId: string,
  turn: TurnInfo,
  seenItems: ReadonlyArray<ThreadItem>,
  usage: ThreadTokenUsage | null
): TurnResult => {
  // Items as they completed, then any the final turn lists that were not seen (e.g. after a reconcile). An item
  // without an id (only possible for an unknown type) is matched by its content.
  const seen = new Set(seenItems.map((item) => itemId(item) ?? JSON.stringify(item)))
  const items = [...seenItems, ...turn.items.filter((item) => !seen.has(itemId(item) ?? JSON.stringify(item)))]
  return {
    id: turn.id,
    threadId,
    status: turn.status,
    error: turn.error ?? null,
    startedAt: turn.startedAt ?? null,
    completedAt: turn.completedAt ?? null,
    durationMs: turn.durationMs ?? null,
    finalResponse: finalResponseOf(items),
    items,
    usage
  }
}

/** The turn an event names (`turnId`, or `turn.id` in `turn/started` and `turn/completed`), if any. */
const turnOf = (event: TurnEvent): unknown => {
  const params = event.params as { readonly turnId?: unknown; readonly turn?: { readonly id?: unknown } } | null
  return typeof params === "object" && params !== null ? params.turnId ?? params.turn?.id : undefined
}

const none: ReadonlyArray<TurnEvent> = []

/**
 * Follows one turn of thread `threadId`. Give it every notification of the thread (routing by thread is the
 * dispatcher's job), in order, a chunk at a time with {@link Tracker.receive}, and the turn id when `turn/start`
 * answers with {@link Tracker.started}. Both return this turn's events among those given (its own, and its
 * thread's that name no turn, such as `thread/status/changed`), up to and including the one that ended it;
 * {@link Tracker.end} then says how.
 *
 * @since 0.2.0
 * @category utils
 */
export class Tracker {
  /** The turn id, once `turn/start` has answered. */
  turnId: string | undefined = undefined
  /** How the turn ended, once one of its events ended it; nothing is accepted after that. */
  end: End | undefined = undefined
  private early: Array<TurnEvent> | undefined = []
  private readonly items: Array<ThreadItem> = []
  private usage: ThreadTokenUsage | null = null

  constructor(readonly threadId: string) {}

  /** Events of the thread, in order. Before the turn id is known they wait (and nothing is returned). */
  receive(batch: ReadonlyArray<TurnEvent>): ReadonlyArray<TurnEvent> {
    if (this.end !== undefined) return none
    if (this.early !== undefined) {
      for (const event of batch) this.early.push(event)
      return none
    }
    // The batch itself is returned when all of it belongs to the turn (the common case): no copy.
    let kept: Array<TurnEvent> | undefined
    for (let index = 0; index < batch.length; index++) {
      const event = batch[index]!
      const turn = turnOf(event)
      if (turn !== undefined && turn !== this.turnId) {
        kept ??= batch.slice(0, index)
        continue
      }
      kept?.push(event)
      this.end = this.record(event)
      if (this.end !== undefined) return kept ?? batch.slice(0, index + 1)
    }
    return kept ?? batch
  }

  /** `turn/start` answered with the turn id: the events that waited are matched now. */
  started(turnId: string): ReadonlyArray<TurnEvent> {
    const waiting = this.early ?? none
    this.turnId = turnId
    this.early = undefined
    return this.receive(waiting)
  }

  /** The result from the server's own account of the turn (`thread/read` after a silence), with what was seen. */
  resultOf(turn: TurnInfo): TurnResult {
    return resultOf(this.threadId, turn, this.items, this.usage)
  }

  /**
   * Records what the result needs from one of this turn's events; how the turn ended when the event ends it. A
   * `turn/completed` that does not decode (unknown item types and enum values do decode) still ends the turn.
   */
  private record(event: TurnEvent): End | undefined {
    if (event._tag !== "Notification") {
      return event.method === "turn/completed"
        ? {
          _tag: "Malformed",
          error: new ProtocolError({
            method: event.method,
            reason: event.reason,
            excerpt: excerpt(JSON.stringify(event.params) ?? "undefined")
          })
        }
        : undefined
    }
    switch (event.method) {
      case "item/completed":
        this.items.push(event.params.item)
        return undefined
      case "thread/tokenUsage/updated":
        this.usage = event.params.tokenUsage
        return undefined
      case "turn/completed":
        return { _tag: "Completed", result: this.resultOf(event.params.turn) }
      default:
        return undefined
    }
  }
}
