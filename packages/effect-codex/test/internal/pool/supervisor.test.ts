/**
 * The pool's supervisor on `TestClock`, over fake processes: the probe's timing, replacement on the restart
 * schedule, and the idle reaper's time to live.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import { AppServerSpawnError } from "../../../src/Errors.js"
import type { Slot } from "../../../src/internal/pool/member.js"
import * as Metrics from "../../../src/internal/pool/metrics.js"
import * as Supervisor from "../../../src/internal/pool/supervisor.js"

/** A process that answers its probe unless `silent`, ends on `exit()`, and records when its scope closed. */
interface FakeProcess extends Supervisor.Process {
  readonly slot: Slot
  silent: boolean
  stoppedAt: number | undefined
  readonly exit: () => void
}

/** Starts fake processes; the start attempts listed in `failing` (1-based, counted over all starts) fail. */
const fakeProcesses = (failing: ReadonlyArray<number> = []) => {
  const started: Array<FakeProcess> = []
  const attempts: Array<number> = []
  const start = (slot: Slot) =>
    Effect.gen(function*() {
      const now = yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
      attempts.push(now)
      if (failing.includes(attempts.length)) {
        return yield* new AppServerSpawnError({ command: "fake", reason: `attempt ${attempts.length} fails` })
      }
      const ended = Deferred.makeUnsafe<void>()
      const process: FakeProcess = {
        slot,
        pid: undefined,
        silent: false,
        stoppedAt: undefined,
        closed: Deferred.await(ended),
        probe: Effect.suspend(() => process.silent ? Effect.never : Effect.void),
        exit: () => Deferred.doneUnsafe(ended, Exit.void)
      }
      yield* Scope.addFinalizer(
        slot.scope,
        Effect.clockWith((clock) => Effect.sync(() => process.stoppedAt = clock.currentTimeMillisUnsafe()))
      )
      started.push(process)
      return process
    })
  return { started, attempts, start }
}

const options = (start: Supervisor.Options<FakeProcess>["start"], overrides: Partial<Supervisor.Options<FakeProcess>> = {}) =>
  ({
    size: 2,
    minSize: 2,
    idleTimeToLive: Duration.minutes(1),
    probeInterval: Duration.seconds(30),
    probeTimeout: Duration.seconds(10),
    restartSchedule: Schedule.exponential(Duration.millis(200)),
    start,
    onLeave: () => {},
    ...overrides
  }) satisfies Supervisor.Options<FakeProcess>

const restarts = Effect.map(Metric.value(Metrics.restarts), (state) => state.count)

/** Lets the fibers woken at the current time run. */
const settle = Effect.repeat(Effect.yieldNow, { times: 20 })

describe("pool supervisor", () => {
  it.effect("a process that stays silent for probeTimeout after a probe is stopped and replaced, not before", () =>
    Effect.gen(function*() {
      const { start, started } = fakeProcesses()
      const restartsBefore = yield* restarts
      const supervisor = yield* Supervisor.make(options(start))
      expect(started).toHaveLength(2)
      started[0]!.silent = true
      // The first probe goes out after probeInterval; the process is given probeTimeout to answer it.
      yield* TestClock.adjust(Duration.seconds(30))
      yield* TestClock.adjust(Duration.millis(9_999))
      yield* settle
      expect(started[0]!.stoppedAt).toBeUndefined()
      yield* TestClock.adjust(Duration.millis(1))
      yield* settle
      expect(started[0]!.stoppedAt).toBe(40_000)
      expect(started[1]!.stoppedAt).toBeUndefined()
      expect((yield* restarts) - restartsBefore).toBe(1)
      // Replaced at once (the first start of a replacement is not delayed).
      expect(started).toHaveLength(3)
      expect(supervisor.members.map((member) => member.index)).toEqual([2, 3])
    }).pipe(Effect.scoped))

  it.effect("a process that exits is replaced on the restart schedule while starts fail", () =>
    Effect.gen(function*() {
      // The first two starts are the pool's own; the replacement fails at its first two attempts.
      const { attempts, start, started } = fakeProcesses([3, 4])
      const supervisor = yield* Supervisor.make(options(start))
      yield* TestClock.adjust(Duration.seconds(1))
      started[0]!.exit()
      yield* settle
      expect(started[0]!.stoppedAt).toBe(1_000)
      expect(attempts).toEqual([0, 0, 1_000])
      // Exponential from 200 ms: the next attempts 200 ms and 400 ms after the one before.
      yield* TestClock.adjust(Duration.millis(199))
      yield* settle
      expect(attempts).toHaveLength(3)
      yield* TestClock.adjust(Duration.millis(1))
      yield* settle
      expect(attempts).toEqual([0, 0, 1_000, 1_200])
      yield* TestClock.adjust(Duration.millis(400))
      yield* settle
      expect(attempts).toEqual([0, 0, 1_000, 1_200, 1_600])
      expect(supervisor.members).toHaveLength(2)
      expect(supervisor.members.map((member) => member.process)).toEqual([started[1], started[2]])
    }).pipe(Effect.scoped))

  it.effect("an idle process above minSize stops after idleTimeToLive; a busy one and the minimum stay", () =>
    Effect.gen(function*() {
      const { start, started } = fakeProcesses()
      const supervisor = yield* Supervisor.make(options(start, { size: 3, minSize: 1 }))
      expect(started).toHaveLength(1)
      yield* supervisor.growIfRoom
      yield* supervisor.growIfRoom
      yield* settle
      expect(supervisor.members).toHaveLength(3)
      // The first owns a thread (it stays: the surplus is taken among those with the fewest), the second runs a turn.
      const [owner, busy] = supervisor.members
      owner!.threads = 1
      busy!.turns = 1
      // The reaper looks every idleTimeToLive / 2: at 30 s nothing has been idle for a minute yet.
      yield* TestClock.adjust(Duration.millis(59_999))
      yield* settle
      expect(supervisor.members).toHaveLength(3)
      yield* TestClock.adjust(Duration.millis(1))
      yield* settle
      expect(started.map((process) => process.stoppedAt)).toEqual([undefined, undefined, 60_000])
      expect(supervisor.members).toEqual([owner, busy])
      // Its turn done, the busy one stops a time to live later; the pool keeps minSize.
      busy!.turns = 0
      busy!.lastActive = 60_000
      yield* TestClock.adjust(Duration.minutes(5))
      yield* settle
      expect(started.map((process) => process.stoppedAt)).toEqual([undefined, 120_000, 60_000])
      expect(supervisor.members).toEqual([owner])
    }).pipe(Effect.scoped))

  it.effect("closing the scope stops every process and starts no replacement", () =>
    Effect.gen(function*() {
      const { start, started } = fakeProcesses()
      const scope = yield* Scope.make()
      const supervisor = yield* Supervisor.make(options(start)).pipe(Scope.provide(scope))
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust(Duration.minutes(1))
      expect(started).toHaveLength(2)
      expect(started.map((process) => process.stoppedAt)).toEqual([0, 0])
      expect(supervisor.members).toEqual([])
    }))
})
