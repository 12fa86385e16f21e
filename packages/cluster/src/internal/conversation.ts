/**
 * The handlers of one `CodexThread` entity (one conversation) on a runner: its thread on the runner's `Codex`,
 * restored from the stored rollout when this runner's `CODEX_HOME` does not hold it; its running turn (for `Steer`
 * and `Interrupt`); and the turn bookkeeping (running → completed with the rollout, in one transaction; a turn found
 * running when its message arrives again was cut by a runner's death).
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Entity from "effect/cluster/Entity"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import { Codex, Errors, type Input, type Thread, Turn } from "effect-codex"
import { createHash } from "node:crypto"
import { NoTurnRunningError, OpenError, TurnCutError, TurnKeyConflictError } from "../ClusterErrors.js"
import * as ClusterMetrics from "../ClusterMetrics.js"
import { CodexThread, type OpenMode, requestEventMethod, type TurnEvent } from "../CodexThread.js"
import { ConversationStore, type StoredRollout } from "../ConversationStore.js"
import type { AskPolicy } from "../PendingRequests.js"
import * as Asks from "./asks.js"
import * as Rollout from "./rollout.js"

/**
 * The runner these handlers run on: its name (its address) and its `CODEX_HOME`.
 *
 * @since 0.2.0
 * @category services
 */
export class Runner extends Context.Service<Runner, { readonly name: string; readonly codexHome: string }>()(
  "effect-codex/cluster/Runner"
) {}

/** JSON with object keys in order, so equal inputs give equal text. */
const canonical = (value: unknown): string =>
  Array.isArray(value)
    ? `[${value.map(canonical).join(",")}]`
    : typeof value === "object" && value !== null
    ? `{${
      Object.keys(value).sort().flatMap((key) => {
        const field = (value as Record<string, unknown>)[key]
        return field === undefined ? [] : [`${JSON.stringify(key)}:${canonical(field)}`]
      }).join(",")
    }}`
    : JSON.stringify(value)

/**
 * The sha256 of a turn's input, stored with the turn: a turn key that comes again with another input is refused.
 *
 * @since 0.2.0
 * @category utils
 */
export const inputDigest = (input: Input.Input): string => createHash("sha256").update(canonical(input)).digest("hex")

/** A finished turn as its caller gets it: a `failed` one is `TurnFailedError`, as with `Thread.run`. */
const outcome = (result: Turn.Result) =>
  result.status === "failed" ? Effect.fail(Errors.turnFailed(result)) : Effect.succeed(result)

/**
 * The entity's handlers, built once per conversation on the runner that owns it.
 *
 * @since 0.2.0
 * @category constructors
 */
export const handlers = Effect.gen(function*() {
  const key = (yield* Entity.CurrentAddress).entityId
  const codex = yield* Codex.Codex
  const store = yield* ConversationStore
  const runner = yield* Runner
  const scope = yield* Scope.Scope
  const opening = yield* Semaphore.make(1)
  const compacting = yield* Semaphore.make(1)
  let thread: Thread.Thread | undefined
  let running: Turn.Handle | undefined
  /** The conversation's logs carry the runner's address and the conversation's key. */
  const annotate = Effect.annotateLogs({ runner: runner.name, conversation: key })

  yield* Effect.logInfo("a conversation arrived").pipe(annotate)
  yield* Effect.addFinalizer(() => Effect.logInfo("a conversation left").pipe(annotate))

  yield* Asks.cutLeftovers(key)

  /** Where the stored rollout ends (undefined: nothing stored, or not known here: the next write stores it whole). */
  let position: Rollout.Position | undefined

  /** What `opened` wrote to its rollout since `position`, as a write for the store. */
  const updateOf = (opened: Thread.Thread, after: Rollout.Position | undefined) =>
    Effect.flatMap(opened.read({ includeTurns: false }), (info) => Rollout.since(runner.codexHome, info.path, after))

  /** Records `opened` as the conversation's thread, with its rollout when it has one. */
  const adopt = Effect.fnUntraced(function*(opened: Thread.Thread) {
    const update = yield* updateOf(opened, undefined)
    yield* store.saveThread(key, opened.id, runner.name, Option.isSome(update) ? update.value.write : null)
    position = Option.isSome(update) ? yield* update.value.after : undefined
    thread = opened
    return opened
  })

  /**
   * Writes the stored rollout of conversation `from` under this runner's `CODEX_HOME`, checked; `diverged` runs first
   * when the rollout found there holds bytes the store does not.
   */
  const restoreRollout = (from: string, rollout: StoredRollout, diverged?: Effect.Effect<void>) =>
    Effect.flatMap(
      Rollout.restore(runner.codexHome, from, rollout, store.readRollout(from, rollout), diverged),
      Option.match({
        onNone: () => new OpenError({ conversation: key, reason: `stored rollout path ${rollout.path} is not relative` }),
        onSome: Effect.succeed
      })
    )

  /**
   * Unloads the thread from this runner's codex, if loaded: unsubscribed, it closes at once (with
   * `thread_unload_delay_secs=0`) but not before the answer; a resume before it has closed is refused, so this waits
   * until codex reports it not loaded (a runner whose codex keeps unsubscribed threads loaded gives up after 10 s).
   */
  const unload = (threadId: string) =>
    codex.threadUnsubscribe(threadId).pipe(
      Effect.repeat({ until: (status) => status === "notLoaded", schedule: Schedule.spaced("20 millis") }),
      Effect.timeout("10 seconds"),
      Effect.catch((cause) =>
        Effect.logWarning("a thread stayed loaded after thread/unsubscribe").pipe(
          Effect.annotateLogs({ threadId, cause: String(cause) }),
          annotate
        )
      ),
      Effect.asVoid
    )

  /**
   * Drops this runner's codex copy of an unloaded thread (`thread/delete`: its rollout and the projection codex lists
   * turns from), when that copy holds what the store does not (a turn cut by this runner's end). Codex continues its
   * projection from the byte offset it reached, so on the stored rollout it would list the cut turn and lose or empty
   * the turns at those offsets. A failure is logged: the stored rollout is written all the same.
   */
  const forget = (threadId: string) =>
    codex.server.request("thread/delete", { threadId }).pipe(
      Effect.catch((cause) =>
        Effect.logWarning("codex could not drop its copy of a thread").pipe(
          Effect.annotateLogs({ threadId, cause: String(cause) }),
          annotate
        )
      ),
      Effect.asVoid
    )

  const restoreOrStart = Effect.gen(function*() {
    const stored = yield* store.conversation(key)
    if (Option.isNone(stored)) return yield* adopt(yield* codex.threadStart())
    const { rollout, threadId } = stored.value
    if (rollout === null) {
      // No turn yet, so no rollout: on the runner that started it the thread is still there; elsewhere it is a new
      // thread with no history to lose.
      position = undefined
      return yield* codex.threadResume(threadId).pipe(
        Effect.catch(() => codex.threadStart()),
        Effect.flatMap((opened) => opened.id === threadId ? Effect.succeed(opened) : adopt(opened))
      )
    }
    // This runner's codex may still hold the thread loaded from an earlier stay of the conversation here, older than
    // the stored rollout when turns ran elsewhere since; a resume would rejoin that copy. Unsubscribed, it is unloaded
    // at once (`CodexRunner` runs codex with `thread_unload_delay_secs=0`), and the resume reads the stored rollout.
    yield* unload(threadId)
    position = yield* restoreRollout(key, rollout, forget(threadId))
    const resumed = yield* codex.threadResume(threadId)
    yield* Metric.update(ClusterMetrics.threadsRestored, 1)
    yield* Metric.update(ClusterMetrics.restoredBytes, rollout.length)
    yield* Effect.logInfo("a conversation was restored from its stored rollout").pipe(
      Effect.annotateLogs({ threadId, bytes: rollout.length, ranOn: stored.value.runner ?? "unknown" }),
      annotate
    )
    return resumed
  })

  /** The conversation's thread on this runner: resumed (or started) at its first use. */
  const current = opening.withPermits(1)(Effect.suspend(() =>
    thread === undefined ? Effect.tap(restoreOrStart, (opened) => Effect.sync(() => thread = opened)) : Effect.succeed(thread)
  ))

  const openWith = (mode: OpenMode) =>
    Effect.gen(function*() {
      switch (mode._tag) {
        case "Start":
          return yield* codex.threadStart(mode.params)
        case "Resume":
          return yield* codex.threadResume(mode.threadId).pipe(
            Effect.mapError((cause) =>
              new OpenError({ conversation: key, reason: `cannot resume thread ${mode.threadId}`, cause })
            )
          )
        case "Fork": {
          const source = yield* store.conversation(mode.from)
          if (Option.isNone(source)) {
            return yield* new OpenError({ conversation: key, reason: `conversation ${mode.from} has no thread` })
          }
          if (source.value.rollout !== null) yield* restoreRollout(mode.from, source.value.rollout)
          return yield* codex.threadFork(source.value.threadId)
        }
      }
    })

  /**
   * Before a turn: the stored outcome of a turn key already completed; a cut turn (found running: its runner died)
   * fails with `TurnCutError` unless `onCut` is `"rerun"`; otherwise the turn is marked running.
   */
  const begin = Effect.fnUntraced(function*(turnKey: string, digest: string, onCut: "fail" | "rerun" | undefined) {
    const previous = yield* store.turn(key, turnKey)
    if (Option.isSome(previous)) {
      const { inputDigest: storedDigest, result, runner: ranOn, status } = previous.value
      if (storedDigest !== null && storedDigest !== digest) {
        return yield* new TurnKeyConflictError({ conversation: key, turnKey })
      }
      if (status === "completed" && result !== null) return Option.some(result)
      if (onCut !== "rerun") {
        yield* Effect.logWarning("a turn was cut by its runner's end").pipe(
          Effect.annotateLogs({ turnKey, ranOn: ranOn ?? "unknown" }),
          annotate
        )
        yield* store.markCut(key, turnKey)
        yield* Metric.update(ClusterMetrics.turnsCut, 1)
        return yield* new TurnCutError({ conversation: key, turnKey, runner: ranOn })
      }
    }
    yield* store.markRunning(key, turnKey, runner.name, digest)
    return Option.none<Turn.Result>()
  })

  /** One bounded compaction step of the stored rollout, off the turn's path; one at a time. */
  const compactStep = compacting.withPermitsIfAvailable(1)(
    store.compact(key).pipe(
      Effect.catch((cause) =>
        Effect.logWarning("a compaction step of a stored rollout failed").pipe(
          Effect.annotateLogs({ conversation: key, cause: String(cause) })
        )
      )
    )
  )

  /**
   * After a turn: its result and the rollout bytes it wrote, in one transaction. When that fails, what is stored is
   * no longer known here: the next turn stores the rollout whole.
   */
  const finish = Effect.fnUntraced(function*(
    opened: Thread.Thread,
    turnKey: string,
    digest: string,
    result: Turn.Result
  ) {
    const update = yield* updateOf(opened, position)
    yield* store.complete({
      key,
      turnKey,
      threadId: opened.id,
      rollout: Option.isSome(update) ? update.value.write : null,
      runner: runner.name,
      result,
      inputDigest: digest
    }).pipe(Effect.tapError(() => Effect.sync(() => position = undefined)))
    if (Option.isSome(update)) position = yield* update.value.after
    yield* Metric.update(ClusterMetrics.turnsCompleted, 1)
    if (position !== undefined) yield* Metric.update(ClusterMetrics.rolloutBytes, position.length)
    yield* Effect.forkIn(compactStep, scope)
  })

  /**
   * Starts a turn on the conversation's thread, known to `Steer` and `Interrupt` while it runs. `result` is its
   * result, stored with the rollout after it; a turn that ends otherwise (its process died, it was interrupted) is
   * marked cut. With `ask`, its requests wait for a client's answer; `requests` are they as they come and end.
   */
  const start = Effect.fnUntraced(function*(
    turnKey: string,
    digest: string,
    input: Input.Input,
    ask: AskPolicy | undefined
  ) {
    const cut = <A, E, R>(self: Effect.Effect<A, E, R>) =>
      Effect.onError(self, () => Effect.ignore(store.markCut(key, turnKey)))
    const opened = yield* cut(current)
    const asks = ask === undefined
      ? undefined
      : yield* Asks.forTurn({ conversation: key, turnKey, runner: runner.name, policy: ask })
    const handle = yield* cut(opened.turn(input, { approvals: asks?.approvals }))
    running = handle
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (running === handle) running = undefined
      })
    )
    return {
      handle,
      requests: asks?.requests ?? Stream.empty,
      result: handle.result.pipe(cut, Effect.tap((result) => finish(opened, turnKey, digest, result)))
    }
  })

  return CodexThread.of({
    Open: ({ payload: { mode } }) =>
      opening.withPermits(1)(Effect.gen(function*() {
        const stored = yield* store.conversation(key)
        if (Option.isSome(stored)) return { threadId: stored.value.threadId, created: false }
        const opened = yield* adopt(yield* openWith(mode))
        return { threadId: opened.id, created: true }
      })),

    RunTurn: ({ payload: { ask, input, onCut, turnKey } }) =>
      Effect.gen(function*() {
        const digest = inputDigest(input)
        const stored = yield* begin(turnKey, digest, onCut)
        if (Option.isSome(stored)) return yield* outcome(stored.value)
        const { result } = yield* start(turnKey, digest, input, ask)
        return yield* outcome(yield* result)
      }).pipe(Effect.scoped),

    StreamTurn: ({ payload: { ask, input, turnKey } }) =>
      Stream.unwrap(Effect.gen(function*() {
        const digest = inputDigest(input)
        const stored = yield* begin(turnKey, digest, "fail")
        if (Option.isSome(stored)) return Stream.empty
        const { handle, requests, result } = yield* start(turnKey, digest, input, ask)
        return handle.stream.pipe(
          Stream.filter(Turn.isNotification),
          Stream.map((event): TurnEvent =>
            event.emittedAtMs === undefined
              ? { method: event.method, params: event.params }
              : { method: event.method, params: event.params, emittedAtMs: event.emittedAtMs }
          ),
          Stream.merge(Stream.map(requests, (request): TurnEvent => ({ method: requestEventMethod, params: request })), {
            haltStrategy: "left"
          }),
          Stream.concat(Stream.fromEffectDrain(result))
        )
      })),

    Steer: ({ payload: { input } }) =>
      running === undefined ? Effect.fail(new NoTurnRunningError({ conversation: key })) : running.steer(input),

    Interrupt: () => running === undefined ? Effect.void : Effect.asVoid(running.interrupt),

    Read: () => Effect.flatMap(current, (opened) => opened.read()),

    Locate: () => Effect.succeed(runner.name)
  })
})
