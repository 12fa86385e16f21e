/**
 * What a runner's conversations do, as Effect `Metric`s (summed over the runners of this process).
 *
 * @since 0.2.0
 */
import * as Metric from "effect/Metric"

/**
 * Turns run to their end and stored with the rollout after them.
 *
 * @since 0.2.0
 * @category metrics
 */
export const turnsCompleted = Metric.counter("effect_codex_cluster_turns_completed", {
  description: "turns a runner completed and stored with their rollout"
})

/**
 * Turns found cut when their message came again (their runner died or lost the shard while running them).
 *
 * @since 0.2.0
 * @category metrics
 */
export const turnsCut = Metric.counter("effect_codex_cluster_turns_cut", {
  description: "turns found cut by their runner's end when their message was delivered again"
})

/**
 * Threads a runner resumed from the stored rollout: a conversation that moved to it, or came back to its memory.
 *
 * @since 0.2.0
 * @category metrics
 */
export const threadsRestored = Metric.counter("effect_codex_cluster_threads_restored", {
  description: "threads a runner resumed from the stored rollout (written into its CODEX_HOME when missing)"
})

/**
 * Bytes of the last rollout stored (a conversation's rollout grows with its history; it is written after every turn).
 *
 * @since 0.2.0
 * @category metrics
 */
export const rolloutBytes = Metric.gauge("effect_codex_cluster_rollout_bytes", {
  description: "size of the last rollout a runner stored"
})
