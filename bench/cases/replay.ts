/**
 * Case 6: client CPU per turn on a replay server (bench/replayServer.ts: captured real codex traffic of a text
 * turn, fresh ids per thread and turn), so that neither codex nor the model shares the cores with the client.
 * At each concurrency level c (1, 10, 100): c threads each run turns in sequence, all threads at once (c turns
 * in flight), after a warm-up; the client's CPU (its own process, bench/turnClient.ts) over the measured turns,
 * per turn. One client process per client and round runs every level, the levels in a rotated order per
 * round, the clients (the SDK, the raw client, and the raw client with its events as an Effect `Stream`) in a
 * rotated order too; medians over the rounds of the SDK / raw ratio and of each client's CPU per turn at c
 * against its own at 1 (the same process, so paired).
 */
import { writeFileSync } from "node:fs"
import * as path from "node:path"
import { makeTempDir, median, removeTempDir, round } from "../lib.js"
import { type ClientResult, type Level, runInProcess } from "../turnClient.js"

/** The replay server script, started by a launcher with this process's Node (the server runs without tsx). */
const REPLAY_SERVER = path.resolve(import.meta.dirname, "../replayServer.ts")

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`

/** An executable that starts the replay server (what `codexPath` and the raw client's binary point to). */
export const writeLauncher = (dir: string): string => {
  const launcher = path.join(dir, "replay-app-server")
  writeFileSync(launcher, `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(REPLAY_SERVER)} "$@"\n`, {
    mode: 0o755
  })
  return launcher
}

export interface Options {
  /** Concurrency levels (turns in flight, one per thread); the first is the reference of the flatness ratio. */
  readonly levels: ReadonlyArray<number>
  /** Measured turns per level (divided among its threads). */
  readonly turns: number
  /** Warm-up turns per level before measuring (at least one per thread). */
  readonly warmupTurns: number
  readonly rounds: number
  readonly driver: string
}

export const run = async (options: Options) => {
  const dir = makeTempDir("replay")
  try {
    const codexPath = writeLauncher(dir)
    const level = (threads: number): Level => ({
      threads,
      warmupTurns: Math.max(1, Math.ceil(options.warmupTurns / threads)),
      turns: Math.max(1, Math.round(options.turns / threads))
    })
    const runs = { sdk: [] as Array<ClientResult>, raw: [] as Array<ClientResult>, rawStream: [] as Array<ClientResult> }
    const order = ["sdk", "raw", "rawStream"] as const
    for (let r = 0; r < options.rounds; r++) {
      const k = r % options.levels.length
      const levels = [...options.levels.slice(k), ...options.levels.slice(0, k)].map(level)
      const spec = { driver: options.driver, codexPath, config: [], cwd: dir, levels }
      // The clients in a rotated order: each starts a round once in three rounds.
      const c = r % order.length
      for (const client of [...order.slice(c), ...order.slice(0, c)]) runs[client].push(await runInProcess({ ...spec, client }))
    }
    const { sdk, raw, rawStream } = runs
    /** CPU per turn of a run at `threads` concurrent turns. */
    const cpu = (run: ClientResult, threads: number) => run.levels.find((l) => l.threads === threads)!.cpuMsPerTurn
    const wallPerTurn = (run: ClientResult, threads: number) => {
      const l = run.levels.find((l) => l.threads === threads)!
      return l.wallMs / l.turns
    }
    const base = options.levels[0]!
    return {
      driver: sdk[0]?.client,
      rounds: options.rounds,
      turnsPerLevel: options.turns,
      levels: options.levels.map((threads) => ({
        concurrent: threads,
        measuredTurns: level(threads).turns * threads,
        sdkCpuMsPerTurn: round(median(sdk.map((run) => cpu(run, threads))), 3),
        sdkCpuMsPerTurnByRound: sdk.map((run) => round(cpu(run, threads), 3)),
        rawCpuMsPerTurn: round(median(raw.map((run) => cpu(run, threads))), 3),
        rawCpuMsPerTurnByRound: raw.map((run) => round(cpu(run, threads), 3)),
        /** Median of each round's SDK / raw CPU per turn. */
        ratio: round(median(sdk.map((run, i) => cpu(run, threads) / cpu(raw[i]!, threads))), 3),
        /** Median of each round's CPU per turn at this level / at the first level, same process. */
        sdkVsBase: round(median(sdk.map((run) => cpu(run, threads) / cpu(run, base))), 3),
        rawVsBase: round(median(raw.map((run) => cpu(run, threads) / cpu(run, base))), 3),
        /** The raw client with its events as an Effect `Stream` (bench/turnClient.ts): the floor of an Effect streaming API. */
        rawStreamCpuMsPerTurn: round(median(rawStream.map((run) => cpu(run, threads))), 3),
        /** Median of each round's raw-client-as-a-Stream / raw CPU per turn. */
        rawStreamRatio: round(median(rawStream.map((run, i) => cpu(run, threads) / cpu(raw[i]!, threads))), 3),
        sdkWallMsPerTurn: round(median(sdk.map((run) => wallPerTurn(run, threads))), 3),
        rawWallMsPerTurn: round(median(raw.map((run) => wallPerTurn(run, threads))), 3)
      }))
    }
  } finally {
    removeTempDir(dir)
  }
}
