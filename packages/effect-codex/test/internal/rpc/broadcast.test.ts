import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { AppServerExitedError } from "../../../src/Errors.js"
import * as Broadcast from "../../../src/internal/rpc/broadcast.js"

const exited = (reason: string) =>
  new AppServerExitedError({ exitCode: 0, signal: null, stderrTail: [], reason })

describe("Broadcast", () => {
  it.effect("hands each batch to the listeners, ends once, and tells a late listener at once", () =>
    Effect.gen(function*() {
      const broadcast = Broadcast.make<number>()
      const heard: Array<string> = []
      yield* broadcast.listen({
        onNotifications: (batch) => heard.push(batch.join(",")),
        onClose: (error) => heard.push(`end:${error.reason}`)
      })
      const stream = yield* broadcast.subscribe
      broadcast.publish([1, 2])
      broadcast.publish([3])
      expect(broadcast.ended()).toBeUndefined()
      broadcast.end(exited("first"))
      broadcast.end(exited("second"))
      expect(heard).toEqual(["1,2", "3", "end:first"])
      expect(broadcast.ended()?.reason).toBe("first")
      const [items, failure] = yield* Effect.all([
        stream.pipe(Stream.take(3), Stream.runCollect),
        stream.pipe(Stream.runDrain, Effect.flip)
      ])
      expect(items).toEqual([1, 2, 3])
      expect(failure.reason).toBe("first")
      yield* broadcast.listen({ onNotifications: () => heard.push("late batch"), onClose: () => heard.push("late end") })
      expect(heard.at(-1)).toBe("late end")
    }))

  it.effect("a subscription read after its scope closed dies with a clear message instead of waiting forever", () =>
    Effect.gen(function*() {
      const broadcast = Broadcast.make<number>()
      const scope = yield* Scope.make()
      const stream = yield* Scope.provide(broadcast.subscribe, scope)
      yield* Scope.close(scope, Exit.void)
      const exit = yield* stream.pipe(Stream.runDrain, Effect.exit)
      expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toContain("read after its scope closed")
    }))
})
