/**
 * Only the SDK side of case 3 (decode), for a clean CPU profile:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile-decode.ts [--peer-only] [N]
 *   tsx bench/profile.ts /tmp/prof/<file>.cpuprofile
 */
import { buildChunks, sdkRun } from "./cases/decode.js"

const peerOnly = process.argv.includes("--peer-only")
const total = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 100_000)
const { chunks } = buildChunks(total)
for (let i = 0; i < 3; i++) {
  const m = await sdkRun(chunks, total, !peerOnly)
  console.log(`${peerOnly ? "peer only" : "peer + decode"}: ${Math.round(m.count / (m.ms / 1000))}/s, ${m.ms.toFixed(0)} ms`)
}
