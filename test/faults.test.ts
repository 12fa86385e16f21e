/**
 * Fault scenarios (the same as `npx tsx scripts/faults.ts`, which prints their figures): a real server
 * killed mid-turn, a garbage flood, shuffled answers, a slow consumer. Counts, order, error tags and
 * process death are asserted exactly; times only against generous bounds that catch hangs.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { garbageFlood, killMidTurn, shuffledAnswers, slowConsumer } from "../scripts/faults.js"

describe("faults", () => {
  it.live("(a) real server SIGKILLed mid-turn: turn, result and pending requests fail; no process left", () =>
    Effect.gen(function*() {
      const figures = yield* killMidTurn
      expect(figures.pid).toBeGreaterThan(0)
      expect(figures.turnInFlight).toBe(true)
      expect(figures.streamError).toBe("AppServerExitedError")
      expect(figures.resultError).toBe("AppServerExitedError")
      expect(figures.pendingRequests).toBe(3)
      expect(figures.requestErrors).toEqual(["AppServerExitedError", "AppServerExitedError", "AppServerExitedError"])
      expect(figures.requestMethods).toEqual(["model/list", "thread/list", "thread/read"])
      expect(figures.signal).toBe("SIGKILL")
      expect(figures.laterError).toBe("AppServerExitedError")
      // Everything settles within 1 s of the kill (the core requirement).
      expect(figures.settledMs).toBeLessThan(1000)
      expect(figures.processGone).toBe(true)
      expect(figures.goneMs).toBeLessThan(1000)
      // codex's own helpers (a login shell it spawns in its own session) end by themselves.
      expect(figures.childrenGone).toBe(true)
    }))

  it.live("(b) 10,000 garbage lines: every valid notification in order, 10,000 ProtocolErrors, still answering", () =>
    Effect.gen(function*() {
      const figures = yield* garbageFlood(10_000, 1_000)
      expect(figures.delivered).toBe(1_000)
      expect(figures.deliveredInOrder).toBe(true)
      expect(figures.protocolErrors).toBe(10_000)
      expect(Object.values(figures.reasons).reduce((sum, count) => sum + count, 0)).toBe(10_000)
      expect(Object.keys(figures.reasons).sort()).toEqual([
        "invalid JSON",
        "line longer than",
        "neither a request, a response nor a notification",
        "not a JSON object",
        "response to unknown or abandoned request id"
      ])
      expect(figures.answeredAfter).toBe(true)
      expect(figures.wallMs).toBeLessThan(30_000)
    }))

  it.live("(c) 1,000 concurrent requests answered in shuffled order are all correlated", () =>
    Effect.gen(function*() {
      const figures = yield* shuffledAnswers(1_000)
      expect(figures.distinctIds).toBe(1_000)
      expect(figures.displaced).toBeGreaterThan(900)
      expect(figures.correlated).toBe(1_000)
      expect(figures.wallMs).toBeLessThan(30_000)
    }))

  it.live("(d) a slow consumer of one turn does not hold up another: nothing lost, no hang", () =>
    Effect.gen(function*() {
      const figures = yield* slowConsumer(2_000, 1)
      expect(figures.fastDeltas).toBe(2_000)
      expect(figures.slowDeltas).toBe(2_000)
      expect(figures.fastEvents).toBe(figures.slowEvents)
      expect(figures.fastStatus).toBe("completed")
      expect(figures.slowStatus).toBe("completed")
      // The fast turn was done while the slow consumer was still reading.
      expect(figures.slowReadWhenFastDone).toBeGreaterThanOrEqual(0)
      expect(figures.slowReadWhenFastDone).toBeLessThan(figures.slowEvents)
      expect(figures.fastMs).toBeLessThan(figures.slowMs)
      expect(figures.slowMs).toBeLessThan(60_000)
    }))
})
