/**
 * Placement: which process a thread lives on. A new thread goes to the least-loaded live member (fewest turns
 * running, then fewest threads) and stays there (codex lets one process write a thread); it counts toward that
 * member's load from the moment it is placed, before the server has answered, so a burst of new threads spreads
 * over the pool. A thread whose owner has ended is resumed on a live member at its next operation, one resume at a
 * time per thread.
 *
 * Shutdown: resumes run in the scope placement was made in (a caller that is interrupted does not cut the resume
 * others wait for); closing it interrupts them.
 *
 * @since 0.2.0
 *
 * @internal
 */
import type { ThreadResumeParams } from "@effect-codex/protocol"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { AppServerExitedError, type RequestError, type StartError } from "../../Errors.js"
import { isRefused, type Member } from "./member.js"

/**
 * The overrides of a `thread/resume`.
 *
 * @since 0.2.0
 * @category models
 */
export type ResumeOverrides = Omit<ThreadResumeParams, "threadId">

/**
 * Options of {@link make}: the live members and how to get more, from the supervisor, and how to resume a thread.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options<P, O> {
  /** The live members (read at each placement). */
  readonly members: ReadonlyArray<Member<P>>
  /** Starts a member now (there is none live). */
  readonly startNow: Effect.Effect<Member<P>, StartError>
  /** Starts another member in the background if there is room (the least-loaded one is busy). */
  readonly growIfRoom: Effect.Effect<void>
  /** How often a call refused by an ended process is made again on another. */
  readonly retries: number
  /** Resumes `threadId` on `member` (`thread/resume`), answering `O`. */
  readonly resume: (member: Member<P>, threadId: string, overrides: ResumeOverrides) => Effect.Effect<O, RequestError>
}

/**
 * A thread placed on a member, with the answer of the request that placed it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Placed<P, A> {
  readonly member: Member<P>
  readonly opened: A
}

/**
 * The placement of a pool's threads.
 *
 * @since 0.2.0
 * @category models
 */
export interface Placement<P, O> {
  /**
   * The least-loaded live member (a member is started if there is none; when the chosen one is busy, another is
   * started in the background if the pool has room).
   */
  readonly pick: Effect.Effect<Member<P>, AppServerExitedError>
  /** `f` on the least-loaded member, made again on another if that one had ended. */
  readonly anywhere: <A, E, R>(
    f: (member: Member<P>) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | AppServerExitedError, R>
  /**
   * Opens a new thread with `f` on `on`, or else on the least-loaded member (made again on another if that one had
   * ended): the thread counts there at once, is owned by it once `f` answers, and no longer counts if `f` fails.
   */
  readonly open: <A extends { readonly id: string }, E, R>(
    f: (member: Member<P>) => Effect.Effect<A, E, R>,
    on?: Member<P>
  ) => Effect.Effect<Placed<P, A>, E | AppServerExitedError, R>
  /** The live member that owns the thread now, if any (no resume). */
  readonly liveOwner: (threadId: string) => Member<P> | undefined
  /** The live member that owns the thread, resuming the thread on one if needed. */
  readonly owner: (threadId: string) => Effect.Effect<Member<P>, RequestError>
  /**
   * Resumes the thread on a live member (its previous owner's process must have ended first: it held the writer
   * lock), with `overrides`; a resume of the thread already under way is awaited instead.
   */
  readonly place: (threadId: string, overrides?: ResumeOverrides) => Effect.Effect<Placed<P, O>, RequestError>
  /** The thread no longer lives on the pool (archived). */
  readonly forget: (threadId: string) => void
}

/** Where a thread lives: on a member, or being resumed on one (counted there already). */
type Entry<P, O> =
  | { readonly _tag: "Placed"; readonly member: Member<P> }
  | {
    readonly _tag: "Placing"
    readonly result: Deferred.Deferred<Placed<P, O>, RequestError>
    readonly previous: Member<P> | undefined
  }

/**
 * Placement over the supervisor's members, resuming threads in the current scope.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = <P, O>(options: Options<P, O>): Effect.Effect<Placement<P, O>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { members } = options
    const clock = yield* Clock.Clock
    const scope = yield* Effect.scope
    const owners = new Map<string, Entry<P, O>>()

    /** Fewest turns running, then fewest threads (placed or being placed). */
    const leastLoaded = () => {
      let best: Member<P> | undefined
      for (const member of members) {
        if (
          best === undefined || member.turns < best.turns ||
          (member.turns === best.turns && member.threads < best.threads)
        ) best = member
      }
      return best
    }

    const startNow = options.startNow.pipe(
      Effect.mapError((error) =>
        new AppServerExitedError({
          exitCode: null,
          signal: null,
          stderrTail: [],
          reason: `no process of the pool is running, and a new one did not start: ${error.message}`
        })
      )
    )

    /** Another member is started in the background when the one chosen is busy. */
    const busy = (member: Member<P>) => member.turns > 0 ? options.growIfRoom : Effect.void

    const pick = Effect.suspend(() => {
      const best = leastLoaded()
      return best === undefined ? startNow : Effect.as(busy(best), best)
    })

    const retryRefused = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.retry(effect, { while: (error) => isRefused(error), times: options.retries })

    const anywhere: Placement<P, O>["anywhere"] = (f) => retryRefused(Effect.flatMap(pick, f))

    /** `threadId` is owned by `member`, which counted it already; the member that counted it before no longer does. */
    const own = (threadId: string, member: Member<P>) => {
      const entry = owners.get(threadId)
      const before = entry?._tag === "Placed" ? entry.member : entry?.previous
      if (before !== undefined) before.threads--
      owners.set(threadId, { _tag: "Placed", member })
      member.lastActive = clock.currentTimeMillisUnsafe()
    }

    /**
     * Counts a thread on the member `choose` gives in the same step as the choice (no other placement sees that
     * member without it; one is started if there is none), then runs `f` there. The count is taken back if `f`
     * fails; `onSuccess` is told synchronously when it succeeds.
     */
    const reserve = <A, E, R>(
      choose: () => Member<P> | undefined,
      f: (member: Member<P>) => Effect.Effect<A, E, R>,
      onSuccess: (member: Member<P>, value: A) => void
    ): Effect.Effect<Placed<P, A>, E | AppServerExitedError, R> =>
      Effect.uninterruptibleMask((restore) => {
        const member = choose()
        if (member === undefined) {
          return Effect.flatMap(restore(startNow), (fresh) => reserve(() => fresh, f, onSuccess))
        }
        member.threads++
        return restore(Effect.andThen(busy(member), f(member))).pipe(
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (Exit.isSuccess(exit)) onSuccess(member, exit.value)
              else member.threads--
            })
          ),
          Effect.map((opened) => ({ member, opened }))
        )
      })

    const open: Placement<P, O>["open"] = (f, on) => {
      const owned = (member: Member<P>, opened: { readonly id: string }) => own(opened.id, member)
      return on === undefined ? retryRefused(reserve(leastLoaded, f, owned)) : reserve(() => on, f, owned)
    }

    const liveOwner = (threadId: string) => {
      const entry = owners.get(threadId)
      return entry?._tag === "Placed" && entry.member.live ? entry.member : undefined
    }

    const place: Placement<P, O>["place"] = (threadId, overrides = {}) =>
      Effect.suspend(() => {
        const entry = owners.get(threadId)
        if (entry?._tag === "Placing") return Deferred.await(entry.result)
        const previous = entry?.member
        const result = Deferred.makeUnsafe<Placed<P, O>, RequestError>()
        owners.set(threadId, { _tag: "Placing", result, previous })
        const resume = Effect.gen(function*() {
          if (previous?.live === false) yield* Deferred.await(previous.gone)
          return yield* reserve(
            () => previous?.live === true ? previous : leastLoaded(),
            (member) => options.resume(member, threadId, overrides),
            () => {}
          )
        })
        // In the placement's scope: a caller that is interrupted does not cut the resume others wait for.
        return resume.pipe(
          Effect.onExit((exit) =>
            Effect.sync(() => {
              if (Exit.isSuccess(exit)) return own(threadId, exit.value.member)
              // Not placed: the thread stays with its previous owner, to be resumed at its next operation.
              if (previous === undefined) owners.delete(threadId)
              else owners.set(threadId, { _tag: "Placed", member: previous })
            })
          ),
          Effect.exit,
          Effect.flatMap((exit) => Deferred.done(result, exit)),
          Effect.forkIn(scope),
          Effect.andThen(Deferred.await(result))
        )
      })

    const owner = (threadId: string): Effect.Effect<Member<P>, RequestError> =>
      Effect.suspend(() => {
        const member = liveOwner(threadId)
        return member !== undefined ? Effect.succeed(member) : Effect.map(place(threadId), (placed) => placed.member)
      })

    const forget = (threadId: string) => {
      const entry = owners.get(threadId)
      if (entry?._tag === "Placed") entry.member.threads--
      owners.delete(threadId)
    }

    return { pick, anywhere, open, liveOwner, owner, place, forget }
  })
