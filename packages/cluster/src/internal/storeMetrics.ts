/**
 * The conversation store with each operation's duration recorded in `ClusterMetrics.storeLatency`, by operation.
 *
 * @since 0.2.0
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as ClusterMetrics from "../ClusterMetrics.js"
import { ConversationStore } from "../ConversationStore.js"

const timed = <A, E, R>(operation: string, self: Effect.Effect<A, E, R>) =>
  Effect.timed(self).pipe(
    Effect.tap(([duration]) => Metric.update(Metric.withAttributes(ClusterMetrics.storeLatency, { operation }), duration)),
    Effect.map(([, value]) => value)
  )

/**
 * `store` with its operations timed.
 *
 * @since 0.2.0
 * @category constructors
 * @internal
 */
export const metered = (store: ConversationStore): ConversationStore =>
  Object.fromEntries(Object.entries(store).map(([operation, member]) => [
    operation,
    typeof member !== "function" ? member : (...args: Array<unknown>) => {
      const result: unknown = member(...args)
      return Effect.isEffect(result) ? timed(operation, result) : result
    }
  ])) as ConversationStore

/**
 * The `ConversationStore` in context, metered.
 *
 * @since 0.2.0
 * @category layers
 * @internal
 */
export const layer: Layer.Layer<ConversationStore, never, ConversationStore> = Layer.effect(ConversationStore)(
  Effect.map(Effect.service(ConversationStore), metered)
)
