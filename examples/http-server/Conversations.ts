/**
 * The web server's state: the threads it started, and the turn running on each (at most one a thread).
 *
 * A turn is started in the caller's scope (the HTTP request's): it stays reserved for its thread until that scope
 * closes, and closing the scope early (the browser went away) interrupts the turn on the server, which answers any
 * request still waiting (declined). Threads ask before running commands (`approvalPolicy: "untrusted"`, in a
 * workspace sandbox), and every request a person answers is asked of the page (`Approvals.asking()`): it appears on
 * the turn's stream and waits for `respond`, or is declined after `askTimeout`.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { Approvals, Codex, type PendingRequest, type Thread, type Turn } from "effect-codex"

/** Where the agent works and how long a request waits for the page. */
export interface Options {
  /** The agent's working directory (default: the server's). */
  readonly cwd?: string | undefined
  /** How long a request waits for an answer before it is declined (default `Approvals.defaultAskTimeout`). */
  readonly askTimeout?: Duration.Input | undefined
}

/** How long a request waits at most: `askTimeout`, or less when the page asks for less. */
const waitFor = (options: Options, requested: number | undefined): Duration.Duration => {
  const longest = Duration.fromInputUnsafe(options.askTimeout ?? Approvals.defaultAskTimeout)
  return requested === undefined ? longest : Duration.min(longest, Duration.millis(requested))
}

/** No thread of this server has this id. */
export class ThreadNotFound extends Schema.TaggedError<ThreadNotFound>()("ThreadNotFound", {
  threadId: Schema.String
}) {
  override get message() {
    return `no thread ${this.threadId} on this server`
  }
}

/** The thread already runs a turn (one at a time). */
export class TurnInProgress extends Schema.TaggedError<TurnInProgress>()("TurnInProgress", {
  threadId: Schema.String
}) {
  override get message() {
    return `thread ${this.threadId} is already running a turn`
  }
}

/** Nothing to interrupt: the thread runs no turn (it ended, or it is still being started). */
export class NoRunningTurn extends Schema.TaggedError<NoRunningTurn>()("NoRunningTurn", {
  threadId: Schema.String
}) {
  override get message() {
    return `thread ${this.threadId} has no running turn`
  }
}

/** A turn's hold on its thread: taken before `turn/start`, its handle set once the server answered. */
interface Slot {
  handle: Turn.Handle | undefined
}

interface Entry {
  readonly thread: Thread.Thread
  /** The turn being started or running, if any. */
  current: Slot | undefined
}

const make = (options: Options) => Effect.gen(function*() {
  const codex = yield* Codex.Codex
  const entries = new Map<string, Entry>()

  const entry = (threadId: string) =>
    Effect.suspend(() => {
      const found = entries.get(threadId)
      return found === undefined ? Effect.fail(new ThreadNotFound({ threadId })) : Effect.succeed(found)
    })

  /** Starts a thread and keeps its handle. */
  const start = Effect.fn("Conversations.start")(function*() {
    const thread = yield* codex.threadStart({
      approvalPolicy: "untrusted",
      sandbox: Codex.Sandbox.workspace,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd })
    })
    entries.set(thread.id, { thread, current: undefined })
    return { threadId: thread.id, model: thread.info.model ?? null }
  })

  /**
   * Starts a turn on the thread, in the current scope; its requests wait `askTimeoutMs` at most (never longer than the
   * server's `askTimeout`). The thread is free again as soon as the turn has settled (or
   * when the scope closes, whichever comes first).
   */
  const turn = Effect.fn("Conversations.turn")(function*(threadId: string, prompt: string, askTimeoutMs?: number) {
    const found = yield* entry(threadId)
    const slot: Slot = { handle: undefined }
    const release = Effect.sync(() => {
      if (found.current === slot) found.current = undefined
    })
    yield* Effect.acquireRelease(
      Effect.suspend(() => {
        if (found.current !== undefined) return Effect.fail(new TurnInProgress({ threadId }))
        found.current = slot
        return Effect.void
      }),
      () => release
    )
    const handle = yield* found.thread.turn(prompt, {
      approvals: Approvals.asking(),
      askTimeout: waitFor(options, askTimeoutMs)
    })
    slot.handle = handle
    yield* Effect.forkScoped(Effect.andThen(Effect.exit(handle.result), release))
    return handle
  })

  /** Interrupts the thread's running turn and waits until it has settled. */
  const interrupt = Effect.fn("Conversations.interrupt")(function*(threadId: string) {
    const running = (yield* entry(threadId)).current?.handle
    if (running === undefined) return yield* new NoRunningTurn({ threadId })
    return yield* running.interrupt
  })

  /** Answers a request of the thread as `by` (declines it without `answer`); the first answer wins. */
  const respond = Effect.fn("Conversations.respond")(
    function*(threadId: string, requestId: string, answer: unknown, by: string) {
      const found = yield* entry(threadId)
      yield* answer === undefined
        ? found.thread.decline(requestId, { by })
        : found.thread.respond(requestId, answer, { by })
    }
  )

  /** The thread's requests that wait for an answer (for a page that reconnects). */
  const pending = Effect.fn("Conversations.pending")(function*(threadId: string) {
    const found = yield* entry(threadId)
    return (yield* found.thread.pending).map((request): PendingRequest.PendingRequest => request)
  })

  return { start, turn, interrupt, respond, pending }
})

/** The threads of the web server and their running turns. */
export class Conversations extends Context.Service<Conversations, Effect.Success<ReturnType<typeof make>>>()(
  "examples/http-server/Conversations"
) {
  static readonly layer = (options: Options = {}) => Layer.effect(Conversations)(make(options))
}
