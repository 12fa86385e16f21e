/**
 * Compares the field names of the generated definitions with codex's own TypeScript types
 * (`codex app-server generate-ts --out DIR`, written by ts-rs from the Rust types: an independent reference for what
 * the JSON Schema says).
 *
 * A definition's field names are the paths of its properties through inline objects: `turnId`, `source.kind`,
 * `config.*.enabled` (`*` for a map's values). Unions, intersections, arrays, tuples and nullability are transparent
 * and references to other definitions end a path, so both sides describe the same set when they agree on the names,
 * whatever the shape of the types. Every definition with a counterpart in `generate-ts` (`Foo` ↔ `Foo.ts` or `v2/Foo.ts`;
 * ts-rs writes a flattened variant as `{ type } & Other`, whose fields are looked up in `Other`) is compared; any difference fails the generator unless patches.ts fixes or
 * documents it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"
import { GenerateError, type Node } from "./ir.js"
import type { Definition, Model } from "./model.js"
import { type KnownDifference, patchesFor, SCHEMA_PATCHES, type SchemaPatch } from "./patches.js"

/** A definition whose field names differ from codex's own TypeScript type. */
export interface FieldDisagreement {
  readonly definition: string
  readonly officialFile: string
  /** Field paths only in the generated definition. */
  readonly onlyGenerated: ReadonlyArray<string>
  /** Field paths only in codex's `generate-ts` type. */
  readonly onlyOfficial: ReadonlyArray<string>
}

/** What the comparison covered. */
export interface FieldComparison {
  /** Definitions compared with an official type. */
  readonly compared: number
  /** Field paths compared (on the generated side). */
  readonly fields: number
  /** Generated definitions without a `generate-ts` counterpart (JSON-Schema-only helpers), not compared. */
  readonly unmatched: ReadonlyArray<string>
  readonly disagreements: ReadonlyArray<FieldDisagreement>
}

const sorted = (xs: Iterable<string>): Array<string> => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))

/** Field paths of an IR node (see the module comment). */
export const irFieldPaths = (node: Node, prefix = "", out: Set<string> = new Set()): Set<string> => {
  switch (node.kind) {
    case "object":
      for (const p of node.properties) {
        out.add(prefix + p.name)
        irFieldPaths(p.node, `${prefix}${p.name}.`, out)
      }
      break
    case "union":
      node.members.forEach((m) => irFieldPaths(m, prefix, out))
      break
    case "array":
      irFieldPaths(node.items, prefix, out)
      break
    case "tuple":
      node.items.forEach((m) => irFieldPaths(m, prefix, out))
      break
    case "record":
      irFieldPaths(node.value, `${prefix}*.`, out)
      break
    default:
      break
  }
  return out
}

const memberName = (name: ts.PropertyName, file: string): string => {
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name)) return name.text
  throw new Error(`${file}: unsupported property name ${name.getText()}`)
}

/**
 * Resolves a type name used in a ts-rs file to the field paths of its declaration (ts-rs writes a flattened or
 * newtype variant as `{ "type": "x" } & OtherType`, where the JSON Schema inlines the fields).
 */
type Resolve = (name: string) => Set<string>

/** Field paths of a TypeScript type node written by ts-rs. */
export const tsFieldPaths = (
  node: ts.TypeNode,
  file: string,
  resolve: Resolve,
  prefix = "",
  out: Set<string> = new Set()
): Set<string> => {
  const recurse = (n: ts.TypeNode, p: string = prefix): void => void tsFieldPaths(n, file, resolve, p, out)
  if (ts.isTypeLiteralNode(node)) {
    for (const member of node.members) {
      if (ts.isPropertySignature(member)) {
        const name = memberName(member.name, file)
        out.add(prefix + name)
        if (member.type !== undefined) recurse(member.type, `${prefix}${name}.`)
      } else if (ts.isIndexSignatureDeclaration(member)) {
        recurse(member.type, `${prefix}*.`)
      } else throw new Error(`${file}: unsupported member ${ts.SyntaxKind[member.kind]}`)
    }
  } else if (ts.isMappedTypeNode(node)) {
    if (node.type !== undefined) recurse(node.type, `${prefix}*.`)
  } else if (ts.isIntersectionTypeNode(node)) {
    for (const t of node.types) {
      if (ts.isTypeReferenceNode(t) && ts.isIdentifier(t.typeName) && t.typeArguments === undefined) {
        for (const f of resolve(t.typeName.text)) out.add(prefix + f)
      } else recurse(t)
    }
  } else if (ts.isUnionTypeNode(node)) {
    node.types.forEach((t) => recurse(t))
  } else if (ts.isParenthesizedTypeNode(node) || ts.isOptionalTypeNode(node) || ts.isRestTypeNode(node)) {
    recurse(node.type)
  } else if (ts.isArrayTypeNode(node)) {
    recurse(node.elementType)
  } else if (ts.isTupleTypeNode(node)) {
    node.elements.forEach((e) => recurse(ts.isNamedTupleMember(e) ? e.type : e))
  } else if (ts.isTypeReferenceNode(node)) {
    const args = node.typeArguments ?? []
    if (ts.isIdentifier(node.typeName) && node.typeName.text === "Record" && args.length === 2) recurse(args[1]!, `${prefix}*.`)
    else args.forEach((t) => recurse(t))
  }
  return out
}

/** The field paths of the type `name` declared in the `generate-ts` file `rel` (relative to `dir`). */
const officialFieldPaths = (dir: string, rel: string, name: string): Set<string> => {
  const file = path.join(dir, rel)
  const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const imports = new Map<string, string>()
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue
    const bindings = statement.importClause?.namedBindings
    if (bindings === undefined || !ts.isNamedImports(bindings)) continue
    const target = path.posix.join(path.posix.dirname(rel), `${statement.moduleSpecifier.text}.ts`)
    for (const element of bindings.elements) imports.set(element.name.text, target)
  }
  const resolve: Resolve = (n) => {
    const target = imports.get(n)
    if (target === undefined) throw new Error(`${rel}: cannot resolve the type ${n}`)
    return officialFieldPaths(dir, target, n)
  }
  for (const statement of source.statements) {
    if (ts.isTypeAliasDeclaration(statement) && statement.name.text === name) return tsFieldPaths(statement.type, rel, resolve)
  }
  throw new Error(`${rel}: no type ${name} declared`)
}

/** The `generate-ts` file of a definition (by its JSON pointer): `Foo.ts` for a root definition, `v2/Foo.ts` for v2. */
export const officialFileOf = (pointer: string, dir: string): { readonly rel: string; readonly name: string } | undefined => {
  const m = /^#\/definitions\/(v2\/)?([^/]+)$/.exec(pointer)
  if (m === null) throw new Error(`unexpected definition pointer ${pointer}`)
  const name = m[2]!
  // a definition the bundle holds at the root and in v2 (merged when identical) may be written to either folder
  const candidates = m[1] === undefined ? [`${name}.ts`, `v2/${name}.ts`] : [`v2/${name}.ts`, `${name}.ts`]
  const rel = candidates.find((c) => fs.existsSync(path.join(dir, c)))
  return rel === undefined ? undefined : { rel, name }
}

/** Compares every definition with its `generate-ts` counterpart in `dir`. */
export const compareFieldNames = (definitions: ReadonlyArray<Definition>, dir: string): FieldComparison => {
  let compared = 0
  let fields = 0
  const unmatched: Array<string> = []
  const disagreements: Array<FieldDisagreement> = []
  for (const def of definitions) {
    const file = officialFileOf(def.pointer, dir)
    if (file === undefined) {
      unmatched.push(def.name)
      continue
    }
    const { name, rel } = file
    const official = officialFieldPaths(dir, rel, name)
    const generated = irFieldPaths(def.node)
    compared++
    fields += generated.size
    const onlyGenerated = sorted([...generated].filter((f) => !official.has(f)))
    const onlyOfficial = sorted([...official].filter((f) => !generated.has(f)))
    if (onlyGenerated.length + onlyOfficial.length > 0) {
      disagreements.push({ definition: def.name, officialFile: rel, onlyGenerated, onlyOfficial })
    }
  }
  return { compared, fields, unmatched: sorted(unmatched), disagreements }
}

/** The method lists of the four envelopes compared with `generate-ts`'s `ClientRequest.ts`, ... */
export interface MethodComparison {
  /** Methods compared. */
  readonly compared: number
  /** One line per method only in the JSON Schema, or whose params type differs: these fail the generator. */
  readonly disagreements: ReadonlyArray<string>
  /**
   * Methods that only `generate-ts` lists (`Envelope method`): the JSON Schema leaves them out (legacy v1 requests,
   * raw-event notifications), so they are not typed here and arrive as unknown methods. Reported, not failed.
   */
  readonly onlyOfficial: ReadonlyArray<string>
}

/** The name of the definition a params node refers to (`Foo`, or `Foo | null`), or undefined for no/inline params. */
const paramsName = (node: Node | undefined): string | undefined => {
  if (node === undefined) return undefined
  if (node.kind === "ref") return node.target
  if (node.kind === "union") {
    const refs = node.members.filter((m) => m.kind === "ref")
    if (refs.length === 1 && node.members.every((m) => m.kind === "ref" || m.kind === "null")) return paramsName(refs[0])
  }
  return undefined
}

/** `method` → params type name of the union written by ts-rs in `rel` (`{ "method": "x", id, params: Foo }`, ...). */
const officialMethods = (dir: string, rel: string): Map<string, string | undefined> => {
  const file = path.join(dir, rel)
  const name = path.basename(rel, ".ts")
  const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const alias = source.statements.find((st): st is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(st) && st.name.text === name)
  if (alias === undefined) throw new Error(`${rel}: no type ${name} declared`)
  const members = ts.isUnionTypeNode(alias.type) ? alias.type.types : [alias.type]
  const out = new Map<string, string | undefined>()
  for (const member of members) {
    if (!ts.isTypeLiteralNode(member)) throw new Error(`${rel}: unexpected member ${member.getText(source)}`)
    let method: string | undefined
    let params: string | undefined
    for (const p of member.members) {
      if (!ts.isPropertySignature(p) || p.type === undefined) continue
      const key = memberName(p.name, rel)
      if (key === "method" && ts.isLiteralTypeNode(p.type) && ts.isStringLiteral(p.type.literal)) method = p.type.literal.text
      if (key === "params") {
        const types: ReadonlyArray<ts.TypeNode> = ts.isUnionTypeNode(p.type) ? p.type.types : [p.type]
        const refs: Array<ts.TypeReferenceNode> = []
        for (const t of types) if (ts.isTypeReferenceNode(t)) refs.push(t)
        const ref = refs.length === 1 ? refs[0]!.typeName : undefined
        if (ref !== undefined && ts.isIdentifier(ref)) params = ref.text
      }
    }
    if (method === undefined) throw new Error(`${rel}: a member without a string-literal method`)
    out.set(method, params)
  }
  return out
}

/** Compares the model's method maps (methods and their params type) with the envelopes of `generate-ts`. */
export const compareMethods = (model: Model, dir: string): MethodComparison => {
  const disagreements: Array<string> = []
  const onlyOfficial: Array<string> = []
  let compared = 0
  const envelopes: ReadonlyArray<readonly [string, ReadonlyArray<{ readonly method: string; readonly params: Node | undefined }>]> = [
    ["ClientRequest.ts", model.clientRequests],
    ["ServerRequest.ts", model.serverRequests],
    ["ServerNotification.ts", model.serverNotifications],
    ["ClientNotification.ts", model.clientNotifications]
  ]
  for (const [rel, methods] of envelopes) {
    const official = officialMethods(dir, rel)
    for (const m of methods) {
      compared++
      if (!official.has(m.method)) disagreements.push(`${rel}: method ${m.method} only in the JSON Schema`)
      else if (official.get(m.method) !== paramsName(m.params)) {
        disagreements.push(
          `${rel}: params of ${m.method} are ${paramsName(m.params) ?? "(none/inline)"} in the JSON Schema, ` +
            `${official.get(m.method) ?? "(none/inline)"} in generate-ts`
        )
      }
    }
    const ours = new Set(methods.map((m) => m.method))
    for (const method of official.keys()) if (!ours.has(method)) onlyOfficial.push(`${path.basename(rel, ".ts")} ${method}`)
  }
  return { compared, disagreements, onlyOfficial: sorted(onlyOfficial) }
}

/** One line per disagreement, for the generator's error. */
export const formatDisagreements = (ds: ReadonlyArray<FieldDisagreement>): string =>
  ds.map((d) =>
    `  ${d.definition} (vs generate-ts ${d.officialFile}): only in the JSON Schema: ${d.onlyGenerated.join(", ") || "-"}; ` +
    `only in generate-ts: ${d.onlyOfficial.join(", ") || "-"}`
  ).join("\n")

/** The comparisons of the stable model and of the experimental model (each with its own `generate-ts` output). */
export interface OfficialTypesCheck {
  readonly stable: FieldComparison
  readonly experimental: FieldComparison
  readonly methods: { readonly stable: MethodComparison; readonly experimental: MethodComparison }
}

/**
 * Returns `check` when every disagreement is a known difference of the patch table; otherwise fails the generator,
 * listing each unexplained disagreement. A known difference that no longer occurs fails too (stale entry).
 */
export const checkOfficialTypes = (check: OfficialTypesCheck, patches: ReadonlyArray<SchemaPatch> = SCHEMA_PATCHES): OfficialTypesCheck => {
  const known = patches.filter((p): p is KnownDifference => p.op === "knownDifference")
  const used = new Set<KnownDifference>()
  const unexplained: Array<FieldDisagreement> = []
  const explain = (ds: ReadonlyArray<FieldDisagreement>, protocol: "stable" | "experimental", label: string): void => {
    for (const d of ds) {
      const entries = patchesFor(known, protocol).filter((k) =>
        k.definition === d.definition && k.onlyGenerated.every((f) => d.onlyGenerated.includes(f)) &&
        k.onlyOfficial.every((f) => d.onlyOfficial.includes(f))
      )
      entries.forEach((k) => used.add(k))
      const onlyGenerated = d.onlyGenerated.filter((f) => !entries.some((k) => k.onlyGenerated.includes(f)))
      const onlyOfficial = d.onlyOfficial.filter((f) => !entries.some((k) => k.onlyOfficial.includes(f)))
      if (onlyGenerated.length + onlyOfficial.length > 0) {
        unexplained.push({ ...d, definition: `${label}${d.definition}`, onlyGenerated, onlyOfficial })
      }
    }
  }
  explain(check.stable.disagreements, "stable", "")
  explain(check.experimental.disagreements, "experimental", "Experimental.")
  const problems: Array<string> = []
  if (unexplained.length > 0) {
    problems.push(
      `field names differ from codex's own TypeScript types (\`codex app-server generate-ts\`) in ${unexplained.length} definition(s):\n` +
        `${formatDisagreements(unexplained)}\n` +
        "If the JSON Schema is wrong, add a reviewed entry to scripts/generate/patches.ts; otherwise fix the generator."
    )
  }
  const methods = [
    ...check.methods.stable.disagreements,
    ...check.methods.experimental.disagreements.map((d) => `(experimental) ${d}`)
  ]
  if (methods.length > 0) {
    problems.push(`method maps differ from codex's own TypeScript types:\n${methods.map((d) => `  ${d}`).join("\n")}`)
  }
  const stale = known.filter((k) => !used.has(k))
  if (stale.length > 0) {
    problems.push(
      `known difference(s) that no longer occur: ${stale.map((k) => k.definition).join(", ")}; ` +
        "review and remove them from scripts/generate/patches.ts"
    )
  }
  if (problems.length > 0) throw new GenerateError("generate-ts", problems.join("\n"))
  return check
}
