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
 * - The figures are `Metric`s: {@link processes}, {@link turnsInFlight}, {@link queueLength}, {@link restarts}.
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
import type { ThreadResumeParams } from "@effect-codex/protocol"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ChildProcessSpawner } from "effect/process"
import * as AppServer from "./AppServer.js"
import * as Codex from "./Codex.js"
import { AppServerExitedError, PoolQueueFullError, type RequestError, type StartError } from "./Errors.js"
import * as TurnGate from "./internal/codex/turnGate.js"
import type * as Thread from "./Thread.js"

/**
 * Processes of every pool that are running.
 *
 * @since 0.2.0
 * @category metrics
 */
export const processes = Metric.gauge("effect_codex_pool_processes", {
  description: "codex app-server processes running in a CodexPool"
})

/**
 * Turns that hold a place on a pool process (started and not yet settled).
 *
 * @since 0.2.0
 * @category metrics
 */
export const turnsInFlight = Metric.gauge("effect_codex_pool_turns_in_flight", {
  description: "turns running on CodexPool processes"
})

/**
 * Callers waiting for a place on a process that runs `maxTurnsPerProcess` turns.
 *
 * @since 0.2.0
 * @category metrics
 */
export const queueLength = Metric.gauge("effect_codex_pool_queue_length", {
  description: "turns waiting for room on a CodexPool process"
})

/**
 * Processes replaced after they exited or stopped answering the probe.
 *
 * @since 0.2.0
 * @category metrics
 */
export const restarts = Metric.counter("effect_codex_pool_restarts", {
  description: "CodexPool processes replaced after a crash or a failed probe"
})

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

/** One app-server process of the pool, with the `Codex` built over it. */
interface Member {
  readonly scope: Scope.Closeable
  readonly server: AppServer.Service
  readonly codex: Codex.Service
  /** Takes new work (false once withdrawn). */
  live: boolean
  /** Its process is being (or has been) stopped. */
  stopping: boolean
  /** Turns holding a place on it. */
  inFlight: number
  /** Threads placed on it (a tie-break for placement). */
  threads: number
  lastActive: number
  /** Wakes callers waiting for room on it. */
  readonly waiters: Set<() => void>
  /** Set once its process has ended (its thread locks are released). */
  readonly gone: Deferred.Deferred<void>
}

/** Where a thread lives: on a member, or being resumed on one. */
type Placement =
  | { readonly _tag: "Placed"; readonly member: Member }
  | { readonly _tag: "Placing"; readonly result: Deferred.Deferred<Placed, RequestError> }

interface Placed {
  readonly member: Member
  /** The answer of the `thread/resume` that placed it. */
  readonly opened: Codex.OpenedThread
}

/** A call refused unsent because its process had ended: safe to make again on another. */
const isRefused = (error: unknown): error is AppServerExitedError =>
  error instanceof AppServerExitedError && error.sent === false

/** A turn or call cut by the end of its process: the thread resumes on a live process at its next operation. */
const resumable = <E>(error: E): E =>
  error instanceof AppServerExitedError ? new AppServerExitedError({ ...error, resumable: true }) as E : error

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
): Effect.fn.Return<Codex.Service, StartError, R | Scope.Scope> {
  const size = Math.max(1, options.size ?? 2)
  const minSize = Math.min(size, Math.max(0, options.minSize ?? size))
  const maxTurns = Math.max(1, options.maxTurnsPerProcess ?? 32)
  const maxQueued = Math.max(0, options.maxQueued ?? 1024)
  const idleMillis = Duration.toMillis(Duration.fromInputUnsafe(options.idleTimeToLive ?? Duration.minutes(5)))
  const probeInterval = Duration.fromInputUnsafe(options.probeInterval ?? Duration.seconds(30))
  const probeTimeout = Duration.fromInputUnsafe(options.probeTimeout ?? Duration.seconds(10))
  const context = yield* Effect.context<R>()
  const clock = yield* Clock.Clock
  const poolScope = yield* Effect.scope
  const members: Array<Member> = []
  // Runs last: the members' processes have stopped.
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const member of [...members]) withdraw(member)
    })
  )
  // Members live in a scope of their own, closed after `closing` is set: no replacement starts during shutdown.
  const membersScope = yield* Scope.fork(poolScope)
  let closing = false
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      closing = true
    })
  )
  let latest: Member | undefined
  const owners = new Map<string, Placement>()
  const locks = TurnGate.threadLocks(options.whenBusy)
  let queued = 0
  let spawning = 0
  const bump = (metric: Metric.Metric<number, any>, delta: number) => metric.modifyUnsafe(delta, context)

  /** A place for a turn on `member`, in the current scope: at once, after waiting in the queue, or refused. */
  const admit = (member: Member, threadId: string) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        if (member.live && member.inFlight >= maxTurns) {
          if (queued >= maxQueued) return yield* new PoolQueueFullError({ threadId, maxTurnsPerProcess: maxTurns, maxQueued })
          queued++
          bump(queueLength, 1)
          yield* restore(waitForRoom(member)).pipe(Effect.ensuring(Effect.sync(() => {
            queued--
            bump(queueLength, -1)
          })))
        }
        if (!member.live) return yield* refusal(member, "turn/start")
        member.inFlight++
        bump(turnsInFlight, 1)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            member.inFlight--
            bump(turnsInFlight, -1)
            member.lastActive = clock.currentTimeMillisUnsafe()
            wakeOne(member)
          })
        )
      })
    )

  const waitForRoom = (member: Member): Effect.Effect<void> =>
    Effect.suspend(() =>
      !member.live || member.inFlight < maxTurns ? Effect.void : Effect.callback<void>((resume) => {
        const wake = () => resume(Effect.void)
        member.waiters.add(wake)
        return Effect.sync(() => member.waiters.delete(wake))
      }).pipe(Effect.andThen(waitForRoom(member)))
    )

  const wakeOne = (member: Member) => {
    for (const wake of member.waiters) {
      member.waiters.delete(wake)
      return wake()
    }
  }

  const refusal = (member: Member, method: string) =>
    Effect.map(
      member.server.closed.pipe(Effect.timeoutOption(Duration.zero)),
      (closed) =>
        new AppServerExitedError({
          ...(closed._tag === "Some"
            ? closed.value
            : { exitCode: null, signal: null, stderrTail: [], reason: "its process left the pool" }),
          method,
          sent: false,
          resumable: true
        })
    ).pipe(Effect.flip)

  /** Takes the member out of the pool (once): no new work goes to it, and its queued callers go elsewhere. */
  const withdraw = (member: Member) => {
    if (!member.live) return false
    member.live = false
    members.splice(members.indexOf(member), 1)
    bump(processes, -1)
    for (const wake of [...member.waiters]) wake()
    member.waiters.clear()
    return true
  }

  /** Stops a member's process (once); a crashed or silent one is replaced while the pool is below `minSize`. */
  const retire = (member: Member, crashed: boolean) =>
    Effect.suspend(() => {
      if (member.stopping) return Effect.void
      member.stopping = true
      withdraw(member)
      if (crashed) bump(restarts, 1)
      return Scope.close(member.scope, Exit.void).pipe(
        Effect.andThen(Deferred.succeed(member.gone, undefined)),
        Effect.andThen(crashed ? topUp : Effect.void)
      )
    })

  /** Starts processes in the background until the pool has `minSize`, each retried on the restart schedule. */
  const topUp = Effect.suspend(() => {
    const missing = closing ? 0 : minSize - members.length - spawning
    return Effect.forEach(Array.from({ length: Math.max(0, missing) }), () => grow, { discard: true })
  })

  /** Starts one more process in the background. */
  const grow = Effect.suspend(() => {
    spawning++
    return spawn.pipe(
      Effect.retry({ schedule: options.restartSchedule ?? defaultRestartSchedule, while: () => !closing }),
      Effect.tapError((error) => Effect.logError("CodexPool: could not start a process", error)),
      Effect.ensuring(Effect.sync(() => spawning--)),
      Effect.ignore,
      Effect.forkIn(poolScope),
      Effect.asVoid
    )
  })

  const spawn: Effect.Effect<Member, StartError> = Effect.gen(function*() {
    const scope = yield* Scope.fork(membersScope)
    return yield* Effect.gen(function*() {
      // A memo map of its own: every build is a new process, whatever was built before.
      const built = yield* Layer.buildWithMemoMap(server, Layer.makeMemoMapUnsafe(), scope)
      const appServer = Context.get(built, AppServer.AppServer)
      // The gate is used by turns only, once the member below exists.
      let self: Member | undefined
      const gate: TurnGate.Gate = (threadId, whenBusy) =>
        Effect.tap(locks(threadId, whenBusy), () => admit(self!, threadId))
      // The end of the connection reaches the member's turns marked resumable (at the source: no wrapper per event).
      const marked: AppServer.Service = {
        ...appServer,
        listen: (listener) => appServer.listen({ ...listener, onClose: (error) => listener.onClose(resumable(error)) })
      }
      const codex = yield* Codex.make(options).pipe(
        Effect.provideService(AppServer.AppServer, marked),
        Effect.provideService(TurnGate.CurrentGate, gate),
        Scope.provide(scope)
      )
      const member: Member = {
        scope,
        server: appServer,
        codex,
        live: true,
        stopping: false,
        inFlight: 0,
        threads: 0,
        lastActive: clock.currentTimeMillisUnsafe(),
        waiters: new Set(),
        gone: yield* Deferred.make<void>()
      }
      self = member
      // Exit watch in the pool's scope (the member's own scope ends with the process); probes in the member's.
      yield* appServer.closed.pipe(Effect.andThen(retire(member, true)), Effect.forkIn(poolScope))
      yield* appServer.request("thread/loaded/list", {}, { timeout: probeTimeout }).pipe(
        // Retired from the pool's scope: closing the member's scope interrupts this fiber.
        Effect.catchTag("RequestTimeoutError", () => Effect.forkIn(retire(member, true), poolScope)),
        Effect.ignore,
        Effect.delay(probeInterval),
        Effect.forever,
        Effect.forkIn(scope)
      )
      members.push(member)
      latest = member
      bump(processes, 1)
      return member
    }).pipe(Effect.onError(() => Scope.close(scope, Exit.void)))
  }).pipe(Effect.provideContext(context))

  /** The least-loaded live member (fewest turns, then fewest threads); starts one if there is none. */
  const pick: Effect.Effect<Member, AppServerExitedError> = Effect.suspend(() => {
    let best: Member | undefined
    for (const member of members) {
      if (
        best === undefined || member.inFlight < best.inFlight ||
        (member.inFlight === best.inFlight && member.threads < best.threads)
      ) best = member
    }
    if (best !== undefined) {
      if (best.inFlight > 0 && members.length + spawning < size && !closing) return Effect.as(grow, best)
      return Effect.succeed(best)
    }
    return spawn.pipe(
      Effect.mapError((error) =>
        new AppServerExitedError({
          exitCode: null,
          signal: null,
          stderrTail: [],
          reason: `no process of the pool is running, and a new one did not start: ${error.message}`
        })
      )
    )
  })

  const own = (threadId: string, member: Member) => {
    owners.set(threadId, { _tag: "Placed", member })
    member.threads++
    member.lastActive = clock.currentTimeMillisUnsafe()
  }

  /** Resumes a thread on a live member, once its previous owner's process has ended (it held the writer lock). */
  const place = (threadId: string, overrides: Omit<ThreadResumeParams, "threadId"> = {}) =>
    Effect.suspend(() => {
      const entry = owners.get(threadId)
      if (entry?._tag === "Placing") return Deferred.await(entry.result)
      const previous = entry?.member
      const result = Deferred.makeUnsafe<Placed, RequestError>()
      owners.set(threadId, { _tag: "Placing", result })
      const resume = Effect.gen(function*() {
        if (previous?.live === false) yield* Deferred.await(previous.gone)
        const member = previous?.live === true ? previous : yield* pick
        const opened = yield* member.codex.threadResume(threadId, overrides)
        return { member, opened }
      })
      // In the pool's scope: a caller that is interrupted does not cut the resume others wait for.
      return resume.pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            if (Exit.isSuccess(exit)) own(threadId, exit.value.member)
            else owners.delete(threadId)
          })
        ),
        Effect.exit,
        Effect.flatMap((exit) => Deferred.done(result, exit)),
        Effect.forkIn(poolScope),
        Effect.andThen(Deferred.await(result))
      )
    })

  /** The live member that owns the thread, resuming the thread on one if needed. */
  const ownerOf = (threadId: string): Effect.Effect<Member, RequestError> =>
    Effect.suspend(() => {
      const entry = owners.get(threadId)
      return entry?._tag === "Placed" && entry.member.live
        ? Effect.succeed(entry.member)
        : Effect.map(place(threadId), (placed) => placed.member)
    })

  /**
   * Runs `f` on the thread's handle on its owner; a call refused because the owner had ended is made again on the
   * new owner, and a cut one is marked resumable.
   */
  const onOwner = <A, E, R2>(
    threadId: string,
    f: (thread: Thread.Thread) => Effect.Effect<A, E, R2>
  ): Effect.Effect<A, E | RequestError, R2> =>
    Effect.flatMap(ownerOf(threadId), (member) =>
      f(member.codex.thread(threadId)).pipe(
        Effect.tapError((error) => isRefused(error) ? Effect.sync(() => withdraw(member)) : Effect.void)
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
        const owner = liveOwner(id)
        return owner === undefined
          ? anywhere((member) => member.codex.thread(id).read(readOptions))
          : owner.codex.thread(id).read(readOptions)
      },
      setName: (name) => onOwner(id, (owned) => owned.setName(name)),
      compact: onOwner(id, (owned) => owned.compact)
    }
  }

  const opened = (member: Member, response: Codex.OpenedThread): Codex.OpenedThread => {
    own(response.id, member)
    return { ...thread(response.id), info: response.info, response: response.response }
  }

  /** A call on the least-loaded live member, made again on another if that one had ended. */
  const anywhere = <A, E, R2>(f: (member: Member) => Effect.Effect<A, E, R2>) =>
    Effect.flatMap(pick, f).pipe(Effect.retry({ while: (error) => isRefused(error), times: size + 1 }))

  /** The member that owns a thread now, if it is live (no resume). */
  const liveOwner = (threadId: string) => {
    const entry = owners.get(threadId)
    return entry?._tag === "Placed" && entry.member.live ? entry.member : undefined
  }

  yield* Effect.forEach(Array.from({ length: Math.max(1, minSize) }), () => spawn, {
    concurrency: "unbounded",
    discard: true
  })

  // Idle processes above the minimum stop after the time to live; their threads resume elsewhere when used.
  yield* Effect.suspend(() => {
    const now = clock.currentTimeMillisUnsafe()
    // The surplus is taken among those owning the fewest threads (a thread that never ran a turn cannot be
    // resumed elsewhere), and stops if it is idle.
    const surplus = [...members].sort((a, b) => a.threads - b.threads).slice(0, Math.max(0, members.length - minSize))
    const idle = surplus.filter((member) =>
      member.inFlight === 0 && member.waiters.size === 0 && now - member.lastActive >= idleMillis
    )
    return Effect.forEach(idle, (member) => retire(member, false), { discard: true })
  }).pipe(
    Effect.delay(Duration.millis(Math.max(10, idleMillis / 2))),
    Effect.forever,
    Effect.forkIn(poolScope)
  )

  return Codex.Codex.of({
    // One live process's server (another after it is replaced).
    get server() {
      return (members[0] ?? latest!).server
    },
    // The account's limits as one live process hears them (every process reports the same account's).
    get rateLimits() {
      return (members[0] ?? latest!).codex.rateLimits
    },
    thread,
    threadStart: (startOptions) =>
      anywhere((member) => Effect.map(member.codex.threadStart(startOptions), (response) => opened(member, response))),
    threadResume: (id, overrides) => {
      const owner = liveOwner(id)
      return owner !== undefined
        ? Effect.map(owner.codex.threadResume(id, overrides), (response) => opened(owner, response))
        : Effect.map(place(id, overrides), ({ member, opened: response }) => opened(member, response))
    },
    threadFork: (id, forkOptions) => {
      const run = (member: Member) =>
        Effect.map(member.codex.threadFork(id, forkOptions), (response) => opened(member, response))
      const owner = liveOwner(id)
      return owner !== undefined ? run(owner) : Effect.flatMap(pick, run)
    },
    threadList: (params) => anywhere(({ codex }) => codex.threadList(params)),
    threads: (params) => Stream.unwrap(anywhere(({ codex }) => Effect.succeed(codex.threads(params)))),
    threadArchive: (id) => {
      const owner = liveOwner(id)
      const archive = owner === undefined
        ? anywhere((member) => member.codex.threadArchive(id))
        : owner.codex.threadArchive(id)
      return archive.pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            if (owner !== undefined) owner.threads--
            owners.delete(id)
          })
        )
      )
    },
    threadUnarchive: (id) => anywhere(({ codex }) => codex.threadUnarchive(id)),
    // Only its owner can have it loaded; the thread keeps its place there and is resumed from its file once unloaded.
    threadUnsubscribe: (id) => {
      const owner = liveOwner(id)
      return owner === undefined ? Effect.succeed("notLoaded" as const) : owner.codex.threadUnsubscribe(id)
    },
    models: (params) => anywhere(({ codex }) => codex.models(params)),
    account: anywhere(({ codex }) => codex.account),
    loginApiKey: (apiKey) => anywhere(({ codex }) => codex.loginApiKey(apiKey)),
    // External tokens live in each process's memory: every live process signs in (one started later does not).
    loginChatgptTokens: (tokens) =>
      Effect.forEach([...members], ({ codex }) => codex.loginChatgptTokens(tokens), { discard: true }),
    loginChatgpt: anywhere(({ codex }) => codex.loginChatgpt),
    loginDeviceCode: anywhere(({ codex }) => codex.loginDeviceCode),
    logout: anywhere(({ codex }) => codex.logout)
  })
})

/**
 * The pool over processes built by `server` (each build is one process): for example the testing kit's
 * `CodexTest.appServerLayer()`, or an `AppServer.layer` with your own spawner.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerWith = <R>(
  options: PoolOptions & Codex.ServiceOptions,
  server: Layer.Layer<AppServer.AppServer, StartError, R>
): Layer.Layer<Codex.Codex, StartError, R> => Layer.effect(Codex.Codex)(make(options, server))

/**
 * Spawns the pool's app-server processes with `Codex.layerStdio`'s options (`codexPath`, `codexHome`, `config`,
 * `apiKey`, ...; every process shares the `CODEX_HOME`) and provides `Codex` over them. Needs a
 * `ChildProcessSpawner`: on Node, use `NodeCodex.layerPool`. Provide an `Approvals` layer to answer approvals.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Codex.Codex, StartError, ChildProcessSpawner.ChildProcessSpawner> =>
  layerWith(options, AppServer.layer(options))
