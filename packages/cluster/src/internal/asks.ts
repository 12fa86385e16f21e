/**
 * Asking across processes, the runner's side: the per-turn handlers (`approvals` in the SDK's turn options) of a
 * turn that asks. Each request codex sends is stored as pending, told to whoever follows the turn, and waited on
 * until a client answers it (its answer goes to codex), its timeout passes (declined, stored `timed_out`), or the
 * turn ends first (declined; `resolved` when the turn ended, `cut` when it was stopped). Nothing is approved
 * without an answer; a store that fails declines.
 *
 * @since 0.2.0
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { type AppServer, Approvals } from "effect-codex"
import {
  type AskableMethod,
  AskableMethod as AskableMethods,
  type AskPolicy,
  type Ending,
  type PendingRequest,
  PendingRequests
} from "../PendingRequests.js"

/** How long a request waits for an answer when the policy names no timeout. */
const defaultTimeout = Duration.minutes(5)

/** The answer that refuses `request` (the SDK's default policy). */
const declineOf = Approvals.make({}).handle

/**
 * A turn's asking: the handlers to give the turn, and the turn's requests as they are raised and as they end.
 *
 * @since 0.2.0
 * @category models
 */
export interface TurnAsks {
  readonly approvals: Approvals.Handlers
  readonly requests: Stream.Stream<PendingRequest>
}

/**
 * The asking of one turn, for the current scope (the turn's): when it closes, requests still waiting are declined
 * and end `resolved` (the turn ended) or `cut` (the scope closed on a failure or an interruption).
 *
 * @since 0.2.0
 * @category constructors
 */
export const forTurn = Effect.fnUntraced(function*(options: {
  readonly conversation: string
  readonly turnKey: string
  readonly runner: string
  readonly policy: AskPolicy
}) {
  const store = yield* PendingRequests
  const requests = yield* Queue.unbounded<PendingRequest, Cause.Done>()
  const turnEnded = yield* Deferred.make<Ending>()
  yield* Effect.addFinalizer((exit) =>
    Deferred.succeed(turnEnded, Exit.isSuccess(exit) ? "resolved" : "cut").pipe(Effect.andThen(Queue.end(requests)))
  )
  const timeout = options.policy.timeout ?? defaultTimeout

  const ask = (request: AppServer.KnownServerRequest) =>
    Effect.gen(function*() {
      const endWith = (requestId: string, ending: Ending) =>
        Effect.flatMap(declineOf(request), (answer) => store.end(requestId, ending, answer))
      const stored = yield* store.create({
        conversation: options.conversation,
        turnKey: options.turnKey,
        runner: options.runner,
        method: request.method as AskableMethod,
        params: request.params as never
      })
      yield* Queue.offer(requests, stored)
      const ended = yield* Effect.raceFirst(
        store.awaitEnd(stored.requestId).pipe(
          Effect.timeoutOption(timeout),
          Effect.flatMap(Option.match({
            onSome: Effect.succeed,
            onNone: () =>
              Effect.logInfo("effect-codex: a request nobody answered was declined at its timeout").pipe(
                Effect.annotateLogs({ requestId: stored.requestId, method: stored.method, timeout: Duration.format(timeout) }),
                Effect.andThen(endWith(stored.requestId, "timed_out"))
              )
          }))
        ),
        Effect.flatMap(Deferred.await(turnEnded), (ending) => endWith(stored.requestId, ending))
      ).pipe(Effect.onInterrupt(() => Effect.ignore(endWith(stored.requestId, "cut"))))
      yield* Queue.offer(requests, ended)
      return ended.answer ?? (yield* declineOf(request))
    }).pipe(
      Effect.catchTag("StoreError", (error) =>
        Effect.logError("effect-codex: the request store failed; the request is declined", error).pipe(
          Effect.andThen(declineOf(request))
        ))
    )

  const methods = options.policy.methods ?? AskableMethods.literals
  const approvals = Object.fromEntries(
    methods.map((method) => [method, (_params: unknown, request: AppServer.KnownServerRequest) => ask(request)])
  ) as Approvals.Handlers
  return { approvals, requests: Stream.fromQueue(requests) } satisfies TurnAsks
})

/**
 * Marks the conversation's requests still pending `cut`: they were raised by an earlier life of this conversation's
 * entity (its runner died, or lost the conversation's shard), and nobody waits on them any more. A failure is logged.
 *
 * @since 0.2.0
 * @category constructors
 */
export const cutLeftovers = (conversation: string): Effect.Effect<void, never, PendingRequests> =>
  PendingRequests.use((store) => store.cutConversation(conversation)).pipe(
    Effect.tap((count) =>
      count === 0 ? Effect.void : Effect.logWarning("effect-codex: requests left pending by a runner's end were cut").pipe(
        Effect.annotateLogs({ conversation, count })
      )
    ),
    Effect.catch((error) => Effect.logWarning("effect-codex: could not mark left-over requests cut", error)),
    Effect.asVoid
  )
