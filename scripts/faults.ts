/**
 * Fault scenarios as figures: `npx tsx scripts/faults.ts` runs each one and prints a table of what was
 * measured. `test/faults.test.ts` runs the same scenarios and asserts their properties.
 *
 * (a) the real `codex app-server` killed with SIGKILL in the middle of a turn (CodexTest + a stalled
 *     MockModel reply), with requests pending;
 * (b) 10,000 garbage lines interleaved with valid notifications (FakeAppServer);
 * (c) 1,000 concurrent requests answered in shuffled order (FakeAppServer);
 * (d) two concurrent turns of 2,000 deltas each, one read by a slow consumer (FakeAppServer).
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import { AppServer, Codex, type Errors, type Turn } from "effect-codex"
import { CodexTest, FakeAppServer, MockModel } from "@effect-codex/testing"
import { readdirSync, readFileSync } from "node:fs"
import { pathToFileURL } from "node:url"

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** True while a process with this pid exists (a zombie counts as gone: it no longer runs). */
export const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return true
  }
}

/** The pids of every descendant of `pid` (from /proc; empty where /proc is missing). */
export const descendants = (pid: number): Array<number> => {
  let entries: Array<string>
  try {
    entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name))
  } catch {
    return []
  }
  const parentOf = new Map<number, number>()
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      parentOf.set(Number(entry), Number(fields[1]))
    } catch {
      // The process ended meanwhile.
    }
  }
  const found: Array<number> = []
  const visit = (parent: number) => {
    for (const [child, ppid] of parentOf) {
      if (ppid === parent && !found.includes(child)) {
        found.push(child)
        visit(child)
      }
    }
  }
  visit(pid)
  return found
}

/** A deterministic PRNG (mulberry32). */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** A Fisher-Yates shuffle with a seeded PRNG. */
export const shuffle = <A>(items: ReadonlyArray<A>, seed = 42): Array<A> => {
  const next = random(seed)
  const copy = [...items]
  for (let index = copy.length - 1; index > 0; index--) {
    const other = Math.floor(next() * (index + 1))
    ;[copy[index], copy[other]] = [copy[other]!, copy[index]!]
  }
  return copy
}

/** Keeps the 10,000 protocol-error warnings the scenarios provoke out of the output. */
const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provideService(References.MinimumLogLevel, "Error"))

// ---------------------------------------------------------------------------
// (a) The real server killed mid-turn
// ---------------------------------------------------------------------------

/** What scenario (a) measured. */
export interface KillFigures {
  readonly pid: number
  /** Descendant processes of the server just before the kill. */
  readonly children: ReadonlyArray<number>
  readonly turnInFlight: boolean
  readonly pendingRequests: number
  readonly streamError: string
  readonly resultError: string
  readonly requestErrors: ReadonlyArray<string>
  readonly requestMethods: ReadonlyArray<string | undefined>
  readonly signal: string | null
  /** From `process.kill` to the last of the stream, the result and the pending requests settling. */
  readonly settledMs: number
  /** From `process.kill` until the pid no longer runs. */
  readonly goneMs: number
  readonly processGone: boolean
  readonly childrenGone: boolean
  /** From `process.kill` until none of the server's descendants runs (polled up to 10 s). */
  readonly childrenGoneMs: number
  /** A request sent after the death. */
  readonly laterError: string
}

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.flip, Effect.map((error) => ({ error, at: Date.now() })))

/** (a) Kills the real server with SIGKILL while a turn is in flight and three requests are pending. */
export const killMidTurn: Effect.Effect<KillFigures, unknown> = Effect.gen(function*() {
  const mock = yield* MockModel.MockModel
  yield* mock.enqueue(MockModel.stall())
  const codex = yield* Codex.Codex
  const server = yield* AppServer.AppServer
  const pid = server.pid!
  const thread = yield* codex.threadStart({ ephemeral: true })
  const handle = yield* thread.turn("Take your time")
  // The model request has arrived and stalls: the turn is in flight on the server.
  yield* mock.awaitResponsesRequests(1)
  const turnInFlight = !(yield* Effect.map(Effect.timeoutOption(handle.result, "50 millis"), Option.isSome))
  const stream = yield* timed(Stream.runDrain(handle.stream)).pipe(Effect.forkChild)
  const result = yield* timed(handle.result).pipe(Effect.forkChild)
  // Freeze the server so the requests are surely pending when it dies.
  process.kill(pid, "SIGSTOP")
  const requests: ReadonlyArray<Effect.Effect<unknown, Errors.RequestError>> = [
    server.request("model/list", {}),
    server.request("thread/list", {}),
    server.request("thread/read", { threadId: thread.id })
  ]
  const pending = yield* Effect.forEach(requests, (request) => timed(request).pipe(Effect.forkChild))
  yield* Effect.sleep("100 millis")
  const children = descendants(pid)
  const killedAt = Date.now()
  process.kill(pid, "SIGKILL")
  const streamOutcome = yield* Fiber.join(stream)
  const resultOutcome = yield* Fiber.join(result)
  const requestOutcomes = yield* Effect.forEach(pending, Fiber.join)
  const settledAt = Math.max(streamOutcome.at, resultOutcome.at, ...requestOutcomes.map((outcome) => outcome.at))
  while (isRunning(pid) && Date.now() - killedAt < 2000) yield* Effect.sleep("5 millis")
  const goneMs = Date.now() - killedAt
  // codex starts helpers of its own (a login shell snapshotting the environment, in its own session):
  // SIGKILL does not reach them; they must end by themselves.
  while (children.some(isRunning) && Date.now() - killedAt < 10_000) yield* Effect.sleep("10 millis")
  const childrenGoneMs = Date.now() - killedAt
  const later = yield* server.request("model/list", {}).pipe(Effect.flip)
  const exitedSignal = (resultOutcome.error as { signal?: string | null }).signal ?? null
  return {
    pid,
    children,
    turnInFlight,
    pendingRequests: pending.length,
    streamError: streamOutcome.error._tag,
    resultError: resultOutcome.error._tag,
    requestErrors: requestOutcomes.map((outcome) => outcome.error._tag),
    requestMethods: requestOutcomes.map((outcome) => (outcome.error as { method?: string }).method),
    signal: exitedSignal,
    settledMs: settledAt - killedAt,
    goneMs,
    processGone: !isRunning(pid),
    childrenGone: children.every((child) => !isRunning(child)),
    childrenGoneMs,
    laterError: later._tag
  }
}).pipe(Effect.scoped, Effect.provide(CodexTest.layer()), quiet)

// ---------------------------------------------------------------------------
// (b) Garbage flood
// ---------------------------------------------------------------------------

/** What scenario (b) measured. */
export interface GarbageFigures {
  readonly garbageLines: number
  readonly validNotifications: number
  readonly chunks: number
  readonly delivered: number
  readonly deliveredInOrder: boolean
  readonly protocolErrors: number
  /** Protocol errors by reason (the reason's first words). */
  readonly reasons: Readonly<Record<string, number>>
  readonly answeredAfter: boolean
  readonly wallMs: number
}

/**
 * (b) Sends `garbage` garbage lines of seven kinds interleaved with `valid` `warning` notifications, as
 * one text cut into 64 KiB chunks regardless of line ends; counts what arrives.
 */
export const garbageFlood = (garbage = 10_000, valid = 1_000): Effect.Effect<GarbageFigures, unknown> =>
  Effect.gen(function*() {
    const fake = yield* FakeAppServer.FakeAppServer
    const server = yield* AppServer.AppServer
    const kinds = [...Object.values(FakeAppServer.garbage), FakeAppServer.oversizedLine(5000)]
    const lines: Array<string> = []
    const every = Math.max(1, Math.floor(garbage / valid))
    let sentValid = 0
    for (let index = 0; index < garbage; index++) {
      lines.push(kinds[index % kinds.length]!)
      if ((index + 1) % every === 0 && sentValid < valid) {
        lines.push(JSON.stringify({ method: "warning", params: { message: `n${sentValid++}` }, emittedAtMs: 1 }))
      }
    }
    while (sentValid < valid) {
      lines.push(JSON.stringify({ method: "warning", params: { message: `n${sentValid++}` }, emittedAtMs: 1 }))
    }
    const text = `${lines.join("\n")}\n`
    const chunkSize = 64 * 1024

    let errors = 0
    const reasons: Record<string, number> = {}
    yield* server.protocolErrors.pipe(
      Stream.runForEach((error) =>
        Effect.sync(() => {
          errors++
          const key = error.reason.split(/[:\d]/)[0]!.trim()
          reasons[key] = (reasons[key] ?? 0) + 1
        })
      ),
      Effect.forkScoped
    )
    const notes = yield* server.subscribe
    yield* Effect.sleep("10 millis")

    const startedAt = Date.now()
    let chunks = 0
    for (let offset = 0; offset < text.length; offset += chunkSize) {
      yield* fake.sendRaw(text.slice(offset, offset + chunkSize))
      chunks++
    }
    const received = yield* notes.pipe(
      Stream.filter((note) => note.method === "warning"),
      Stream.take(valid),
      Stream.map((note) => (note.params as { message: string }).message),
      Stream.runCollect,
      Effect.timeout("30 seconds")
    )
    while (errors < garbage && Date.now() - startedAt < 30_000) yield* Effect.sleep("1 millis")
    const wallMs = Date.now() - startedAt
    // Nothing more arrives later: the count is exact.
    yield* Effect.sleep("50 millis")
    const models = yield* server.request("model/list", {}, { timeout: "5 seconds" })
    return {
      garbageLines: garbage,
      validNotifications: valid,
      chunks,
      delivered: received.length,
      deliveredInOrder: received.every((message, index) => message === `n${index}`),
      protocolErrors: errors,
      reasons,
      answeredAfter: models.data.length === 1,
      wallMs
    }
  }).pipe(Effect.scoped, Effect.provide(FakeAppServer.layerAppServer({ maxLineLength: 4096 })), quiet)

// ---------------------------------------------------------------------------
// (c) Shuffled answers
// ---------------------------------------------------------------------------

/** What scenario (c) measured. */
export interface ShuffleFigures {
  readonly requests: number
  /** Answers sent in an order different from the requests' (positions that moved). */
  readonly displaced: number
  readonly correlated: number
  readonly distinctIds: number
  readonly wallMs: number
}

/** (c) Sends `count` concurrent `model/list` requests and answers them in a seeded shuffled order. */
export const shuffledAnswers = (count = 1_000): Effect.Effect<ShuffleFigures, unknown> =>
  Effect.gen(function*() {
    const fake = yield* FakeAppServer.FakeAppServer
    const server = yield* AppServer.AppServer
    yield* fake.handle("model/list", () => FakeAppServer.noReply)
    const startedAt = Date.now()
    const calls = yield* Effect.forEach(
      Array.from({ length: count }, (_, index) => index),
      (index) =>
        server.request("model/list", { cursor: `c${index}` }).pipe(
          Effect.map((response) => response.nextCursor === `c${index}`)
        ),
      { concurrency: "unbounded" }
    ).pipe(Effect.forkChild)
    const requests = yield* fake.awaitRequests("model/list", count)
    const order = shuffle(requests)
    for (const request of order) {
      const cursor = (request.params as { cursor: string }).cursor
      yield* fake.respond(request.id, FakeAppServer.result({ data: [], nextCursor: cursor }))
    }
    const correlated = (yield* Fiber.join(calls).pipe(Effect.timeout("30 seconds"))).filter(Boolean).length
    return {
      requests: count,
      displaced: order.filter((request, index) => request.id !== requests[index]!.id).length,
      correlated,
      distinctIds: new Set(requests.map((request) => request.id)).size,
      wallMs: Date.now() - startedAt
    }
  }).pipe(Effect.scoped, Effect.provide(FakeAppServer.layerAppServer()), quiet)

// ---------------------------------------------------------------------------
// (d) Slow consumer
// ---------------------------------------------------------------------------

/** What scenario (d) measured. */
export interface SlowConsumerFigures {
  readonly deltasPerTurn: number
  readonly fastDeltas: number
  readonly slowDeltas: number
  readonly fastEvents: number
  readonly slowEvents: number
  readonly fastStatus: string
  readonly slowStatus: string
  /** Milliseconds from the start of both turns until each consumer has read `turn/completed`. */
  readonly fastMs: number
  readonly slowMs: number
  /** Events the slow consumer had read when the fast one finished. */
  readonly slowReadWhenFastDone: number
  readonly slowSleepMs: number
}

/**
 * (d) Starts a turn on each of two threads (`deltas` deltas each) and reads one stream at full speed
 * and the other sleeping `sleepMs` per event.
 */
export const slowConsumer = (deltas = 2_000, sleepMs = 1): Effect.Effect<SlowConsumerFigures, unknown> =>
  Effect.gen(function*() {
    const fake = yield* FakeAppServer.FakeAppServer
    const codex = yield* Codex.Codex
    const script = { deltas: Array.from({ length: deltas }, (_, index) => `${index} `) }
    yield* fake.enqueueTurn(script, script)
    const fastThread = yield* codex.threadStart()
    const slowThread = yield* codex.threadStart()
    const startedAt = Date.now()
    const slowTurn = yield* slowThread.turn("slow")
    const fastTurn = yield* fastThread.turn("fast")
    let slowRead = 0
    let slowReadWhenFastDone = -1
    const count = (events: ReadonlyArray<Turn.Event>) => ({
      events: events.length,
      deltas: events.filter((event) => event.method === "item/agentMessage/delta").length,
      status: (events.at(-1)?.params as { turn?: { status?: string } } | undefined)?.turn?.status ?? "none"
    })
    const slow = yield* slowTurn.stream.pipe(
      Stream.tap(() => Effect.sleep(`${sleepMs} millis`).pipe(Effect.andThen(Effect.sync(() => slowRead++)))),
      Stream.runCollect,
      Effect.map((events) => ({ ...count(events), at: Date.now() })),
      Effect.forkChild
    )
    const fast = yield* fastTurn.stream.pipe(
      Stream.runCollect,
      Effect.map((events) => ({ ...count(events), at: Date.now() })),
      Effect.tap(() => Effect.sync(() => (slowReadWhenFastDone = slowRead)))
    )
    const slowDone = yield* Fiber.join(slow).pipe(Effect.timeout("60 seconds"))
    return {
      deltasPerTurn: deltas,
      fastDeltas: fast.deltas,
      slowDeltas: slowDone.deltas,
      fastEvents: fast.events,
      slowEvents: slowDone.events,
      fastStatus: fast.status,
      slowStatus: slowDone.status,
      fastMs: fast.at - startedAt,
      slowMs: slowDone.at - startedAt,
      slowReadWhenFastDone,
      slowSleepMs: sleepMs
    }
  }).pipe(Effect.scoped, Effect.provide(FakeAppServer.layerCodex()), quiet)

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

const main = Effect.gen(function*() {
  const rows: Array<[string, string, string]> = []
  const add = (scenario: string, figures: object) => {
    for (const [key, value] of Object.entries(figures)) {
      rows.push([scenario, key, typeof value === "string" ? value : JSON.stringify(value)])
    }
  }
  add("(a) real server SIGKILL mid-turn", yield* killMidTurn)
  add("(b) 10,000 garbage lines", yield* garbageFlood())
  add("(c) 1,000 shuffled answers", yield* shuffledAnswers())
  add("(d) slow consumer, 2 turns", yield* slowConsumer())
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]!.length), 8))
  const line = (row: ReadonlyArray<string>) => `| ${row.map((cell, index) => cell.padEnd(widths[index]!)).join(" | ")} |`
  console.log(line(["scenario", "figure", "value"]))
  console.log(`|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`)
  for (const row of rows) console.log(line(row))
})

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  NodeRuntime.runMain(main)
}
