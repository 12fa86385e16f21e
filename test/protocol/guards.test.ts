/**
 * The compiled guards of generated/src/guards.ts accept exactly what the generated schemas decode and keep as they
 * are: `guard(value) === (decoding succeeds && it wrapped no unknown variant)`, where an unknown variant is an object
 * of an opened (server-sent) tagged union whose tag this protocol version does not know, decoded to
 * `{ [tag]: "@unknown", raw }` (then the guard says no and the SDK decodes). Checked for
 *
 * - every message captured from the real codex 0.169.0 `app-server` (test/fixtures/captures), through the guard maps
 *   and through the definition guards (client request params, the client's answers to server requests);
 * - the params of every client request method: absent, `null`, wrong shapes, and values generated from the IR;
 * - every distinct captured value against every definition (mostly rejections, with the right answer for nested
 *   definitions as well);
 * - mutations of the captured values: each key deleted or set to `undefined` / `null` / numbers (negative, fractional,
 *   unsafe integer) / strings (including an unknown tag) / `true` / arrays / objects, at every depth (sampled with a
 *   fixed seed where a value has too many paths);
 * - values generated from the IR for every definition (random members, optional keys present or not) and mutated.
 */
import { describe, expect, it } from "@effect/vitest"
import { Exit } from "effect"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Protocol from "../../generated/src/index.js"
import {
  ClientRequestParamsExactGuards,
  ClientRequestParamsGuards,
  ClientRequests,
  ClientResponseGuards,
  ServerNotificationGuards,
  ServerNotifications,
  ServerRequestParamsGuards,
  ServerRequests
} from "../../generated/src/index.js"
import type { Json as IrJson, Node } from "../../scripts/generate/ir.js"
import { buildModel, BUNDLE_FILE } from "../../scripts/generate/model.js"
import { applyPatches, patchesFor, SCHEMA_PATCHES } from "../../scripts/generate/patches.js"

type AnyCodec = Schema.Codec<unknown, unknown>
type Guard = (u: unknown) => boolean
type Json = Record<string, unknown>

const CAPTURES = path.resolve(import.meta.dirname, "..", "fixtures", "captures")
const SCHEMA_DIR = path.resolve(import.meta.dirname, "..", "..", "generated", "schema")

// ---- deterministic randomness (mulberry32) ------------------------------------------------------
const rng = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// ---- definitions: schema and guard by name --------------------------------------------------------
const exports = Protocol as unknown as Record<string, unknown>
const definitions: ReadonlyArray<{ name: string; schema: AnyCodec; guard: Guard }> = Object.keys(exports)
  .filter((k) => k.startsWith("is") && typeof exports[k] === "function" && Schema.isSchema(exports[k.slice(2)]))
  .sort()
  .map((k) => ({ name: k.slice(2), schema: exports[k.slice(2)] as AnyCodec, guard: exports[k] as Guard }))
const guardOfSchema = new Map<unknown, Guard>(definitions.map((d) => [d.schema, d.guard]))

/** Whether a decoded value holds a wrapped unknown variant (`{ [tag]: "@unknown", raw }`). */
const hasUnknownVariant = (value: unknown): boolean => {
  if (Array.isArray(value)) return value.some(hasUnknownVariant)
  if (typeof value !== "object" || value === null) return false
  const entries = Object.entries(value)
  if (Object.hasOwn(value, "raw") && entries.some(([, v]) => v === "@unknown")) return true
  return entries.some(([, v]) => hasUnknownVariant(v))
}

type Outcome = "rejected" | "kept" | "wrapped"

/** What the schema makes of a value: rejected, accepted as it is, or accepted with an unknown variant wrapped. */
const outcomeOf = (exit: Exit.Exit<unknown, unknown>): Outcome =>
  Exit.isFailure(exit) ? "rejected" : hasUnknownVariant(exit.value) ? "wrapped" : "kept"
const decodeOutcome = (schema: AnyCodec, value: unknown): Outcome => outcomeOf(Schema.decodeUnknownExit(schema)(value))
/** The same, with undeclared keys refused (`onExcessProperty: "error"`): what the exact params guards follow. */
const decodeExactOutcome = (schema: AnyCodec, value: unknown): Outcome =>
  outcomeOf(Schema.decodeUnknownExit(schema, { onExcessProperty: "error" })(value))

interface Case {
  readonly where: string
  /** The client request method, for captured client params. */
  readonly method?: string
  readonly schema: AnyCodec
  readonly guard: Guard
  readonly value: unknown
}

/**
 * `where: guard=… schema=…` for every case where the two disagree; `accepted` counts what the schema decodes,
 * `wrapped` what it decodes with an unknown variant wrapped (which the guard must reject).
 */
const disagreements = (
  cases: Iterable<Case>,
  decode: (schema: AnyCodec, value: unknown) => Outcome = decodeOutcome
): { checked: number; accepted: number; wrapped: number; failures: Array<string> } => {
  let checked = 0
  let accepted = 0
  let wrapped = 0
  const failures: Array<string> = []
  for (const c of cases) {
    const g = c.guard(c.value)
    const s = decode(c.schema, c.value)
    checked++
    if (s !== "rejected") accepted++
    if (s === "wrapped") wrapped++
    if (g !== (s === "kept")) failures.push(`${c.where}: guard=${g} schema=${s} value=${JSON.stringify(c.value)?.slice(0, 300)}`)
  }
  return { checked, accepted, wrapped, failures }
}

// ---- captures -------------------------------------------------------------------------------------
const scenarioNames: ReadonlyArray<string> = (JSON.parse(
  fs.readFileSync(path.join(CAPTURES, "scenarios.json"), "utf8")
) as { scenarios: Array<{ name: string }> }).scenarios.map((s) => s.name)

const readLines = (file: string) =>
  fs.readFileSync(path.join(CAPTURES, file), "utf8")
    .split("\n")
    .flatMap((text, index) => text.trim() === "" ? [] : [{ where: `${file}:${index + 1}`, message: JSON.parse(text) as Json }])

const has = (o: Json, key: string): boolean => Object.hasOwn(o, key)
const lookup = <A>(map: object, method: unknown): A | undefined =>
  typeof method === "string" && Object.hasOwn(map, method) ? (map as Record<string, A>)[method] : undefined

/** Real messages: through the guard maps (`mapped`) and through definition guards (`viaDefinitions`). */
const captured = (() => {
  const mapped: Array<Case> = []
  const viaDefinitions: Array<Case> = []
  // What the client sent, through ClientRequestParamsGuards (some were rejected by the server, on purpose).
  const clientParams: Array<Case> = []
  const byDefinition = (where: string, schema: AnyCodec | undefined, value: unknown) => {
    const guard = guardOfSchema.get(schema)
    if (schema !== undefined && guard !== undefined) viaDefinitions.push({ where, schema, guard, value })
  }
  for (const name of scenarioNames) {
    const server = readLines(`${name}.jsonl`)
    const client = readLines(`${name}.client.jsonl`)
    const clientRequests = new Map(
      client.filter((l) => has(l.message, "id") && has(l.message, "method")).map((l) => [l.message["id"], l.message])
    )
    const answers = new Map(
      client.filter((l) => has(l.message, "id") && !has(l.message, "method")).map((l) => [l.message["id"], l.message])
    )
    for (const { message: m, where } of server) {
      const method = m["method"]
      if (has(m, "method") && !has(m, "id")) {
        const schema = lookup<AnyCodec>(ServerNotifications, method)
        const guard = lookup<Guard>(ServerNotificationGuards, method)
        if (schema && guard) mapped.push({ where: `${where} ${String(method)}`, schema, guard, value: m["params"] })
      } else if (has(m, "id") && !has(m, "method") && has(m, "result")) {
        const request = clientRequests.get(m["id"])?.["method"]
        const schema = lookup<{ response: AnyCodec }>(ClientRequests, request)?.response
        const guard = lookup<Guard>(ClientResponseGuards, request)
        if (schema && guard) mapped.push({ where: `${where} ${String(request)} (response)`, schema, guard, value: m["result"] })
      } else if (has(m, "id") && has(m, "method")) {
        const entry = lookup<{ params: AnyCodec; response: AnyCodec }>(ServerRequests, method)
        const guard = lookup<Guard>(ServerRequestParamsGuards, method)
        if (entry && guard) mapped.push({ where: `${where} ${String(method)}`, schema: entry.params, guard, value: m["params"] })
        byDefinition(`${where} ${String(method)} (answer)`, entry?.response, answers.get(m["id"])?.["result"])
      }
    }
    for (const { message: m, where } of client) {
      if (has(m, "id") && has(m, "method")) {
        const schema = lookup<{ params: AnyCodec }>(ClientRequests, m["method"])?.params
        byDefinition(`${where} ${String(m["method"])}`, schema, m["params"])
        const guard = lookup<Guard>(ClientRequestParamsGuards, m["method"])
        if (schema && guard) {
          clientParams.push({ where: `${where} ${String(m["method"])} (params)`, method: String(m["method"]), schema, guard, value: m["params"] })
        }
      }
    }
  }
  return { mapped, viaDefinitions, clientParams }
})()

/** Distinct captured values (params and results), in a stable order. */
const distinctValues: ReadonlyArray<unknown> = [
  ...new Map([...captured.mapped, ...captured.viaDefinitions].map((c) => [JSON.stringify(c.value), c.value])).values()
]

// ---- mutations ------------------------------------------------------------------------------------
type Path = ReadonlyArray<string | number>
const REPLACEMENTS: ReadonlyArray<readonly [string, () => unknown]> = [
  ["undefined", () => undefined],
  ["null", () => null],
  ["0", () => 0],
  ["-1", () => -1],
  ["1.5", () => 1.5],
  ["2^53", () => 2 ** 53],
  ["\"\"", () => ""],
  ["\"x\"", () => "x"],
  ["unknown tag", () => "__unknown_tag__"],
  ["true", () => true],
  ["[]", () => []],
  ["[null]", () => [null]],
  ["{}", () => ({})],
  ["{type: unknown}", () => ({ type: "__unknown_tag__" })]
]

const paths = (value: unknown, at: Path = [], out: Array<Path> = []): Array<Path> => {
  out.push(at)
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...at, i], out))
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out)
  }
  return out
}

/** A copy of `value` with the node at `at` deleted (`replacement` undefined) or replaced. */
const mutate = (value: unknown, at: Path, replacement: (() => unknown) | "delete"): unknown => {
  if (at.length === 0) return replacement === "delete" ? undefined : replacement()
  const copy = structuredClone(value) as Record<string | number, unknown>
  let parent: Record<string | number, unknown> = copy
  for (const key of at.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>
  const key = at[at.length - 1]!
  if (replacement !== "delete") parent[key] = replacement()
  else if (Array.isArray(parent)) parent.splice(key as number, 1)
  else delete parent[key]
  return copy
}

/** Every (path, mutation) of `value`, or `cap` of them chosen with `random` when there are more. */
const mutations = (
  value: unknown,
  cap: number,
  random: () => number
): Array<{ label: string; value: unknown }> => {
  const all: Array<{ at: Path; op: readonly [string, (() => unknown) | "delete"] }> = []
  for (const at of paths(value)) {
    if (at.length > 0) all.push({ at, op: ["delete", "delete"] })
    for (const r of REPLACEMENTS) all.push({ at, op: r })
  }
  // Fisher-Yates with the seeded generator, then take the first `cap`
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[all[i], all[j]] = [all[j]!, all[i]!]
  }
  return all.slice(0, cap).map(({ at, op }) => ({
    label: `${at.length === 0 ? "(root)" : at.join(".")} ← ${op[0]}`,
    value: mutate(value, at, op[1])
  }))
}

// ---- values generated from the IR -----------------------------------------------------------------
const model = (() => {
  const read = (f: string) => JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, f), "utf8")) as IrJson
  const standalone: Record<string, IrJson> = {}
  for (const f of ["ClientRequest.json", "ServerRequest.json", "ServerNotification.json", "ClientNotification.json"]) {
    standalone[f] = read(f)
  }
  return buildModel(applyPatches(read(BUNDLE_FILE), patchesFor(SCHEMA_PATCHES, "stable")), standalone)
})()
const irByName = new Map(model.definitions.map((d) => [d.name, d.node]))

const anyJson = (random: () => number, depth: number): unknown => {
  switch (Math.floor(random() * (depth > 2 ? 4 : 6))) {
    case 0:
      return null
    case 1:
      return "s"
    case 2:
      return 1
    case 3:
      return true
    case 4:
      return [anyJson(random, depth + 1)]
    default:
      return { k: anyJson(random, depth + 1) }
  }
}

/** A random value of `node` (valid by construction, except where depth runs out and `null` is used). */
const generate = (node: Node, random: () => number, depth: number): unknown => {
  const chance = (p: number) => random() < p
  switch (node.kind) {
    case "ref":
      return depth > 8 ? null : generate(irByName.get(node.target)!, random, depth + 1)
    case "unknown":
      return anyJson(random, depth)
    case "string": {
      const min = node.minLength ?? 0
      return "abcdefgh".slice(0, min + Math.floor(random() * 3))
    }
    case "number": {
      const min = node.minimum ?? -3
      const n = min + Math.floor(random() * 50)
      return node.integer ? n : n + 0.25
    }
    case "boolean":
      return chance(0.5)
    case "null":
      return null
    case "literal":
      return node.values[Math.floor(random() * node.values.length)]
    case "array":
      return Array.from({ length: depth > 6 ? 0 : Math.floor(random() * 3) }, () => generate(node.items, random, depth + 1))
    case "tuple":
      return node.items.map((n) => generate(n, random, depth + 1))
    case "record": {
      const out: Record<string, unknown> = {}
      for (let i = 0; i < (depth > 6 ? 0 : Math.floor(random() * 3)); i++) out[`k${i}`] = generate(node.value, random, depth + 1)
      return out
    }
    case "object": {
      const out: Record<string, unknown> = {}
      for (const p of node.properties) {
        if (p.optional && chance(0.4)) continue
        out[p.name] = p.optional && chance(0.1) ? undefined : generate(p.node, random, depth + 1)
      }
      if (chance(0.2)) out["extraKey"] = "forward compatible"
      return out
    }
    case "union":
      return generate(node.members[Math.floor(random() * node.members.length)]!, random, depth + 1)
    case "unknownValue":
      return "aValueFromANewerCodex"
    case "unknownVariant":
      return { [node.tag]: "aVariantFromANewerCodex", id: "x", payload: anyJson(random, depth) }
  }
}

// ---- tests ----------------------------------------------------------------------------------------
describe("compiled guards agree with the generated schemas", () => {
  it("exist for every definition, and the maps cover every method", () => {
    expect(definitions.length).toBe(model.definitions.length)
    expect(Object.keys(ServerNotificationGuards).sort()).toEqual(Object.keys(ServerNotifications).sort())
    expect(Object.keys(ClientResponseGuards).sort()).toEqual(Object.keys(ClientRequests).sort())
    expect(Object.keys(ClientRequestParamsGuards).sort()).toEqual(Object.keys(ClientRequests).sort())
    expect(Object.keys(ServerRequestParamsGuards).sort()).toEqual(Object.keys(ServerRequests).sort())
    expect(ClientResponseGuards["thread/start"]).toBe(Protocol.isThreadStartResponse)
    // method-level edge cases: notifications without params accept only null/undefined
    const counts = disagreements(
      Object.entries(ServerNotificationGuards).flatMap(([method, guard]) =>
        [undefined, null, {}, [], "x", 0].map((value) => ({
          where: `${method} ${JSON.stringify(value)}`,
          schema: lookup<AnyCodec>(ServerNotifications, method)!,
          guard,
          value
        }))
      )
    )
    expect(counts.failures).toEqual([])
    // client requests: absent params (no params, optional params), null, and wrong shapes
    const params = disagreements(
      Object.entries(ClientRequestParamsGuards).flatMap(([method, guard]) =>
        [undefined, null, {}, [], "x", 0].map((value) => ({
          where: `${method} params ${JSON.stringify(value)}`,
          schema: lookup<{ params: AnyCodec }>(ClientRequests, method)!.params,
          guard,
          value
        }))
      )
    )
    expect(params.failures).toEqual([])
    // `undefined` is accepted exactly for the methods whose params may be omitted
    expect(params.accepted).toBeGreaterThan(0)
    expect(params.checked - params.accepted).toBeGreaterThan(0)
  })

  it("on the params of every client request method generated from the IR, and their mutations (seed 3)", () => {
    const random = rng(3)
    const cases: Array<Case> = []
    for (const m of model.clientRequests) {
      const schema = lookup<{ params: AnyCodec }>(ClientRequests, m.method)!.params
      const guard = lookup<Guard>(ClientRequestParamsGuards, m.method)!
      for (let i = 0; i < 4; i++) {
        const value = generate(m.params, random, 0)
        cases.push({ where: `${m.method} #${i}`, schema, guard, value })
        for (const mutation of mutations(value, 6, random)) {
          cases.push({ where: `${m.method} #${i} ${mutation.label}`, schema, guard, value: mutation.value })
        }
      }
    }
    const counts = disagreements(cases)
    expect(counts.failures).toEqual([])
    expect(counts.checked).toBeGreaterThan(1_000)
    expect(counts.accepted).toBeGreaterThan(counts.checked / 4)
  })

  it("on every captured message (through the guard maps and the definition guards)", () => {
    const maps = disagreements(captured.mapped)
    const defs = disagreements(captured.viaDefinitions)
    const params = disagreements(captured.clientParams)
    expect(maps.failures).toEqual([])
    expect(defs.failures).toEqual([])
    expect(params.failures).toEqual([])
    expect(params.checked).toBeGreaterThan(40)
    expect(maps.checked).toBeGreaterThan(200)
    expect(maps.accepted).toBe(maps.checked)
    // the client requests the server rejected as malformed (errors scenario) are rejected by both
    expect(defs.checked - defs.accepted).toBeGreaterThan(0)
  })

  it("on every distinct captured value against every definition", () => {
    const counts = disagreements(
      distinctValues.flatMap((value, i) =>
        definitions.map((d) => ({ where: `value #${i} as ${d.name}`, schema: d.schema, guard: d.guard, value }))
      )
    )
    expect(counts.failures).toEqual([])
    expect(counts.checked).toBeGreaterThan(50_000)
  })

  it("on mutations of every captured value (seed 1)", () => {
    const random = rng(1)
    const seen = new Set<string>()
    const cases: Array<Case> = []
    for (const c of [...captured.mapped, ...captured.viaDefinitions, ...captured.clientParams]) {
      const key = `${c.where.split(" ").slice(1).join(" ")} ${JSON.stringify(c.value)}`
      if (seen.has(key)) continue
      seen.add(key)
      for (const m of mutations(c.value, 120, random)) {
        cases.push({ where: `${c.where} ${m.label}`, schema: c.schema, guard: c.guard, value: m.value })
      }
    }
    const counts = disagreements(cases)
    expect(counts.failures).toEqual([])
    expect(counts.checked).toBeGreaterThan(5_000)
    // both outcomes are well represented
    expect(counts.accepted).toBeGreaterThan(counts.checked / 10)
    expect(counts.checked - counts.accepted).toBeGreaterThan(counts.checked / 10)
    // unknown tags in what the server sent decode as unknown variants, which the guards reject
    expect(counts.wrapped).toBeGreaterThan(0)
  })

  it("on values generated from the IR for every definition, and their mutations (seed 2)", () => {
    const random = rng(2)
    const cases: Array<Case> = []
    for (const d of definitions) {
      for (let i = 0; i < 4; i++) {
        const value = generate(irByName.get(d.name)!, random, 0)
        cases.push({ where: `${d.name} #${i}`, schema: d.schema, guard: d.guard, value })
        for (const m of mutations(value, 6, random)) {
          cases.push({ where: `${d.name} #${i} ${m.label}`, schema: d.schema, guard: d.guard, value: m.value })
        }
      }
    }
    const counts = disagreements(cases)
    expect(counts.failures).toEqual([])
    expect(counts.checked).toBeGreaterThan(10_000)
    expect(counts.accepted).toBeGreaterThan(counts.checked / 4)
    expect(counts.wrapped).toBeGreaterThan(0)
  })

  it("open where the server sends, strict where the client sends", () => {
    const item = { type: "aNewItemType", id: "item-1", detail: { nested: [1, 2] } }
    const turn = { id: "t", items: [item], status: "aNewStatus", error: null }
    const notification = { threadId: "thr", turn }
    const cases: Array<Case> = [
      { where: "ThreadItem", schema: Protocol.ThreadItem, guard: Protocol.isThreadItem, value: item },
      { where: "Turn", schema: Protocol.Turn, guard: Protocol.isTurn, value: turn },
      {
        where: "turn/completed",
        schema: ServerNotifications["turn/completed"],
        guard: ServerNotificationGuards["turn/completed"],
        value: notification
      },
      {
        where: "new phase",
        schema: ServerNotifications["item/completed"],
        guard: ServerNotificationGuards["item/completed"],
        value: {
          threadId: "thr",
          turnId: "t",
          completedAtMs: 1,
          item: { type: "agentMessage", id: "a", text: "hi", phase: "aNewPhase" }
        }
      }
    ]
    const counts = disagreements(cases)
    expect(counts.failures).toEqual([])
    expect(counts.accepted).toBe(cases.length)
    // the item and the turn holding it are wrapped; a new enum value is kept as it is
    expect(counts.wrapped).toBe(3)
    expect(Schema.decodeUnknownSync(ServerNotifications["turn/completed"])(notification).turn.items).toEqual([
      { type: "@unknown", raw: item }
    ])
    // The same definitions on the sending side: a new sandbox mode or input type is refused before sending.
    const sent = disagreements([
      {
        where: "thread/start sandbox",
        schema: ClientRequests["thread/start"].params,
        guard: ClientRequestParamsGuards["thread/start"],
        value: { sandbox: "aNewSandboxMode" }
      },
      {
        where: "turn/start input",
        schema: ClientRequests["turn/start"].params,
        guard: ClientRequestParamsGuards["turn/start"],
        value: { threadId: "thr", input: [{ type: "aNewInputType" }] }
      }
    ])
    expect(sent.failures).toEqual([])
    expect(sent.accepted).toBe(0)
    // ...while the server's answer carrying the same values decodes
    expect(decodeOutcome(ClientRequests["thread/start"].response, { sandbox: "aNewSandboxMode" })).toBe("rejected")
    expect(Protocol.isReceivedSandboxMode("aNewSandboxMode")).toBe(true)
    expect(Protocol.isSandboxMode("aNewSandboxMode")).toBe(false)
  })

  it("exact params guards: as the schemas decoded with onExcessProperty \"error\", with an unknown key added at every depth (seed 4)", () => {
    expect(Object.keys(ClientRequestParamsExactGuards).sort()).toEqual(Object.keys(ClientRequests).sort())
    const random = rng(4)
    const cases: Array<Case> = []
    const withKey = (value: unknown, at: Path): unknown => {
      let node = value as Record<string | number, unknown>
      for (const key of at) node = node[key] as Record<string | number, unknown>
      return mutate(value, at, () => ({ ...node, sandox: "x" }))
    }
    const add = (where: string, schema: AnyCodec, guard: Guard, value: unknown): void => {
      cases.push({ where, schema, guard, value })
      for (const m of mutations(value, 6, random)) cases.push({ where: `${where} ${m.label}`, schema, guard, value: m.value })
      for (const at of paths(value)) {
        let node: unknown = value
        for (const key of at) node = (node as Record<string | number, unknown>)[key]
        if (typeof node === "object" && node !== null && !Array.isArray(node)) {
          cases.push({ where: `${where} ${at.join(".") || "(root)"} + sandox`, schema, guard, value: withKey(value, at) })
        }
      }
    }
    for (const m of model.clientRequests) {
      const schema = lookup<{ params: AnyCodec }>(ClientRequests, m.method)!.params
      const guard = lookup<Guard>(ClientRequestParamsExactGuards, m.method)!
      for (const value of [undefined, null, {}, [], "x", 0]) cases.push({ where: `${m.method} ${JSON.stringify(value)}`, schema, guard, value })
      for (let i = 0; i < 4; i++) add(`${m.method} #${i}`, schema, guard, generate(m.params, random, 0))
    }
    for (const c of captured.clientParams) {
      add(c.where, c.schema, lookup<Guard>(ClientRequestParamsExactGuards, c.method)!, c.value)
    }
    const counts = disagreements(cases, decodeExactOutcome)
    expect(counts.failures).toEqual([])
    expect(counts.checked).toBeGreaterThan(2_000)
    // both outcomes are well represented; an added key is rejected except inside maps and any-JSON values
    expect(counts.accepted).toBeGreaterThan(counts.checked / 10)
    const added = cases.filter((c) => c.where.endsWith("+ sandox") && !c.where.includes("config"))
    expect(added.filter((c) => !c.guard(c.value)).length).toBeGreaterThan(added.length / 2)
  })
})
