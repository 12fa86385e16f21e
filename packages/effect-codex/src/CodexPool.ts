/**
 * Many `codex app-server` processes behind one `Codex` service: a drop-in for `NodeCodex.layer` whose turns run on
 * `size` processes sharing one `CODEX_HOME`.
 *
 * - A new thread goes to the least-loaded process and stays there (codex lets one process write a thread);
 *   `thread(id)` and `threadResume` go to its owner, or resume it on a live process; `models`, `threadList`,
 *   `account`, ... go to any process.
 * - Turns of a thread run one at a time across the pool (the processes share one set of thread locks).
 * - Each process runs at most `maxTurnsPerProcess` turns; beyond that callers wait in a queue of at most
 *   `maxQueued`, and past it fail with `PoolQueueFullError`.
 * - A process that exits, or does not answer a probe (`thread/loaded/list`) within `probeTimeout`, is replaced
 *   (retried on `restartSchedule`). Its running turns fail at once with `AppServerExitedError` marked
 *   `resumable`; the thread's next operation resumes it on a live process with its history. Re-running the cut
 *   turn is left to the caller: its commands may already have run.
 * - Processes above `minSize` that ran nothing for `idleTimeToLive` stop; new threads start more, up to `size`.
 * - A thread counts toward its process's load from the moment it is placed there (before `thread/start` has
 *   answered): a burst of new threads spreads over the pool.
 * - {@link CodexPool.ownerOf} says which process owns a thread (its number in the pool and its pid).
 * - The figures are `Metric`s: {@link processes}, {@link turnsInFlight}, {@link queueLength}, {@link restarts}, and
 *   per process {@link processThreads} and {@link processTurns}.
 * - Closing the layer's scope stops every process.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Codex, NodeCodex } from "effect-codex"
 *
 * const program = Effect.gen(function*() {
 *   const codex = yield* Codex.Codex
 *   const thread = yield* codex.threadStart()
 *   const result = yield* thread.run("Say hello")
 *   yield* Effect.log(result.finalResponse)
 * })
 *
 * // The only change from a single process: `NodeCodex.layer()` → `NodeCodex.layerPool({ size: 3 })`.
 * program.pipe(Effect.provide(NodeCodex.layerPool({ size: 3 })), NodeRuntime.runMain)
 * ```
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ChildProcessSpawner } from "effect/process"
import * as AppServer from "./AppServer.js"
import * as Codex from "./Codex.js"
import type { RequestError, StartError } from "./Errors.js"
import * as TurnGate from "./internal/codex/turnGate.js"
import * as Admission from "./internal/pool/admission.js"
import { isRefused, type Member, resumable } from "./internal/pool/member.js"
import * as Metrics from "./internal/pool/metrics.js"
import * as Placement from "./internal/pool/placement.js"
import * as PoolProcess from "./internal/pool/process.js"
import * as Supervisor from "./internal/pool/supervisor.js"
import type * as Thread from "./Thread.js"

/**
 * Processes of every pool that are running.
 *
 * @since 0.2.0
 * @category metrics
 */
export const processes = Metrics.processes

/**
 * Turns that hold a place on a pool process (started and not yet settled).
 *
 * @since 0.2.0
 * @category metrics
 */
export const turnsInFlight = Metrics.turnsInFlight

/**
 * Callers waiting for a place on a process that runs `maxTurnsPerProcess` turns.
 *
 * @since 0.2.0
 * @category metrics
 */
export const queueLength = Metrics.queueLength

/**
 * Processes replaced after they exited or stopped answering the probe.
 *
 * @since 0.2.0
 * @category metrics
 */
export const restarts = Metrics.restarts

/**
 * Threads placed on each process: one series per live process, with the attributes `process` (its
 * {@link Process.index}) and `pid`; read when the metrics are taken, removed when the process leaves the pool.
 *
 * @since 0.2.0
 * @category metrics
 */
export const processThreads = Metrics.processThreads

/**
 * Turns running on each process, one series per live process (attributes as {@link processThreads}).
 *
 * @since 0.2.0
 * @category metrics
 */
export const processTurns = Metrics.processTurns

/**
 * The pool's own options.
 *
 * @since 0.2.0
 * @category models
 */
export interface PoolOptions {
  /** Processes at most. Default 2. */
  readonly size?: number | undefined
  /** Processes kept even when idle (started with the layer). Default `size`. */
  readonly minSize?: number | undefined
  /** Turns one process runs at once; more wait in the queue. Default 32. */
  readonly maxTurnsPerProcess?: number | undefined
  /** Callers waiting for room at most; past it a turn fails with `PoolQueueFullError`. Default 1024. */
  readonly maxQueued?: number | undefined
  /** A process above `minSize` that ran no turn for this long stops. Default 5 minutes. */
  readonly idleTimeToLive?: Duration.Input | undefined
  /** How often each process is probed. Default 30 seconds. */
  readonly probeInterval?: Duration.Input | undefined
  /** A process that does not answer a probe within this is replaced. Default 10 seconds. */
  readonly probeTimeout?: Duration.Input | undefined
  /** Delays between attempts to start a replacement. Default exponential from 200 ms, at most 10 s apart. */
  readonly restartSchedule?: Schedule.Schedule<unknown, StartError> | undefined
}

/**
 * Options of {@link layer}: those of `Codex.layerStdio` (for every process) and the pool's.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options extends Codex.Options, PoolOptions {}

/**
 * A process of the pool, as {@link CodexPool.ownerOf} names it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Process {
  /** 1, 2, 3, ... in the order the pool started its processes; a replacement gets the next number. */
  readonly index: number
  /** Its operating-system process id (`undefined` for a server the pool reaches over a socket). */
  readonly pid: number | undefined
}

/**
 * The pool: the `Codex` service over all its processes, and where each thread lives. {@link layer} provides it as
 * both `Codex.Codex` and `CodexPool.CodexPool`.
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { CodexPool } from "effect-codex"
 *
 * const where = Effect.gen(function*() {
 *   const pool = yield* CodexPool.CodexPool
 *   const thread = yield* pool.threadStart()
 *   const owner = yield* pool.ownerOf(thread.id)
 *   yield* Effect.log(Option.map(owner, (process) => `thread on process ${process.index} (pid ${process.pid})`))
 * })
 * ```
 * @since 0.2.0
 * @category models
 */
export interface CodexPool extends Codex.Codex {
  /**
   * The process that owns the thread now; `None` for a thread no live process owns (unknown to the pool, archived,
   * or its process has ended: its next operation resumes it on a live one).
   */
  readonly ownerOf: (threadId: string) => Effect.Effect<Option.Option<Process>>
}

/**
 * The pool's service tag (the same service is also provided as `Codex.Codex`).
 *
 * @since 0.2.0
 * @category services
 */
export const CodexPool: Context.Service<CodexPool, CodexPool> = Context.Service<CodexPool>("effect-codex/CodexPool")

const defaultRestartSchedule: Schedule.Schedule<unknown, StartError> = Schedule.min([
  Schedule.exponential(Duration.millis(200)),
  Schedule.spaced(Duration.seconds(10))
])

/**
 * Builds the pool over processes made by `server` (each build of the layer is one process), in the current scope.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*<R>(
  options: PoolOptions & Codex.ServiceOptions,
  server: Layer.Layer<AppServer.AppServer, StartError, R>
): Effect.fn.Return<CodexPool, StartError, R | Scope.Scope> {
  const size = Math.max(1, options.size ?? 2)

  // The scope closes the sections below in the reverse of their order here: the front end holds nothing; placement's
  // resumes under way are interrupted; then the supervisor stops its fibers, starts no replacement, and stops every
  // process (their turns fail with `AppServerExitedError`); admission holds nothing (places go with their turns).

  // --- Admission ---
  //
  // A turn's place on its process: at most `maxTurnsPerProcess` at once, then a queue of at most `maxQueued` for
  // the pool. Turns pass the pool's thread locks first: a thread's turns run one at a time across the processes.
  const admission = yield* Admission.make({
    maxTurns: Math.max(1, options.maxTurnsPerProcess ?? 32),
    maxQueued: Math.max(0, options.maxQueued ?? 1024)
  })
  const locks = TurnGate.threadLocks(options.whenBusy)

  // --- Processes ---
  //
  // Each process is a build of `server` with a `Codex` over it, in a scope of its own. The supervisor starts
  // `minSize` now, probes them, replaces those that exit or stop answering, and stops idle ones above `minSize`.
  const start = yield* PoolProcess.starter({
    server,
    codex: options,
    gate: (slot, refused) => (threadId, whenBusy) =>
      Effect.tap(locks(threadId, whenBusy), () => admission.admit(slot, threadId, refused))
  })
  const supervisor = yield* Supervisor.make<PoolProcess.PoolProcess>({
    size,
    minSize: Math.min(size, Math.max(0, options.minSize ?? size)),
    idleTimeToLive: Duration.fromInputUnsafe(options.idleTimeToLive ?? Duration.minutes(5)),
    probeInterval: Duration.fromInputUnsafe(options.probeInterval ?? Duration.seconds(30)),
    probeTimeout: Duration.fromInputUnsafe(options.probeTimeout ?? Duration.seconds(10)),
    restartSchedule: options.restartSchedule ?? defaultRestartSchedule,
    start,
    onLeave: admission.wakeAll
  })

  // --- Placement ---
  //
  // Which process each thread lives on: the least-loaded for a new thread (counted there at once), its owner
  // afterwards, a live process once its owner has ended.
  const placement = yield* Placement.make<PoolProcess.PoolProcess, Codex.OpenedThread>({
    members: supervisor.members,
    startNow: supervisor.startNow,
    growIfRoom: supervisor.growIfRoom,
    retries: size + 1,
    resume: (member, threadId, overrides) => member.process.codex.threadResume(threadId, overrides)
  })

  // --- The Codex front end ---
  //
  // A thread's calls go to its owner, the rest to any process; a call refused by a process that had ended is made
  // again on another.

  /**
   * Runs `f` on the thread's handle on its owner; a call refused because the owner had ended is made again on the
   * new owner, and a cut one is marked resumable.
   */
  const onOwner = <A, E, R2>(
    threadId: string,
    f: (thread: Thread.Thread) => Effect.Effect<A, E, R2>
  ): Effect.Effect<A, E | RequestError, R2> =>
    Effect.flatMap(placement.owner(threadId), (member) =>
      f(member.process.codex.thread(threadId)).pipe(
        Effect.tapError((error) => isRefused(error) ? Effect.sync(() => supervisor.withdraw(member)) : Effect.void)
      )).pipe(
        Effect.retry({ while: (error) => isRefused(error), times: size + 1 }),
        Effect.mapError(resumable)
      )

  const thread = (id: string): Thread.Thread => {
    const turn: Thread.Thread["turn"] = (input, turnOptions) => onOwner(id, (owned) => owned.turn(input, turnOptions))
    return {
      id,
      turn,
      run: (input, turnOptions) => onOwner(id, (owned) => owned.run(input, turnOptions)),
      stream: (input, turnOptions) => Stream.unwrap(Effect.map(turn(input, turnOptions), (handle) => handle.stream)),
      runStructured: (schema, input, turnOptions) =>
        onOwner(id, (owned) => owned.runStructured(schema, input, turnOptions)),
      // A read needs no writer lock: on the owner while it lives (a thread without a turn exists only there), else
      // on any process, without resuming the thread.
      read: (readOptions) => {
        const owner = placement.liveOwner(id)
        return owner === undefined
          ? placement.anywhere((member) => member.process.codex.thread(id).read(readOptions))
          : owner.process.codex.thread(id).read(readOptions)
      },
      setName: (name) => onOwner(id, (owned) => owned.setName(name)),
      compact: onOwner(id, (owned) => owned.compact)
    }
  }

  /** The pool's handle of a thread a process opened. */
  const opened = ({ opened: response }: Placement.Placed<PoolProcess.PoolProcess, Codex.OpenedThread>): Codex.OpenedThread => ({
    ...thread(response.id),
    info: response.info,
    response: response.response
  })

  const codexOf = (member: Member<PoolProcess.PoolProcess>) => member.process.codex

  return CodexPool.of({
    // One live process's server (another after it is replaced).
    get server() {
      return supervisor.latest().process.server
    },
    thread,
    threadStart: (startOptions) =>
      Effect.map(placement.open((member) => codexOf(member).threadStart(startOptions)), opened),
    threadResume: (id, overrides) => {
      const owner = placement.liveOwner(id)
      return Effect.map(
        owner !== undefined
          ? placement.open((member) => codexOf(member).threadResume(id, overrides), owner)
          : placement.place(id, overrides),
        opened
      )
    },
    // On the source's owner while it lives (a thread without a turn exists only there), else the least-loaded.
    threadFork: (id, forkOptions) =>
      Effect.map(
        placement.open((member) => codexOf(member).threadFork(id, forkOptions), placement.liveOwner(id)),
        opened
      ),
    threadList: (params) => placement.anywhere((member) => codexOf(member).threadList(params)),
    threads: (params) => Stream.unwrap(placement.anywhere((member) => Effect.succeed(codexOf(member).threads(params)))),
    threadArchive: (id) => {
      const owner = placement.liveOwner(id)
      const archive = owner === undefined
        ? placement.anywhere((member) => codexOf(member).threadArchive(id))
        : codexOf(owner).threadArchive(id)
      return Effect.tap(archive, () => Effect.sync(() => placement.forget(id)))
    },
    threadUnarchive: (id) => placement.anywhere((member) => codexOf(member).threadUnarchive(id)),
    // Only its owner can have it loaded; the thread keeps its place there and is resumed from its file once unloaded.
    threadUnsubscribe: (id) => {
      const owner = placement.liveOwner(id)
      return owner === undefined ? Effect.succeed("notLoaded" as const) : codexOf(owner).threadUnsubscribe(id)
    },
    models: (params) => placement.anywhere((member) => codexOf(member).models(params)),
    account: placement.anywhere((member) => codexOf(member).account),
    loginApiKey: (apiKey) => placement.anywhere((member) => codexOf(member).loginApiKey(apiKey)),
    // External tokens live in each process's memory: every live process signs in (one started later does not).
    loginChatgptTokens: (tokens) =>
      Effect.forEach([...supervisor.members], (member) => codexOf(member).loginChatgptTokens(tokens), {
        discard: true
      }),
    loginChatgpt: placement.anywhere((member) => codexOf(member).loginChatgpt),
    loginDeviceCode: placement.anywhere((member) => codexOf(member).loginDeviceCode),
    logout: placement.anywhere((member) => codexOf(member).logout),
    ownerOf: (threadId) =>
      Effect.sync(() => {
        const owner = placement.liveOwner(threadId)
        return owner === undefined ? Option.none() : Option.some({ index: owner.index, pid: owner.process.pid })
      })
  })
})

/**
 * The pool over processes built by `server` (each build is one process): for example the testing kit's
 * `CodexTest.appServerLayer()`, or an `AppServer.layer` with your own spawner. Provides the pool as `Codex.Codex`
 * and as `CodexPool.CodexPool`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerWith = <R>(
  options: PoolOptions & Codex.ServiceOptions,
  server: Layer.Layer<AppServer.AppServer, StartError, R>
): Layer.Layer<Codex.Codex | CodexPool, StartError, R> =>
  Layer.effectContext(
    Effect.map(make(options, server), (pool) => Context.make(CodexPool, pool).pipe(Context.add(Codex.Codex, pool)))
  )

/**
 * Spawns the pool's app-server processes with `Codex.layerStdio`'s options (`codexPath`, `codexHome`, `config`,
 * `apiKey`, ...; every process shares the `CODEX_HOME`) and provides `Codex` (and `CodexPool`) over them. Needs a
 * `ChildProcessSpawner`: on Node, use `NodeCodex.layerPool`. Provide an `Approvals` layer to answer approvals.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Codex.Codex | CodexPool, StartError, ChildProcessSpawner.ChildProcessSpawner> =>
  layerWith(options, AppServer.layer(options))
