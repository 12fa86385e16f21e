/**
 * One turn of a thread: its events as a `Stream`, its result, and the controls `steer` and `interrupt`.
 *
 * Events are routed by thread and turn id from a subscription opened **before** `turn/start` is sent,
 * so notifications that overtake the `turn/start` response are kept. Each turn has its own buffer: a
 * slow consumer of one turn never holds up another. A turn always settles: it completes with
 * `turn/completed`, fails with `AppServerExitedError` if the server dies, and a turn that goes silent
 * for `idleTimeout` is reconciled with `thread/read` (completed there → completed here; still running →
 * `TurnStalledError`).
 *
 * @since 0.1.0
 */
import {
  ThreadItem,
  ThreadTokenUsage,
  type Turn as TurnInfo,
  TurnError,
  type TurnStartParams,
  TurnStatus
} from "@effect-codex/protocol"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as AppServer from "./AppServer.js"
import { type AppServerExitedError, excerpt, ProtocolError, type RequestError } from "./Errors.js"
import * as Input from "./Input.js"

/** The outcome of a finished turn. */
export const TurnResult = Schema.Struct({
  id: Schema.String,
  threadId: Schema.String,
  status: TurnStatus,
  error: Schema.NullOr(TurnError),
  /** Unix seconds. */
  startedAt: Schema.NullOr(Schema.Number),
  /** Unix seconds. */
  completedAt: Schema.NullOr(Schema.Number),
  durationMs: Schema.NullOr(Schema.Number),
  /** The text of the last agent message (the final answer when codex marks one). */
  finalResponse: Schema.NullOr(Schema.String),
  items: Schema.Array(ThreadItem),
  /** Token usage reported during the turn (the last report). */
  usage: Schema.NullOr(ThreadTokenUsage)
})

/** The outcome of a finished turn. */
export type TurnResult = typeof TurnResult.Type

/** The turn ended with status `failed`; `result` has the server's `error` and everything that happened. */
export class TurnFailedError extends Schema.TaggedError<TurnFailedError>()("TurnFailedError", {
  result: TurnResult
}) {
  override get message(): string {
    return `Turn ${this.result.id} of thread ${this.result.threadId} failed: ${
      this.result.error?.message ?? "no error message"
    }`
  }
}

/** The turn sent nothing for `idleMillis` and `thread/read` says it is still running. */
export class TurnStalledError extends Schema.TaggedError<TurnStalledError>()("TurnStalledError", {
  threadId: Schema.String,
  turnId: Schema.String,
  idleMillis: Schema.Number
}) {
  override get message(): string {
    return `Turn ${this.turnId} of thread ${this.threadId} sent nothing for ${this.idleMillis} ms and is still in progress on the server`
  }
}

/** Every way following a turn can fail (besides the turn itself failing). */
export type StreamError = AppServerExitedError | TurnStalledError | RequestError

/** A notification that belongs to this turn (or to its thread, such as `thread/status/changed`). */
export type TurnEvent = AppServer.Notification

/** Options of one turn, besides the `turn/start` params. */
export interface WatchOptions {
  /** Silence after which the turn is reconciled with `thread/read`. Default 5 minutes. */
  readonly idleTimeout?: Duration.Input | undefined
  /** After `interrupt`, how long to wait for `turn/completed` before reconciling. Default 10 seconds. */
  readonly interruptGrace?: Duration.Input | undefined
}

/** The agent's text as it is written: the `item/agentMessage/delta` texts among a turn's events. */
export const textDeltas = <E, R>(events: Stream.Stream<TurnEvent, E, R>): Stream.Stream<string, E, R> =>
  events.pipe(
    Stream.filter((event): event is Extract<AppServer.KnownNotification, { method: "item/agentMessage/delta" }> =>
      event._tag === "Notification" && event.method === "item/agentMessage/delta"
    ),
    Stream.map((event) => event.params.delta)
  )

/** A running turn. */
export interface TurnHandle {
  readonly id: string
  readonly threadId: string
  /** The turn as `turn/start` answered it (status `inProgress`). */
  readonly started: TurnInfo
  /**
   * This turn's events, in order, from the first (possibly before the `turn/start` response) to
   * `turn/completed` included, where it ends. Read it once.
   */
  readonly stream: Stream.Stream<TurnEvent, StreamError>
  /** Waits for the end and gives the result, whatever the status (the stream need not be read). */
  readonly result: Effect.Effect<TurnResult, StreamError>
  /** {@link result}, failing with `TurnFailedError` when the status is `failed`. */
  readonly run: Effect.Effect<TurnResult, TurnFailedError | StreamError>
  /** Adds input to the running turn (`turn/steer`). */
  readonly steer: (input: Input.Input) => Effect.Effect<void, RequestError>
  /** Asks the server to stop the turn and waits until it has settled. */
  readonly interrupt: Effect.Effect<TurnResult, StreamError>
}

/** The text of the final answer among the items: the last agent message marked final, else the last one. */
const finalResponseOf = (items: ReadonlyArray<ThreadItem>): string | null => {
  const messages = items.filter((item): item is Extract<ThreadItem, { type: "agentMessage" }> =>
    item.type === "agentMessage"
  )
  const final = messages.filter((message) => message.phase === "final_answer")
  return (final.at(-1) ?? messages.at(-1))?.text ?? null
}

/**
 * The id of an item: of a known item, or of one of a type this protocol version does not know (`type: "@unknown"`,
 * the item as received in `raw`) when it has one.
 */
export const itemId = (item: ThreadItem): string | undefined =>
  item.type === "@unknown" ? (typeof item.raw["id"] === "string" ? item.raw["id"] : undefined) : item.id

/** Builds the result from the server's final turn and what was seen on the way. */
export const resultOf = (
  threadId: string,
  turn: TurnInfo,
  seenItems: ReadonlyArray<ThreadItem>,
  usage: ThreadTokenUsage | null
): TurnResult => {
  // Items as they completed, then any the final turn lists that were not seen (e.g. after a reconcile). An item
  // without an id (only possible for an unknown type) is matched by its content.
  const seen = new Set(seenItems.map((item) => itemId(item) ?? JSON.stringify(item)))
  const items = [...seenItems, ...turn.items.filter((item) => !seen.has(itemId(item) ?? JSON.stringify(item)))]
  return {
    id: turn.id,
    threadId,
    status: turn.status,
    error: turn.error ?? null,
    startedAt: turn.startedAt ?? null,
    completedAt: turn.completedAt ?? null,
    durationMs: turn.durationMs ?? null,
    finalResponse: finalResponseOf(items),
    items,
    usage
  }
}

/** What a turn needs from its thread besides the server: per-turn scoped resources and a busy check. */
export interface StartHooks {
  /** Acquired for the life of the turn (until it settles), e.g. per-turn approval handlers. */
  readonly during?: Effect.Effect<void, never, Scope.Scope> | undefined
  /** True while the client is answering a server request of the thread: the turn is then not silent. */
  readonly busy?: (() => boolean) | undefined
  /**
   * Registers, for the life of the turn, a callback to call when the client has answered a server request
   * of the thread: the answer counts as activity, as codex's messages do.
   */
  readonly answered?: ((touch: () => void) => Effect.Effect<void, never, Scope.Scope>) | undefined
}

/**
 * Starts a turn: subscribes, sends `turn/start`, and follows the turn in the current scope. Closing the
 * scope before the server has ended the turn interrupts it there, waits up to `interruptGrace` for the
 * confirmation, and settles the handle in any case (also when the caller was interrupted while
 * `turn/start` was in flight: the request is finished in the background and the new turn stopped).
 */
export const start = Effect.fn("Turn.start")(function*(
  server: AppServer.Service,
  params: TurnStartParams,
  options: WatchOptions = {},
  hooks: StartHooks = {}
): Effect.fn.Return<TurnHandle, RequestError, Scope.Scope> {
  const threadId = params.threadId
  const startedSignal = yield* Deferred.make<TurnInfo, RequestError>()
  const events = yield* Queue.unbounded<TurnEvent, StreamError | Cause.Done>()
  const done = yield* Deferred.make<TurnResult, StreamError>()
  const idleTimeout = Duration.fromInputUnsafe(options.idleTimeout ?? Duration.minutes(5))
  const interruptGrace = Duration.fromInputUnsafe(options.interruptGrace ?? Duration.seconds(10))
  const seenItems: Array<ThreadItem> = []
  let usage: ThreadTokenUsage | null = null
  let turnId = ""
  // The server said the turn is over (turn/completed, or thread/read found it finished).
  let endedOnServer = false
  let settled = false

  // The fiber that follows the turn until it settles (its watchdog).
  let watcher: Fiber.Fiber<void> | undefined

  // Settling happens once, synchronously: the event queue ends (or fails) before `done` is set, and the
  // watchdog stops.
  const finishUnsafe = (result: TurnResult) => {
    if (settled) return
    settled = true
    endedOnServer = true
    Queue.endUnsafe(events)
    Deferred.doneUnsafe(done, Exit.succeed(result))
    watcher?.interruptUnsafe()
  }
  const abortUnsafe = (error: StreamError) => {
    if (settled) return
    settled = true
    Queue.failCauseUnsafe(events, Cause.fail(error))
    Deferred.doneUnsafe(done, Exit.fail(error))
    watcher?.interruptUnsafe()
  }
  const finish = (result: TurnResult) => Effect.sync(() => finishUnsafe(result))
  const abort = (error: StreamError) => Effect.sync(() => abortUnsafe(error))

  /** Asks the server where the turn stands after a silence. */
  const reconcile = (idle: Duration.Duration) =>
    server.request("thread/read", { threadId, includeTurns: true }).pipe(
      Effect.flatMap(({ thread }) => {
        const turn = thread.turns.find((candidate) => candidate.id === turnId)
        return turn !== undefined && turn.status !== "inProgress"
          ? finish(resultOf(threadId, turn, seenItems, usage))
          : abort(new TurnStalledError({ threadId, turnId, idleMillis: Duration.toMillis(idle) }))
      }),
      Effect.catch(abort)
    )

  /**
   * Records what the result needs from one of this turn's events; the final turn when it ends it. A `turn/completed`
   * that does not decode (unknown item types and enum values do decode) still ends the turn, with a `ProtocolError`.
   */
  const track = (event: TurnEvent): TurnInfo | ProtocolError | undefined => {
    if (event._tag !== "Notification") {
      return event.method === "turn/completed"
        ? new ProtocolError({
          method: event.method,
          reason: event.reason,
          excerpt: excerpt(JSON.stringify(event.params) ?? "undefined")
        })
        : undefined
    }
    switch (event.method) {
      case "item/completed":
        seenItems.push(event.params.item)
        return undefined
      case "thread/tokenUsage/updated":
        usage = event.params.tokenUsage
        return undefined
      case "turn/completed":
        // `belongs` already matched `turn.id` to this turn.
        return event.params.turn
      default:
        return undefined
    }
  }

  const paramsOf = (event: TurnEvent) =>
    event.params as {
      readonly threadId?: unknown
      readonly turnId?: unknown
      readonly turn?: { readonly id?: unknown }
    } | null | undefined

  /** This turn's events, and its thread's events that name no turn (such as `thread/status/changed`). */
  const belongs = (event: TurnEvent): boolean => {
    const params = paramsOf(event)
    if (typeof params !== "object" || params === null || params.threadId !== threadId) return false
    const eventTurn = params.turnId ?? params.turn?.id
    return eventTurn === undefined || eventTurn === turnId
  }

  const clock = yield* Clock.Clock
  let lastActivity = clock.currentTimeMillisUnsafe()
  const idleMillis = Duration.toMillis(idleTimeout)

  // Routes the events of a chunk synchronously, in the peer's reader: one offer per chunk, no fiber and
  // no timer per event.
  const route = (batch: ReadonlyArray<TurnEvent>) => {
    if (settled) return
    const mine: Array<TurnEvent> = []
    let completed: TurnInfo | ProtocolError | undefined
    for (const event of batch) {
      if (!belongs(event)) continue
      mine.push(event)
      completed = track(event)
      if (completed !== undefined) break
    }
    if (mine.length === 0) return
    lastActivity = clock.currentTimeMillisUnsafe()
    Queue.offerAllUnsafe(events, mine)
    if (completed instanceof ProtocolError) abortUnsafe(completed)
    else if (completed !== undefined) finishUnsafe(resultOf(threadId, completed, seenItems, usage))
  }
  // Events of this thread that arrive before the turn/start response wait here until the turn id is known.
  let early: Array<TurnEvent> | undefined = []

  // The listener (and the per-turn resources) live until the turn has settled, not until the caller's
  // scope closes: a long-lived scope running many turns keeps nothing per finished turn.
  const turnScope = yield* Scope.fork(yield* Effect.scope)
  yield* Scope.provide(
    server.listen({
      onNotifications: (batch) => {
        if (early === undefined) return route(batch)
        for (const event of batch) if (paramsOf(event)?.threadId === threadId) early.push(event)
      },
      onClose: abortUnsafe
    }),
    turnScope
  )
  if (hooks.during !== undefined) yield* Scope.provide(hooks.during, turnScope)
  if (hooks.answered !== undefined) {
    yield* Scope.provide(hooks.answered(() => (lastActivity = clock.currentTimeMillisUnsafe())), turnScope)
  }

  /** The turn id is known: route what waited, then follow live. */
  const startRouting = (id: string) => {
    turnId = id
    const waiting = early ?? []
    early = undefined
    route(waiting)
  }

  // Wakes when the turn could have been silent for `idleTimeout`, and reconciles it if it was. A turn
  // waiting on the client (an approval being answered) is not silent.
  const watchdog = Effect.gen(function*() {
    yield* Deferred.await(startedSignal)
    if (settled) return
    lastActivity = clock.currentTimeMillisUnsafe()
    let wait = idleMillis
    while (true) {
      yield* Effect.sleep(Duration.millis(wait))
      if (hooks.busy?.() === true) lastActivity = clock.currentTimeMillisUnsafe()
      const silent = clock.currentTimeMillisUnsafe() - lastActivity
      if (silent >= idleMillis) return yield* reconcile(idleTimeout)
      wait = idleMillis - silent
    }
  })

  // Following ends with the turn, however it settled (completed, reconciled, interrupted, failed): settling
  // interrupts the watchdog, which then closes the turn's scope.
  watcher = yield* Effect.forkScoped(watchdog.pipe(
    Effect.catch(abort),
    Effect.ensuring(Scope.close(turnScope, Exit.void))
  ))

  /** Asks the server to stop the turn, waits up to `interruptGrace` for it, then reconciles. */
  const stop = Effect.suspend(() =>
    server.request("turn/interrupt", { threadId, turnId }, { timeout: interruptGrace })
  ).pipe(
    Effect.ignore,
    Effect.andThen(Effect.timeoutOption(Deferred.await(done), interruptGrace)),
    Effect.flatMap((outcome) => Option.isSome(outcome) ? Effect.void : reconcile(interruptGrace)),
    Effect.ignore
  )

  // Registered before turn/start is sent and run before following stops (finalizers run in reverse):
  // a turn the server has not ended is interrupted there, and the handle always settles.
  yield* Effect.addFinalizer(() =>
    Deferred.await(startedSignal).pipe(
      Effect.matchEffect({
        onFailure: () => Effect.void,
        onSuccess: () => endedOnServer ? Effect.void : stop
      })
    )
  )

  // Sent from a detached fiber: an interruption of the caller cannot lose the id of a turn the
  // server starts (the request has its own timeout).
  yield* server.request("turn/start", params).pipe(
    Effect.tap(({ turn }) => Effect.sync(() => startRouting(turn.id))),
    Effect.map(({ turn }) => turn),
    Effect.exit,
    Effect.flatMap((exit) => Deferred.done(startedSignal, exit)),
    Effect.forkDetach
  )
  const started = yield* Deferred.await(startedSignal)
  yield* Effect.annotateCurrentSpan({ threadId, turnId })

  const result = Deferred.await(done)
  return {
    id: turnId,
    threadId,
    started,
    stream: Stream.fromQueue(events),
    result,
    run: Effect.flatMap(result, (turn) =>
      turn.status === "failed" ? Effect.fail(new TurnFailedError({ result: turn })) : Effect.succeed(turn)),
    steer: (input) =>
      server.request("turn/steer", { threadId, expectedTurnId: turnId, input: Input.toItems(input) }).pipe(
        Effect.asVoid,
        Effect.withSpan("Turn.steer", { attributes: { threadId, turnId } })
      ),
    // Settles within about twice `interruptGrace` even if the server never confirms.
    interrupt: stop.pipe(
      Effect.andThen(result),
      Effect.withSpan("Turn.interrupt", { attributes: { threadId, turnId } })
    )
  }
})
