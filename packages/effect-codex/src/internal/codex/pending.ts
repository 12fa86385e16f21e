/**
 * The server requests of one `Codex` that wait for a person (policy "ask"), by thread: each is an entry until it is
 * settled, exactly once, by the first of an answer (`respond`), its timeout (a timer of the dispatcher), the end of
 * the turns it was surfaced on (cancelled), codex's `serverRequest/resolved`, or the end of the connection. Settling
 * completes what the request's reply fiber waits for (codex always gets an answer) and tells the routes that saw
 * the request.
 *
 * @since 0.2.0
 *
 * @internal
 */
import { ServerRequests } from "@effect-codex/protocol"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import type * as AppServer from "../../AppServer.js"
import * as Approvals from "../../Approvals.js"
import { InvalidAnswerError, RequestNotPendingError, type RpcErrorObject } from "../../Errors.js"
import type * as PendingRequest from "../../PendingRequest.js"
import type * as Deadlines from "../rpc/deadlines.js"
import { schemaIssue } from "../rpc/schemaIssue.js"

/**
 * Who hears of a request: its surfacing, then its settlement (once each).
 *
 * @since 0.2.0
 * @category models
 */
export interface Listener {
  readonly onAsked: (event: PendingRequest.Asked) => void
  readonly onSettled: (event: PendingRequest.Settled) => void
}

interface Entry {
  readonly request: PendingRequest.PendingRequest
  readonly reply: Deferred.Deferred<unknown, RpcErrorObject>
  /** The listeners it was surfaced to that are still there; when the last one leaves, the request is cancelled. */
  readonly listeners: Set<Listener>
  readonly expire: () => void
  settled: PendingRequest.Settled | undefined
}

/**
 * The pending requests of one `Codex`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Registry {
  /** Surfaces `request` of thread `threadId` to `listeners` and waits for its answer (see the module). */
  readonly ask: (
    request: AppServer.KnownServerRequest,
    threadId: string,
    timeout: Duration.Duration,
    listeners: ReadonlyArray<Listener>
  ) => Effect.Effect<unknown, RpcErrorObject>
  /** The thread's pending requests, oldest first. */
  readonly pending: (threadId: string) => ReadonlyArray<PendingRequest.PendingRequest>
  /** Answers the thread's request `requestId` (checked against its method's response schema). */
  readonly respond: (
    threadId: string,
    requestId: string,
    answer: unknown,
    options?: PendingRequest.AnswerOptions
  ) => Effect.Effect<void, RequestNotPendingError | InvalidAnswerError>
  /** Declines the thread's request `requestId`. */
  readonly decline: (
    threadId: string,
    requestId: string,
    options?: PendingRequest.AnswerOptions
  ) => Effect.Effect<void, RequestNotPendingError>
  /** codex resolved the request itself (`serverRequest/resolved`). */
  readonly resolved: (threadId: string, requestId: string) => void
  /** `listener` went away (its turn ended): requests only it saw are cancelled. */
  readonly leave: (listener: Listener) => void
}

/** How many settlements are remembered for the errors of late answers. */
const recentLimit = 1024

const responseSchemas = ServerRequests as Record<string, { readonly response: Schema.Top }>
const encoders = new Map<string, (answer: unknown) => Exit.Exit<unknown, Schema.SchemaError>>()
const encoderOf = (method: string) => {
  let encoder = encoders.get(method)
  if (encoder === undefined) {
    encoder = Schema.encodeUnknownExit(responseSchemas[method]!.response as Schema.Codec<unknown, unknown>)
    encoders.set(method, encoder)
  }
  return encoder
}

const stringField = (params: unknown, field: string): string | null => {
  const value = (params as Record<string, unknown>)[field]
  return typeof value === "string" ? value : null
}

/**
 * Builds the registry; timeouts are entries of `timers` (no fiber per request).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (clock: Clock.Clock, timers: Deadlines.Deadlines<() => void>): Registry => {
  const threads = new Map<string, Map<string, Entry>>()
  const byListener = new Map<Listener, Set<Entry>>()
  // The last settlements (bounded), so that a late answer by id learns who answered first, or how it ended.
  const recent = new Map<string, PendingRequest.Settled>()
  const keyOf = (threadId: string, requestId: string) => `${threadId}\u0000${requestId}`
  const remember = (event: PendingRequest.Settled) => {
    recent.set(keyOf(event.threadId, event.requestId), event)
    if (recent.size > recentLimit) recent.delete(recent.keys().next().value!)
  }

  const remove = (entry: Entry) => {
    const { threadId, requestId } = entry.request
    const entries = threads.get(threadId)
    if (entries?.get(requestId) === entry) {
      entries.delete(requestId)
      if (entries.size === 0) threads.delete(threadId)
    }
    timers.delete(entry.expire)
    for (const listener of entry.listeners) byListener.get(listener)?.delete(entry)
  }

  /** Settles `entry` once: codex gets `reply`, the listeners hear how. False when it had been settled. */
  const settle = (
    entry: Entry,
    outcome: PendingRequest.Outcome,
    reply: Exit.Exit<unknown, RpcErrorObject>,
    by: string | null
  ): boolean => {
    if (entry.settled !== undefined) return false
    const event: PendingRequest.Settled = {
      ...entry.request,
      _tag: "ServerRequestSettled",
      outcome,
      answer: outcome === "resolved" ? null : Exit.isSuccess(reply) ? reply.value : null,
      by,
      settledAt: clock.currentTimeMillisUnsafe()
    }
    entry.settled = event
    remember(event)
    const listeners = [...entry.listeners]
    remove(entry)
    Deferred.doneUnsafe(entry.reply, reply)
    for (const listener of listeners) listener.onSettled(event)
    return true
  }

  const notPending = (threadId: string, requestId: string, entry: Entry | undefined) => {
    const settled = entry?.settled ?? recent.get(keyOf(threadId, requestId))
    return new RequestNotPendingError({
      threadId,
      requestId,
      settledAs: settled?.outcome ?? "unknown",
      by: settled?.by ?? null
    })
  }

  const answerEntry = (
    entry: Entry,
    answer: unknown,
    options: PendingRequest.AnswerOptions = {}
  ): Effect.Effect<void, RequestNotPendingError | InvalidAnswerError> =>
    Effect.suspend((): Effect.Effect<void, RequestNotPendingError | InvalidAnswerError> => {
      const { threadId, requestId, method } = entry.request
      if (entry.settled !== undefined) return Effect.fail(notPending(threadId, requestId, entry))
      const encoded = encoderOf(method)(answer)
      if (Exit.isFailure(encoded)) {
        return Effect.fail(new InvalidAnswerError({ threadId, requestId, method, reason: schemaIssue(encoded.cause) }))
      }
      return settle(entry, "answered", Exit.succeed(answer), options.by ?? null)
        ? Effect.void
        : Effect.fail(notPending(threadId, requestId, entry))
    })

  const declineEntry = (
    entry: Entry,
    options: PendingRequest.AnswerOptions = {}
  ): Effect.Effect<void, RequestNotPendingError> =>
    Effect.suspend(() =>
      settle(entry, "answered", Approvals.declineAnswer(entry.request), options.by ?? null)
        ? Effect.void
        : Effect.fail(notPending(entry.request.threadId, entry.request.requestId, entry))
    )

  const lookup = (threadId: string, requestId: string) => threads.get(threadId)?.get(requestId)

  const ask: Registry["ask"] = (request, threadId, timeout, listeners) =>
    Effect.suspend(() => {
      const now = clock.currentTimeMillisUnsafe()
      const data = {
        requestId: String(request.id),
        method: request.method,
        params: request.params,
        threadId,
        turnId: stringField(request.params, "turnId"),
        itemId: stringField(request.params, "itemId"),
        createdAt: now,
        expiresAt: Duration.isFinite(timeout) ? now + Duration.toMillis(timeout) : Number.MAX_SAFE_INTEGER
      } as PendingRequest.PendingRequest
      const entry: Entry = {
        request: data,
        reply: Deferred.makeUnsafe<unknown, RpcErrorObject>(),
        listeners: new Set(listeners),
        expire: () => {
          settle(entry, "timedOut", Approvals.declineAnswer(data), null)
        },
        settled: undefined
      }
      let entries = threads.get(threadId)
      if (entries === undefined) {
        entries = new Map()
        threads.set(threadId, entries)
      }
      // A request id the connection reuses (after the earlier one settled) replaces the old entry.
      entries.set(data.requestId, entry)
      timers.set(entry.expire, timeout)
      const event = {
        ...data,
        _tag: "ServerRequest",
        respond: (answer: unknown, options?: PendingRequest.AnswerOptions) => answerEntry(entry, answer, options),
        decline: (options?: PendingRequest.AnswerOptions) => declineEntry(entry, options)
      } as PendingRequest.Asked
      for (const listener of listeners) {
        let seen = byListener.get(listener)
        if (seen === undefined) {
          seen = new Set()
          byListener.set(listener, seen)
        }
        seen.add(entry)
        listener.onAsked(event)
      }
      // The reply fiber is interrupted when the connection ends: the entry goes with it.
      return Deferred.await(entry.reply).pipe(
        Effect.onInterrupt(() =>
          Effect.sync(() => settle(entry, "cancelled", Approvals.declineAnswer(data), null))
        )
      )
    })

  return {
    ask,
    pending: (threadId) => [...(threads.get(threadId)?.values() ?? [])].map((entry) => entry.request),
    respond: (threadId, requestId, answer, options) =>
      Effect.suspend((): Effect.Effect<void, RequestNotPendingError | InvalidAnswerError> => {
        const entry = lookup(threadId, requestId)
        return entry === undefined
          ? Effect.fail(notPending(threadId, requestId, undefined))
          : answerEntry(entry, answer, options)
      }),
    decline: (threadId, requestId, options) =>
      Effect.suspend(() => {
        const entry = lookup(threadId, requestId)
        return entry === undefined
          ? Effect.fail(notPending(threadId, requestId, undefined))
          : declineEntry(entry, options)
      }),
    resolved: (threadId, requestId) => {
      const entry = lookup(threadId, requestId)
      if (entry !== undefined) settle(entry, "resolved", Approvals.declineAnswer(entry.request), null)
    },
    leave: (listener) => {
      const seen = byListener.get(listener)
      byListener.delete(listener)
      for (const entry of seen ?? []) {
        entry.listeners.delete(listener)
        if (entry.listeners.size === 0) settle(entry, "cancelled", Approvals.declineAnswer(entry.request), null)
      }
    }
  }
}
