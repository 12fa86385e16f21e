/**
 * The supervisor of a pool's processes: starts them, probes them, retires those that exit or stop answering the
 * probe (and starts replacements on the restart schedule while the pool is below `minSize`), and stops idle ones
 * above `minSize`. It knows a process only by {@link Process}: how to start one, when it has ended, and a probe.
 *
 * Shutdown, in the order the scope closes: the background fibers (exit watches, starts, the reaper) are
 * interrupted, then `closing` is set (no replacement starts), then the processes' scope closes (every process
 * stops), and last every member is withdrawn from the pool's figures.
 *
 * @since 0.2.0
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { StartError } from "../../Errors.js"
import { makeSlot, type Member, type Slot } from "./member.js"
import * as Metrics from "./metrics.js"

/**
 * What the supervisor needs of a process.
 *
 * @since 0.2.0
 * @category models
 */
export interface Process {
  /** Its operating-system id, if it is a child process (a label of its metrics). */
  readonly pid: number | undefined
  /** Succeeds once the process has ended. */
  readonly closed: Effect.Effect<unknown>
  /** A request the process answers while it is responsive; only its silence counts (failures are ignored). */
  readonly probe: Effect.Effect<unknown, unknown>
}

/**
 * Options of {@link make}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options<P extends Process> {
  /** Processes at most. */
  readonly size: number
  /** Processes kept even when idle (started with the pool). */
  readonly minSize: number
  /** A process above `minSize` that worked for none of this stops. */
  readonly idleTimeToLive: Duration.Duration
  /** Time between probes of a process. */
  readonly probeInterval: Duration.Duration
  /** A process that does not answer a probe within this is replaced. */
  readonly probeTimeout: Duration.Duration
  /** Delays between attempts to start a replacement. */
  readonly restartSchedule: Schedule.Schedule<unknown, StartError>
  /** Starts the process of `slot`, in `slot.scope` (closed by the supervisor if this fails). */
  readonly start: (slot: Slot) => Effect.Effect<P, StartError>
  /** Called once when a member leaves the pool (no new work goes to it). */
  readonly onLeave: (member: Member<P>) => void
}

/**
 * The supervisor of the pool's processes.
 *
 * @since 0.2.0
 * @category models
 */
export interface Supervisor<P extends Process> {
  /** The live members, in start order. */
  readonly members: ReadonlyArray<Member<P>>
  /** A live member if there is one, else the last started: never undefined once the pool is built. */
  readonly latest: () => Member<P>
  /** Starts a process now, in the caller's fiber (the pool has none live). */
  readonly startNow: Effect.Effect<Member<P>, StartError>
  /** Starts one more process in the background if the pool has room for it. */
  readonly growIfRoom: Effect.Effect<void>
  /** Takes a member out of the pool (once): no new work goes to it. */
  readonly withdraw: (member: Member<P>) => void
}

/**
 * Starts `minSize` processes (at least one) and supervises them in the current scope.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*<P extends Process>(
  options: Options<P>
): Effect.fn.Return<Supervisor<P>, StartError, Scope.Scope> {
  const { idleTimeToLive, minSize, probeInterval, probeTimeout, size } = options
  const context = yield* Effect.context<never>()
  const clock = Context.get(context, Clock.Clock)
  const scope = yield* Effect.scope
  const members: Array<Member<P>> = []
  const registrations = new Map<Member<P>, ReadonlyArray<Metric.Registration>>()
  let latest: Member<P> | undefined
  let started = 0
  let starting = 0

  // Runs last: every process has stopped.
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      for (const member of [...members]) withdraw(member)
    })
  )
  // The processes live in a scope of their own, closed after `closing` is set: no replacement starts during
  // shutdown.
  const processesScope = yield* Scope.fork(scope)
  let closing = false
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      closing = true
    })
  )

  /** Its threads and turns, read when the metrics are taken (nothing is updated per turn). */
  const register = (member: Member<P>) => {
    const attributes = { process: String(member.index), pid: String(member.process.pid ?? "none") }
    registrations.set(member, [
      Metric.registerUnsafe(Metric.withAttributes(Metrics.processThreads, attributes), context, {
        get: () => ({ value: member.threads }),
        update: () => {},
        modify: () => {}
      }),
      Metric.registerUnsafe(Metric.withAttributes(Metrics.processTurns, attributes), context, {
        get: () => ({ value: member.turns }),
        update: () => {},
        modify: () => {}
      })
    ])
  }

  const withdraw = (member: Member<P>) => {
    if (!member.live) return
    member.live = false
    members.splice(members.indexOf(member), 1)
    Metrics.processes.modifyUnsafe(-1, context)
    for (const registration of registrations.get(member) ?? []) registration.remove()
    registrations.delete(member)
    options.onLeave(member)
  }

  /** Stops a member's process (once); a crashed or silent one is replaced while the pool is below `minSize`. */
  const retire = (member: Member<P>, crashed: boolean): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (member.stopping) return Effect.void
      member.stopping = true
      withdraw(member)
      if (crashed) Metrics.restarts.modifyUnsafe(1, context)
      return Scope.close(member.scope, Exit.void).pipe(
        Effect.andThen(Deferred.succeed(member.gone, undefined)),
        Effect.andThen(crashed ? topUp : Effect.void)
      )
    })

  /** Starts processes in the background until the pool has `minSize`. */
  const topUp = Effect.suspend(() => {
    const missing = closing ? 0 : minSize - members.length - starting
    return Effect.forEach(Array.from({ length: Math.max(0, missing) }), () => grow, { discard: true })
  })

  /** Starts one more process in the background, retried on the restart schedule. */
  const grow = Effect.suspend(() => {
    starting++
    return startNow.pipe(
      Effect.retry({ schedule: options.restartSchedule, while: () => !closing }),
      Effect.tapError((error) => Effect.logError("CodexPool: could not start a process", error)),
      Effect.ensuring(Effect.sync(() => starting--)),
      Effect.ignore,
      Effect.forkIn(scope),
      Effect.asVoid
    )
  })

  const growIfRoom = Effect.suspend(() => members.length + starting < size && !closing ? grow : Effect.void)

  /** Probes the member every `probeInterval`; one that stays silent for `probeTimeout` is retired. */
  const probe = (member: Member<P>) =>
    member.process.probe.pipe(
      Effect.timeoutOption(probeTimeout),
      Effect.flatMap((answer) =>
        // Retired from the pool's scope: closing the member's scope interrupts this fiber.
        answer._tag === "None" ? Effect.forkIn(retire(member, true), scope) : Effect.void
      ),
      Effect.ignore,
      Effect.delay(probeInterval),
      Effect.forever
    )

  const startNow: Effect.Effect<Member<P>, StartError> = Effect.gen(function*() {
    const slot = makeSlot(++started, yield* Scope.fork(processesScope), clock.currentTimeMillisUnsafe())
    const process = yield* options.start(slot).pipe(Effect.onError(() => Scope.close(slot.scope, Exit.void)))
    const member: Member<P> = Object.assign(slot, { process })
    // The exit watch in the pool's scope (the member's own scope ends with the process); probes in the member's.
    yield* process.closed.pipe(Effect.andThen(retire(member, true)), Effect.forkIn(scope))
    yield* Effect.forkIn(probe(member), member.scope)
    members.push(member)
    latest = member
    Metrics.processes.modifyUnsafe(1, context)
    register(member)
    return member
  })

  /**
   * Stops idle processes above `minSize`: the surplus is taken among those owning the fewest threads (a thread that
   * never ran a turn cannot be resumed elsewhere), and stops if it ran no turn and took no thread for the time to
   * live. Their threads resume elsewhere when used.
   */
  const reap = Effect.suspend(() => {
    const now = clock.currentTimeMillisUnsafe()
    const surplus = [...members].sort((a, b) => a.threads - b.threads).slice(0, Math.max(0, members.length - minSize))
    const idle = surplus.filter((member) =>
      member.turns === 0 && member.waiters.size === 0 && now - member.lastActive >= Duration.toMillis(idleTimeToLive)
    )
    return Effect.forEach(idle, (member) => retire(member, false), { discard: true })
  })

  yield* Effect.forEach(Array.from({ length: Math.max(1, minSize) }), () => startNow, {
    concurrency: "unbounded",
    discard: true
  })
  yield* reap.pipe(
    Effect.delay(Duration.millis(Math.max(10, Duration.toMillis(idleTimeToLive) / 2))),
    Effect.forever,
    Effect.forkIn(scope)
  )

  return {
    members,
    latest: () => members[0] ?? latest!,
    startNow,
    growIfRoom,
    withdraw
  }
})
