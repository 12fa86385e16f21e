/**
 * Case 3: wire decode. A newline-delimited buffer made by repeating the real captured notifications
 * (test/fixtures/captures/*.jsonl) to `total` messages, cut into 64 KiB chunks (what a pipe read delivers),
 * is pushed through an in-memory transport into `RpcPeer` and decoded with `AppServer.decodeNotification`
 * by one subscriber. Clock: first send → last decoded notification received. Baseline: the same chunks,
 * framed by `indexOf("\n")` and `JSON.parse`d. A third row (peer only, no schema decode) splits the cost.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { InMemoryTransport } from "@effect-codex/testing"
import { AppServer, RpcPeer } from "effect-codex"
import { gc, MB, peak, round, startSampler } from "../lib.js"

const CAPTURES = path.resolve(import.meta.dirname, "../../test/fixtures/captures")
export const CHUNK = 64 * 1024

/** Every server→client notification line of the captures (no ids, has a method). */
export const capturedNotifications = (): Array<string> => {
  const lines: Array<string> = []
  for (const file of readdirSync(CAPTURES).sort()) {
    if (!file.endsWith(".jsonl") || file.endsWith(".client.jsonl") || file.endsWith(".timeline.jsonl")) continue
    for (const line of readFileSync(path.join(CAPTURES, file), "utf8").split("\n")) {
      if (line.trim() === "") continue
      const message = JSON.parse(line)
      if (typeof message.method === "string" && message.id === undefined) lines.push(line)
    }
  }
  return lines
}

export const buildChunks = (total: number) => {
  const source = capturedNotifications()
  const lines: Array<string> = []
  for (let i = 0; i < total; i++) lines.push(source[i % source.length]!)
  const buffer = lines.join("\n") + "\n"
  const chunks: Array<string> = []
  for (let i = 0; i < buffer.length; i += CHUNK) chunks.push(buffer.slice(i, i + CHUNK))
  return { chunks, bytes: buffer.length, distinct: source.length }
}

interface Measured {
  readonly ms: number
  readonly count: number
  readonly unknown: number
  readonly heapDeltaMB: number
  readonly rssDeltaMB: number
  readonly peakHeapDeltaMB: number
  readonly peakRssDeltaMB: number
  readonly retainedHeapDeltaMB: number
}

const measure = async (body: () => Promise<{ count: number; unknown: number }>): Promise<Measured> => {
  gc()
  const before = process.memoryUsage()
  const sampler = startSampler(5)
  const t0 = performance.now()
  const { count, unknown } = await body()
  const ms = performance.now() - t0
  const samples = sampler.stop()
  const after = process.memoryUsage()
  gc()
  const retained = process.memoryUsage()
  return {
    ms,
    count,
    unknown,
    heapDeltaMB: round((after.heapUsed - before.heapUsed) / MB, 1),
    rssDeltaMB: round((after.rss - before.rss) / MB, 1),
    peakHeapDeltaMB: round((peak(samples, "heapUsed") - before.heapUsed) / MB, 1),
    peakRssDeltaMB: round((peak(samples, "rss") - before.rss) / MB, 1),
    retainedHeapDeltaMB: round((retained.heapUsed - before.heapUsed) / MB, 1)
  }
}

/** SDK: in-memory transport → RpcPeer → subscriber (→ decodeNotification when `decode`). */
export const sdkRun = (chunks: ReadonlyArray<string>, total: number, decode: boolean) =>
  measure(() =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const { client, server } = yield* InMemoryTransport.make
      const peer = yield* RpcPeer.make(client)
      const subscription = yield* peer.subscribe
      let count = 0
      let unknown = 0
      const consumer = yield* (decode
        ? subscription.pipe(
          Stream.map(AppServer.decodeNotification),
          Stream.take(total),
          Stream.runForEach((notification) =>
            Effect.sync(() => {
              count++
              if (notification._tag === "UnknownNotification") unknown++
            })
          )
        )
        : subscription.pipe(
          Stream.take(total),
          Stream.runForEach(() => Effect.sync(() => void count++))
        )).pipe(Effect.forkChild)
      for (const chunk of chunks) yield* server.send(chunk)
      yield* Fiber.join(consumer)
      return { count, unknown }
    })))
  )

/**
 * Raw: frame the same chunks with indexOf and JSON.parse every line. `paced`: one chunk per macrotask, as a pipe
 * delivers them (and as the SDK reads them), so that the memory sampler runs between chunks as it does for the SDK;
 * the synchronous loop (the throughput baseline) shows the sampler only the heap before and after it.
 */
export const rawRun = (chunks: ReadonlyArray<string>, paced = false) =>
  measure(async () => {
    let count = 0
    let buffer = ""
    for (const chunk of chunks) {
      buffer += chunk
      let start = 0
      let newline: number
      while ((newline = buffer.indexOf("\n", start)) !== -1) {
        const message = JSON.parse(buffer.slice(start, newline))
        if (typeof message.method === "string") count++
        start = newline + 1
      }
      buffer = buffer.slice(start)
      if (paced) await new Promise((resolve) => setImmediate(resolve))
    }
    return { count, unknown: 0 }
  })

const summary = (m: Measured) => ({
  ms: round(m.ms),
  perSecond: Math.round(m.count / (m.ms / 1000)),
  count: m.count,
  unknownNotifications: m.unknown,
  heapDeltaMB: m.heapDeltaMB,
  rssDeltaMB: m.rssDeltaMB,
  peakHeapDeltaMB: m.peakHeapDeltaMB,
  peakRssDeltaMB: m.peakRssDeltaMB,
  retainedHeapDeltaMB: m.retainedHeapDeltaMB
})

export const run = async (total: number, repeats: number) => {
  const { chunks, bytes, distinct } = buildChunks(total)
  // Warm-up (JIT, schema compilation) on a tenth of the data.
  const warm = buildChunks(Math.min(total, 5000)).chunks
  await rawRun(warm)
  await sdkRun(warm, Math.min(total, 5000), true)
  await sdkRun(warm, Math.min(total, 5000), false)
  // Best of `repeats` for each (interleaved), memory from that best run.
  const best = (runs: Array<Measured>) => runs.reduce((a, b) => (b.ms < a.ms ? b : a))
  const sdk: Array<Measured> = []
  const peerOnly: Array<Measured> = []
  const raw: Array<Measured> = []
  const rawPaced: Array<Measured> = []
  for (let i = 0; i < repeats; i++) {
    raw.push(await rawRun(chunks))
    rawPaced.push(await rawRun(chunks, true))
    sdk.push(await sdkRun(chunks, total, true))
    peerOnly.push(await sdkRun(chunks, total, false))
  }
  const s = summary(best(sdk))
  const p = summary(best(peerOnly))
  const r = summary(best(raw))
  const rp = summary(best(rawPaced))
  if (s.count !== total || r.count !== total || p.count !== total) {
    throw new Error(`decode: counted sdk=${s.count} peer=${p.count} raw=${r.count}, expected ${total}`)
  }
  return {
    total,
    bytes,
    distinctNotifications: distinct,
    chunkBytes: CHUNK,
    repeats,
    sdk: s,
    peerOnly: p,
    raw: r,
    /** The raw client fed one chunk per macrotask: its memory is the baseline of the SDK's peak heap. */
    rawPaced: rp,
    ratio: round(s.perSecond / r.perSecond, 3),
    peerOnlyRatio: round(p.perSecond / r.perSecond, 3)
  }
}
