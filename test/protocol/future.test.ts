/**
 * A newer codex on the wire. The real traffic of codex 0.169.0 (test/fixtures/captures) is mutated the ways the
 * protocol grows (a new item type, a new value in every enum and a new variant of every tagged union on the turn
 * path, new fields, a new notification method, a new server request method) and replayed through the real
 * `AppServer` and `Codex` layers over `FakeAppServer`:
 *
 * - a turn settles at `turn/completed` (the watchdog, on the `TestClock`, is only given a chance once the replay
 *   and one more server request have gone through: a turn not settled by then fails with `TurnStalledError`);
 * - every item is kept, unknown ones as `{ type: "@unknown", raw }` with the item as sent in `raw`, and every
 *   notification of a known method is delivered under its method;
 * - `thread/read`, `thread/list`, `thread/resume` and `thread/fork` results never fail;
 * - a server request of an unknown method gets a JSON-RPC error answer (-32601) at once, and one of a known method
 *   carrying new values reaches the approval handler.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/testing/TestClock"
import { Codex, Turn } from "effect-codex"
import { FakeAppServer } from "@effect-codex/testing"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Json as IrJson, Node } from "../../scripts/generate/ir.js"
import { buildModel, BUNDLE_FILE } from "../../scripts/generate/model.js"

type Json = Record<string, unknown>
type Path = ReadonlyArray<string | number>

const CAPTURES = path.resolve(import.meta.dirname, "..", "fixtures", "captures")
const SCHEMA_DIR = path.resolve(import.meta.dirname, "..", "..", "generated", "schema")

const readJsonl = (file: string): Array<Json> =>
  fs.readFileSync(path.join(CAPTURES, file), "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l))

const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

// ---- the model the SDK decodes with (opened where the server sends) ---------------------------------------------
const model = (() => {
  const read = (f: string) => JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, f), "utf8")) as IrJson
  const standalone: Record<string, IrJson> = {}
  for (const f of ["ClientRequest.json", "ServerRequest.json", "ServerNotification.json", "ClientNotification.json"]) {
    standalone[f] = read(f)
  }
  return buildModel(read(BUNDLE_FILE), standalone)
})()
const definitions = new Map(model.definitions.map((d) => [d.name, d.node]))
const resolve = (node: Node): Node => node.kind === "ref" ? resolve(definitions.get(node.target)!) : node
const ref = (target: string): Node => ({ kind: "ref", target })
const notificationNode = (method: string): Node | undefined =>
  model.serverNotifications.find((n) => n.method === method)?.params
const serverRequestNode = (method: string): Node | undefined =>
  model.serverRequests.find((n) => n.method === method)?.params
const responseNode = (method: string): Node => ref(model.clientRequests.find((m) => m.method === method)!.response)

/** The member of a union a value belongs to (objects: by their required single-literal keys, then required keys). */
const memberOf = (value: unknown, members: ReadonlyArray<Node>): Node | undefined =>
  members.find((m) => {
    const r = resolve(m)
    if (Array.isArray(value)) return r.kind === "array" || r.kind === "tuple"
    if (!isObject(value) || r.kind !== "object") return r.kind === "record" && isObject(value)
    return r.properties.every((p) => {
      if (p.optional) return true
      if (!(p.name in value)) return false
      const t = resolve(p.node)
      return !(t.kind === "literal" && t.values.length === 1) || t.values[0] === value[p.name]
    })
  })

/** Where a value of `node` holds an open enum (a string or `null` there) or an object of an open tagged union. */
const openPositions = (
  value: unknown,
  node: Node,
  at: Path = [],
  out: Array<{ readonly at: Path; readonly kind: "enum" | "variant"; readonly tag?: string }> = []
) => {
  const n = resolve(node)
  switch (n.kind) {
    case "union": {
      // nested unions through references (`NullOr(MessagePhase)`) count as one
      const flat = (m: Node): Array<Node> => {
        const r = resolve(m)
        return r.kind === "union" ? r.members.flatMap(flat) : [m]
      }
      const members = n.members.flatMap(flat)
      if (members.some((m) => m.kind === "unknownValue") && (typeof value === "string" || value === null)) {
        out.push({ at, kind: "enum" })
        return out
      }
      const variant = members.find((m) => m.kind === "unknownVariant")
      if (variant?.kind === "unknownVariant" && isObject(value)) out.push({ at, kind: "variant", tag: variant.tag })
      const member = memberOf(value, members.filter((m) => m.kind !== "unknownVariant"))
      if (member !== undefined) openPositions(value, member, at, out)
      return out
    }
    case "object":
      if (isObject(value)) {
        for (const p of n.properties) if (p.name in value) openPositions(value[p.name], p.node, [...at, p.name], out)
      }
      return out
    case "array":
      if (Array.isArray(value)) value.forEach((v, i) => openPositions(v, n.items, [...at, i], out))
      return out
    case "record":
      if (isObject(value)) for (const [k, v] of Object.entries(value)) openPositions(v, n.value, [...at, k], out)
      return out
    default:
      return out
  }
}

const setAt = <A>(value: A, at: Path, replace: (old: unknown) => unknown): A => {
  const copy = structuredClone(value) as unknown as Record<string | number, unknown>
  if (at.length === 0) return replace(copy) as A
  let parent = copy
  for (const key of at.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>
  const last = at[at.length - 1]!
  parent[last] = replace(parent[last])
  return copy as unknown as A
}

/** `value` with `aNewField` added to every object, at every depth. */
const withNewFields = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(withNewFields)
    : isObject(value)
    ? { ...Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withNewFields(v)])), aNewField: { from: "future" } }
    : value

// ---- a captured turn, as steps the fake replays ---------------------------------------------------------------
type Step =
  | { readonly kind: "response"; readonly result: Json }
  | { readonly kind: "notification"; readonly message: Json }
  | { readonly kind: "request"; readonly message: Json }

interface CapturedTurn {
  readonly name: string
  readonly threadId: string
  readonly steps: ReadonlyArray<Step>
}

/** From the `turn/start` response to `turn/completed`: what concerns the thread, and the server requests. */
const capturedTurn = (name: string): CapturedTurn => {
  const server = readJsonl(`${name}.jsonl`)
  const client = readJsonl(`${name}.client.jsonl`)
  const idOf = (method: string) => client.find((m) => m["method"] === method)!["id"]
  const responseAt = (id: unknown) => server.findIndex((m) => m["id"] === id && !("method" in m))
  const threadId = ((server[responseAt(idOf("thread/start"))]!["result"] as Json)["thread"] as Json)["id"] as string
  const start = responseAt(idOf("turn/start"))
  const end = server.findIndex((m) => m["method"] === "turn/completed")
  const steps = server.slice(start, end + 1).flatMap((m): Array<Step> => {
    if (!("method" in m)) return [{ kind: "response", result: m["result"] as Json }]
    if ("id" in m) return [{ kind: "request", message: m }]
    return JSON.stringify(m["params"]).includes(threadId) ? [{ kind: "notification", message: m }] : []
  })
  return { name, threadId, steps }
}

const TURNS = ["text-turn", "shell-approval-accept", "apply-patch-approval", "turn-failed-http-500"].map(capturedTurn)

const stepNode = (step: Step): Node | undefined =>
  step.kind === "response"
    ? responseNode("turn/start")
    : step.kind === "notification"
    ? notificationNode(step.message["method"] as string)
    : serverRequestNode(step.message["method"] as string)
/** Where the step's value sits in its message (the node of `stepNode` describes it). */
const valuePath = (step: Step): Path => step.kind === "response" ? [] : ["params"]
const valueOf = (step: Step): unknown => step.kind === "response" ? step.result : step.message["params"]
const mutateStep = (step: Step, at: Path, replace: (old: unknown) => unknown): Step =>
  step.kind === "response"
    ? { kind: "response", result: setAt(step.result, at, replace) }
    : { ...step, message: setAt(step.message, [...valuePath(step), ...at], replace) }

// ---- replay ---------------------------------------------------------------------------------------------------
interface Replay {
  readonly result: Turn.Result
  readonly started: Turn.Handle["started"]
  readonly events: ReadonlyArray<Turn.Event>
  /** The client's answers to the replayed server requests, then to the closing unknown request. */
  readonly answers: ReadonlyArray<FakeAppServer.ClientAnswer>
  readonly closing: FakeAppServer.ClientAnswer
}

const UNKNOWN_REQUEST = "item/aNewKind/requestApproval"

/**
 * Plays `steps` as the answer to `turn/start` (the captured thread id replaced by the new thread's), then sends one
 * server request of an unknown method and waits for its answer; only then may the watchdog fire (the clock jumps an
 * hour), so a turn that did not settle at `turn/completed` fails with `TurnStalledError`.
 */
const replay = (turn: CapturedTurn, steps: ReadonlyArray<Step> = turn.steps) =>
  Effect.gen(function*() {
    const fake = yield* FakeAppServer.FakeAppServer
    const codex = yield* Codex.Codex
    const done = yield* Deferred.make<{ answers: Array<FakeAppServer.ClientAnswer>; closing: FakeAppServer.ClientAnswer }>()
    yield* fake.handle("turn/start", (request) =>
      Effect.gen(function*() {
        const threadId = (request.params as { threadId: string }).threadId
        const rewrite = <A>(value: A): A => JSON.parse(JSON.stringify(value).replaceAll(turn.threadId, threadId))
        const answers: Array<FakeAppServer.ClientAnswer> = []
        for (const step of steps) {
          if (step.kind === "response") yield* fake.send({ id: request.id, result: rewrite(step.result) })
          else if (step.kind === "notification") yield* fake.send(rewrite(step.message))
          else {
            const message = rewrite(step.message)
            answers.push(yield* Effect.orDie(fake.request(message["method"] as string, message["params"])))
          }
        }
        const closing = yield* Effect.orDie(fake.request(UNKNOWN_REQUEST, { threadId, turnId: "t", itemId: "i" }))
        yield* Deferred.succeed(done, { answers, closing })
        return FakeAppServer.noReply
      }))
    const thread = yield* codex.threadStart()
    const handle = yield* thread.turn("replayed")
    const events = yield* Effect.forkScoped(Stream.runCollect(handle.stream))
    const { answers, closing } = yield* Deferred.await(done)
    yield* TestClock.adjust(Duration.hours(1))
    const result = yield* handle.result
    return { result, started: handle.started, events: yield* Fiber.join(events), answers, closing } satisfies Replay
  }).pipe(Effect.scoped, Effect.provide(FakeAppServer.layerCodex()))

const itemEvents = (events: ReadonlyArray<Turn.Event>, method: "item/started" | "item/completed") =>
  events.flatMap((e) => e._tag === "Notification" && e.method === method ? [e.params.item] : [])

/** Every event of a known method arrived decoded (none fell back to `UnknownNotification`). */
const unknownNotifications = (events: ReadonlyArray<Turn.Event>) =>
  events.filter((e) => e._tag === "UnknownNotification").map((e) => `${e.method}: ${e._tag === "UnknownNotification" ? e.reason : ""}`)

const expectClosingAnswered = (replayed: Replay) => {
  expect(replayed.closing).toMatchObject({ error: { code: -32601 } })
  expect(JSON.stringify(replayed.closing)).toContain(UNKNOWN_REQUEST)
}

// ---- tests ----------------------------------------------------------------------------------------------------
describe("a newer codex: captured turns, mutated, replayed over FakeAppServer", () => {
  const baselines = new Map<string, Replay>()
  const baseline = (turn: CapturedTurn) =>
    Effect.suspend(() => {
      const known = baselines.get(turn.name)
      return known !== undefined ? Effect.succeed(known) : Effect.tap(replay(turn), (r) => Effect.sync(() => void baselines.set(turn.name, r)))
    })

  it.effect("as captured: every turn settles at turn/completed with its items", () =>
    Effect.gen(function*() {
      for (const turn of TURNS) {
        const replayed = yield* baseline(turn)
        const completed = turn.steps.at(-1)!
        const final = ((completed.kind === "notification" ? completed.message["params"] : {}) as Json)["turn"] as Json
        expect(replayed.result.status).toBe(final["status"])
        expect(replayed.result.items.map((item) => item.type)).toEqual(
          itemEvents(replayed.events, "item/completed").map((item) => item.type)
        )
        expect(replayed.result.items.length).toBeGreaterThanOrEqual(1)
        expect(unknownNotifications(replayed.events)).toEqual([])
        expectClosingAnswered(replayed)
      }
    }))

  it.effect("a new item type (item/started, item/completed and turn/completed) is kept whole, in order", () =>
    Effect.gen(function*() {
      for (const turn of TURNS) {
        const before = yield* baseline(turn)
        const threadIdIn = (step: Step) => (valueOf(step) as Json)["threadId"]
        const firstCompleted = turn.steps.findIndex((s) => s.kind === "notification" && s.message["method"] === "item/completed")
        const anchor = turn.steps[firstCompleted]!
        const turnId = (valueOf(anchor) as Json)["turnId"] as string
        const item = { type: "aNewItemType", id: "future-item-1", payload: { nested: [1, { deep: "x" }] }, startedAtMs: 1 }
        const done = { ...item, completedAtMs: 2 }
        const notification = (method: string, params: Json): Step => ({
          kind: "notification",
          message: { method, params: { threadId: threadIdIn(anchor), turnId, ...params }, emittedAtMs: 1 }
        })
        const last = turn.steps.length - 1
        const steps = [
          ...turn.steps.slice(0, firstCompleted + 1),
          notification("item/started", { item, startedAtMs: 1 }),
          notification("item/completed", { item: done, completedAtMs: 2, contentTokenCount: null }),
          ...turn.steps.slice(firstCompleted + 1, last),
          mutateStep(turn.steps[last]!, ["turn", "items"], (items) => [...(items as Array<unknown>), done])
        ]
        const replayed = yield* replay(turn, steps)
        expect(unknownNotifications(replayed.events)).toEqual([])
        expect(itemEvents(replayed.events, "item/started")).toContainEqual({ type: "@unknown", raw: item })
        expect(itemEvents(replayed.events, "item/completed")).toContainEqual({ type: "@unknown", raw: done })
        // every item of the captured turn, and the new one (once) right after the first completed item
        const ids = before.result.items.map(Turn.itemId)
        expect(replayed.result.items.map(Turn.itemId)).toEqual([ids[0], done.id, ...ids.slice(1)])
        expect(replayed.result.items[1]).toEqual({ type: "@unknown", raw: done })
        expect(replayed.result.status).toBe(before.result.status)
        expect(replayed.result.finalResponse).toBe(before.result.finalResponse)
        expectClosingAnswered(replayed)
      }
    }))

  it.effect("a new item type seen only in turn/completed is kept", () =>
    Effect.gen(function*() {
      const turn = TURNS[0]!
      const before = yield* baseline(turn)
      const item = { type: "aNewItemType", id: "future-item-2", completedAtMs: 3 }
      const last = turn.steps.length - 1
      const steps = [
        ...turn.steps.slice(0, last),
        mutateStep(turn.steps[last]!, ["turn", "items"], (items) => [...(items as Array<unknown>), item])
      ]
      const replayed = yield* replay(turn, steps)
      expect(replayed.result.items).toHaveLength(before.result.items.length + 1)
      expect(replayed.result.items.at(-1)).toEqual({ type: "@unknown", raw: item })
      expectClosingAnswered(replayed)
    }))

  it.effect("a new value in each enum, and a new variant of each tagged union, on the turn path", () =>
    Effect.gen(function*() {
      const seen = new Set<string>()
      const checked: Array<string> = []
      for (const turn of TURNS) {
        const before = yield* baseline(turn)
        for (const [index, step] of turn.steps.entries()) {
          const node = stepNode(step)
          if (node === undefined) continue
          const label = step.kind === "response" ? "turn/start (response)" : step.message["method"] as string
          for (const position of openPositions(valueOf(step), node)) {
            const where = `${label} ${position.kind} ${position.at.map((k) => typeof k === "number" ? "*" : k).join(".")}`
            if (seen.has(where)) continue
            seen.add(where)
            const value = `aNewValue${checked.length}`
            const mutated = mutateStep(step, position.at, (old) =>
              position.kind === "enum" ? value : { ...(old as Json), [position.tag!]: value })
            const steps = turn.steps.map((s, i) => i === index ? mutated : s)
            const replayed = yield* replay(turn, steps)
            checked.push(where)
            // settled at turn/completed (else TurnStalledError), every item kept, every notification known
            expect(replayed.result.items.length, where).toBe(before.result.items.length)
            expect(unknownNotifications(replayed.events), where).toEqual([])
            expect(replayed.events.length, where).toBe(before.events.length)
            if (step.kind === "request") {
              // a known server request with a new value still reaches the handler (which declines by default)
              expect(replayed.answers.map((a) => "result" in a), where).toEqual(before.answers.map(() => true))
            } else {
              const delivered = JSON.stringify([replayed.events, replayed.result, replayed.started])
              expect(delivered, where).toContain(value)
            }
            expectClosingAnswered(replayed)
          }
        }
      }
      // the turn path's open enums and unions, as captured: these at least
      for (
        const expected of [
          "turn/completed enum turn.status",
          "turn/completed variant turn.items.*",
          "item/completed variant item",
          "item/completed enum item.phase",
          "item/completed enum item.status",
          "thread/status/changed variant status",
          "turn/start (response) enum turn.status",
          "item/commandExecution/requestApproval enum kind",
          "item/completed variant item.changes.*.kind"
        ]
      ) expect(checked).toContain(expected)
      expect(checked.length).toBeGreaterThanOrEqual(20)
    }), 120_000)

  it.effect("new fields everywhere are accepted and kept on the items", () =>
    Effect.gen(function*() {
      for (const turn of TURNS) {
        const before = yield* baseline(turn)
        const steps = turn.steps.map((step) =>
          step.kind === "response"
            ? { ...step, result: withNewFields(step.result) as Json }
            : { ...step, message: { ...step.message, params: withNewFields(step.message["params"]) } }
        )
        const replayed = yield* replay(turn, steps)
        expect(unknownNotifications(replayed.events)).toEqual([])
        expect(replayed.result.items.map((item) => item.type)).toEqual(before.result.items.map((item) => item.type))
        for (const item of replayed.result.items) expect(item).toHaveProperty("aNewField", { from: "future" })
        expect(replayed.result.status).toBe(before.result.status)
        expectClosingAnswered(replayed)
      }
    }))

  it.effect("a new notification method mid-turn is passed through as UnknownNotification", () =>
    Effect.gen(function*() {
      const turn = TURNS[0]!
      const before = yield* baseline(turn)
      const anchor = turn.steps.find((s) => s.kind === "notification" && s.message["method"] === "item/completed")!
      const { threadId, turnId } = valueOf(anchor) as { threadId: string; turnId: string }
      const params = { threadId, turnId, progress: { done: 1, of: 3 } }
      const steps = [
        ...turn.steps.slice(0, 3),
        { kind: "notification", message: { method: "turn/aNewThing/updated", params, emittedAtMs: 1 } } as const,
        ...turn.steps.slice(3)
      ]
      const replayed = yield* replay(turn, steps)
      const unknown = replayed.events.filter((e) => e._tag === "UnknownNotification")
      expect(unknown).toHaveLength(1)
      expect(unknown[0]).toMatchObject({ method: "turn/aNewThing/updated", params: { progress: { done: 1, of: 3 } } })
      expect(replayed.result.items).toEqual(before.result.items)
      expectClosingAnswered(replayed)
    }))

  it.effect("a turn/completed that does not decode at all still ends the turn, with a ProtocolError", () =>
    Effect.gen(function*() {
      const turn = TURNS[0]!
      const last = turn.steps.length - 1
      const steps = [...turn.steps.slice(0, last), mutateStep(turn.steps[last]!, ["turn", "items"], () => "not a list")]
      const error = yield* replay(turn, steps).pipe(Effect.flip)
      expect(error).toMatchObject({ _tag: "ProtocolError", method: "turn/completed" })
      expect(error.message).toContain("not a list")
    }))

  it.effect("a new server request method mid-turn gets a JSON-RPC error answer at once; the turn goes on", () =>
    Effect.gen(function*() {
      const turn = TURNS[0]!
      const before = yield* baseline(turn)
      const anchor = valueOf(turn.steps[2]!) as { threadId: string }
      const request: Step = {
        kind: "request",
        message: { id: 0, method: "item/aNewTool/call", params: { threadId: anchor.threadId, tool: "x" } }
      }
      const steps = [...turn.steps.slice(0, 3), request, ...turn.steps.slice(3)]
      const replayed = yield* replay(turn, steps)
      expect(replayed.answers).toHaveLength(1)
      expect(replayed.answers[0]).toMatchObject({ error: { code: -32601 } })
      expect(JSON.stringify(replayed.answers[0])).toContain("item/aNewTool/call")
      expect(replayed.result.items).toEqual(before.result.items)
    }))
})

// ---- results ----------------------------------------------------------------------------------------------------
const threadsCapture = (() => {
  const server = readJsonl("threads-and-models.jsonl")
  const client = readJsonl("threads-and-models.client.jsonl")
  const resultOf = (match: (m: Json) => boolean) => {
    const id = client.find(match)!["id"]
    return server.find((m) => m["id"] === id && !("method" in m))!["result"] as Json
  }
  const read = resultOf((m) => m["method"] === "thread/read" && (m["params"] as Json)["includeTurns"] === true)
  const start = resultOf((m) => m["method"] === "thread/start")
  return {
    read,
    list: resultOf((m) => m["method"] === "thread/list"),
    // thread/resume and thread/fork answer like thread/start, with the thread's turns
    opened: { ...start, thread: read["thread"] }
  }
})()

const NEW_ITEM = { type: "aNewItemType", id: "future-item-3", payload: [1, 2] }

/** The result with a new item in its first turn, every open enum set to a new value and every tagged union to a new variant. */
const futureResults = (result: Json, node: Node) => {
  const turnsAt: Path = "thread" in result ? ["thread", "turns", 0, "items"] : []
  const withItem = turnsAt.length === 0 ? result : setAt(result, turnsAt, (items) => [...(items as Array<unknown>), NEW_ITEM])
  const positions = openPositions(withItem, node)
  const enums = positions.filter((p) => p.kind === "enum").reduce(
    (value, p, i) => setAt(value, p.at, () => `aNewValue${i}`),
    withItem
  )
  // outermost variants only: an inner one would be inside the `raw` of an outer one
  const variants = positions.filter((p) => p.kind === "variant")
  const outer = variants.filter((p) => !variants.some((q) => q !== p && q.at.length < p.at.length && q.at.every((k, i) => p.at[i] === k)))
  const newVariants = outer.reduce((value, p, i) => setAt(value, p.at, (old) => ({ ...(old as Json), [p.tag!]: `aNewVariant${i}` })), withItem)
  return { withItem, enums, enumCount: positions.filter((p) => p.kind === "enum").length, newVariants, variantCount: outer.length }
}

const countUnknown = (value: unknown): number =>
  Array.isArray(value)
    ? value.reduce((n: number, v) => n + countUnknown(v), 0)
    : isObject(value)
    ? (Object.values(value).includes("@unknown") && "raw" in value ? 1 : 0) +
      Object.values(value).reduce((n: number, v) => n + countUnknown(v), 0)
    : 0

describe("a newer codex: results with new items, values and variants never fail", () => {
  const cases = [
    { method: "thread/read", captured: threadsCapture.read },
    { method: "thread/list", captured: threadsCapture.list },
    { method: "thread/resume", captured: threadsCapture.opened },
    { method: "thread/fork", captured: threadsCapture.opened }
  ] as const

  const call = (method: (typeof cases)[number]["method"], threadId: string) =>
    Effect.gen(function*() {
      const codex = yield* Codex.Codex
      switch (method) {
        case "thread/read":
          return yield* codex.thread(threadId).read({ includeTurns: true })
        case "thread/list":
          return yield* codex.threadList()
        case "thread/resume":
          return (yield* codex.threadResume(threadId)).response
        case "thread/fork":
          return (yield* codex.threadFork(threadId)).response
      }
    })

  for (const { captured, method } of cases) {
    it.effect(`${method}: a new item type, a new value in every enum, a new variant of every tagged union`, () =>
      Effect.gen(function*() {
        const fake = yield* FakeAppServer.FakeAppServer
        const future = futureResults(captured, responseNode(method))
        expect(future.enumCount).toBeGreaterThan(0)
        expect(future.variantCount).toBeGreaterThan(0)
        yield* fake.script(
          method,
          FakeAppServer.result(future.withItem),
          FakeAppServer.result(future.enums),
          FakeAppServer.result(future.newVariants)
        )
        const threadId = "01a21274-4801-7d02-a3dc-49170683fbbb"
        const withItem = yield* call(method, threadId)
        if (method !== "thread/list") {
          const turns = (withItem as { thread?: { turns: ReadonlyArray<{ items: ReadonlyArray<unknown> }> } }).thread?.turns ??
            (withItem as { turns: ReadonlyArray<{ items: ReadonlyArray<unknown> }> }).turns
          expect(turns[0]!.items.at(-1)).toEqual({ type: "@unknown", raw: NEW_ITEM })
        }
        const enums = yield* call(method, threadId)
        for (let i = 0; i < future.enumCount; i++) expect(JSON.stringify(enums)).toContain(`"aNewValue${i}"`)
        const variants = yield* call(method, threadId)
        expect(countUnknown(variants)).toBe(future.variantCount)
        for (let i = 0; i < future.variantCount; i++) expect(JSON.stringify(variants)).toContain(`"aNewVariant${i}"`)
      }).pipe(Effect.provide(FakeAppServer.layerCodex())))
  }
})
