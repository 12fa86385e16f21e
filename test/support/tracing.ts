/**
 * A tracer for tests that keeps every span it makes, to assert what was traced.
 */
import * as Tracer from "effect/Tracer"

/** A tracer whose spans (the native span implementation) are kept in `spans`, in the order they started. */
export const recordingTracer = (): { readonly spans: Array<Tracer.NativeSpan>; readonly tracer: Tracer.Tracer } => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}
