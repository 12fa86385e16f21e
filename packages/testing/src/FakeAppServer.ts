/**
 * An in-memory fake `codex app-server` for fault injection, on `InMemoryTransport.make`.
 *
 * The fake speaks the app-server wire format (one JSON object per line, no `"jsonrpc"` field) and
 * behaves like codex 0.169.0 by default, with shapes taken from the captured sessions in
 * `test/fixtures/captures`: it answers `initialize` (and refuses anything before it with -32600
 * "Not initialized"), `thread/start`, `thread/resume`, `thread/read`, `thread/list`, `turn/start`
 * (followed by the notifications of a whole turn ending in `turn/completed`), `turn/interrupt`,
 * `turn/steer` and `model/list`. Every other method is answered -32601 unless scripted.
 *
 * On top of that a test scripts faults through the {@link FakeAppServer} handle: canned replies
 * and JSON-RPC errors per method ({@link FakeAppServer.script}), per-method handlers,
 * delayed or withheld replies answered later in any order, garbage and raw text, notifications of
 * known and unknown methods, server→client requests (with the client's answer), a crash with an
 * exit code, signal and stderr tail at a chosen moment (also in the middle of a turn), and a record
 * of every line the client wrote.
 *
 * Its timestamps come from Effect's `Clock` and its ids from Effect's `Random`, read from the fiber that builds it:
 * under `TestClock` the threads, turns, items and `emittedAtMs` it reports follow `TestClock.adjust`, and under
 * `Random.withSeed` its thread, turn and item ids are the same from run to run.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Codex } from "effect-codex"
 * import { FakeAppServer } from "@effect-codex/testing"
 *
 * it.effect("retries an overloaded server and survives a crash mid-turn", () =>
 *   Effect.gen(function*() {
 *     const fake = yield* FakeAppServer.FakeAppServer
 *     // -32001 twice, then the default answer.
 *     yield* fake.script("model/list", ...FakeAppServer.times(2, FakeAppServer.overloaded))
 *     // The next turn stops after its user message and the server dies with SIGKILL.
 *     yield* fake.enqueueTurn({ crashAfter: 4, crash: { exitCode: null, signal: "SIGKILL" } })
 *     const codex = yield* Codex.Codex
 *     const thread = yield* codex.threadStart()
 *     const error = yield* thread.run("hi").pipe(Effect.flip)
 *     // error._tag === "AppServerExitedError", error.signal === "SIGKILL"
 *   }).pipe(Effect.provide(FakeAppServer.layerCodex())))
 * ```
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { AppServer, Codex, type Errors, Transport } from "effect-codex"
import * as InMemoryTransport from "./InMemoryTransport.js"

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

/**
 * A JSON-RPC request id.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestId = string | number

/**
 * A request the client sent, as parsed from its line.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientRequest {
  readonly id: RequestId
  readonly method: string
  readonly params: unknown
}

/**
 * A JSON-RPC error object as sent on the wire.
 *
 * @since 0.1.0
 * @category models
 */
export interface RpcErrorObject {
  readonly code: number
  readonly message: string
  readonly data?: unknown
}

/**
 * What the fake does with one client request: answer it (result, error), send raw text instead,
 * never answer, answer later (`Delay`), crash instead of answering, or do what it does by default.
 *
 * @since 0.1.0
 * @category models
 */
export type Reply =
  | { readonly _tag: "Result"; readonly result: unknown }
  | { readonly _tag: "Error"; readonly error: RpcErrorObject }
  | { readonly _tag: "Raw"; readonly text: string }
  | { readonly _tag: "NoReply" }
  | { readonly _tag: "Delay"; readonly millis: number; readonly reply: Reply }
  | { readonly _tag: "Crash"; readonly info: Partial<Transport.ExitInfo> }
  | { readonly _tag: "Default" }

/**
 * Answers with `result`.
 *
 * @since 0.1.0
 * @category utils
 */
export const result = (value: unknown): Reply => ({ _tag: "Result", result: value })

/**
 * Answers with a JSON-RPC error (`data` only when given, as codex often leaves it out).
 *
 * @since 0.1.0
 * @category utils
 */
export const error = (code: number, message: string, data?: unknown): Reply => ({
  _tag: "Error",
  error: data === undefined ? { code, message } : { code, message, data }
})

/**
 * codex's overload answer: code -32001, "Server overloaded; retry later.", without `data`.
 *
 * @since 0.1.0
 * @category utils
 */
export const overloaded: Reply = error(-32001, "Server overloaded; retry later.")

/**
 * Sends `text` verbatim (no newline added) instead of a response.
 *
 * @since 0.1.0
 * @category utils
 */
export const raw = (text: string): Reply => ({ _tag: "Raw", text })

/**
 * Never answers (the request stays pending on the client until its timeout).
 *
 * @since 0.1.0
 * @category utils
 */
export const noReply: Reply = { _tag: "NoReply" }

/**
 * Waits `duration`, then does `reply`; other messages are served meanwhile.
 *
 * @since 0.1.0
 * @category utils
 */
export const delayed = (duration: Duration.Input, reply: Reply = fallthrough): Reply => ({
  _tag: "Delay",
  millis: Duration.toMillis(Duration.fromInputUnsafe(duration)),
  reply
})

/**
 * Crashes the server instead of answering (see {@link FakeAppServer.crash}).
 *
 * @since 0.1.0
 * @category utils
 */
export const crash = (info: Partial<Transport.ExitInfo> = {}): Reply => ({ _tag: "Crash", info })

/**
 * Does what the fake does by default for the method.
 *
 * @since 0.1.0
 * @category utils
 */
export const fallthrough: Reply = { _tag: "Default" }

/**
 * `reply` repeated `n` times, to spread into {@link FakeAppServer.script}.
 *
 * @since 0.1.0
 * @category utils
 */
export const times = (n: number, reply: Reply): ReadonlyArray<Reply> => Array.from({ length: n }, () => reply)

/**
 * A per-method handler: the reply to one request, computed (or awaited) when it arrives.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler = (request: ClientRequest) => Reply | Effect.Effect<Reply>

// ---------------------------------------------------------------------------
// Garbage
// ---------------------------------------------------------------------------

/**
 * Lines no app-server should send, one per kind of fault (no trailing newline).
 *
 * @since 0.1.0
 * @category utils
 */
export const garbage = {
  /** Not JSON at all. */
  invalidJson: "{\"method\": \"turn/started\", \"params\": {",
  /** Plain text, as a crashing process might print. */
  text: "thread 'tokio-runtime-worker' panicked at src/lib.rs:1:1",
  /** Valid JSON that is not an object. */
  nonObject: "[1,2,3]",
  /** A JSON scalar. */
  scalar: "42",
  /** An object that is neither a request, a response nor a notification. */
  neither: "{\"hello\":\"world\"}",
  /** A response to an id the client never used. */
  unknownResponse: "{\"id\":987654321,\"result\":{}}"
} as const

/**
 * A line of `length` characters (no newline): longer than the client's `maxLineLength` it is dropped.
 *
 * @since 0.1.0
 * @category utils
 */
export const oversizedLine = (length: number): string => `{"method":"x","params":"${"x".repeat(Math.max(0, length - 26))}"}`

// ---------------------------------------------------------------------------
// Turns
// ---------------------------------------------------------------------------

/**
 * How the fake plays one turn after answering `turn/start`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TurnScript {
  /** The agent message as deltas. Default `["Hel", "lo", " world"]`. */
  readonly deltas?: ReadonlyArray<string> | undefined
  /** How the turn ends. Default `"completed"`; `"failed"` sends `error` then `turn/completed {status:"failed"}`. */
  readonly status?: "completed" | "failed" | undefined
  /** The error of a failed turn. Default the captured HTTP 500 error. */
  readonly error?: { readonly message: string; readonly codexErrorInfo?: unknown } | undefined
  /**
   * Stop after the user message (the turn stays `inProgress`) until `turn/interrupt` (ends it
   * `interrupted`) or {@link FakeAppServer.releaseTurn} (plays the rest).
   */
  readonly hold?: boolean | undefined
  /** Crash after this many notifications of the turn were sent (see {@link crash}). */
  readonly crashAfter?: number | undefined
  /** How the server ends with `crashAfter`. Default exit code 1, `reason: "fake app-server crashed mid-turn"`. */
  readonly crash?: Partial<Transport.ExitInfo> | undefined
  /** How many of the turn's notifications overtake the `turn/start` response. Default 0. */
  readonly earlyEvents?: number | undefined
  /** Milliseconds between notifications. Default 0. */
  readonly intervalMs?: number | undefined
}

/**
 * A turn the fake has started.
 *
 * @since 0.1.0
 * @category models
 */
export interface FakeTurn {
  readonly threadId: string
  readonly turnId: string
  /** The text of the user input. */
  readonly input: string
}

// ---------------------------------------------------------------------------
// Recording
// ---------------------------------------------------------------------------

/**
 * One line the client wrote.
 *
 * @since 0.1.0
 * @category models
 */
export interface Received {
  /** 0-based arrival index. */
  readonly index: number
  /** Milliseconds since the fake started. */
  readonly at: number
  /** The line, verbatim, without its newline. */
  readonly line: string
  /** What it is: a request, a notification, an answer to a server request, or not valid JSON-RPC. */
  readonly kind: "request" | "notification" | "response" | "invalid"
  /** The parsed message (`undefined` when the line is not JSON). */
  readonly message: Record<string, unknown> | undefined
}

/**
 * The client's answer to a server→client request.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientAnswer =
  | { readonly id: RequestId; readonly result: unknown }
  | { readonly id: RequestId; readonly error: RpcErrorObject }

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/**
 * The test's handle on the fake server: the shape of the {@link FakeAppServer} service.
 *
 * @since 0.2.0
 * @category models
 */
export interface FakeAppServer {
  /** The client end: what the `Transport.Transport` layer provides. */
  readonly connection: Transport.Transport
  /** Queues canned replies for `method`, used FIFO before the handler or the default. */
  readonly script: (method: string, ...replies: ReadonlyArray<Reply>) => Effect.Effect<void>
  /** Sets the handler of `method` (used when no canned reply is queued); replaces the default. */
  readonly handle: (method: string, handler: Handler) => Effect.Effect<void>
  /** Removes the canned replies and the handler of `method`. */
  readonly reset: (method: string) => Effect.Effect<void>
  /** Queues turn scripts, used FIFO by `turn/start` before the layer's default script. */
  readonly enqueueTurn: (...scripts: ReadonlyArray<TurnScript>) => Effect.Effect<void>
  /** Answers a request later (after `noReply`), in any order. */
  readonly respond: (id: RequestId, reply: Reply) => Effect.Effect<void>
  /** Sends a message object as one line. */
  readonly send: (message: unknown) => Effect.Effect<void>
  /** Sends text verbatim (newlines are the test's business). */
  readonly sendRaw: (text: string) => Effect.Effect<void>
  /** Sends lines in one chunk, each followed by a newline. */
  readonly sendLines: (lines: ReadonlyArray<string>) => Effect.Effect<void>
  /** Sends a notification (with `emittedAtMs`, as codex does), of any method, known or not. */
  readonly notify: (method: string, params?: unknown) => Effect.Effect<void>
  /**
   * Sends a server→client request and waits for the client's answer; fails with the exit info when
   * the server crashes first.
   */
  readonly request: (method: string, params: unknown) => Effect.Effect<ClientAnswer, Transport.ExitInfo>
  /** Ends the connection as if the process died: default exit code 1, no signal, empty stderr. */
  readonly crash: (info?: Partial<Transport.ExitInfo>) => Effect.Effect<void>
  /** Lets a held turn (`hold: true`) play the rest of its notifications. */
  readonly releaseTurn: (turnId: string) => Effect.Effect<void>
  /** Every line the client wrote so far, in order. */
  readonly received: Effect.Effect<ReadonlyArray<Received>>
  /** Waits until the client has written at least `count` lines and returns them all. */
  readonly awaitReceived: (count: number) => Effect.Effect<ReadonlyArray<Received>>
  /** The requests of `method` received so far. */
  readonly requests: (method: string) => Effect.Effect<ReadonlyArray<ClientRequest>>
  /** Waits until `count` requests of `method` have arrived and returns them. */
  readonly awaitRequests: (method: string, count?: number) => Effect.Effect<ReadonlyArray<ClientRequest>>
  /** Every turn started so far. */
  readonly turns: Effect.Effect<ReadonlyArray<FakeTurn>>
  /** Waits until `count` turns have started and returns them. */
  readonly awaitTurns: (count?: number) => Effect.Effect<ReadonlyArray<FakeTurn>>
  /** Completes when the server has crashed or closed, with how. */
  readonly closed: Effect.Effect<Transport.ExitInfo>
}

/**
 * The fake server's handle, provided next to `Transport.Transport` by {@link layer}.
 *
 * @since 0.1.0
 * @category services
 */
export const FakeAppServer: Context.Service<FakeAppServer, FakeAppServer> = Context.Service<FakeAppServer>(
  "@effect-codex/testing/FakeAppServer"
)

/**
 * The test's handle on the fake server.
 *
 * @deprecated Use {@link FakeAppServer} (the interface of the same name as the service).
 * @since 0.1.0
 * @category models
 */
export type FakeAppServerService = FakeAppServer

/**
 * Options of the fake.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The turn played when no script is queued (see {@link FakeAppServer.enqueueTurn}). */
  readonly turn?: TurnScript | undefined
  /** `codexHome` in the `initialize` answer. Default `/tmp/fake-codex-home`. */
  readonly codexHome?: string | undefined
  /** Send `configWarning` and `remoteControl/status/changed` after `initialize`, as codex does. Default false. */
  readonly startupNotifications?: boolean | undefined
  /** Refuse requests before `initialize` with -32600 "Not initialized", as codex does. Default true. */
  readonly requireInitialize?: boolean | undefined
  /** The model id of threads and of `model/list`. Default `mock-model`. */
  readonly model?: string | undefined
  /**
   * `userAgent` in the `initialize` answer, e.g. to play another codex version. Default as codex
   * 0.169.0 forms it: `<clientInfo.name>/0.169.0 (FakeAppServer; x86_64) fake (<name>; <version>)`.
   */
  readonly userAgent?: string | undefined
}

const CLI_VERSION = "0.169.0"

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isRequestId = (value: unknown): value is RequestId => typeof value === "string" || typeof value === "number"

interface ThreadState {
  readonly id: string
  readonly createdAt: number
  readonly cwd: string
  readonly model: string
  name: string | null
  preview: string
  readonly turns: Array<TurnState>
}

interface TurnState {
  readonly id: string
  readonly threadId: string
  readonly input: string
  status: "inProgress" | "completed" | "failed" | "interrupted"
  interrupted: boolean
  readonly release: Deferred.Deferred<void>
  readonly items: Array<unknown>
  readonly startedAt: number
  completedAt: number | null
  error: unknown
}

/** A version 4 UUID drawn from `random` (Effect's `Random`, so `Random.withSeed` makes the fake's ids repeatable). */
const uuidFrom = (random: Random.Random): string => {
  const bytes = Array.from({ length: 16 }, () => Math.floor(random.nextDoubleUnsafe() * 256))
  bytes[6] = (bytes[6]! & 0x0f) | 0x40
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = bytes.map((byte) => byte.toString(16).padStart(2, "0")).join("")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** The captured HTTP 500 error of a failed turn. */
const defaultTurnError = {
  message: "We’re currently experiencing high demand, which may cause temporary errors.",
  codexErrorInfo: "internalServerError",
  additionalDetails: null,
  misalignment: null
}

/** A captured `model/list` entry. */
const modelEntry = (id: string) => ({
  id,
  model: id,
  upgrade: null,
  upgradeInfo: null,
  availabilityNux: null,
  displayName: id,
  description: "A model of the fake app-server.",
  modelSpecialty: null,
  hidden: false,
  supportedReasoningEfforts: [
    { reasoningEffort: "low", description: "Fast responses with lighter reasoning" },
    { reasoningEffort: "medium", description: "Balances speed and reasoning depth for everyday tasks" },
    { reasoningEffort: "high", description: "Greater reasoning depth for complex problems" }
  ],
  defaultReasoningEffort: "low",
  inputModalities: ["text", "image"],
  supportsPersonality: false,
  multiAgentVersion: "v2",
  additionalSpeedTiers: [],
  serviceTiers: [],
  defaultServiceTier: null,
  availableAccessPrograms: null,
  isDefault: true
})

/**
 * Starts a fake server in the current scope and returns its handle (whose `connection` is the
 * client end). Closing the scope closes the connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<FakeAppServer, never, Scope.Scope> = Effect.fnUntraced(function*(options: Options = {}) {
  const { client, server } = yield* InMemoryTransport.make
  const scope = yield* Effect.scope
  // Time and ids come from Effect's Clock and Random of the fiber that builds the fake: under `TestClock` its
  // timestamps follow `TestClock.adjust`, and under `Random.withSeed` its ids repeat from run to run.
  const clock = yield* Clock.Clock
  const random = yield* Random.Random
  const now = () => clock.currentTimeMillisUnsafe()
  const uuid = () => uuidFrom(random)
  const startedAt = now()
  const model = options.model ?? "mock-model"
  const codexHome = options.codexHome ?? "/tmp/fake-codex-home"
  const requireInitialize = options.requireInitialize ?? true

  const received: Array<Received> = []
  const scripts = new Map<string, Array<Reply>>()
  const handlers = new Map<string, Handler>()
  const turnScripts: Array<TurnScript> = []
  const threads = new Map<string, ThreadState>()
  const turnsById = new Map<string, TurnState>()
  const turnsStarted: Array<FakeTurn> = []
  const serverRequests = new Map<RequestId, Deferred.Deferred<ClientAnswer, Transport.ExitInfo>>()
  const waiters = new Set<{ readonly check: () => boolean; readonly done: Deferred.Deferred<void> }>()
  const closed = yield* Deferred.make<Transport.ExitInfo>()
  let initialized = false
  let nextServerRequestId = 0

  const wake = Effect.suspend(() => {
    const ready = [...waiters].filter((waiter) => waiter.check())
    for (const waiter of ready) waiters.delete(waiter)
    return Effect.forEach(ready, (waiter) => Deferred.succeed(waiter.done, undefined), { discard: true })
  })
  const waitUntil = (check: () => boolean): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (check()) return Effect.void
      const done = Deferred.makeUnsafe<void>()
      waiters.add({ check, done })
      return Deferred.await(done)
    })

  const sendRaw = (text: string) => server.send(text)
  const send = (message: unknown) => server.send(`${JSON.stringify(message)}\n`)
  const notify = (method: string, params?: unknown) =>
    send(params === undefined ? { method, emittedAtMs: now() } : { method, params, emittedAtMs: now() })

  const crashWith = (info: Partial<Transport.ExitInfo> = {}) =>
    Effect.suspend(() => {
      const full: Transport.ExitInfo = {
        exitCode: info.exitCode === undefined ? (info.signal ? null : 1) : info.exitCode,
        signal: info.signal ?? null,
        stderrTail: info.stderrTail ?? [],
        reason: info.reason ?? "fake app-server crashed"
      }
      const pending = [...serverRequests.values()]
      serverRequests.clear()
      // The exit is known before the output ends, as with a real process.
      return Deferred.succeed(closed, full).pipe(
        Effect.andThen(server.close(full)),
        Effect.andThen(Effect.forEach(pending, (deferred) => Deferred.fail(deferred, full), { discard: true }))
      )
    })

  // -- thread and turn shapes (from the captures) ---------------------------------------------

  const threadInfo = (thread: ThreadState, includeTurns: boolean) => ({
    id: thread.id,
    environments: [{ environmentId: "local", cwd: thread.cwd, runtimeWorkspaceRoots: [thread.cwd] }],
    extra: null,
    sessionId: thread.id,
    forkedFromId: null,
    attachedToThreadId: null,
    parentThreadId: null,
    preview: thread.preview,
    ephemeral: false,
    section: null,
    sectionEnteredAt: null,
    projectId: null,
    historyMode: "paginated",
    modelProvider: "mock",
    model: thread.model,
    reasoningEffort: null,
    createdAt: thread.createdAt,
    updatedAt: thread.createdAt,
    recencyAt: thread.createdAt,
    status: thread.turns.some((turn) => turn.status === "inProgress")
      ? { type: "active", activeFlags: [] }
      : { type: "idle" },
    path: `${codexHome}/sessions/rollout-${thread.id}.jsonl`,
    cwd: thread.cwd,
    cliVersion: CLI_VERSION,
    originator: "fake-app-server",
    source: "vscode",
    canAcceptDirectInput: true,
    threadSource: null,
    agentNickname: null,
    agentRole: null,
    gitInfo: null,
    name: thread.name,
    daybreakEnabled: null,
    turns: includeTurns ? thread.turns.map((turn) => turnInfo(turn, "full")) : []
  })

  const turnInfo = (turn: TurnState, itemsView: "notLoaded" | "summary" | "full") => ({
    id: turn.id,
    rootTurnId: turn.id,
    items: itemsView === "notLoaded"
      ? []
      : itemsView === "summary"
      ? turn.items.filter((item) => (item as { type: string }).type !== "userMessage")
      : turn.items,
    itemsView,
    status: turn.status,
    error: turn.error ?? null,
    startedAt: turn.status === "inProgress" && itemsView === "notLoaded" ? null : Math.floor(turn.startedAt / 1000),
    completedAt: turn.completedAt === null ? null : Math.floor(turn.completedAt / 1000),
    durationMs: turn.completedAt === null ? null : turn.completedAt - turn.startedAt
  })

  const startedTurnInfo = (turn: TurnState) => ({ ...turnInfo(turn, "notLoaded"), startedAt: Math.floor(turn.startedAt / 1000) })

  const newThread = (params: Record<string, unknown>): ThreadState => {
    const thread: ThreadState = {
      id: uuid(),
      createdAt: Math.floor(now() / 1000),
      cwd: typeof params.cwd === "string" ? params.cwd : "/tmp/fake-codex-cwd",
      model: typeof params.model === "string" ? params.model : model,
      name: null,
      preview: "",
      turns: []
    }
    threads.set(thread.id, thread)
    return thread
  }

  const threadResponse = (thread: ThreadState) => ({
    thread: threadInfo(thread, false),
    model: thread.model,
    modelProvider: "mock",
    serviceTier: null,
    disabledPluginIds: [],
    cwd: thread.cwd,
    runtimeWorkspaceRoots: [thread.cwd],
    instructionSources: [],
    approvalPolicy: "on-request",
    approvalsReviewer: "user",
    sandbox: { type: "readOnly", networkAccess: false },
    activePermissionProfile: { id: ":read-only", extends: null },
    reasoningEffort: null,
    multiAgentMode: "explicitRequestOnly"
  })

  const inputText = (params: Record<string, unknown>): string => {
    const input = Array.isArray(params.input) ? params.input : []
    return input.map((item) => (isObject(item) && typeof item.text === "string" ? item.text : "")).join("")
  }

  /** Plays a turn: sends its notifications (and the `turn/start` response after `earlyEvents` of them). */
  const playTurn = (requestId: RequestId, thread: ThreadState, turn: TurnState, script: TurnScript) => {
    const threadId = thread.id
    const turnId = turn.id
    const early = script.earlyEvents ?? 0
    const interval = script.intervalMs ?? 0
    let sent = 0
    let responded = false
    let crashed = false
    const respond = Effect.suspend(() => {
      if (responded || crashed) return Effect.void
      responded = true
      return send({ id: requestId, result: { turn: { ...turnInfo(turn, "notLoaded"), status: "inProgress" } } })
    })
    return Effect.gen(function*() {
      const emit = (method: string, params: unknown) =>
        Effect.gen(function*() {
          if (crashed) return
          if (sent === early) yield* respond
          if (interval > 0 && sent > 0) yield* Effect.sleep(Duration.millis(interval))
          yield* notify(method, params)
          sent++
          if (script.crashAfter !== undefined && sent >= script.crashAfter) {
            crashed = true
            yield* crashWith({ reason: "fake app-server crashed mid-turn", ...script.crash })
          }
        })
      const finish = (status: "completed" | "failed" | "interrupted") =>
        Effect.gen(function*() {
          turn.status = status
          turn.completedAt = now()
          if (status === "failed") {
            turn.error = { ...defaultTurnError, ...script.error }
            yield* emit("thread/status/changed", { threadId, status: { type: "systemError" } })
            yield* emit("error", { error: turn.error, willRetry: false, threadId, turnId })
          } else {
            yield* emit("thread/status/changed", { threadId, status: { type: "idle" } })
          }
          yield* emit("turn/completed", { threadId, turn: turnInfo(turn, status === "interrupted" ? "notLoaded" : "summary") })
        })
      const stopped = () => crashed || turn.interrupted

      yield* emit("thread/status/changed", { threadId, status: { type: "active", activeFlags: [] } })
      yield* emit("turn/started", { threadId, turn: startedTurnInfo(turn) })
      const userAt = now()
      const userItem = {
        type: "userMessage",
        id: uuid(),
        clientId: null,
        content: [{ type: "text", text: turn.input, text_elements: [] }],
        startedAtMs: userAt,
        completedAtMs: null
      }
      yield* emit("item/started", { item: userItem, threadId, turnId, startedAtMs: userAt })
      const userDone = { ...userItem, completedAtMs: userAt }
      turn.items.push(userDone)
      yield* emit("item/completed", { item: userDone, threadId, turnId, contentTokenCount: null, completedAtMs: userAt })
      if (script.hold === true && !stopped()) yield* Deferred.await(turn.release)
      if (crashed) return
      if (turn.interrupted) return yield* finish("interrupted")
      if (script.status === "failed") return yield* finish("failed")

      const deltas = script.deltas ?? ["Hel", "lo", " world"]
      const itemId = `msg_fake_${turnId}`
      const agentItem = {
        type: "agentMessage",
        moderation: null,
        id: itemId,
        text: "",
        phase: null,
        memoryCitation: null,
        delivery: null,
        questions: null,
        startedAtMs: now(),
        completedAtMs: null
      }
      yield* emit("item/started", { item: agentItem, threadId, turnId, startedAtMs: agentItem.startedAtMs })
      for (const delta of deltas) {
        if (stopped()) break
        yield* emit("item/agentMessage/delta", { threadId, turnId, itemId, delta })
      }
      if (crashed) return
      if (turn.interrupted) return yield* finish("interrupted")
      const agentDone = { ...agentItem, text: deltas.join(""), completedAtMs: now() }
      turn.items.push(agentDone)
      yield* emit("item/completed", {
        item: agentDone,
        threadId,
        turnId,
        contentTokenCount: null,
        completedAtMs: agentDone.completedAtMs
      })
      const usage = {
        totalTokens: 15,
        inputTokens: 10,
        cachedInputTokens: 0,
        cacheWriteInputTokens: 0,
        outputTokens: 5,
        reasoningOutputTokens: 0
      }
      yield* emit("thread/tokenUsage/updated", {
        threadId,
        turnId,
        tokenUsage: { total: usage, last: usage, modelContextWindow: 258400 }
      })
      if (crashed) return
      yield* finish(turn.interrupted ? "interrupted" : "completed")
    }).pipe(
      // A turn with fewer notifications than `earlyEvents` still answers.
      Effect.ensuring(respond)
    )
  }

  // -- defaults ------------------------------------------------------------------------------

  const threadNotFound = (id: unknown) => error(-32600, `thread not found: ${String(id)}`)

  const defaultReply = (request: ClientRequest): Effect.Effect<Reply> =>
    Effect.suspend(() => {
      const params = isObject(request.params) ? request.params : {}
      switch (request.method) {
        case "initialize": {
          if (initialized) return Effect.succeed(error(-32600, "Already initialized"))
          initialized = true
          const info = isObject(params.clientInfo) ? params.clientInfo : {}
          const name = typeof info.name === "string" ? info.name : "client"
          const version = typeof info.version === "string" ? info.version : "0"
          const answer = result({
            userAgent: options.userAgent ?? `${name}/${CLI_VERSION} (FakeAppServer; x86_64) fake (${name}; ${version})`,
            codexHome,
            platformFamily: "unix",
            platformOs: "linux"
          })
          if (options.startupNotifications !== true) return Effect.succeed(answer)
          return send({ id: request.id, result: (answer as { result: unknown }).result }).pipe(
            Effect.andThen(notify("configWarning", { summary: "FakeAppServer: startup warning", details: null })),
            Effect.andThen(notify("remoteControl/status/changed", {
              status: "disabled",
              serverName: "fake",
              installationId: "00000000-0000-0000-0000-000000000000",
              environmentId: null
            })),
            Effect.as(noReply)
          )
        }
        case "thread/start": {
          const thread = newThread(params)
          return send({ id: request.id, result: threadResponse(thread) }).pipe(
            Effect.andThen(notify("thread/started", { thread: threadInfo(thread, false) })),
            Effect.as(noReply)
          )
        }
        case "thread/resume": {
          const thread = threads.get(String(params.threadId))
          return Effect.succeed(thread === undefined ? threadNotFound(params.threadId) : result(threadResponse(thread)))
        }
        case "thread/read": {
          const thread = threads.get(String(params.threadId))
          if (thread === undefined) return Effect.succeed(error(-32600, `thread not loaded: ${String(params.threadId)}`))
          return Effect.succeed(result({ thread: threadInfo(thread, params.includeTurns === true) }))
        }
        case "thread/list":
          return Effect.succeed(result({
            data: [...threads.values()].map((thread) => threadInfo(thread, false)),
            nextCursor: null,
            backwardsCursor: null
          }))
        case "model/list":
          return Effect.succeed(result({ data: [modelEntry(model)], nextCursor: null }))
        case "turn/start": {
          const thread = threads.get(String(params.threadId))
          if (thread === undefined) return Effect.succeed(threadNotFound(params.threadId))
          const script = turnScripts.shift() ?? options.turn ?? {}
          const turn: TurnState = {
            id: uuid(),
            threadId: thread.id,
            input: inputText(params),
            status: "inProgress",
            interrupted: false,
            release: Deferred.makeUnsafe<void>(),
            items: [],
            startedAt: now(),
            completedAt: null,
            error: null
          }
          thread.turns.push(turn)
          if (thread.preview === "") thread.preview = turn.input
          turnsById.set(turn.id, turn)
          turnsStarted.push({ threadId: thread.id, turnId: turn.id, input: turn.input })
          return wake.pipe(
            Effect.andThen(Effect.forkIn(playTurn(request.id, thread, turn, script), scope)),
            Effect.as(noReply)
          )
        }
        case "turn/interrupt": {
          const turn = turnsById.get(String(params.turnId))
          if (turn === undefined || turn.threadId !== params.threadId) return Effect.succeed(threadNotFound(params.threadId))
          if (turn.status === "inProgress") turn.interrupted = true
          return Deferred.succeed(turn.release, undefined).pipe(Effect.as(result({})))
        }
        case "turn/steer": {
          const turn = turnsById.get(String(params.expectedTurnId))
          return Effect.succeed(
            turn === undefined || turn.status !== "inProgress"
              ? error(-32600, "no active turn to steer")
              : result({ turnId: turn.id })
          )
        }
        default:
          return Effect.succeed(error(-32601, `FakeAppServer has no default for "${request.method}"; script it`))
      }
    })

  const perform = (request: ClientRequest, reply: Reply): Effect.Effect<void> => {
    switch (reply._tag) {
      case "Result":
        return send({ id: request.id, result: reply.result })
      case "Error":
        return send({ id: request.id, error: reply.error })
      case "Raw":
        return sendRaw(reply.text)
      case "NoReply":
        return Effect.void
      case "Crash":
        return crashWith(reply.info)
      case "Delay":
        return Effect.sleep(Duration.millis(reply.millis)).pipe(
          Effect.andThen(perform(request, reply.reply)),
          Effect.forkIn(scope),
          Effect.asVoid
        )
      case "Default":
        return Effect.flatMap(defaultReply(request), (next) => perform(request, next))
    }
  }

  const onRequest = (request: ClientRequest): Effect.Effect<void> => {
    const queued = scripts.get(request.method)
    if (queued !== undefined && queued.length > 0) return perform(request, queued.shift()!)
    const handler = handlers.get(request.method)
    if (handler !== undefined) {
      // Handlers may wait (for a server request's answer, say): each runs in its own fiber.
      const run = Effect.suspend(() => {
        const reply = handler(request)
        return Effect.isEffect(reply) ? reply : Effect.succeed(reply)
      })
      return Effect.forkIn(Effect.flatMap(run, (reply) => perform(request, reply)), scope).pipe(Effect.asVoid)
    }
    if (requireInitialize && !initialized && request.method !== "initialize") {
      return perform(request, error(-32600, "Not initialized"))
    }
    return perform(request, fallthrough)
  }

  const onLine = (line: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (line.trim() === "") return Effect.void
      let message: unknown
      try {
        message = JSON.parse(line)
      } catch {
        message = undefined
      }
      const object = isObject(message) ? message : undefined
      const kind: Received["kind"] = object === undefined
        ? "invalid"
        : typeof object.method === "string"
        ? isRequestId(object.id) ? "request" : "notification"
        : isRequestId(object.id) && ("result" in object || "error" in object)
        ? "response"
        : "invalid"
      received.push({ index: received.length, at: now() - startedAt, line, kind, message: object })
      const effect = kind === "request"
        ? onRequest({ id: object!.id as RequestId, method: object!.method as string, params: object!.params })
        : kind === "response"
        ? Effect.suspend(() => {
          const deferred = serverRequests.get(object!.id as RequestId)
          if (deferred === undefined) return Effect.void
          serverRequests.delete(object!.id as RequestId)
          return Deferred.succeed(deferred, object as unknown as ClientAnswer)
        })
        : Effect.void
      return Effect.andThen(effect, wake)
    })

  yield* Effect.addFinalizer(() =>
    Deferred.succeed(closed, { exitCode: 0, signal: null, stderrTail: [], reason: "scope closed" })
  )
  const connection: Transport.Transport = client

  yield* server.received.pipe(
    Stream.splitLines,
    Stream.runForEach(onLine),
    Effect.forkScoped
  )

  const service: FakeAppServer = {
    connection,
    script: (method, ...replies) =>
      Effect.sync(() => {
        const queue = scripts.get(method) ?? []
        queue.push(...replies)
        scripts.set(method, queue)
      }),
    handle: (method, handler) => Effect.sync(() => void handlers.set(method, handler)),
    reset: (method) =>
      Effect.sync(() => {
        scripts.delete(method)
        handlers.delete(method)
      }),
    enqueueTurn: (...more) => Effect.sync(() => void turnScripts.push(...more)),
    respond: (id, reply) => perform({ id, method: "", params: undefined }, reply),
    send,
    sendRaw,
    sendLines: (lines) => lines.length === 0 ? Effect.void : sendRaw(`${lines.join("\n")}\n`),
    notify,
    request: (method, params) =>
      Effect.suspend(() => {
        const deferred = Deferred.makeUnsafe<ClientAnswer, Transport.ExitInfo>()
        const id = nextServerRequestId++
        serverRequests.set(id, deferred)
        return send({ method, id, params }).pipe(Effect.andThen(Deferred.await(deferred)))
      }),
    crash: (info) => crashWith(info),
    releaseTurn: (turnId) =>
      Effect.suspend(() => {
        const turn = turnsById.get(turnId)
        return turn === undefined ? Effect.void : Deferred.succeed(turn.release, undefined).pipe(Effect.asVoid)
      }),
    received: Effect.sync(() => [...received]),
    awaitReceived: (count) => waitUntil(() => received.length >= count).pipe(Effect.map(() => [...received])),
    requests: (method) => Effect.sync(() => requestsOf(method)),
    awaitRequests: (method, count = 1) =>
      waitUntil(() => requestsOf(method).length >= count).pipe(Effect.map(() => requestsOf(method))),
    turns: Effect.sync(() => [...turnsStarted]),
    awaitTurns: (count = 1) => waitUntil(() => turnsStarted.length >= count).pipe(Effect.map(() => [...turnsStarted])),
    closed: Deferred.await(closed)
  }

  const requestsOf = (method: string): ReadonlyArray<ClientRequest> =>
    received.flatMap((entry) =>
      entry.kind === "request" && entry.message!.method === method
        ? [{ id: entry.message!.id as RequestId, method, params: entry.message!.params }]
        : []
    )

  return service
})

/**
 * The fake's handle and the `Transport.Transport` on it (for `AppServer.layerTransport()`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<FakeAppServer | Transport.Transport> =>
  Layer.effect(Transport.Transport)(FakeAppServer.useSync((fake) => fake.connection)).pipe(
    Layer.provideMerge(Layer.effect(FakeAppServer)(make(options)))
  )

/**
 * `AppServer` (after the handshake) on the fake, with the fake's handle.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerAppServer = (
  options: Options & AppServer.HandshakeOptions = {}
): Layer.Layer<AppServer.AppServer | FakeAppServer | Transport.Transport, Errors.RequestError | Errors.UnsupportedVersionError> =>
  AppServer.layerTransport(options).pipe(Layer.provideMerge(layer(options)))

/**
 * A whole `Codex` on the fake (declining approvals by default), with `AppServer` and the fake's handle.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerCodex = (
  options: Options & AppServer.HandshakeOptions & Codex.ServiceOptions = {}
): Layer.Layer<
  Codex.Codex | AppServer.AppServer | FakeAppServer | Transport.Transport,
  Errors.RequestError | Errors.UnsupportedVersionError
> =>
  Codex.layer(options).pipe(Layer.provideMerge(layerAppServer(options)))
