/**
 * The caller's side: `CodexCluster.conversation(key)` sends a conversation's messages to whichever runner owns it.
 * A client needs no codex: `layerClient` joins the cluster as a client only (SQL storage, no shards).
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { PgClient } from "@effect/sql-pg"
 * import { Effect, Layer, Redacted } from "effect"
 * import { CodexCluster } from "@effect-codex/cluster"
 *
 * const program = Effect.gen(function*() {
 *   const cluster = yield* CodexCluster.CodexCluster
 *   const chat = cluster.conversation("customer-42")
 *   // A retry with the same turn key returns the first answer; no second turn runs.
 *   const result = yield* chat.runTurn("Summarise the last ticket", { turnKey: "ticket-summary-1" })
 *   yield* Effect.log(result.finalResponse)
 * })
 *
 * program.pipe(
 *   Effect.provide(CodexCluster.layerClient().pipe(
 *     Layer.provide(PgClient.layer({ url: Redacted.make("postgres://localhost/codex") }))
 *   )),
 *   NodeRuntime.runMain
 * )
 * ```
 * @since 0.2.0
 */
import type * as ClusterError from "effect/cluster/ClusterError"
import type * as Sharding from "effect/cluster/Sharding"
import type * as ShardingConfig from "effect/cluster/ShardingConfig"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Stream from "effect/Stream"
import type * as SqlClient from "effect/sql/SqlClient"
import type { Thread as ThreadInfo } from "@effect-codex/protocol"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import type { Input, Turn } from "effect-codex"
import type { NoTurnRunningError, OpenError, RequestError, RolloutMismatchError, StoreError, TurnError } from "./ClusterErrors.js"
import { CodexThread, type OpenMode, type TurnEvent } from "./CodexThread.js"
import { serialization } from "./internal/serialization.js"

/**
 * The cluster's own failures to deliver a message (mailbox full, persistence, ...).
 *
 * @since 0.2.0
 * @category models
 */
export type DeliveryError =
  | ClusterError.MailboxFull
  | ClusterError.AlreadyProcessingMessage
  | ClusterError.PersistenceError
  | ClusterError.EntityNotAssignedToRunner

/**
 * Options of a turn.
 *
 * @since 0.2.0
 * @category models
 */
export interface TurnOptions {
  /** The turn's key: a message with a key already answered gets that answer. Default: a random UUID. */
  readonly turnKey?: string | undefined
  /** A turn cut by a runner's death: fail with `TurnCutError` (default) or run it again. */
  readonly onCut?: "fail" | "rerun" | undefined
}

/**
 * One conversation's messages.
 *
 * @since 0.2.0
 * @category models
 */
export interface Conversation {
  readonly key: string
  /** Gives the conversation its thread (default: a new one); a conversation that has one keeps it. */
  readonly open: (
    mode?: OpenMode
  ) => Effect.Effect<{ readonly threadId: string; readonly created: boolean }, typeof RequestError.Type | StoreError | OpenError | RolloutMismatchError | DeliveryError>
  /** Runs a turn to its end (a `failed` turn is `TurnFailedError`). */
  readonly runTurn: (input: Input.Input, options?: TurnOptions) => Effect.Effect<Turn.Result, TurnError | DeliveryError>
  /** Runs a turn and streams its events. */
  readonly streamTurn: (
    input: Input.Input,
    options?: Pick<TurnOptions, "turnKey">
  ) => Stream.Stream<TurnEvent, TurnError | DeliveryError>
  /** Adds input to the running turn. */
  readonly steer: (input: Input.Input) => Effect.Effect<void, typeof RequestError.Type | NoTurnRunningError | DeliveryError>
  /** Stops the running turn, if any. */
  readonly interrupt: Effect.Effect<void, TurnError | DeliveryError>
  /** The conversation's thread, with its turns. */
  readonly read: Effect.Effect<ThreadInfo, TurnError | DeliveryError>
}

/**
 * The client of the cluster's conversations.
 *
 * @since 0.2.0
 * @category services
 */
export class CodexCluster extends Context.Service<CodexCluster, {
  readonly conversation: (key: string) => Conversation
}>()("effect-codex/cluster/CodexCluster") {}

/**
 * `CodexCluster` over the `Sharding` in context (a runner's, or a client's from {@link layerClient}).
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<CodexCluster, never, Sharding.Sharding> = Layer.effect(CodexCluster)(
  Effect.gen(function*() {
    const client = yield* CodexThread.client
    return CodexCluster.of({
      conversation: (key) => {
        const entity = client(key)
        return {
          key,
          open: (mode = { _tag: "Start" }) => entity.Open({ mode }),
          runTurn: (input, options = {}) =>
            entity.RunTurn({ input, turnKey: options.turnKey ?? crypto.randomUUID(), onCut: options.onCut }),
          streamTurn: (input, options = {}) =>
            entity.StreamTurn({ input, turnKey: options.turnKey ?? crypto.randomUUID() }),
          steer: (input) => entity.Steer({ input }),
          interrupt: entity.Interrupt(),
          read: entity.Read()
        }
      }
    })
  })
)

/**
 * `CodexCluster` as a client only of the cluster whose storage is the `SqlClient` in context: it finds the runners
 * there and owns no shards.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerClient = (
  options: { readonly sharding?: Partial<ShardingConfig.ShardingConfig["Service"]> | undefined } = {}
): Layer.Layer<CodexCluster, Config.ConfigError, SqlClient.SqlClient> =>
  layer.pipe(
    Layer.provide(NodeClusterSocket.layer({ storage: "sql", serialization, clientOnly: true, shardingConfig: options.sharding }))
  )
