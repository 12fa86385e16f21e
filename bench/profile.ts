/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): top functions by self time and by inclusive time.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/run.ts --quick --only decode --no-write
 *   tsx bench/profile.ts /tmp/prof/<file>.cpuprofile [--top 30] [--filter node_modules/effect]
 */
import { readFileSync } from "node:fs"

interface Node {
  readonly id: number
  readonly callFrame: { functionName: string; url: string; lineNumber: number }
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const args = process.argv.slice(2)
const file = args[0]
if (file === undefined) throw new Error("usage: tsx bench/profile.ts FILE.cpuprofile [--top N]")
const topIndex = args.indexOf("--top")
const top = topIndex === -1 ? 30 : Number(args[topIndex + 1])
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile

const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

const label = (n: Node) => {
  const url = n.callFrame.url.replace(/^file:\/\//, "").replace(/^.*node_modules\//, "~/").replace(/^.*\/work\/main\//, "")
  return `${n.callFrame.functionName || "(anonymous)"} ${url}:${n.callFrame.lineNumber + 1}`
}

const self = new Map<string, number>()
const inclusive = new Map<string, number>()
let total = 0
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0
  total += dt
  let node = byId.get(profile.samples[i]!)
  if (node === undefined) continue
  self.set(label(node), (self.get(label(node)) ?? 0) + dt)
  const seen = new Set<string>()
  while (node !== undefined) {
    const l = label(node)
    if (!seen.has(l)) {
      inclusive.set(l, (inclusive.get(l) ?? 0) + dt)
      seen.add(l)
    }
    const p = parent.get(node.id)
    node = p === undefined ? undefined : byId.get(p)
  }
}

const print = (title: string, map: Map<string, number>) => {
  console.log(`\n${title} (total ${(total / 1000).toFixed(0)} ms)`)
  for (const [l, t] of [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(t / 1000).toFixed(1).padStart(9)} ms ${((100 * t) / total).toFixed(1).padStart(5)}%  ${l}`)
  }
}
print("self time", self)
print("inclusive time", inclusive)
