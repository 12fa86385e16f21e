/**
 * Spans on the per-turn path, recorded only when a tracer is installed.
 *
 * On the default native tracer nothing reads a span, and `Effect.fn`'s span and call-site trace cost measurable
 * client CPU per turn (case 6 of the bench): the turn functions are `Effect.fnUntraced` with {@link traced}.
 *
 * @since 0.1.0
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

/**
 * Runs `self` in a span named `name` when a tracer other than the native one is installed, else as it is.
 *
 * @since 0.2.0
 * @category tracing
 */
export const traced = (name: string, options?: Tracer.SpanOptions) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.tracer, (tracer) => isTracing(tracer) ? Effect.withSpan(self, name, options) : self)

/**
 * Whether spans made with `tracer` are recorded: any tracer but the native one.
 *
 * @since 0.2.0
 * @category tracing
 */
export const isTracing = (tracer: Tracer.Tracer): boolean => tracer !== Tracer.nativeTracer
