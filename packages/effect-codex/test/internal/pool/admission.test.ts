/**
 * The pool's admission over members without processes: places up to `maxTurns`, then the queue up to `maxQueued`,
 * a released place goes to the next caller waiting, and callers waiting on a member that leaves are refused.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { AppServerExitedError } from "../../../src/Errors.js"
import * as Admission from "../../../src/internal/pool/admission.js"
import { makeSlot, type Slot } from "../../../src/internal/pool/member.js"

const refused = Effect.fail(
  new AppServerExitedError({ exitCode: null, signal: null, stderrTail: [], reason: "left", sent: false })
)

/** Takes a place in a scope of its own; closing the scope releases it. */
const hold = (admission: Admission.Admission, member: Slot, threadId: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* admission.admit(member, threadId, refused).pipe(Scope.provide(scope))
    return scope
  })

describe("pool admission", () => {
  it.effect("maxTurns places, then a bounded queue; a released place goes to the caller waiting", () =>
    Effect.gen(function*() {
      const admission = yield* Admission.make({ maxTurns: 2, maxQueued: 1 })
      const member = makeSlot(1, yield* Scope.make(), 0)
      const [first, second] = yield* Effect.forEach(["a", "b"], (id) => hold(admission, member, id))
      expect(member.turns).toBe(2)
      const waiting = yield* Effect.forkChild(hold(admission, member, "c"))
      yield* Effect.yieldNow
      expect(member.waiters.size).toBe(1)
      const full = yield* hold(admission, member, "d").pipe(Effect.flip)
      expect(full).toMatchObject({ _tag: "PoolQueueFullError", threadId: "d", maxTurnsPerProcess: 2, maxQueued: 1 })
      yield* Scope.close(first!, Exit.void)
      const third = yield* Fiber.join(waiting)
      expect(member.turns).toBe(2)
      yield* Effect.forEach([second!, third], (scope) => Scope.close(scope, Exit.void))
      expect(member.turns).toBe(0)
    }))

  it.effect("callers waiting on a member that leaves the pool are refused unsent", () =>
    Effect.gen(function*() {
      const admission = yield* Admission.make({ maxTurns: 1, maxQueued: 4 })
      const member = makeSlot(1, yield* Scope.make(), 0)
      yield* hold(admission, member, "a")
      const waiting = yield* Effect.forkChild(hold(admission, member, "b").pipe(Effect.flip))
      yield* Effect.yieldNow
      member.live = false
      admission.wakeAll(member)
      expect(yield* Fiber.join(waiting)).toMatchObject({ _tag: "AppServerExitedError", sent: false })
      expect(member.waiters.size).toBe(0)
      expect(member.turns).toBe(1)
    }))
})
