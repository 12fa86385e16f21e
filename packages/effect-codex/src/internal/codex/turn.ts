/**
 * The effectful shell of a turn: `turn/start`, its route on the dispatcher, the watchdog, `steer`, `interrupt`
 * and the settling; the pure tracker (`tracker.ts`) does the bookkeeping. `Thread` handles call `start`; users
 * never do (it takes the internal dispatcher).
 *
 * @internal
 */
import type {
  Turn as TurnInfo,
  TurnStartParams,
  TurnStartResponse
} from "@effect-codex/protocol"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type * as AppServer from "../../AppServer.js"
import { type RequestError, TurnFailedError, TurnStalledError } from "../../Errors.js"
import * as Input from "../../Input.js"
import type * as Dispatcher from "./dispatcher.js"
import * as Spans from "./spans.js"
import * as Tracker from "./tracker.js"
import type { Event, Handle, Result, StartOptions, StreamError } from "../../Turn.js"

/**
 * A turn's outlet, settled once and synchronously: its events go to the stream's queue, and its end ends (or
 * fails) the queue before the result is set; settling also stops the fiber that reconciles the turn, if any, and
 * calls `onSettle` (which detaches the turn from its thread and stops its watchdog).
 */
const makeOutlet = (onSettle: () => void) =>
  Effect.map(Queue.unbounded<Event, StreamError | Cause.Done>(), (events) => {
    const done = Deferred.makeUnsafe<Result, StreamError>()
    // "completed": the server said the turn is over (turn/completed, or thread/read found it finished).
    let outcome: "completed" | "failed" | undefined
    let follower: Fiber.Fiber<unknown, unknown> | undefined
    const settle = (how: "completed" | "failed", exit: Exit.Exit<Result, StreamError>) => {
      outcome = how
      onSettle()
      Deferred.doneUnsafe(done, exit)
      follower?.interruptUnsafe()
    }
    return {
      events,
      result: Deferred.await(done),
      settled: () => outcome !== undefined,
      endedOnServer: () => outcome === "completed",
      emit: (batch: ReadonlyArray<Event>) => Queue.offerAllUnsafe(events, batch),
      finish: (result: Result) => {
        if (outcome !== undefined) return
        Queue.endUnsafe(events)
        settle("completed", Exit.succeed(result))
      },
      abort: (error: StreamError) => {
        if (outcome !== undefined) return
        Queue.failCauseUnsafe(events, Cause.fail(error))
        settle("failed", Exit.fail(error))
      },
      /** Interrupts `fiber` when the turn settles (at once if it has). */
      stopOnSettle: (fiber: Fiber.Fiber<unknown, unknown>) => {
        if (outcome !== undefined) fiber.interruptUnsafe()
        else follower = fiber
      }
    }
  })

/**
 * When the turn last showed a sign of life: an event of it, or an answer of the client to a server request of its
 * thread. While the client is answering one, the turn is not silent.
 */
const makeActivity = (clock: Clock.Clock) => {
  let last = clock.currentTimeMillisUnsafe()
  let answering = 0
  const touch = () => {
    last = clock.currentTimeMillisUnsafe()
  }
  return {
    touch,
    answering: () => {
      answering++
    },
    answered: () => {
      answering--
      touch()
    },
    silentFor: () => answering > 0 ? 0 : clock.currentTimeMillisUnsafe() - last
  }
}

/**
 * Starts a turn: routes its thread through the Codex dispatcher, sends `turn/start`, and follows the turn in the
 * current scope; `onSettled` is called, synchronously and once, when the turn settles. Closing the scope before the
 * server has ended the turn interrupts it there, waits up to `interruptGrace` for the confirmation, and settles the
 * handle in any case (also when the caller was interrupted while `turn/start` was in flight: the request is finished
 * first and the new turn stopped).
 *
 * The per-turn path runs no fiber of its own: events arrive synchronously from the dispatcher, the watchdog is a
 * timer entry of the dispatcher (`timers`), and only a reconciliation after a silence forks one.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = Effect.fnUntraced(function*(
  dispatcher: Dispatcher.Dispatcher,
  params: TurnStartParams,
  options: StartOptions = {},
  onSettled: () => void = () => {}
): Effect.fn.Return<Handle, RequestError, Scope.Scope> {
  const { server, timers } = dispatcher
  const threadId = params.threadId
  const idleTimeout = Duration.fromInputUnsafe(options.idleTimeout ?? Duration.minutes(5))
  const interruptGrace = Duration.fromInputUnsafe(options.interruptGrace ?? Duration.seconds(10))
  const context = yield* Effect.context<never>()
  const tracker = new Tracker.Tracker(threadId)
  const activity = makeActivity(Context.get(context, Clock.Clock))

  /** The watchdog: a timer of the dispatcher, re-armed for what remains while the turn was not silent long enough. */
  const idleMillis = Duration.toMillis(idleTimeout)
  const watchdog = () => {
    const silent = activity.silentFor()
    if (silent < idleMillis) timers.set(watchdog, Duration.millis(idleMillis - silent))
    else outlet.stopOnSettle(Effect.runForkWith(context)(reconcile(idleTimeout)))
  }

  // The route (and the per-turn approvals) live until the turn has settled, not until the caller's scope
  // closes: a long-lived scope running many turns keeps nothing per finished turn.
  let detach = () => {}
  const outlet = yield* makeOutlet(() => {
    detach()
    timers.delete(watchdog)
    onSettled()
  })

  /** Hands this turn's events (from the tracker) to the stream, and settles when one of them ended the turn. */
  const deliver = (events: ReadonlyArray<Event>) => {
    if (events.length === 0) return
    activity.touch()
    outlet.emit(events)
    const end = tracker.end
    if (end === undefined) return
    if (end._tag === "Completed") outlet.finish(end.result)
    else outlet.abort(end.error)
  }

  detach = dispatcher.attach(threadId, {
    onNotifications: (batch) => {
      if (!outlet.settled()) deliver(tracker.receive(batch))
    },
    onClose: outlet.abort,
    onAnswering: activity.answering,
    onAnswered: activity.answered,
    approvals: options.approvals
  }, context)

  /** Asks the server where the turn stands after a silence. */
  const reconcile = (idle: Duration.Duration) =>
    server.request("thread/read", { threadId, includeTurns: true }).pipe(
      Effect.map(({ thread }) => {
        const turn = thread.turns.find((candidate) => candidate.id === tracker.turnId)
        return turn !== undefined && turn.status !== "inProgress"
          ? outlet.finish(tracker.resultOf(turn))
          : outlet.abort(
            new TurnStalledError({ threadId, turnId: tracker.turnId ?? "", idleMillis: Duration.toMillis(idle) })
          )
      }),
      Effect.catch((error) => Effect.sync(() => outlet.abort(error)))
    )

  /**
   * The turn has settled, or its server has gone (the turn then fails with the server's exit): a server that has
   * ended is not waited for, even when this turn no longer hears from it (its `Codex` closed first).
   */
  const settledOrGone = Effect.raceFirst(
    Effect.exit(outlet.result),
    Effect.map(server.closed, outlet.abort)
  )

  /** Asks the server to stop the turn, waits up to `interruptGrace` for it while the server lives, then reconciles. */
  const stop = Effect.suspend(() =>
    server.request("turn/interrupt", { threadId, turnId: tracker.turnId ?? "" }, { timeout: interruptGrace })
  ).pipe(
    Effect.ignore,
    Effect.andThen(Effect.timeoutOption(settledOrGone, interruptGrace)),
    Effect.flatMap((outcome) => Option.isSome(outcome) ? Effect.void : reconcile(interruptGrace)),
    Effect.ignore
  )

  // Registered before turn/start is sent: a turn the server has not ended is interrupted there, and the handle
  // always settles (a turn that never started is failed with why).
  let started: TurnInfo | undefined
  yield* Effect.addFinalizer(() =>
    started === undefined || outlet.endedOnServer()
      ? Effect.sync(() => outlet.settled() || detach())
      : stop
  )

  /** `turn/start` answered: the turn is followed from here; it failed: the turn is failed with why. */
  const onAnswer = (answer: Exit.Exit<TurnStartResponse, RequestError>) =>
    Effect.sync(() => {
      if (Exit.isFailure(answer)) {
        const error = Cause.findErrorOption(answer.cause)
        return Option.isSome(error) ? outlet.abort(error.value) : detach()
      }
      started = answer.value.turn
      deliver(tracker.started(started.id))
      if (outlet.settled()) return
      activity.touch()
      timers.set(watchdog, idleTimeout)
    })

  // Not interruptible: an interruption of the caller cannot lose the id of a turn the server starts (the request
  // has its own timeout); it takes effect once the answer is in, and the finaliser then stops the turn.
  const { turn } = yield* server.request("turn/start", params).pipe(Effect.onExit(onAnswer), Effect.uninterruptible)
  if (Spans.isTracing(Context.get(context, Tracer.Tracer))) {
    yield* Effect.annotateCurrentSpan({ threadId, turnId: turn.id })
  }
  return handleOf(server, threadId, turn, Stream.fromQueue(outlet.events), outlet.result, stop)
}, Spans.traced("Turn.start"))

/** The handle of a started turn. */
const handleOf = (
  server: AppServer.AppServer,
  threadId: string,
  started: TurnInfo,
  stream: Handle["stream"],
  result: Handle["result"],
  stop: Effect.Effect<void>
): Handle => {
  const turnId = started.id
  return {
    id: turnId,
    threadId,
    started,
    stream,
    result,
    run: Effect.flatMap(result, (turn) =>
      turn.status === "failed" ? Effect.fail(new TurnFailedError({ result: turn })) : Effect.succeed(turn)),
    steer: (input) =>
      server.request("turn/steer", { threadId, expectedTurnId: turnId, input: Input.toItems(input) }).pipe(
        Effect.asVoid,
        Spans.traced("Turn.steer", { attributes: { threadId, turnId } })
      ),
    // Settles within about twice `interruptGrace` even if the server never confirms.
    interrupt: stop.pipe(
      Effect.andThen(result),
      Spans.traced("Turn.interrupt", { attributes: { threadId, turnId } })
    )
  }
}
