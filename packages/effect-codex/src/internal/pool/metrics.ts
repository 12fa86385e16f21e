/**
 * The figures of every `CodexPool` (re-exported by `CodexPool.ts`): processes, turns in flight, the queue, restarts,
 * and per process (attributes `process` and `pid`) its threads and turns, read when the metrics are taken.
 *
 * @since 0.2.0
 *
 * @internal
 */
import * as Metric from "effect/Metric"

/**
 * Processes of every pool that are running.
 *
 * @since 0.2.0
 * @category metrics
 */
export const processes = Metric.gauge("effect_codex_pool_processes", {
  description: "codex app-server processes running in a CodexPool"
})

/**
 * Turns that hold a place on a pool process (started and not yet settled).
 *
 * @since 0.2.0
 * @category metrics
 */
export const turnsInFlight = Metric.gauge("effect_codex_pool_turns_in_flight", {
  description: "turns running on CodexPool processes"
})

/**
 * Callers waiting for a place on a process that runs `maxTurnsPerProcess` turns.
 *
 * @since 0.2.0
 * @category metrics
 */
export const queueLength = Metric.gauge("effect_codex_pool_queue_length", {
  description: "turns waiting for room on a CodexPool process"
})

/**
 * Processes replaced after they exited or stopped answering the probe.
 *
 * @since 0.2.0
 * @category metrics
 */
export const restarts = Metric.counter("effect_codex_pool_restarts", {
  description: "CodexPool processes replaced after a crash or a failed probe"
})

/**
 * Threads placed on each process (or being placed there), one series per process.
 *
 * @since 0.2.0
 * @category metrics
 */
export const processThreads = Metric.gauge("effect_codex_pool_process_threads", {
  description: "threads placed on one CodexPool process (attributes: process, pid)"
})

/**
 * Turns holding a place on each process, one series per process.
 *
 * @since 0.2.0
 * @category metrics
 */
export const processTurns = Metric.gauge("effect_codex_pool_process_turns", {
  description: "turns running on one CodexPool process (attributes: process, pid)"
})
