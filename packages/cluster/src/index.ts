/**
 * effect-codex on Effect Cluster: conversations as durable entities across runner processes.
 *
 * @since 0.2.0
 */

/**
 * The conversation entity and its messages: `CodexThread.CodexThread`, `Open`, `RunTurn`, `StreamTurn`, `Steer`,
 * `Interrupt`, `Read`.
 *
 * @since 0.2.0
 */
export * as CodexThread from "./CodexThread.js"

/**
 * A runner process: `CodexRunner.layer`, `CodexRunner.layerConfig`.
 *
 * @since 0.2.0
 */
export * as CodexRunner from "./CodexRunner.js"

/**
 * The caller's side: `CodexCluster.CodexCluster`, `CodexCluster.layerClient`.
 *
 * @since 0.2.0
 */
export * as CodexCluster from "./CodexCluster.js"

/**
 * Conversations and turns in SQL: `ConversationStore.ConversationStore`, `ConversationStore.layer`.
 *
 * @since 0.2.0
 */
export * as ConversationStore from "./ConversationStore.js"

/**
 * The cluster's errors: `TurnCutError`, `StoreError`, `NoTurnRunningError`, `OpenError`.
 *
 * @since 0.2.0
 */
export * as ClusterErrors from "./ClusterErrors.js"

/**
 * The runners' figures as `Metric`s: `turnsCompleted`, `turnsCut`, `threadsRestored`, `rolloutBytes`.
 *
 * @since 0.2.0
 */
export * as ClusterMetrics from "./ClusterMetrics.js"
