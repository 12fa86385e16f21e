/**
 * Case 5: long stream. One turn whose model reply is streamed as `deltas` tiny `response.output_text.delta`
 * events (MockModel.text with `deltas`); the client counts the `item/agentMessage/delta` notifications it
 * receives. Throughput (deltas/s from turn/start to turn/completed, and first → last delta), this process's
 * RSS/heap and the codex server's RSS sampled during the stream. The same turn through the raw client shows
 * how fast codex itself emits (if both are equal, codex is the bottleneck, not the client).
 * Also measured: how fast MockModel serves that reply to a plain HTTP reader (is the mock fast enough?).
 */
import * as Effect from "effect/Effect"
import { MockModel } from "@effect-codex/testing"
import { type DriverOptions, type TurnDriver } from "../drivers.js"
import { rawServer } from "../rawClient.js"
import { CODEX_BINARY, gc, MB, type MemorySample, peak, round, startSampler, tempDir } from "../lib.js"
import { runInProcess } from "../turnClient.js"
import type * as Scope from "effect/Scope"

type MakeDriver = (options: DriverOptions) => Effect.Effect<TurnDriver, unknown, Scope.Scope>

const deltaTexts = (n: number) => Array.from({ length: n }, (_, i) => (i % 10 === 9 ? "x\n" : "x "))

const reply = (n: number) => {
  const deltas = deltaTexts(n)
  return MockModel.text(deltas.join(""), { deltas })
}

/** RSS trend during the stream: values in MB at 10%, 50%, 90% of the samples between first and last delta. */
const trend = (samples: ReadonlyArray<MemorySample>, from: number, to: number, key: "rss" | "heapUsed" | "childRss") => {
  const inside = samples.filter((s) => s.t >= from && s.t <= to)
  const at = (q: number) => {
    const s = inside[Math.min(inside.length - 1, Math.floor(q * (inside.length - 1)))]
    return s === undefined ? null : round((s[key] ?? 0) / MB, 1)
  }
  return { samples: inside.length, p10MB: at(0.1), p50MB: at(0.5), p90MB: at(0.9), maxMB: round(peak(inside, key) / MB, 1) }
}

/** How long MockModel takes to serve the whole reply to a plain HTTP reader on loopback. */
const mockServeRate = (n: number) =>
  Effect.scoped(Effect.gen(function*() {
    const mock = yield* MockModel.make()
    yield* mock.enqueue(reply(n))
    return yield* Effect.promise(async () => {
      const t0 = performance.now()
      const response = await fetch(`${mock.baseUrl}/responses`, { method: "POST", body: "{}" })
      const body = await response.text()
      const ms = performance.now() - t0
      return { ms: round(ms), eventsPerSecond: Math.round((n + 4) / (ms / 1000)), bytes: body.length }
    })
  }))

export const run = (n: number, makeDriver: MakeDriver, driverName: string) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const mockServe = yield* mockServeRate(n)

    // --- SDK driver
    const mock = yield* MockModel.make()
    const cwd = yield* tempDir("cwd")
    const driver = yield* makeDriver({ config: mock.codexConfig, cwd })
    const threadId = yield* driver.startThread
    yield* mock.enqueue(reply(n))
    gc()
    const sampler = startSampler(50, () => driver.pid)
    const t0 = performance.now()
    const outcome = yield* driver.runTurn(threadId, "Stream a long answer.")
    const t1 = performance.now()
    const samples = sampler.stop()
    // Sample times are relative to the sampler start (≈ t0).
    const first = outcome.firstDeltaAt - t0
    const last = outcome.lastDeltaAt - t0
    if (outcome.status !== "completed") throw new Error(`5: turn ${outcome.status}`)

    // --- raw client, same turn
    const rawCwd = yield* tempDir("cwd")
    const raw = yield* rawServer({ config: mock.codexConfig, cwd: rawCwd })
    yield* mock.enqueue(reply(n))
    const rawResult = yield* Effect.promise(async () => {
      const thread = await raw.request("thread/start", { cwd: rawCwd })
      const threadId: string = thread.thread.id
      let deltas = 0
      let firstAt = Number.NaN
      let lastAt = Number.NaN
      const t0 = performance.now()
      let turnId: string | undefined
      let status = "unknown"
      await new Promise<void>((resolve) => {
        const off = raw.onNotification((message) => {
          if (message.params?.threadId !== threadId) return
          if (message.method === "item/agentMessage/delta") {
            deltas++
            lastAt = performance.now()
            if (deltas === 1) firstAt = lastAt
          } else if (message.method === "turn/completed" && (turnId === undefined || message.params.turn.id === turnId)) {
            status = message.params.turn.status
            off()
            resolve()
          }
        })
        raw.request("turn/start", { threadId, input: [{ type: "text", text: "Stream a long answer." }] }).then((r) => {
          turnId = r.turn.id
        })
      })
      const ms = performance.now() - t0
      return { ms, deltas, firstAt, lastAt, status }
    })

    // --- memory, each client in a process of its own (bench/turnClient.ts), same turn: the bench process above
    // also holds MockModel and every case before this one, so its RSS says little about a client.
    const own = (client: "sdk" | "raw") =>
      Effect.gen(function*() {
        const ownCwd = yield* tempDir("cwd")
        yield* mock.enqueue(reply(n))
        return yield* Effect.promise(() =>
          runInProcess({
            client,
            driver: driverName,
            codexPath: CODEX_BINARY,
            config: mock.codexConfig,
            cwd: ownCwd,
            levels: [{ threads: 1, warmupTurns: 0, turns: 1 }],
            sampleMemory: true
          })
        ).pipe(Effect.map((result) => result.levels[0]!.memory!))
      })
    const sdkOwn = yield* own("sdk")
    const rawOwn = yield* own("raw")

    const sdkMs = t1 - t0
    const sdkStreamMs = last - first
    const rawStreamMs = rawResult.lastAt - rawResult.firstAt
    return {
      deltasSent: n,
      driver: driver.name,
      mockServe,
      sdk: {
        deltasReceived: outcome.deltas,
        turnMs: round(sdkMs),
        streamMs: round(sdkStreamMs),
        deltasPerSecond: Math.round(outcome.deltas / (sdkMs / 1000)),
        streamDeltasPerSecond: Math.round(outcome.deltas / (sdkStreamMs / 1000)),
        rss: trend(samples, first, last, "rss"),
        heap: trend(samples, first, last, "heapUsed"),
        codexRss: trend(samples, first, last, "childRss"),
        rssBeforeMB: round(samples[0]!.rss / MB, 1)
      },
      raw: {
        deltasReceived: rawResult.deltas,
        status: rawResult.status,
        turnMs: round(rawResult.ms),
        streamMs: round(rawStreamMs),
        deltasPerSecond: Math.round(rawResult.deltas / (rawResult.ms / 1000)),
        streamDeltasPerSecond: Math.round(rawResult.deltas / (rawStreamMs / 1000))
      },
      ratio: round((outcome.deltas / sdkMs) / (rawResult.deltas / rawResult.ms), 3),
      /** RSS and heap of each client's own process during the turn; the ratio is of the median RSS. */
      ownProcess: { sdk: sdkOwn, raw: rawOwn, rssRatio: round(sdkOwn.rssP50MB / rawOwn.rssP50MB, 3) }
    }
  })))
