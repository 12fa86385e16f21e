/**
 * The pool's placement on `TestClock`, over members without processes: a thread counts on its member from the moment
 * it is placed (a burst spreads), a failed or interrupted placement gives its place back, busy members come last,
 * and a thread whose owner has ended is resumed once, on a live member, after the old process has gone.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import { AppServerSpawnError, RequestTimeoutError } from "../../../src/Errors.js"
import { makeSlot, type Member } from "../../../src/internal/pool/member.js"
import * as Placement from "../../../src/internal/pool/placement.js"

/** Members without a process; `started` counts the members placement asked for, `grown` the background starts. */
const pool = (size: number) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    let index = 0
    const member = () =>
      Effect.map(Scope.fork(scope), (child): Member<undefined> => ({ ...makeSlot(++index, child, 0), process: undefined }))
    const members: Array<Member<undefined>> = yield* Effect.forEach(Array.from({ length: size }), member)
    const counts = { started: 0, grown: 0 }
    const resumed: Array<string> = []
    const placement = yield* Placement.make<undefined, string>({
      members,
      startNow: Effect.tap(member(), (fresh) =>
        Effect.sync(() => {
          counts.started++
          members.push(fresh)
        })),
      growIfRoom: Effect.sync(() => counts.grown++),
      retries: size + 1,
      // A resume takes a second.
      resume: (on, threadId) =>
        Effect.sync(() => resumed.push(`${threadId}@${on.index}`)).pipe(
          Effect.delay(Duration.seconds(1)),
          Effect.as(`resumed ${threadId}`)
        )
    })
    return { members, placement, counts, resumed }
  })

/** Opens thread `id` with a `thread/start` that answers after a second. */
const slowStart = (id: string) => () => Effect.succeed({ id }).pipe(Effect.delay(Duration.seconds(1)))

describe("pool placement", () => {
  it.effect("12 threads placed at once spread 4/4/4: each counts on its member before its start answers", () =>
    Effect.gen(function*() {
      const { members, placement } = yield* pool(3)
      const opening = yield* Effect.forEach(
        Array.from({ length: 12 }, (_, index) => `t${index}`),
        (id) => placement.open(slowStart(id)),
        { concurrency: "unbounded" }
      ).pipe(Effect.forkChild)
      yield* TestClock.adjust(Duration.millis(1))
      // None has answered yet: the 12 are counted already.
      expect(members.map((member) => member.threads)).toEqual([4, 4, 4])
      yield* TestClock.adjust(Duration.seconds(1))
      const placed = yield* Fiber.join(opening)
      expect(members.map((member) => member.threads)).toEqual([4, 4, 4])
      const owners = placed.map(({ opened }) => placement.liveOwner(opened.id)!.index)
      expect([1, 2, 3].map((index) => owners.filter((owner) => owner === index).length)).toEqual([4, 4, 4])
      expect(placed.every(({ member, opened }) => placement.liveOwner(opened.id) === member)).toBe(true)
    }).pipe(Effect.scoped))

  it.effect("a start that fails or is interrupted gives its place back", () =>
    Effect.gen(function*() {
      const { members, placement } = yield* pool(2)
      const timeout = new RequestTimeoutError({ method: "thread/start", timeoutMillis: 1000 })
      const failing = yield* placement.open(() => Effect.fail(timeout).pipe(Effect.delay(Duration.seconds(1)))).pipe(
        Effect.flip,
        Effect.forkChild
      )
      const interrupted = yield* placement.open(slowStart("never")).pipe(Effect.forkChild)
      yield* TestClock.adjust(Duration.millis(1))
      expect(members.map((member) => member.threads)).toEqual([1, 1])
      yield* Fiber.interrupt(interrupted)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* Fiber.join(failing)).toBe(timeout)
      expect(members.map((member) => member.threads)).toEqual([0, 0])
      expect(placement.liveOwner("never")).toBeUndefined()
    }).pipe(Effect.scoped))

  it.effect("members running turns get new threads last, and a busy choice grows the pool", () =>
    Effect.gen(function*() {
      const { counts, members, placement } = yield* pool(3)
      members[0]!.turns = 2
      members[1]!.turns = 1
      yield* Effect.forEach(["a", "b"], (id) => placement.open(() => Effect.succeed({ id })))
      expect(members.map((member) => member.threads)).toEqual([0, 0, 2])
      expect(counts.grown).toBe(0)
      members[2]!.turns = 3
      yield* placement.open(() => Effect.succeed({ id: "c" }))
      expect(placement.liveOwner("c")).toBe(members[1])
      expect(counts.grown).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("no live member: one is started for the thread", () =>
    Effect.gen(function*() {
      const { counts, members, placement } = yield* pool(0)
      const { member } = yield* placement.open(() => Effect.succeed({ id: "a" }))
      expect(counts.started).toBe(1)
      expect(members).toEqual([member])
      expect(member.threads).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("a thread whose owner ended is resumed once for concurrent callers, after the old process has gone", () =>
    Effect.gen(function*() {
      const { members, placement, resumed } = yield* pool(2)
      const { member: first } = yield* placement.open(() => Effect.succeed({ id: "a" }))
      expect(first.index).toBe(1)
      // The owner leaves the pool; its process is still stopping (it holds the thread's writer lock).
      first.live = false
      members.splice(0, 1)
      expect(placement.liveOwner("a")).toBeUndefined()
      const owners = yield* Effect.forEach([1, 2, 3], () => placement.owner("a"), { concurrency: "unbounded" }).pipe(
        Effect.forkChild
      )
      yield* TestClock.adjust(Duration.seconds(5))
      expect(resumed).toEqual([])
      yield* Deferred.succeed(first.gone, undefined)
      yield* TestClock.adjust(Duration.seconds(1))
      expect((yield* Fiber.join(owners)).map((owner) => owner.index)).toEqual([2, 2, 2])
      expect(resumed).toEqual(["a@2"])
      expect(members[0]!.threads).toBe(1)
      // Archived: it no longer counts.
      placement.forget("a")
      expect(members[0]!.threads).toBe(0)
    }).pipe(Effect.scoped))

  it.effect("a member that cannot be started is an AppServerExitedError naming why", () =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const placement = yield* Placement.make<undefined, string>({
        members: [],
        startNow: Effect.fail(new AppServerSpawnError({ command: "codex", reason: "ENOENT" })),
        growIfRoom: Effect.void,
        retries: 1,
        resume: () => Effect.succeed("")
      }).pipe(Scope.provide(scope))
      const error = yield* placement.open(() => Effect.succeed({ id: "a" })).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "AppServerExitedError" })
      expect(error.message).toContain("Could not start codex: ENOENT")
    }).pipe(Effect.scoped))
})
