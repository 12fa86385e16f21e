/**
 * The step shared by `Cassette.failOnMismatch` and `Transcript.failOnMismatch`.
 *
 * @since 0.2.0
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/**
 * Runs `self`; when `mismatch` holds an error afterwards (whether `self` succeeded or failed), fails with it instead.
 *
 * @since 0.2.0
 * @category combinators
 * @internal
 */
export const failWithMismatch = <M, A, E, R>(
  self: Effect.Effect<A, E, R>,
  mismatch: Effect.Effect<Option.Option<M>>
): Effect.Effect<A, E | M, R> => {
  const orMismatch = Effect.flatMap(mismatch, (found) => Option.isSome(found) ? Effect.fail(found.value) : Effect.void)
  return self.pipe(
    Effect.catchCause((cause) => Effect.andThen(orMismatch, Effect.failCause(cause))),
    Effect.tap(() => orMismatch)
  )
}
