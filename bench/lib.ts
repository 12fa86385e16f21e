/**
 * Shared helpers of the benchmark: statistics, temp dirs, memory sampling, process bookkeeping.
 */
import * as Effect from "effect/Effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import * as v8 from "node:v8"
import * as vm from "node:vm"

/** The pinned codex binary (0.169.0); both the SDK and every baseline use exactly this file. */
export const CODEX_BINARY = path.resolve(
  import.meta.dirname,
  "../node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
)

export const median = (values: ReadonlyArray<number>): number => percentile(values, 50)

/** Nearest-rank percentile. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

export const mean = (values: ReadonlyArray<number>): number =>
  values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length

export const round = (value: number, digits = 2): number => {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

export const MB = 1024 * 1024

/** Every temp dir made by the bench, removed at the end even when a case fails. */
const tempDirs = new Set<string>()

export const makeTempDir = (prefix: string): string => {
  const dir = mkdtempSync(path.join(tmpdir(), `effect-codex-bench-${prefix}-`))
  tempDirs.add(dir)
  return dir
}

export const removeTempDir = (dir: string): void => {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 })
  tempDirs.delete(dir)
}

export const removeAllTempDirs = (): void => {
  for (const dir of [...tempDirs]) removeTempDir(dir)
}

/** A fresh directory for the scope (a fresh `CODEX_HOME` per server). */
export const tempDir = (prefix: string) =>
  Effect.acquireRelease(Effect.sync(() => makeTempDir(prefix)), (dir) => Effect.sync(() => removeTempDir(dir)))

/** `global.gc`, enabled at runtime (the bench is started by `tsx` without `--expose-gc`). */
v8.setFlagsFromString("--expose-gc")
const gcFunction = vm.runInNewContext("gc") as () => void
export const gc = (): void => {
  gcFunction()
  gcFunction()
}

/** Resident set of another process from /proc (current and peak, bytes); undefined when gone. */
export const procRss = (pid: number | undefined): { rss: number; hwm: number } | undefined => {
  if (pid === undefined) return undefined
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") }
  } catch {
    return undefined
  }
}

export interface MemorySample {
  readonly t: number
  readonly rss: number
  readonly heapUsed: number
  readonly childRss?: number
}

/** Samples this process's RSS/heap (and optionally a child's RSS) on a timer until stopped. */
export const startSampler = (intervalMs: number, childPid?: () => number | undefined) => {
  const samples: Array<MemorySample> = []
  const t0 = performance.now()
  const take = () => {
    const memory = process.memoryUsage()
    const child = procRss(childPid?.())
    samples.push({
      t: performance.now() - t0,
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      ...(child === undefined ? {} : { childRss: child.rss })
    })
  }
  take()
  const timer = setInterval(take, intervalMs)
  return {
    samples,
    stop: (): ReadonlyArray<MemorySample> => {
      clearInterval(timer)
      take()
      return samples
    }
  }
}

export const peak = (samples: ReadonlyArray<MemorySample>, key: "rss" | "heapUsed" | "childRss"): number =>
  samples.reduce((max, s) => Math.max(max, s[key] ?? 0), 0)

/** Processes the bench spawned, checked at the end: none may survive. */
const spawned = new Set<number>()
export const trackPid = (pid: number | undefined): void => {
  if (pid !== undefined) spawned.add(pid)
}

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Kills (SIGKILL) whatever the bench spawned that is still alive; returns those pids. */
export const reapSpawned = (): Array<number> => {
  const survivors: Array<number> = []
  for (const pid of spawned) {
    if (isAlive(pid)) {
      survivors.push(pid)
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // gone meanwhile
      }
    }
  }
  spawned.clear()
  return survivors
}

/** Runs a promise-returning function and returns its duration in ms. */
export const timeAsync = async (f: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now()
  await f()
  return performance.now() - t0
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
