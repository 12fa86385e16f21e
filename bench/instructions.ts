/**
 * Client instructions per turn on the replay server, counted by valgrind (callgrind): a figure that, unlike CPU
 * time, does not move with the load of the machine. Each client (the SDK through a turn driver, and the raw
 * client) runs bench/turnClient.ts under `valgrind --tool=callgrind` on one thread: a warm-up, a full GC, then the
 * measured turns between its two `process.cpuUsage()` calls. Callgrind dumps its counters before every
 * `uv_getrusage` (what `process.cpuUsage()` calls), so the second of its three dumps holds exactly the measured
 * turns: startup, the warm-up and shutdown are out. Reported per turn: the main thread's instructions (JavaScript,
 * JSON parsing, the young-generation GC, libuv) and all threads' (adding V8's concurrent marking, sweeping and
 * compiler threads, whose share depends on when a major GC falls, hence the GC before the window). Valgrind counts
 * user-space instructions only (no kernel time) and does not follow children: the replay server runs natively.
 *
 *   npx tsx bench/instructions.ts [--turns 50] [--warmup 100] [--pause 20] [--driver codex] [--rounds 1]
 *     [--clients sdk,raw] [--keep DIR] [--dist]
 *
 * `--keep DIR` keeps the callgrind files of the measured turns (for `callgrind_annotate`); `--dist` runs the
 * clients on the compiled packages (`npm run build` first), as users run them, instead of the source through tsx.
 *
 * `--pause` is the replay server's pause between groups of lines (`REPLAY_PAUSE_MS`): under valgrind the client
 * runs ~50× slower, so the default (20 ms, not the 1 ms of case 6) keeps each group of lines that codex emitted
 * together a read of its own, as with codex, instead of letting a slow client read a whole turn at once.
 * Node runs with its JIT (valgrind's `--smc-check=all-non-file` sees the code V8 writes). About 3 minutes a client.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { writeLauncher } from "./cases/replay.js"
import { makeTempDir, median, removeAllTempDirs, round } from "./lib.js"
import { type ClientSpec, runInProcess } from "./turnClient.js"

const argv = process.argv.slice(2)
const option = (name: string, fallback: string): string => {
  const i = argv.indexOf(name)
  return i === -1 ? fallback : argv[i + 1]!
}
const turns = Number(option("--turns", "50"))
const warmupTurns = Number(option("--warmup", "100"))
const pauseMs = option("--pause", "20")
const driver = option("--driver", "codex")
const rounds = Number(option("--rounds", "1"))
const clients = option("--clients", "sdk,raw").split(",") as Array<ClientSpec["client"]>
/**
 * Run the clients on the compiled packages (`dist/`, as users run them: `npm run build` first) instead of their
 * TypeScript source through tsx, whose transform wraps every function the SDK makes in a `__name` call.
 */
const dist = argv.includes("--dist")
/** A directory to copy the callgrind files of the measured turns to (for `callgrind_annotate`). */
const keep = option("--keep", "")

/** Total instructions (`Ir`) of one callgrind output file. */
const totalInstructions = (file: string): number => {
  const match = /^(?:summary|totals): (\d+)/m.exec(readFileSync(file, "utf8"))
  if (match === null) throw new Error(`${file}: no summary line`)
  return Number(match[1])
}

/** Instructions per measured turn of one client: on its main thread (JavaScript), and on all its threads. */
interface Count {
  readonly mainThread: number
  readonly allThreads: number
}

/** NODE_OPTIONS without the condition that resolves our packages to their source (.npmrc). */
const withoutSourceCondition = (process.env.NODE_OPTIONS ?? "").replace("--conditions=@effect-codex/source", "").trim()
if (dist && !existsSync(path.resolve(import.meta.dirname, "../packages/effect-codex/dist/index.js"))) {
  throw new Error("--dist: run `npm run build` first")
}

const dir = makeTempDir("instructions")
try {
  const codexPath = writeLauncher(dir)
  let runs = 0
  /** Instructions per measured turn of one client process. */
  const count = async (client: ClientSpec["client"]): Promise<Count> => {
    const out = path.join(dir, `callgrind.${++runs}`)
    await runInProcess(
      {
        client,
        driver,
        codexPath,
        config: [],
        cwd: dir,
        levels: [{ threads: 1, warmupTurns, turns }],
        gcBeforeMeasuring: true
      },
      {
        wrapper: {
          command: "valgrind",
          args: [
            "--tool=callgrind",
            "--smc-check=all-non-file",
            "--separate-threads=yes",
            "--dump-before=uv_getrusage",
            `--callgrind-out-file=${out}`,
            "-q"
          ]
        },
        env: { REPLAY_PAUSE_MS: pauseMs, ...(dist ? { NODE_OPTIONS: withoutSourceCondition } : {}) }
      }
    )
    // Dumps: .1 up to the first cpuUsage (startup, warm-up), .2 the measured turns, then the rest; one file per
    // thread (`-01` the main thread).
    const files = readdirSync(dir).filter((name) => name.startsWith(`callgrind.${runs}.`))
    const measured = files.filter((name) => name.startsWith(`callgrind.${runs}.2-`)).map((name) => path.join(dir, name))
    const main = measured.find((file) => file.endsWith("-01"))
    if (main === undefined || files.some((name) => name.startsWith(`callgrind.${runs}.3`))) {
      throw new Error(`${client}: expected 2 dumps at uv_getrusage, got ${files.join(", ")}`)
    }
    if (keep !== "") {
      mkdirSync(keep, { recursive: true })
      for (const file of measured) copyFileSync(file, path.join(keep, `${client}.${runs}.${path.basename(file)}`))
    }
    return {
      mainThread: totalInstructions(main) / turns,
      allThreads: measured.reduce((sum, file) => sum + totalInstructions(file), 0) / turns
    }
  }
  const perTurn: Record<string, Array<Count>> = {}
  for (let r = 0; r < rounds; r++) {
    for (const client of r % 2 === 0 ? clients : [...clients].reverse()) {
      const value = await count(client)
      ;(perTurn[client] ??= []).push(value)
      process.stderr.write(
        `[instructions] ${client}: ${round(value.mainThread / 1e6, 3)} M per turn on the main thread, ` +
          `${round(value.allThreads / 1e6, 3)} M on all threads\n`
      )
    }
  }
  const summary = (values: ReadonlyArray<Count>) => ({
    mainThread: median(values.map((value) => value.mainThread)),
    allThreads: median(values.map((value) => value.allThreads)),
    byRound: values
  })
  const sdk = perTurn.sdk
  const raw = perTurn.raw
  const ratio = (key: keyof Count) =>
    sdk !== undefined && raw !== undefined ? round(median(sdk.map((value, i) => value[key] / raw[i]![key])), 3) : undefined
  console.log(JSON.stringify(
    {
      turns,
      warmupTurns,
      pauseMs: Number(pauseMs),
      driver,
      packages: dist ? "dist" : "source (tsx)",
      rounds,
      ...Object.fromEntries(Object.entries(perTurn).map(([client, values]) => [client, summary(values)])),
      ratio: { mainThread: ratio("mainThread"), allThreads: ratio("allThreads") }
    },
    null,
    2
  ))
} finally {
  removeAllTempDirs()
}
