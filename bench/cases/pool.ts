/**
 * Case 8: CodexPool. `turns` turns over `threads` threads (a thread's turns one after the other, threads side by
 * side: every turn is started at once and the per-thread ordering queues them), on a plain `Codex` (one process)
 * and on pools of the given sizes, each on a fresh `CODEX_HOME` and the same MockModel.
 *
 * Measured from the first `thread/start` (the processes are up) to the last turn done: wall time, and client CPU
 * (`process.cpuUsage()` of this process, which also serves the MockModel: the same work in every configuration).
 * Reported as ratios to the pool of size 1 (the speed-up), and the pool of size 1 against the plain `Codex` (the
 * pool's own overhead). Rounds rotate the order of the configurations; medians.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Codex, CodexPool, NodeCodex } from "effect-codex"
import { MockModel } from "@effect-codex/testing"
import { CODEX_BINARY, median, round, tempDir } from "../lib.js"

interface Measure {
  readonly wallMs: number
  readonly cpuMs: number
}

/** The workload on the `Codex` a layer provides; the processes are started before the clock starts. */
const workload = (
  layer: Layer.Layer<Codex.Codex, unknown>,
  turns: number,
  threads: number
): Effect.Effect<Measure, unknown> =>
  Effect.gen(function*() {
    const codex = yield* Codex.Codex
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const opened = yield* Effect.forEach(Array.from({ length: threads }), () => codex.threadStart(), {
      concurrency: "unbounded"
    })
    const results = yield* Effect.forEach(
      Array.from({ length: turns }, (_, index) => index),
      (index) => opened[index % threads]!.run(`Pool prompt ${index}`),
      { concurrency: "unbounded" }
    )
    const wallMs = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    if (results.some((result) => result.status !== "completed")) throw new Error("7: a turn did not complete")
    return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }
  }).pipe(Effect.provide(layer))

export const run = (options: {
  readonly turns: number
  readonly threads: number
  readonly sizes: ReadonlyArray<number>
  readonly rounds: number
}) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const mock = yield* MockModel.make()
    /** One configuration on a fresh CODEX_HOME: `undefined` is the plain Codex. */
    const measure = (size: number | undefined) =>
      Effect.scoped(Effect.gen(function*() {
        const home = yield* tempDir("home")
        const server = NodeCodex.layerAppServer({ codexPath: CODEX_BINARY, codexHome: home, config: mock.codexConfig })
        const layer = size === undefined ? Codex.layer().pipe(Layer.provide(server)) : CodexPool.layerWith({ size }, server)
        yield* mock.reset
        const result = yield* workload(layer, options.turns, options.threads)
        const requests = (yield* mock.responsesRequests).length
        if (requests !== options.turns) throw new Error(`7: ${requests} model requests, expected ${options.turns}`)
        return result
      }))
    const configurations: Array<number | undefined> = [undefined, ...options.sizes]
    const runs = new Map<number | undefined, Array<Measure>>(configurations.map((size) => [size, []]))
    for (let r = 0; r < options.rounds; r++) {
      for (let i = 0; i < configurations.length; i++) {
        const size = configurations[(r + i) % configurations.length]
        runs.get(size)!.push(yield* measure(size))
      }
    }
    const medianOf = (size: number | undefined, key: keyof Measure) => median(runs.get(size)!.map((m) => m[key]))
    const base = options.sizes[0]!
    /** Median over the rounds of each round's ratio of `size` to `reference`. */
    const ratio = (size: number | undefined, reference: number | undefined, key: keyof Measure) =>
      median(runs.get(size)!.map((m, i) => m[key] / runs.get(reference)![i]![key]))
    return {
      turns: options.turns,
      threads: options.threads,
      rounds: options.rounds,
      plain: { wallMs: round(medianOf(undefined, "wallMs")), cpuMs: round(medianOf(undefined, "cpuMs")) },
      sizes: options.sizes.map((size) => ({
        size,
        wallMs: round(medianOf(size, "wallMs")),
        cpuMs: round(medianOf(size, "cpuMs")),
        /** Wall time and client CPU as ratios to the pool of the first size, same round. */
        wallRatio: round(ratio(size, base, "wallMs"), 3),
        cpuRatio: round(ratio(size, base, "cpuMs"), 3)
      })),
      /** The pool of the first size against the plain Codex, same round: its overhead. */
      overheadWall: round(ratio(base, undefined, "wallMs"), 3),
      overheadCpu: round(ratio(base, undefined, "cpuMs"), 3)
    }
  })))
