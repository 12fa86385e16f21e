import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { TestClock } from "effect/testing"
import { AppServerExitedError } from "../../../src/Errors.js"
import * as PendingTable from "../../../src/internal/rpc/pendingTable.js"

const settled = (call: PendingTable.Call) => Deferred.isDoneUnsafe(call.response)

describe("PendingTable", () => {
  it.effect("opens calls with fresh ids; an answer takes its call out of the table once", () =>
    Effect.gen(function*() {
      const table = yield* PendingTable.make
      const first = table.open("a", Duration.seconds(1))
      const second = table.open("b", Duration.seconds(1))
      expect([first.id, second.id, first.method]).toEqual([1, 2, "a"])
      expect(table.take(2)).toBe(second)
      expect(table.take(2)).toBeUndefined()
      expect(table.take(99)).toBeUndefined()
      // A taken call no longer times out.
      yield* TestClock.adjust(Duration.seconds(5))
      expect(settled(second)).toBe(false)
      expect(yield* Deferred.await(first.response).pipe(Effect.flip)).toMatchObject({
        _tag: "RequestTimeoutError",
        method: "a",
        timeoutMillis: 1000
      })
    }))

  it.effect("a call that timed out or was abandoned answers late once, quietly", () =>
    Effect.gen(function*() {
      const table = yield* PendingTable.make
      const slow = table.open("slow", Duration.millis(500))
      const dropped = table.open("dropped", Duration.seconds(60))
      table.abandon(dropped.id)
      expect(table.take(dropped.id)).toBe("late")
      expect(table.take(dropped.id)).toBeUndefined()
      yield* TestClock.adjust(Duration.millis(499))
      expect(settled(slow)).toBe(false)
      yield* TestClock.adjust(Duration.millis(1))
      expect(yield* Deferred.await(slow.response).pipe(Effect.flip)).toMatchObject({ _tag: "RequestTimeoutError" })
      expect(table.take(slow.id)).toBe("late")
      expect(table.take(slow.id)).toBeUndefined()
    }))

  it.effect("an infinite timeout never expires", () =>
    Effect.gen(function*() {
      const table = yield* PendingTable.make
      const call = table.open("forever", Duration.infinity)
      yield* TestClock.adjust(Duration.days(365))
      expect(settled(call)).toBe(false)
      expect(table.take(call.id)).toBe(call)
    }))

  it.effect("failAll fails every pending call with the error for its method and empties the table", () =>
    Effect.gen(function*() {
      const table = yield* PendingTable.make
      const calls = ["a", "b", "c"].map((method) => table.open(method, Duration.seconds(1)))
      table.failAll((method) =>
        new AppServerExitedError({ method, sent: true, exitCode: 1, signal: null, stderrTail: [], reason: "test" })
      )
      for (const call of calls) {
        expect(yield* Deferred.await(call.response).pipe(Effect.flip)).toMatchObject({
          _tag: "AppServerExitedError",
          method: call.method
        })
        expect(table.take(call.id)).toBeUndefined()
      }
    }))

  it.effect(`remembers at most ${PendingTable.abandonedLimit} given-up ids`, () =>
    Effect.gen(function*() {
      const table = yield* PendingTable.make
      const calls = Array.from({ length: PendingTable.abandonedLimit + 1 }, () => table.open("x", Duration.seconds(1)))
      for (const call of calls) table.abandon(call.id)
      expect(table.take(calls[0]!.id)).toBe("late")
      expect(table.take(calls.at(-1)!.id)).toBeUndefined()
    }))
})
