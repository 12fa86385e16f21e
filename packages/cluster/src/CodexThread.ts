/**
 * A conversation as an Effect Cluster entity: `CodexThread`, keyed by a conversation key the caller chooses. Its
 * messages:
 *
 * - `Open`: start a thread, resume an existing codex thread, or fork another conversation's thread (a conversation
 *   that was never opened starts a thread at its first turn);
 * - `RunTurn`: persisted, and deduplicated by the caller's `turnKey` (its primary key), so a retry or a redelivery
 *   never runs a turn twice; answers the SDK's `Turn.Result`;
 * - `StreamTurn`: a turn whose events stream back to the caller;
 * - `Steer`, `Interrupt`: reach the conversation's running turn; `Read`: the thread (`thread/read`); `Locate`: the
 *   runner that holds the conversation.
 *
 * Runners serve it with `CodexRunner.layer`; callers reach it through `CodexCluster`.
 *
 * @since 0.2.0
 */
import { Thread as ThreadInfo, ThreadStartParams, UserInput } from "@effect-codex/protocol"
import * as ClusterSchema from "effect/cluster/ClusterSchema"
import * as Entity from "effect/cluster/Entity"
import * as Rpc from "effect/rpc/Rpc"
import * as Schema from "effect/Schema"
import { Turn } from "effect-codex"
import { NoTurnRunningError, OpenError, RequestError, RolloutMismatchError, StoreError, TurnError } from "./ClusterErrors.js"
import { AskPolicy, PendingRequest } from "./PendingRequests.js"

/**
 * A turn's input, as the SDK takes it (`Input.Input`): text, an input item, or a list of both.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Input = Schema.Union([Schema.String, UserInput, Schema.Array(Schema.Union([Schema.String, UserInput]))])

/**
 * How a conversation gets its thread.
 *
 * @since 0.2.0
 * @category schemas
 */
export const OpenMode = Schema.Union([
  Schema.TaggedStruct("Start", { params: Schema.optional(ThreadStartParams) }),
  /** An existing codex thread, present in the runner's `CODEX_HOME`. */
  Schema.TaggedStruct("Resume", { threadId: Schema.String }),
  /** A new thread forked from another conversation's thread (with its history). */
  Schema.TaggedStruct("Fork", { from: Schema.String })
])

/**
 * How a conversation gets its thread.
 *
 * @since 0.2.0
 * @category models
 */
export type OpenMode = typeof OpenMode.Type

/**
 * What `Open` answers: the conversation's codex thread, and whether this `Open` gave it (false when the conversation
 * already had one, which it keeps).
 *
 * @since 0.2.0
 * @category schemas
 */
export const Opened = Schema.Struct({ threadId: Schema.String, created: Schema.Boolean })

/**
 * What to do with a turn cut by a runner's death when its message is delivered again: `"fail"` (default) answers
 * `TurnCutError`, `"rerun"` runs it again on the conversation's new runner.
 *
 * @since 0.2.0
 * @category schemas
 */
export const OnCut = Schema.Literals(["fail", "rerun"])

/**
 * The `method` of the events that carry a turn's requests (see {@link RequestEvent}).
 *
 * @since 0.2.0
 * @category constants
 */
export const requestEventMethod = "effect-codex/request" as const

/**
 * An event of a streamed turn that asks: one of the turn's requests as stored, when codex raised it (status
 * `pending`: answer it with `respond`) and when it ended (answered, timed out, ...).
 *
 * @since 0.2.0
 * @category schemas
 */
export const RequestEvent = Schema.Struct({ method: Schema.Literal(requestEventMethod), params: PendingRequest })

/**
 * An event of a streamed turn that asks: one of the turn's requests as stored.
 *
 * @since 0.2.0
 * @category models
 */
export type RequestEvent = typeof RequestEvent.Type

/**
 * One event of a streamed turn: the app-server notification's method and params, or one of the turn's requests
 * ({@link RequestEvent}, in a turn that asks).
 *
 * @since 0.2.0
 * @category schemas
 */
export const TurnEvent = Schema.Union([
  RequestEvent,
  /** `emittedAtMs`: when codex sent it (codex's clock), when codex says. */
  Schema.Struct({ method: Schema.String, params: Schema.Unknown, emittedAtMs: Schema.optional(Schema.Number) })
])

/**
 * Whether `event` carries one of the turn's requests.
 *
 * @since 0.2.0
 * @category guards
 */
export const isRequestEvent = (event: TurnEvent): event is RequestEvent => event.method === requestEventMethod

/**
 * One event of a streamed turn.
 *
 * @since 0.2.0
 * @category models
 */
export type TurnEvent = typeof TurnEvent.Type

/**
 * Opens the conversation (see {@link OpenMode}).
 *
 * @since 0.2.0
 * @category messages
 */
export const Open = Rpc.make("Open", {
  payload: { mode: OpenMode },
  success: Opened,
  error: Schema.Union([RequestError, StoreError, OpenError, RolloutMismatchError])
})

/**
 * Runs a turn to its end. Persisted; `turnKey` is its primary key: a message with a turn key already answered gets
 * the stored answer, and no second turn runs. With `ask`, codex's requests wait for a client's answer
 * (`PendingRequests`).
 *
 * @since 0.2.0
 * @category messages
 */
export const RunTurn = Rpc.make("RunTurn", {
  payload: { turnKey: Schema.String, input: Input, onCut: Schema.optional(OnCut), ask: Schema.optional(AskPolicy) },
  success: Turn.Result,
  error: TurnError,
  primaryKey: (payload) => payload.turnKey
}).annotate(ClusterSchema.Persisted, true)

/**
 * Runs a turn and streams its events, ending with `turn/completed`. Not persisted: unlike `RunTurn`, it is not
 * delivered again after its runner's death. The turn is stored like a `RunTurn`'s; a `turnKey` already completed
 * streams nothing (`RunTurn` with that key answers its result). With `ask`, the turn's requests are among its
 * events ({@link RequestEvent}) and wait for a client's answer.
 *
 * @since 0.2.0
 * @category messages
 */
export const StreamTurn = Rpc.make("StreamTurn", {
  payload: { turnKey: Schema.String, input: Input, ask: Schema.optional(AskPolicy) },
  success: TurnEvent,
  error: TurnError,
  stream: true
})

/**
 * Adds input to the conversation's running turn.
 *
 * @since 0.2.0
 * @category messages
 */
export const Steer = Rpc.make("Steer", {
  payload: { input: Input },
  error: Schema.Union([RequestError, NoTurnRunningError])
})

/**
 * Stops the conversation's running turn, if any, and waits until it has settled.
 *
 * @since 0.2.0
 * @category messages
 */
export const Interrupt = Rpc.make("Interrupt", { error: TurnError })

/**
 * Reads the conversation's thread (`thread/read`, with its turns).
 *
 * @since 0.2.0
 * @category messages
 */
export const Read = Rpc.make("Read", { success: ThreadInfo, error: TurnError })

/**
 * The runner that holds the conversation (its address, `host:port`): the one its messages run on now.
 *
 * @since 0.2.0
 * @category messages
 */
export const Locate = Rpc.make("Locate", { success: Schema.String })

/**
 * The conversation entity.
 *
 * @since 0.2.0
 * @category entities
 */
export const CodexThread = Entity.make("CodexThread", [Open, RunTurn, StreamTurn, Steer, Interrupt, Read, Locate])
