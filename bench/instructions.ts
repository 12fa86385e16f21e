/**
 * Client instructions per turn on the replay server, counted by valgrind (callgrind): a figure that, unlike CPU
 * time, does not move with the load of the machine. Each client (the SDK through a turn driver, and the raw
 * client) runs bench/turnClient.ts under `valgrind --tool=callgrind` on one thread: a warm-up, then the measured
 * turns between its two `process.cpuUsage()` calls. Callgrind dumps its counters before every `uv_getrusage`
 * (what `process.cpuUsage()` calls), so the second of its three dumps holds exactly the measured turns: startup,
 * the warm-up and shutdown are out. Every thread of the client process is counted (JavaScript, GC and compiler
 * threads, libuv), as `process.cpuUsage()` does; valgrind does not follow its children (the replay server runs
 * natively).
 *
 *   npx tsx bench/instructions.ts [--turns 20] [--warmup 20] [--pause 20] [--driver codex] [--rounds 1]
 *     [--clients sdk,raw] [--keep DIR]   (DIR: the callgrind files of the measured turns, for callgrind_annotate)
 *
 * `--pause` is the replay server's pause between groups of lines (`REPLAY_PAUSE_MS`): under valgrind the client
 * runs ~50× slower, so the default (20 ms, not the 1 ms of case 6) keeps each group of lines that codex emitted
 * together a read of its own, as with codex, instead of letting a slow client read a whole turn at once.
 * Node runs with its JIT (valgrind's `--smc-check=all-non-file` sees the code V8 writes).
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { writeLauncher } from "./cases/replay.js"
import { makeTempDir, median, removeAllTempDirs, round } from "./lib.js"
import { type ClientSpec, runInProcess } from "./turnClient.js"

const argv = process.argv.slice(2)
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(name)
  return i === -1 ? fallback : argv[i + 1]!
}
const turns = Number(option("--turns", "20"))
const warmupTurns = Number(option("--warmup", "20"))
const pauseMs = option("--pause", "20")
const driver = option("--driver", "codex")
const rounds = Number(option("--rounds", "1"))
const clients = option("--clients", "sdk,raw").split(",") as Array<ClientSpec["client"]>
/** A directory to copy the callgrind files of the measured turns to (for `callgrind_annotate`). */
const keep = option("--keep", "")

/** Total instructions (`Ir`) of one callgrind output file. */
const totalInstructions = (file: string): number => {
  const match = /^(?:summary|totals): (\d+)/m.exec(readFileSync(file, "utf8"))
  if (match === null) throw new Error(`${file}: no summary line`)
  return Number(match[1])
}

const dir = makeTempDir("instructions")
try {
  const codexPath = writeLauncher(dir)
  let runs = 0
  /** Instructions per measured turn of one client process. */
  const count = async (client: ClientSpec["client"]): Promise<number> => {
    const out = path.join(dir, `callgrind.${++runs}`)
    await runInProcess(
      { client, driver, codexPath, config: [], cwd: dir, levels: [{ threads: 1, warmupTurns, turns }] },
      {
        wrapper: {
          command: "valgrind",
          args: ["--tool=callgrind", "--smc-check=all-non-file", "--dump-before=uv_getrusage", `--callgrind-out-file=${out}`, "-q"]
        },
        env: { REPLAY_PAUSE_MS: pauseMs }
      }
    )
    // Dumps: .1 up to the first cpuUsage (startup, warm-up), .2 the measured turns, then the rest.
    const dumps = readdirSync(dir).filter((name) => name.startsWith(`callgrind.${runs}.`))
    if (dumps.length !== 2) throw new Error(`${client}: expected 2 dumps at uv_getrusage, got ${dumps.join(", ")}`)
    if (keep !== "") {
      mkdirSync(keep, { recursive: true })
      copyFileSync(`${out}.2`, path.join(keep, `callgrind.${client}.${runs}`))
    }
    return totalInstructions(`${out}.2`) / turns
  }
  const perTurn: Record<string, Array<number>> = {}
  for (let r = 0; r < rounds; r++) {
    for (const client of r % 2 === 0 ? clients : [...clients].reverse()) {
      const value = await count(client)
      ;(perTurn[client] ??= []).push(value)
      process.stderr.write(`[instructions] ${client}: ${round(value / 1e6, 3)} M per turn\n`)
    }
  }
  const result = Object.fromEntries(Object.entries(perTurn).map(([client, values]) => [client, {
    instructionsPerTurn: median(values),
    byRound: values
  }]))
  const sdk = perTurn.sdk
  const raw = perTurn.raw
  console.log(JSON.stringify({
    turns,
    warmupTurns,
    pauseMs: Number(pauseMs),
    driver,
    rounds,
    ...result,
    ...(sdk !== undefined && raw !== undefined
      ? { ratio: round(median(sdk.map((value, i) => value / raw[i]!)), 3) }
      : {})
  }, null, 2))
} finally {
  removeAllTempDirs()
}
