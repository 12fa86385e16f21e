/**
 * IR → `generated/src/guards.ts`: for every definition a straight-line type guard `isFoo(u): u is Foo` that accepts
 * exactly the values `Schema.decodeUnknownExit(Foo)` accepts and keeps as they are, plus guard maps mirroring the
 * method maps of methods.ts. The one transformation in the generated schemas is the unknown variant of an opened
 * tagged union (see lenient.ts), which decoding wraps into `{ [tag]: "@unknown", raw }`: a guard rejects a value that
 * holds one, so that the caller decodes it. Otherwise decoding only validates (and drops unknown keys).
 *
 * Semantics mirrored from Effect 4 (`SchemaAST` parsers of effect@4.1.0):
 * - `Schema.Struct({...})`: a non-null, non-array object; a property is looked up with `key in o` and read as
 *   `o[key]`; a missing required key fails even when its schema accepts `undefined`; `Schema.optional(X)` accepts a
 *   missing key, `undefined` or an `X`; unknown keys are accepted. `Schema.Struct({})` accepts anything but
 *   `null`/`undefined`.
 * - `Schema.Record(Schema.String, V)`: a non-null, non-array object whose own enumerable string keys hold `V`s.
 * - `Schema.Int` is `Number.isSafeInteger`; `Schema.Number` is `typeof "number"` (NaN included).
 * - `Schema.Union`: some member accepts (candidate selection by discriminators is an optimisation only), so a tagged
 *   union switches on its tag and tries only the members with that tag.
 * - `Schema.Tuple([...])`: an array of exactly that length.
 */
import { propertyKey, typeExpr } from "./emit.js"
import { childrenOf, GenerateError, type LiteralValue, type Node, refsOf, withReferrers } from "./ir.js"
import type { Definition, Model } from "./model.js"

/** Name of the guard exported for definition `name`. */
export const guardName = (name: string): string => `is${name}`

/**
 * Name of the exact guard of definition `name` (module-private): like `isFoo`, and every object with properties also
 * rejects an own key it does not declare, as `Schema.decodeUnknownExit(Foo, { onExcessProperty: "error" })` does.
 */
const exactGuardName = (name: string): string => `is${name}$exact`

/** Names exported by guards.ts besides the `is<Definition>` guards. */
export const GUARD_MAP_NAMES = [
  "ServerNotificationGuards",
  "ClientRequestParamsGuards",
  "ClientRequestParamsExactGuards",
  "ClientResponseGuards",
  "ServerRequestParamsGuards"
] as const

/** Literal unions with more members than this are checked with a `Set`. */
const SET_THRESHOLD = 6
/** Unions with at least this many members sharing a tag switch on the tag. */
const SWITCH_THRESHOLD = 3

const literal = (v: LiteralValue): string => JSON.stringify(v)

/** Structural key of a node (descriptions ignored), used to share helpers between identical shapes. */
const nodeKey = (node: Node): string => JSON.stringify(node, (k, v: unknown) => (k === "description" ? undefined : v))

const isObjectCheck = (v: string): string => `typeof ${v} === "object" && ${v} !== null && !Array.isArray(${v})`

interface Helper {
  readonly name: string
  readonly code: string
}

class GuardEmitter {
  private readonly defs: ReadonlyMap<string, Definition>
  /** structural key → helper function name */
  private readonly helperNames = new Map<string, string>()
  /** emitted helpers (functions and literal sets), in creation order */
  private pending: Array<Helper> = []
  private readonly counters = new Map<string, number>()
  private owner = ""
  /** JSON pointer of the definition being emitted (for errors) */
  private pointer = "#"

  /** Exact mode: objects reject undeclared keys, and references go to the exact guards where they differ. */
  private readonly exact: boolean
  private readonly refGuard: (name: string) => string

  /** In exact mode, the definitions whose exact guard differs: they hold an object with properties, or refer to one. */
  readonly exactNeeded: ReadonlySet<string>

  constructor(defs: ReadonlyArray<Definition>, options: { readonly exact?: boolean } = {}) {
    this.defs = new Map(defs.map((d) => [d.name, d]))
    this.exact = options.exact === true
    const holdsObject = (n: Node): boolean =>
      n.kind === "object" ? n.properties.length > 0 : childrenOf(n).some(holdsObject)
    const needed: ReadonlySet<string> = this.exact
      ? withReferrers(defs, defs.filter((d) => holdsObject(d.node)).map((d) => d.name))
      : new Set()
    this.exactNeeded = needed
    this.refGuard = (name) => (needed.has(name) ? exactGuardName(name) : guardName(name))
  }

  private fresh(): string {
    const n = (this.counters.get(this.owner) ?? 0) + 1
    this.counters.set(this.owner, n)
    return `${this.owner}$${n}`
  }

  /** Emits (once per structural key) a helper `function name(u: unknown): boolean` validating `node`. */
  private helper(node: Node): string {
    const key = nodeKey(node)
    const existing = this.helperNames.get(key)
    if (existing !== undefined) return existing
    const name = this.fresh()
    this.helperNames.set(key, name)
    const body = this.body(node)
    this.pending.push({ name, code: `function ${name}(u: unknown): boolean {\n${body}\n}` })
    return name
  }

  private literalSet(values: ReadonlyArray<LiteralValue>): string {
    const key = `set:${JSON.stringify(values)}`
    const existing = this.helperNames.get(key)
    if (existing !== undefined) return existing
    const name = this.fresh()
    this.helperNames.set(key, name)
    this.pending.push({ name, code: `const ${name}: ReadonlySet<unknown> = new Set([${values.map(literal).join(", ")}])` })
    return name
  }

  private resolve(node: Node, seen: Set<string> = new Set()): Node {
    if (node.kind !== "ref") return node
    if (seen.has(node.target)) return { kind: "unknown" }
    seen.add(node.target)
    const def = this.defs.get(node.target)
    if (def === undefined) throw new GenerateError(node.target, "reference to an unknown definition")
    return this.resolve(def.node, seen)
  }

  /** Whether `undefined` is accepted (then a required key needs an explicit `in` check). */
  private acceptsUndefined(node: Node, seen: Set<string> = new Set()): boolean {
    switch (node.kind) {
      case "unknown":
        return true
      case "union":
        return node.members.some((m) => this.acceptsUndefined(m, seen))
      case "ref": {
        if (seen.has(node.target)) return false
        seen.add(node.target)
        return this.acceptsUndefined(this.defs.get(node.target)!.node, seen)
      }
      default:
        return false
    }
  }

  /** A boolean expression validating the value of the side-effect-free expression `v`. */
  expr(node: Node, v: string): string {
    switch (node.kind) {
      case "ref":
        return `${this.refGuard(node.target)}(${v})`
      case "unknown":
        return "true"
      case "string": {
        const checks = [`typeof ${v} === "string"`]
        if (node.minLength !== undefined) checks.push(`(${v} as string).length >= ${Math.max(0, Math.floor(node.minLength))}`)
        if (node.maxLength !== undefined) checks.push(`(${v} as string).length <= ${Math.max(0, Math.floor(node.maxLength))}`)
        return checks.join(" && ")
      }
      case "number": {
        const checks = [node.integer ? `Number.isSafeInteger(${v})` : `typeof ${v} === "number"`]
        if (node.minimum !== undefined) checks.push(`(${v} as number) >= ${node.minimum}`)
        if (node.maximum !== undefined) checks.push(`(${v} as number) <= ${node.maximum}`)
        return checks.join(" && ")
      }
      case "boolean":
        return `typeof ${v} === "boolean"`
      case "null":
        return `${v} === null`
      case "literal":
        if (node.values.length > SET_THRESHOLD) return `${this.literalSet(node.values)}.has(${v})`
        return node.values.length === 1
          ? `${v} === ${literal(node.values[0]!)}`
          : `(${node.values.map((x) => `${v} === ${literal(x)}`).join(" || ")})`
      case "record":
        if (node.value.kind === "unknown") return `(${isObjectCheck(v)})`
        return `${this.helper(node)}(${v})`
      case "object":
        if (node.properties.length === 0) return `(${v} !== null && ${v} !== undefined)`
        return `${this.helper(node)}(${v})`
      case "array":
      case "tuple":
        return `${this.helper(node)}(${v})`
      case "union": {
        if (node.members.some((m) => m.kind === "unknown")) return "true"
        if (this.tag(node) !== undefined) return `${this.helper(node)}(${v})`
        // an opened enum accepts every string: its string literals need no check of their own
        const open = node.members.some((m) => m.kind === "unknownValue")
        const members = open
          ? node.members.filter((m) => !(m.kind === "literal" && m.values.every((x) => typeof x === "string")))
          : node.members
        const checks = members.map((m) => this.expr(m, v)).filter((c) => c !== "false")
        return checks.length === 1 ? checks[0]! : `(${checks.join(" || ")})`
      }
      case "unknownValue":
        return `typeof ${v} === "string"`
      case "unknownVariant":
        // Decoding wraps an unknown variant into `{ [tag]: "@unknown", raw }`: the value is not kept as received, so
        // the guard says no and the caller decodes.
        return "false"
    }
  }

  /** The tag of a union worth switching on: a required single-literal key shared by enough object members. */
  private tag(node: Extract<Node, { kind: "union" }>): { key: string; tagged: Map<number, LiteralValue> } | undefined {
    const candidates = new Map<string, Map<number, LiteralValue>>()
    node.members.forEach((m, i) => {
      const r = this.resolve(m)
      if (r.kind !== "object") return
      for (const p of r.properties) {
        if (p.optional || p.name === "__proto__") continue
        const t = this.resolve(p.node)
        if (t.kind !== "literal" || t.values.length !== 1) continue
        let byMember = candidates.get(p.name)
        if (byMember === undefined) candidates.set(p.name, byMember = new Map())
        byMember.set(i, t.values[0]!)
      }
    })
    let best: { key: string; tagged: Map<number, LiteralValue> } | undefined
    for (const key of [...candidates.keys()].sort()) {
      const tagged = candidates.get(key)!
      const distinct = new Set(tagged.values()).size
      if (tagged.size < SWITCH_THRESHOLD || distinct < 2) continue
      if (best === undefined || tagged.size > best.tagged.size ||
        (tagged.size === best.tagged.size && distinct > new Set(best.tagged.values()).size)) {
        best = { key, tagged }
      }
    }
    return best
  }

  /** The statements of a function `(u: unknown) => boolean` validating `node` (2-space indented). */
  body(node: Node): string {
    switch (node.kind) {
      case "object": {
        if (node.properties.length === 0) return "  return u !== null && u !== undefined"
        const props = [...node.properties]
        // single-literal (tag) properties first: they reject most non-matching union candidates
        const isTag = (n: Node): boolean => {
          const r = this.resolve(n)
          return r.kind === "literal" && r.values.length === 1
        }
        props.sort((a, b) => Number(isTag(b.node) && !b.optional) - Number(isTag(a.node) && !a.optional))
        const checks: Array<string> = []
        for (const p of props) {
          if (p.name === "__proto__") {
            throw new GenerateError(this.pointer, "a property named __proto__ is unsupported by the guard emitter")
          }
          const key = propertyKey(p.name)
          const v = key === p.name ? `o.${p.name}` : `o[${key}]`
          const check = this.expr(p.node, v)
          if (p.optional) {
            if (check !== "true" && !this.acceptsUndefined(p.node)) checks.push(`(${v} === undefined || ${check})`)
          } else {
            if (this.acceptsUndefined(p.node)) checks.push(`${JSON.stringify(p.name)} in o`)
            if (check !== "true") checks.push(check)
          }
        }
        const all = checks.length === 1 ? checks[0]! : `(\n${checks.map((c) => `    ${c}`).join(" &&\n")}\n  )`
        if (this.exact) {
          // Effect's `onExcessProperty: "error"` looks at own keys only; symbol keys are not looked at (JSON drops them)
          const names = node.properties.map((p) => p.name)
          const known = names.length > SET_THRESHOLD
            ? `${this.literalSet(names)}.has(k)`
            : names.map((n) => `k === ${literal(n)}`).join(" || ")
          return [
            "  if (typeof u !== \"object\" || u === null || Array.isArray(u)) return false",
            "  const o = u as Rec",
            ...(checks.length === 0 ? [] : [`  if (!${all.startsWith("(") ? all : `(${all})`}) return false`]),
            `  for (const k in o) if (!(${known}) && Object.hasOwn(o, k)) return false`,
            "  return true"
          ].join("\n")
        }
        return [
          "  if (typeof u !== \"object\" || u === null || Array.isArray(u)) return false",
          ...(checks.length === 0 ? ["  return true"] : ["  const o = u as Rec", `  return ${all}`])
        ].join("\n")
      }
      case "record":
        return [
          "  if (typeof u !== \"object\" || u === null || Array.isArray(u)) return false",
          "  for (const k in u) {",
          "    if (!Object.hasOwn(u, k)) continue",
          "    const x = (u as Rec)[k]",
          `    if (!(${this.expr(node.value, "x")})) return false`,
          "  }",
          "  return true"
        ].join("\n")
      case "array": {
        const check = this.expr(node.items, "x")
        if (check === "true") return "  return Array.isArray(u)"
        return [
          "  if (!Array.isArray(u)) return false",
          "  for (let i = 0; i < u.length; i++) {",
          "    const x: unknown = u[i]",
          `    if (!(${check})) return false`,
          "  }",
          "  return true"
        ].join("\n")
      }
      case "tuple": {
        const checks = [`Array.isArray(u)`, `u.length === ${node.items.length}`]
        node.items.forEach((item, i) => {
          const c = this.expr(item, `u[${i}]`)
          if (c !== "true") checks.push(c)
        })
        return `  return ${checks.join(" && ")}`
      }
      case "union": {
        const tag = this.tag(node)
        if (tag === undefined || node.members.some((m) => m.kind === "unknown")) return `  return ${this.expr(node, "u")}`
        const others = node.members.flatMap((m, i) => (tag.tagged.has(i) ? [] : [this.expr(m, "u")]))
          .filter((c) => c !== "false")
        const cases = new Map<LiteralValue, Array<string>>()
        node.members.forEach((m, i) => {
          const value = tag.tagged.get(i)
          if (value === undefined) return
          let list = cases.get(value)
          if (list === undefined) cases.set(value, list = [])
          list.push(this.memberCall(m))
        })
        const key = propertyKey(tag.key)
        return [
          ...(others.length === 0 ? [] : [`  if (${others.join(" || ")}) return true`]),
          "  if (typeof u !== \"object\" || u === null) return false",
          `  switch ((u as Rec)${key === tag.key ? `.${tag.key}` : `[${key}]`}) {`,
          ...[...cases.entries()].map(([value, calls]) => `    case ${literal(value)}:\n      return ${calls.join(" || ")}`),
          "    default:",
          "      return false",
          "  }"
        ].join("\n")
      }
      default:
        return `  return ${this.expr(node, "u")}`
    }
  }

  /** A call validating `u` against a tagged union member (a definition or an inline object). */
  private memberCall(m: Node): string {
    return m.kind === "ref" ? `${this.refGuard(m.target)}(u)` : `${this.helper(m)}(u)`
  }

  /** Emits the guard of one definition followed by the helpers it created first. */
  definition(def: Definition): string {
    this.owner = this.refGuard(def.name)
    this.pointer = def.pointer
    this.pending = []
    const body = this.body(def.node)
    const fn = `${this.exact ? "" : "export "}function ${this.owner}(u: unknown): u is S.${def.name} {\n${body}\n}`
    return [fn, ...this.pending.map((h) => h.code)].join("\n\n")
  }

  /** A typed guard for a method map entry: the definition's guard for a plain `$ref`, otherwise a helper. */
  mapEntry(node: Node, owner: string, typeText: string, out: Array<string>): string {
    if (node.kind === "ref") return this.refGuard(node.target)
    this.owner = owner
    this.pointer = owner
    this.pending = []
    const name = this.fresh()
    const body = this.body(node)
    out.push(`function ${name}(u: unknown): u is ${typeText} {\n${body}\n}`, ...this.pending.map((h) => h.code))
    return name
  }
}

const header = (version: string): string =>
  `// GENERATED by scripts/generate.ts from codex ${version}. DO NOT EDIT: run \`npm run generate\` instead.\n`

export const renderGuards = (model: Model, version: string): string => {
  const exported = new Set(model.definitions.map((d) => d.name))
  for (const d of model.definitions) {
    const g = guardName(d.name)
    if (exported.has(g)) throw new GenerateError(d.pointer, `guard name ${g} collides with a definition`)
  }
  const emitter = new GuardEmitter(model.definitions)
  const out: Array<string> = [
    header(version),
    "/* eslint-disable */",
    "import type {",
    "  ClientRequestMethod,",
    "  ClientRequestParams,",
    "  ClientRequestResponse,",
    "  ServerNotificationMethod,",
    "  ServerNotificationParams,",
    "  ServerRequestMethod,",
    "  ServerRequestParams",
    "} from \"./methods.js\"",
    "import type * as S from \"./schemas.js\"",
    "",
    "/*",
    " * Compiled type guards: `isFoo(u)` is true exactly when `Schema.decodeUnknownExit(Foo)(u)` succeeds without",
    " * wrapping an unknown variant (unknown keys are accepted, as the schemas do; the guard does not strip them). A value",
    " * holding a variant this version does not know is rejected: decode it (the schema wraps it). Straight-line checks,",
    " * no allocation.",
    " */",
    "",
    "type Rec = { readonly [key: string]: unknown }",
    ""
  ]
  for (const def of model.definitions) {
    out.push(emitter.definition(def), "")
  }

  // ---- method maps ------------------------------------------------------------------------------
  const helpers: Array<string> = []
  const typeOf = (node: Node): string => typeExpr(node, { prefix: "S.", suspend: () => false }, 0)
  const notifications = model.serverNotifications.map((n) => {
    if (n.params !== undefined && !n.paramsRequired) throw new GenerateError(n.method, "optional server notification params")
    const guard = n.params === undefined ? noParams(helpers) : emitter.mapEntry(n.params, "isParams", typeOf(n.params), helpers)
    return `  ${JSON.stringify(n.method)}: ${guard}`
  })
  // Mirrors the params schemas of methods.ts: `NoParams` for absent params, `UndefinedOr(...)` for optional ones.
  const clientParams = model.clientRequests.map((m) => {
    if (!m.paramsRequired && m.params.kind === "null") return `  ${JSON.stringify(m.method)}: ${noParams(helpers)}`
    const inner = emitter.mapEntry(m.params, "isParams", typeOf(m.params), helpers)
    const guard = m.paramsRequired
      ? inner
      : `(u: unknown): u is undefined | ${typeOf(m.params)} => u === undefined || ${inner}(u)`
    return `  ${JSON.stringify(m.method)}: ${guard}`
  })
  // Exact guards of the client request params: only the definitions the params reach.
  const byName = new Map(model.definitions.map((d) => [d.name, d]))
  const reached = new Set<string>()
  const reach = (n: Node): void => {
    for (const r of refsOf(n)) {
      if (reached.has(r)) continue
      reached.add(r)
      reach(byName.get(r)!.node)
    }
  }
  model.clientRequests.forEach((m) => reach(m.params))
  const exact = new GuardEmitter(model.definitions, { exact: true })
  const exactDefinitions = model.definitions
    .filter((d) => reached.has(d.name) && exact.exactNeeded.has(d.name))
    .map((d) => exact.definition(d))
  const clientParamsExact = model.clientRequests.map((m) => {
    if (!m.paramsRequired && m.params.kind === "null") return `  ${JSON.stringify(m.method)}: ${noParams(helpers)}`
    const inner = exact.mapEntry(m.params, "isExactParams", typeOf(m.params), helpers)
    const guard = m.paramsRequired
      ? inner
      : `(u: unknown): u is undefined | ${typeOf(m.params)} => u === undefined || ${inner}(u)`
    return `  ${JSON.stringify(m.method)}: ${guard}`
  })
  const responses = model.clientRequests.map((m) => `  ${JSON.stringify(m.method)}: ${guardName(m.response)}`)
  const serverRequests = model.serverRequests.map((m) => {
    if (!m.paramsRequired) throw new GenerateError(m.method, "optional server request params")
    return `  ${JSON.stringify(m.method)}: ${emitter.mapEntry(m.params, "isParams", typeOf(m.params), helpers)}`
  })
  out.push(
    ...exactDefinitions.flatMap((d) => [d, ""]),
    ...(helpers.length === 0 ? [] : [...helpers.flatMap((h) => [h, ""])]),
    "/** Server → client notifications: method → guard of the params (accepts what `ServerNotifications[method]` decodes). */",
    "export const ServerNotificationGuards: {",
    "  readonly [M in ServerNotificationMethod]: (u: unknown) => u is ServerNotificationParams<M>",
    "} = {",
    notifications.join(",\n"),
    "}",
    "",
    "/** Client → server requests: method → guard of the params (accepts what `ClientRequests[method].params` decodes). */",
    "export const ClientRequestParamsGuards: {",
    "  readonly [M in ClientRequestMethod]: (u: unknown) => u is ClientRequestParams<M>",
    "} = {",
    clientParams.join(",\n"),
    "}",
    "",
    "/**",
    " * Client → server requests: method → exact guard of the params: also rejects any own key that the protocol does",
    " * not declare, at any depth (accepts what `ClientRequests[method].params` decodes with `onExcessProperty: \"error\"`).",
    " */",
    "export const ClientRequestParamsExactGuards: {",
    "  readonly [M in ClientRequestMethod]: (u: unknown) => u is ClientRequestParams<M>",
    "} = {",
    clientParamsExact.join(",\n"),
    "}",
    "",
    "/** Client → server requests: method → guard of the response (accepts what `ClientRequests[method].response` decodes). */",
    "export const ClientResponseGuards: {",
    "  readonly [M in ClientRequestMethod]: (u: unknown) => u is ClientRequestResponse<M>",
    "} = {",
    responses.join(",\n"),
    "}",
    "",
    "/** Server → client requests: method → guard of the params (accepts what `ServerRequests[method].params` decodes). */",
    "export const ServerRequestParamsGuards: {",
    "  readonly [M in ServerRequestMethod]: (u: unknown) => u is ServerRequestParams<M>",
    "} = {",
    serverRequests.join(",\n"),
    "}",
    ""
  )
  return out.join("\n")
}

const noParams = (helpers: Array<string>): string => {
  const name = "isNoParams$"
  if (!helpers.some((h) => h.startsWith(`function ${name}(`))) {
    helpers.push(`function ${name}(u: unknown): u is null | undefined {\n  return u === null || u === undefined\n}`)
  }
  return name
}
