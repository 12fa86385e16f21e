/**
 * The turn tracker without a server: the notifications of real codex 0.169.0 turns (test/fixtures/captures),
 * decoded as the SDK decodes them and routed by thread as the dispatcher routes them, fed to the tracker as plain
 * arrays, before and after the `turn/start` answer, whole or one at a time, mixed with another turn's events,
 * and mutated the ways a newer codex or a broken one would send them.
 */
import { describe, expect, it } from "@effect/vitest"
import { AppServer } from "effect-codex"
import * as fs from "node:fs"
import * as path from "node:path"
import { threadOf } from "../src/internal/codex/dispatcher.js"
import { Tracker } from "../src/internal/codex/tracker.js"

type Json = Record<string, any>

const CAPTURES = path.resolve(import.meta.dirname, "..", "..", "..", "test", "fixtures", "captures")

/** A captured turn: its ids, and its thread's notifications decoded as the SDK decodes them, as JSON to mutate. */
const capture = (scenario: string) => {
  const messages: Array<Json> = fs.readFileSync(path.join(CAPTURES, `${scenario}.jsonl`), "utf8")
    .split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line))
  const turnStart = messages.find((message) => message["result"]?.turn !== undefined)!
  const turnId: string = turnStart["result"].turn.id
  const threadId: string = messages.find((message) => message["method"] === "turn/started")!["params"].threadId
  const notifications = messages.filter((message) =>
    message["id"] === undefined && threadOf(message["params"]) === threadId
  )
  return { threadId, turnId, notifications }
}

const decode = (notifications: ReadonlyArray<Json>) =>
  notifications.map((message) => AppServer.decodeNotification({ method: message["method"], params: message["params"] }))

/** The tracker fed all of `events` before the `turn/start` answer (they overtook it), then the turn id. */
const allEarly = (threadId: string, turnId: string, events: ReadonlyArray<AppServer.Notification>) => {
  const tracker = new Tracker(threadId)
  expect(tracker.receive(events)).toEqual([])
  return { tracker, events: tracker.started(turnId) }
}

/** The tracker told the turn id first, then fed `events` one at a time. */
const oneByOne = (threadId: string, turnId: string, events: ReadonlyArray<AppServer.Notification>) => {
  const tracker = new Tracker(threadId)
  expect(tracker.started(turnId)).toEqual([])
  return { tracker, events: events.flatMap((event) => tracker.receive([event])) }
}

const text = capture("text-turn")

describe("Tracker on captured turns", () => {
  it("keeps the events that overtake the turn/start answer, and ends at turn/completed with the result", () => {
    const { events, tracker } = allEarly(text.threadId, text.turnId, decode(text.notifications))
    const methods = events.map((event) => event.method)
    expect(methods).toContain("turn/started")
    expect(methods.filter((method) => method === "item/agentMessage/delta")).toHaveLength(3)
    expect(methods.at(-1)).toBe("turn/completed")
    const end = tracker.end
    expect(end?._tag).toBe("Completed")
    if (end?._tag !== "Completed") return
    const lastUsage = text.notifications.findLast((n) => n["method"] === "thread/tokenUsage/updated")!
    expect(end.result).toMatchObject({
      id: text.turnId,
      threadId: text.threadId,
      status: "completed",
      error: null,
      finalResponse: "Hello world",
      usage: lastUsage["params"].tokenUsage
    })
    expect(end.result.items.map((item) => item.type)).toEqual(["userMessage", "agentMessage"])
  })

  it("gives the same events and result one event at a time after the answer as all at once before it", () => {
    const early = allEarly(text.threadId, text.turnId, decode(text.notifications))
    const live = oneByOne(text.threadId, text.turnId, decode(text.notifications))
    expect(live.events).toEqual(early.events)
    expect(live.tracker.end).toEqual(early.tracker.end)
  })

  it("leaves out another turn of the same thread, its turn/completed included; keeps the thread's own events", () => {
    const other = decode(text.notifications.map((message) =>
      JSON.parse(JSON.stringify(message).replaceAll(text.turnId, "another-turn"))
    ))
    const mine = decode(text.notifications)
    // The other turn's events first (its turn/completed does not end this turn), then this turn's.
    const { events, tracker } = oneByOne(text.threadId, text.turnId, [...other, ...mine])
    const threadEvents = other.filter((event) => {
      const params = event.params as Json
      return params["turnId"] === undefined && params["turn"] === undefined
    })
    expect(events).toEqual([...threadEvents, ...allEarly(text.threadId, text.turnId, mine).events])
    expect(tracker.end?._tag).toBe("Completed")
  })

  it("returns nothing once the turn has ended, also from the rest of the chunk that ended it", () => {
    const events = decode(text.notifications)
    const completed = events.findIndex((event) => event.method === "turn/completed")
    const tracker = new Tracker(text.threadId)
    tracker.started(text.turnId)
    const delivered = tracker.receive([...events, ...events])
    expect(delivered).toHaveLength(completed + 1)
    const end = tracker.end
    expect(tracker.receive(events)).toEqual([])
    expect(tracker.end).toBe(end)
  })

  it("a failed turn ends with status failed and the server's error", () => {
    const failed = capture("turn-failed-http-500")
    const { tracker } = oneByOne(failed.threadId, failed.turnId, decode(failed.notifications))
    const completed = failed.notifications.find((n) => n["method"] === "turn/completed")!
    expect(tracker.end).toMatchObject({
      _tag: "Completed",
      result: { status: "failed", error: { message: completed["params"].turn.error.message } }
    })
  })

  it("an item of a new type is kept once, whole, as @unknown (seen completed, and again in turn/completed)", () => {
    const renamed = text.notifications.map((message) =>
      JSON.parse(JSON.stringify(message).replaceAll(`"type":"agentMessage"`, `"type":"futureMessage"`))
    )
    const completedItem = renamed.find((n) =>
      n["method"] === "item/completed" && n["params"].item.type === "futureMessage"
    )!["params"].item
    const { tracker } = oneByOne(text.threadId, text.turnId, decode(renamed))
    const end = tracker.end
    expect(end?._tag).toBe("Completed")
    if (end?._tag !== "Completed") return
    expect(end.result.items).toEqual([
      expect.objectContaining({ type: "userMessage" }),
      { type: "@unknown", raw: completedItem }
    ])
    expect(end.result.finalResponse).toBeNull()
  })

  it("a turn/completed that does not decode still ends the turn, with a ProtocolError", () => {
    const broken = text.notifications.map((message) =>
      message["method"] === "turn/completed" ? { ...message, params: { ...message["params"], turn: 42 } } : message
    )
    const { events, tracker } = oneByOne(text.threadId, text.turnId, decode(broken))
    expect(events.at(-1)).toMatchObject({ _tag: "UnknownNotification", method: "turn/completed" })
    expect(tracker.end).toMatchObject({ _tag: "Malformed", error: { _tag: "ProtocolError", method: "turn/completed" } })
  })

  it("after a silence, the server's own account of the turn completes what was seen", () => {
    const events = decode(text.notifications.filter((n) => n["method"] !== "turn/completed"))
    const { tracker } = oneByOne(text.threadId, text.turnId, events)
    expect(tracker.end).toBeUndefined()
    const final = text.notifications.find((n) => n["method"] === "turn/completed")!["params"].turn
    const extra = { type: "agentMessage", id: "later", text: "Read back", phase: "final_answer" }
    const result = tracker.resultOf({ ...final, items: [...final.items, extra] })
    // Items as they completed, then the one only the server's account lists (the one both list is kept once).
    const seen = text.notifications.filter((n) => n["method"] === "item/completed").map((n) => n["params"].item.id)
    expect(final.items.map((item: Json) => item["id"])).toEqual([seen.at(-1)])
    expect(result.items.map((item) => item.type === "@unknown" ? item.type : item.id)).toEqual([...seen, "later"])
    expect(result.finalResponse).toBe("Read back")
  })
})
