/**
 * effect-codex benchmark: `npm run bench` (full) or `npm run bench -- --quick` (tiny N, for CI).
 *
 *   --quick              tiny N everywhere (well under a minute)
 *   --only a,b           run only these cases: handshake, roundtrip, decode, turns, concurrent, stream, replay, tools, pool,
 *                        cluster, ask, asks, chaos
 *   --driver NAME        turn driver for cases 4-6 (default: codex, the public API; or appserver, pool; see bench/drivers.ts)
 *   --no-write           do not write bench/results/
 *
 * Prints a table and PASS/MISS per target, writes bench/results/<timestamp>.json and latest.json.
 * Everything runs offline: real codex binary (pinned), MockModel on 127.0.0.1, a fresh CODEX_HOME per server.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { drivers } from "./drivers.js"
import * as Ask from "./cases/ask.js"
import * as Asks from "./cases/asks.js"
import * as Chaos from "./cases/chaos.js"
import * as Cluster from "./cases/cluster.js"
import * as Decode from "./cases/decode.js"
import * as Handshake from "./cases/handshake.js"
import * as Pool from "./cases/pool.js"
import * as Replay from "./cases/replay.js"
import * as Roundtrip from "./cases/roundtrip.js"
import * as Stream from "./cases/stream.js"
import * as Tools from "./cases/tools.js"
import * as Turns from "./cases/turns.js"
import { CODEX_BINARY, reapSpawned, removeAllTempDirs } from "./lib.js"

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(name)
const option = (name: string): string | undefined => {
  const i = argv.indexOf(name)
  return i === -1 ? undefined : argv[i + 1]
}
const quick = flag("--quick")
const ALL = ["handshake", "roundtrip", "decode", "turns", "concurrent", "stream", "replay", "tools", "pool", "cluster", "ask", "asks", "chaos"] as const
const only = option("--only")?.split(",") ?? [...ALL]
const driverName = option("--driver") ?? "codex"
const makeDriver = drivers[driverName]
if (makeDriver === undefined) throw new Error(`unknown driver ${driverName}; known: ${Object.keys(drivers).join(", ")}`)

const N = quick
  ? { handshake: 2, roundtrip: 20, decode: 10_000, decodeRepeats: 1, turns: 3, turnRounds: 1, concurrent: 5, stream: 2_000, replayTurns: 100, replayWarmup: 20, replayRounds: 1, tools: 3, poolTurns: 12, poolThreads: 4, poolRounds: 1, clusterTurns: 3, clusterRounds: 1, asksRequests: 3, loadSeconds: 5, chaosKills: 1, clusterLongTurns: 12, clusterBigMB: 2 }
  : { handshake: 10, roundtrip: 1_000, decode: 100_000, decodeRepeats: 3, turns: 20, turnRounds: 3, concurrent: 50, stream: 100_000, replayTurns: 300, replayWarmup: 100, replayRounds: 3, tools: 20, poolTurns: 60, poolThreads: 20, poolRounds: 3, clusterTurns: 20, clusterRounds: 3, asksRequests: 30, loadSeconds: 30, chaosKills: 6, clusterLongTurns: 400, clusterBigMB: 100 }
/** Pool sizes of case 8; the first is the reference of the speed-up. */
const POOL_SIZES = [1, 2, 4]
/** Concurrent turns (one per thread) at which case 6 measures client CPU per turn; the first is the reference. */
const REPLAY_LEVELS = [1, 10, 100]

/** Direct children of this process still alive (covers `codex exec` spawned by @openai/codex-sdk too). */
const liveChildren = (): Array<number> => {
  const pids: Array<number> = []
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8")
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1])
      const state = /^State:\s+(\S)/m.exec(status)?.[1]
      if (ppid === process.pid && state !== "Z") pids.push(Number(entry))
    } catch {
      // gone
    }
  }
  return pids
}

/** Children that exist before any case (tsx's esbuild service): not ours to judge or kill. */
const preexisting = new Set(liveChildren())
const newChildren = () => liveChildren().filter((pid) => !preexisting.has(pid))

const results: Record<string, unknown> = {}
const errors: Record<string, string> = {}

const step = async <A>(name: (typeof ALL)[number], f: () => Promise<A>): Promise<A | undefined> => {
  if (!only.includes(name)) return undefined
  const t0 = performance.now()
  process.stderr.write(`[bench] ${name} ...`)
  try {
    const value = await f()
    results[name] = value
    process.stderr.write(` ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
    return value
  } catch (error) {
    errors[name] = String(error instanceof Error ? error.stack ?? error.message : error)
    process.stderr.write(` FAILED: ${errors[name]}\n`)
    return undefined
  } finally {
    const leaked = newChildren()
    if (leaked.length > 0) {
      process.stderr.write(`[bench] ${name}: child processes still alive after the case: ${leaked.join(", ")}\n`)
    }
  }
}

const started = new Date()
const loadAtStart = os.loadavg()
const handshake = await step("handshake", () => Handshake.run(N.handshake))
const roundtrip = await step("roundtrip", () => Roundtrip.run(N.roundtrip))
const decode = await step("decode", () => Decode.run(N.decode, N.decodeRepeats))
const turns = await step("turns", () => Turns.sequential(N.turns, N.turnRounds, driverName))
const concurrent = await step("concurrent", () => Turns.concurrent(N.concurrent, makeDriver))
const stream = await step("stream", () => Stream.run(N.stream, makeDriver, driverName))
const replay = await step("replay", () =>
  Replay.run({ levels: REPLAY_LEVELS, turns: N.replayTurns, warmupTurns: N.replayWarmup, rounds: N.replayRounds, driver: driverName }))
const tools = await step("tools", () => Tools.run(N.tools))
const pool = await step("pool", () =>
  Pool.run({ turns: N.poolTurns, threads: N.poolThreads, sizes: POOL_SIZES, rounds: N.poolRounds }))
const cluster = await step("cluster", () => Cluster.run({ turns: N.clusterTurns, rounds: N.clusterRounds, runners: 3, longTurns: N.clusterLongTurns, answerBytes: 20_000, bigMB: N.clusterBigMB }))
const ask = await step("ask", () => Ask.run(quick ? 3 : 30))
const asks = await step("asks", () => Asks.run({ requests: N.asksRequests, runners: 2 }))
const chaos = await step("chaos", () => Chaos.run({ loadSeconds: N.loadSeconds, kills: N.chaosKills }))

// Nothing may survive the bench.
const stillAlive = newChildren()
for (const pid of stillAlive) {
  try {
    process.kill(pid, "SIGKILL")
  } catch {
    // gone meanwhile
  }
}
const survivors = [...new Set([...reapSpawned(), ...stillAlive])]
removeAllTempDirs()

// ---------------------------------------------------------------------------
// Table and targets
// ---------------------------------------------------------------------------

type Row = [string, string, string, string, string]
const rows: Array<Row> = []
const targets: Array<{ name: string; target: string; value: number | null; pass: boolean | null }> = []
const target = (name: string, text: string, value: number | undefined, pass: (v: number) => boolean) => {
  const v = value === undefined || Number.isNaN(value) ? null : value
  targets.push({ name, target: text, value: v, pass: v === null ? null : pass(v) })
}
const fmt = (x: number, digits = 2) => x.toLocaleString("en-US", { maximumFractionDigits: digits })
const status = (pass: boolean | undefined) => (pass === undefined ? "" : pass ? "PASS" : "MISS")

if (handshake) {
  const pass = handshake.ratio <= 1.05
  rows.push([`1 handshake: spawn → initialize (median of ${handshake.n})`, `${fmt(handshake.sdkMedianMs)} ms`, `${fmt(handshake.rawMedianMs)} ms`, `${fmt(handshake.ratio, 3)}×`, `${status(pass)} (≤ 1.05×)`])
  target("handshake", "SDK ≤ 1.05 × raw", handshake.ratio, (v) => v <= 1.05)
}
if (roundtrip) {
  const pass = roundtrip.ratioP50 <= 1.1
  rows.push([`2 round trip ${roundtrip.method} p50 (n=${roundtrip.n})`, `${fmt(roundtrip.sdkP50Ms, 3)} ms`, `${fmt(roundtrip.rawP50Ms, 3)} ms`, `${fmt(roundtrip.ratioP50, 3)}×`, `${status(pass)} (≤ 1.1×)`])
  rows.push([`2 round trip ${roundtrip.method} p99`, `${fmt(roundtrip.sdkP99Ms, 3)} ms`, `${fmt(roundtrip.rawP99Ms, 3)} ms`, `${fmt(roundtrip.ratioP99, 3)}×`, ""])
  rows.push([`2 round trip p50 over ws (remote transport) / SDK over stdio`, `${fmt(roundtrip.wsP50Ms, 3)} ms`, `${fmt(roundtrip.sdkP50Ms, 3)} ms (SDK, stdio)`, `${fmt(roundtrip.wsRatioP50, 3)}×`, ""])
  target("roundtrip", "SDK p50 ≤ 1.1 × raw p50", roundtrip.ratioP50, (v) => v <= 1.1)
}
if (decode) {
  const pass = decode.ratio >= 0.6
  rows.push([`3 decode ${fmt(decode.total)} notifications (${fmt(decode.bytes / 1024 / 1024, 1)} MB)`, `${fmt(decode.sdk.perSecond, 0)}/s`, `${fmt(decode.raw.perSecond, 0)}/s`, `${fmt(decode.ratio, 3)}×`, `${status(pass)} (≥ 0.6×)`])
  rows.push([`3 decode: peer only, no schema decode`, `${fmt(decode.peerOnly.perSecond, 0)}/s`, "", `${fmt(decode.peerOnlyRatio, 3)}×`, ""])
  const heapRatio = decode.sdk.peakHeapDeltaMB / decode.rawPaced.peakHeapDeltaMB
  rows.push([`3 decode: peak heap / RSS delta (raw: one chunk per macrotask)`, `${decode.sdk.peakHeapDeltaMB} / ${decode.sdk.peakRssDeltaMB} MB`, `${decode.rawPaced.peakHeapDeltaMB} / ${decode.rawPaced.peakRssDeltaMB} MB`, `${fmt(heapRatio, 3)}×`, `${status(heapRatio <= 2)} (heap ≤ 2×)`])
  rows.push([`3 decode: raw one chunk per macrotask (throughput, and the heap of the synchronous loop)`, "", `${fmt(decode.rawPaced.perSecond, 0)}/s, sync loop ${decode.raw.peakHeapDeltaMB} MB`, "", ""])
  rows.push([`3 decode: heap retained after GC`, `${decode.sdk.retainedHeapDeltaMB} MB`, `${decode.rawPaced.retainedHeapDeltaMB} MB`, "", ""])
  target("decode", "SDK ≥ 0.6 × raw JSON.parse", decode.ratio, (v) => v >= 0.6)
  target("decodeHeap", "SDK peak heap ≤ 2 × raw's", heapRatio, (v) => v <= 2)
}
if (turns) {
  const pass = turns.speedup >= 3
  rows.push([`4a ${turns.n} sequential turns, one thread (total, median of ${turns.rounds})`, `${fmt(turns.sdkTotalMs, 0)} ms`, `${fmt(turns.codexSdkTotalMs, 0)} ms (codex-sdk)`, `${fmt(turns.speedup, 2)}× faster`, `${status(pass)} (≥ 3×)`])
  rows.push([`4a mean turn`, `${fmt(turns.sdkMeanTurnMs)} ms`, `${fmt(turns.codexSdkMeanTurnMs)} ms (codex-sdk)`, "", ""])
  rows.push([`4a the same through the raw client (ceiling)`, `${fmt(turns.rawTotalMs, 0)} ms, turn ${fmt(turns.rawMeanTurnMs)} ms`, `${fmt(turns.codexSdkTotalMs, 0)} ms (codex-sdk)`, `${fmt(turns.rawSpeedup, 2)}× faster`, ""])
  target("turns", "SDK ≥ 3 × faster than @openai/codex-sdk", turns.speedup, (v) => v >= 3)
  const cpuPass = turns.cpuRatio <= 1.3
  rows.push([`4a client CPU per warm turn (last ${turns.cpuTurns}, own process, median of ${turns.rounds})`, `${fmt(turns.sdkCpuMsPerTurn, 3)} ms`, `${fmt(turns.rawCpuMsPerTurn, 3)} ms`, `${fmt(turns.cpuRatio, 3)}×`, `${status(cpuPass)} (≤ 1.3×)`])
  target("turnsCpu", "SDK client CPU per warm turn on codex ≤ 1.3 × raw", turns.cpuRatio, (v) => v <= 1.3)
}
if (concurrent) {
  rows.push([`4b ${concurrent.n} concurrent turns on ${concurrent.n} threads (wall)`, `${fmt(concurrent.turnsWallMs, 0)} ms`, `${fmt(concurrent.rawTurnsWallMs, 0)} ms`, `${fmt(concurrent.turnsRatio, 3)}×`, ""])
  rows.push([`4b ${concurrent.n} concurrent thread/start (wall)`, `${fmt(concurrent.threadStartWallMs, 0)} ms`, `${fmt(concurrent.rawThreadStartWallMs, 0)} ms`, "", ""])
  rows.push([`4b peak RSS (node / codex)`, `${concurrent.peakRssMB} / ${concurrent.codexPeakRssMB} MB`, "", "", ""])
}
if (stream) {
  rows.push([`5 stream ${fmt(stream.deltasSent)} deltas: received`, `${fmt(stream.sdk.deltasReceived)}`, `${fmt(stream.raw.deltasReceived)}`, "", ""])
  rows.push([`5 stream throughput (turn/start → completed)`, `${fmt(stream.sdk.deltasPerSecond, 0)}/s`, `${fmt(stream.raw.deltasPerSecond, 0)}/s`, `${fmt(stream.ratio, 3)}×`, ""])
  rows.push([`5 stream RSS p10/p50/p90 during stream (bench process)`, `${stream.sdk.rss.p10MB}/${stream.sdk.rss.p50MB}/${stream.sdk.rss.p90MB} MB`, "", "", ""])
  const own = stream.ownProcess
  rows.push([`5 stream RSS p10/p50/p90, each client in its own process`, `${own.sdk.rssP10MB}/${own.sdk.rssP50MB}/${own.sdk.rssP90MB} MB`, `${own.raw.rssP10MB}/${own.raw.rssP50MB}/${own.raw.rssP90MB} MB`, `${fmt(own.rssRatio, 3)}×`, `${status(own.rssRatio <= 1.5)} (p50 ≤ 1.5×)`])
  target("streamRss", "SDK client RSS (p50) while streaming ≤ 1.5 × raw", own.rssRatio, (v) => v <= 1.5)
  rows.push([`5 stream heap p50 / max, own process`, `${own.sdk.heapP50MB} / ${own.sdk.heapMaxMB} MB`, `${own.raw.heapP50MB} / ${own.raw.heapMaxMB} MB`, "", ""])
  rows.push([`5 MockModel serve rate (plain HTTP reader)`, `${fmt(stream.mockServe.eventsPerSecond, 0)} events/s`, "", "", ""])
}

if (replay) {
  const base = replay.levels[0]!
  target("replayCpu", `SDK client CPU per turn on the replay server (${base.concurrent} concurrent) ≤ 1.3 × raw`, base.ratio, (v) => v <= 1.3)
  for (const level of replay.levels) {
    const pass = level.ratio <= 1.3
    rows.push([`6 replay server, ${level.concurrent} concurrent: client CPU per turn (median of ${replay.rounds})`, `${fmt(level.sdkCpuMsPerTurn, 3)} ms`, `${fmt(level.rawCpuMsPerTurn, 3)} ms`, `${fmt(level.ratio, 3)}×`, level === base ? `${status(pass)} (≤ 1.3×)` : ""])
  }
  rows.push([`6 ... raw client with its events as an Effect Stream (the floor of an Effect streaming API), ${base.concurrent} concurrent`, `${fmt(base.rawStreamCpuMsPerTurn, 3)} ms`, `${fmt(base.rawCpuMsPerTurn, 3)} ms`, `${fmt(base.rawStreamRatio, 3)}×`, ""])
  for (const level of replay.levels.slice(1)) {
    const pass = level.sdkVsBase <= 1.1
    rows.push([`6 CPU per turn at ${level.concurrent} / at ${base.concurrent} concurrent`, `${fmt(level.sdkVsBase, 3)}×`, `${fmt(level.rawVsBase, 3)}×`, "", `${status(pass)} (≤ 1.1×)`])
    target(`replayFlat${level.concurrent}`, `SDK CPU per turn at ${level.concurrent} concurrent ≤ 1.1 × at ${base.concurrent}`, level.sdkVsBase, (v) => v <= 1.1)
  }
}

if (tools) {
  rows.push([`7 turn with one tool call: dynamic tools vs MCP (median of ${tools.n})`, `${fmt(tools.dynamicTurnMs)} ms`, `${fmt(tools.mcpTurnMs)} ms (MCP)`, `${fmt(tools.turnRatio, 3)}×`, ""])
  rows.push([`7 the tool call as codex timed it (durationMs)`, `${fmt(tools.dynamicToolMs)} ms`, `${fmt(tools.mcpToolMs)} ms (MCP)`, `${fmt(tools.toolRatio, 3)}×`, ""])
  rows.push([`7 a plain text turn on the same server`, `${fmt(tools.plainTurnMs)} ms`, "", "", ""])
}
if (pool) {
  for (const level of pool.sizes) {
    rows.push([`8 pool of ${level.size}: ${pool.turns} turns on ${pool.threads} threads (wall / client CPU, median of ${pool.rounds})`, `${fmt(level.wallMs, 0)} ms / ${fmt(level.cpuMs, 0)} ms`, `size ${POOL_SIZES[0]}`, `${fmt(level.wallRatio, 3)}× / ${fmt(level.cpuRatio, 3)}×`, ""])
  }
  const pass = pool.overheadCpu <= 1.05
  rows.push([`8 pool of ${POOL_SIZES[0]} vs plain Codex (wall / client CPU)`, `${fmt(pool.sizes[0]!.wallMs, 0)} ms / ${fmt(pool.sizes[0]!.cpuMs, 0)} ms`, `${fmt(pool.plain.wallMs, 0)} ms / ${fmt(pool.plain.cpuMs, 0)} ms`, `${fmt(pool.overheadWall, 3)}× / ${fmt(pool.overheadCpu, 3)}×`, `${status(pass)} (CPU ≤ 1.05×)`])
  target("poolOverhead", `client CPU of a pool of ${POOL_SIZES[0]} ≤ 1.05 × a plain Codex`, pool.overheadCpu, (v) => v <= 1.05)
}

if (cluster) {
  rows.push([`9 cluster of ${cluster.runners} runners: RunTurn vs the same turn on a plain Codex (median of ${cluster.turns} sequential turns, ${cluster.rounds} rounds)`, `${fmt(cluster.clusterTurnMs)} ms`, `${fmt(cluster.plainTurnMs)} ms (plain Codex)`, `${fmt(cluster.ratio, 3)}×`, ""])
  rows.push([`9 failover: runner SIGKILLed mid-turn → caller gets TurnCutError / next turn answered elsewhere`, `${fmt(cluster.cutMs, 0)} ms / ${fmt(cluster.failoverMs, 0)} ms`, "", "", ""])
  const long = cluster.long
  rows.push([`9 long conversation (${long.turns} turns, ~${fmt(long.answerBytes / 1000, 0)} KB answers, rollout ${fmt(long.rolloutMB, 1)} MB): cluster/plain at turn 10 → at the end`, `${fmt(long.clusterMsEarly)} / ${fmt(long.plainMsEarly)} ms → ${fmt(long.clusterMsLate)} / ${fmt(long.plainMsLate)} ms`, `${fmt(long.ratioEarly, 3)}× → ${fmt(long.ratioLate, 3)}×`, `${fmt(long.ratioDrift, 3)}×`, `${status(Math.abs(long.ratioDrift - 1) <= 0.2)} (±20%)`])
  rows.push([`9 store step per turn at turn 10 → at the end`, `${fmt(long.storeStepMsEarly)} ms → ${fmt(long.storeStepMsLate)} ms`, "", `${fmt(long.storeStepGrowth, 3)}×`, `${status(long.storeStepGrowth <= 1.2)} (≤ 1.2×)`])
  rows.push([`9 WAL per rollout byte a turn adds: store step / whole cluster turn`, `${fmt(long.storeStepWalPerNewByte, 3)} / ${fmt(long.clusterTurnWalPerNewByte, 3)}`, "", "", `${status(long.storeStepWalPerNewByte <= 2)} (store step ≤ 2)`])
  const big = cluster.big
  if ("error" in big) rows.push([`9 large rollout failover: FAILED ${big.error.slice(0, 200)}`, "", "", "", ""])
  else rows.push([`9 ${fmt(big.rolloutMB, 1)} MB rollout: SIGKILL of its runner → next turn answered elsewhere (first model request ${fmt(big.requestMB, 1)} MB, whole history; ${big.requests} requests); restore alone`, `${fmt(big.failoverTurnMs, 0)} ms; ${fmt(big.restoreMs, 0)} ms`, `${fmt(big.restoreMsPerMB)} ms/MB`, "", ""])
  target("cluster long: store step growth", "store step at the end ≤ 1.2 × at turn 10", long.storeStepGrowth, (v) => v <= 1.2)
  target("cluster long: ratio drift", "cluster/plain at the end within ±20% of turn 10", long.ratioDrift, (v) => Math.abs(v - 1) <= 0.2)
  target("cluster long: WAL", "store step WAL ≤ 2 × the turn's new rollout bytes", long.storeStepWalPerNewByte, (v) => v <= 2)
  target("9 failover with the shipped settings: SIGKILL → next turn answered elsewhere", "≤ 5,000 ms", cluster.failoverMs, (v) => v <= 5_000)
}

if (chaos) {
  rows.push([`10 under load (${chaos.loadSeconds} s, 10 conversations, 2 spinning processes): turns answered / cut / shard lock moves`, `${chaos.loadAnswered} / ${chaos.loadCut} / ${chaos.loadShardMoves} (${chaos.loadSamples} samples)`, "", "", ""])
  rows.push([`10 chaos (${chaos.chaosSeconds} s, 10 conversations, ${chaos.failovers} runner kills + restarts, 1 PostgreSQL restart of ${fmt(chaos.postgresRestartMs, 0)} ms): turns/s, cut, failed`, `${fmt(chaos.turnsPerSecond)} turns/s, ${chaos.cut} cut, ${chaos.failed} failed`, "", "", ""])
  target("10 under load: shards taken from a live runner", "0", chaos.loadShardMoves, (v) => v === 0)
  target("10 chaos: turn keys run twice + cut turns not reported cut", "0", chaos.ranTwice + chaos.cutUnreported, (v) => v === 0)
}

if (ask) {
  rows.push([`ask: codex's request → the page over SSE, one process (median / p99 of ${ask.n})`, `${fmt(ask.requestToPage.median)} / ${fmt(ask.requestToPage.p99)} ms`, "", "", ""])
  rows.push([`ask: the page's answer (HTTP POST) → codex has it (serverRequest/resolved), median / p99`, `${fmt(ask.answerToCodex.median)} / ${fmt(ask.answerToCodex.p99)} ms`, `${fmt(ask.handlerToCodex.median)} / ${fmt(ask.handlerToCodex.p99)} ms (handler function)`, `${fmt(ask.answerRatio, 3)}×`, ""])
}

if (asks) {
  const { cluster: viaCluster, plain } = asks
  rows.push([`10 asking across processes: codex's request → the following client (p50 / p99 of ${asks.requests}; cluster of ${asks.runners} runners)`, `${fmt(viaCluster.requestToClientMs.p50)} / ${fmt(viaCluster.requestToClientMs.p99)} ms`, `${fmt(plain.requestToClientMs.p50)} / ${fmt(plain.requestToClientMs.p99)} ms (handler, plain Codex)`, "", ""])
  rows.push([`10 … for scale, codex's item/started notification → the following client (p50 / p99)`, `${fmt(viaCluster.notificationToClientMs.p50)} / ${fmt(viaCluster.notificationToClientMs.p99)} ms`, `${fmt(plain.notificationToClientMs.p50)} / ${fmt(plain.notificationToClientMs.p99)} ms (plain Codex)`, "", ""])
  rows.push([`10 asking across processes: the client's answer → codex (p50 / p99)`, `${fmt(viaCluster.answerToCodexMs.p50)} / ${fmt(viaCluster.answerToCodexMs.p99)} ms`, `${fmt(plain.answerToCodexMs.p50)} / ${fmt(plain.answerToCodexMs.p99)} ms (handler, plain Codex)`, "", ""])
}

const header: Row = ["case", "effect-codex", "baseline (raw)", "ratio", "target"]
const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => r[i]!.length)))
const line = (r: Row) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`
console.log()
console.log(`effect-codex bench ${quick ? "(quick)" : "(full)"}, driver: ${driverName}, codex 0.169.0 (pinned binary), node ${process.version}, ${os.cpus().length} cores, load average ${loadAtStart.map((x) => x.toFixed(1)).join("/")} at start`)
console.log(line(header))
console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`)
for (const r of rows) console.log(line(r))
console.log()
for (const t of targets) console.log(`${t.pass === null ? "N/A " : t.pass ? "PASS" : "MISS"}  ${t.name}: ${t.target} (measured ${t.value})`)
for (const [name, error] of Object.entries(errors)) console.log(`ERROR ${name}: ${error.split("\n")[0]}`)
if (survivors.length > 0) console.log(`LEAK: processes still alive at the end (killed): ${survivors.join(", ")}`)

const report = {
  startedAt: started.toISOString(),
  mode: quick ? "quick" : "full",
  driver: driverName,
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  /** 1/5/15-minute load averages: other work on the machine makes the numbers noisy. */
  loadAverage: { start: loadAtStart, end: os.loadavg() },
  codexBinary: path.relative(process.cwd(), CODEX_BINARY),
  n: N,
  targets,
  results,
  errors,
  leakedProcesses: survivors
}
if (!flag("--no-write")) {
  const dir = path.resolve(import.meta.dirname, "results")
  mkdirSync(dir, { recursive: true })
  const stamp = started.toISOString().replace(/[:.]/g, "-")
  const text = `${JSON.stringify(report, null, 2)}\n`
  writeFileSync(path.join(dir, `${stamp}${quick ? "-quick" : ""}.json`), text)
  writeFileSync(path.join(dir, "latest.json"), text)
  console.log(`\nwrote bench/results/${stamp}${quick ? "-quick" : ""}.json and bench/results/latest.json`)
}
process.exitCode = Object.keys(errors).length > 0 || survivors.length > 0 ? 1 : 0
