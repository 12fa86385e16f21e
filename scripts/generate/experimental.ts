/**
 * The experimental surface (`codex app-server generate-json-schema --experimental`) → `generated/src/experimental.ts`,
 * a module of its own (re-exported as the namespace `Experimental`), never mixed into the stable maps.
 *
 * The experimental protocol is a superset of the stable one: more methods, and experimental fields on some stable
 * definitions (`ThreadStartParams.dynamicTools`, ...). The module declares only the definitions that differ from the
 * stable ones (new, changed, or referring to one that is), under their protocol names, and refers to `schemas.ts`
 * for the rest; its method maps cover every method of the experimental protocol, typed with those definitions.
 */
import { codecType, docComment, type EmitContext, objectTypeBody, schemaExpr, typeExpr } from "./emit.js"
import { type Node, refsOf, withReferrers } from "./ir.js"
import { type Definition, type Model, orderDefinitions } from "./model.js"
import { CLIENT_REQUEST_TYPES, requestEntry, SERVER_REQUEST_TYPES, tsHeader } from "./render.js"

/** What the experimental protocol adds to the stable one. */
export interface ExperimentalSurface {
  /** The whole experimental model. */
  readonly model: Model
  /** Definitions declared in experimental.ts: new ones, changed ones, and those that refer to one of them. */
  readonly definitions: ReadonlyArray<Definition>
  /** Client request methods only the experimental protocol has. */
  readonly newClientRequests: ReadonlyArray<string>
  /** Server request methods only the experimental protocol has. */
  readonly newServerRequests: ReadonlyArray<string>
  /** Stable client request methods whose params or response gain experimental fields. */
  readonly extendedClientRequests: ReadonlyArray<string>
  /** Stable definitions that are open for received values (their codecs' encoded side is `unknown`). */
  readonly stableOpen: ReadonlySet<string>
}

const shapeKey = (node: Node): string => JSON.stringify(node, (k, v: unknown) => (k === "description" ? undefined : v))

/** Replaces the target of every reference in `node`. */
const mapRefs = (node: Node, f: (name: string) => string): Node => {
  switch (node.kind) {
    case "ref":
      return { kind: "ref", target: f(node.target) }
    case "array":
      return { ...node, items: mapRefs(node.items, f) }
    case "tuple":
      return { ...node, items: node.items.map((n) => mapRefs(n, f)) }
    case "record":
      return { ...node, value: mapRefs(node.value, f) }
    case "object":
      return { ...node, properties: node.properties.map((p) => ({ ...p, node: mapRefs(p.node, f) })) }
    case "union":
      return { ...node, members: node.members.map((n) => mapRefs(n, f)) }
    default:
      return node
  }
}

/** Splits the experimental model into what it shares with the stable model and what it adds. */
export const experimentalSurface = (stable: Model, experimental: Model): ExperimentalSurface => {
  const stableDefs = new Map(stable.definitions.map((d) => [d.name, d]))
  const differs = experimental.definitions.filter((d) => {
    const s = stableDefs.get(d.name)
    return s === undefined || shapeKey(s.node) !== shapeKey(d.node)
  })
  // a definition that refers to an experimental one must refer to the experimental declaration
  const own = withReferrers(experimental.definitions, differs.map((d) => d.name))
  const stableClient = new Set(stable.clientRequests.map((m) => m.method))
  const stableServer = new Set(stable.serverRequests.map((m) => m.method))
  const touches = (n: Node): boolean => [...refsOf(n)].some((r) => own.has(r))
  return {
    model: experimental,
    definitions: experimental.definitions.filter((d) => own.has(d.name)),
    newClientRequests: experimental.clientRequests.filter((m) => !stableClient.has(m.method)).map((m) => m.method),
    newServerRequests: experimental.serverRequests.filter((m) => !stableServer.has(m.method)).map((m) => m.method),
    extendedClientRequests: experimental.clientRequests
      .filter((m) => stableClient.has(m.method) && (touches(m.params) || own.has(m.response)))
      .map((m) => m.method),
    stableOpen: new Set(stable.definitions.filter((d) => d.open === true).map((d) => d.name))
  }
}

export const renderExperimental = (surface: ExperimentalSurface, version: string): string => {
  const own = new Set(surface.definitions.map((d) => d.name))
  const local = (node: Node): Node => mapRefs(node, (n) => (own.has(n) ? n : `S.${n}`))
  const localName = (n: string): string => (own.has(n) ? n : `S.${n}`)
  const { lazy, order } = orderDefinitions(surface.definitions)
  const out: Array<string> = [
    tsHeader(version),
    "/* eslint-disable */",
    "/*",
    " * The experimental surface of the protocol (`generate-json-schema --experimental`), for connections that set",
    " * `capabilities.experimentalApi: true` in `initialize`. The definitions below are the ones that differ from",
    " * schemas.ts (new, with experimental fields, or referring to such a definition); the maps cover every method of",
    " * the experimental protocol.",
    " */",
    "import * as Schema from \"effect/Schema\"",
    "import { NoParams } from \"./methods.js\"",
    "import * as S from \"./schemas.js\"",
    "import { UnknownValue, UnknownVariant } from \"./schemas.js\"",
    ""
  ]
  const ownOpen = new Set(surface.definitions.filter((d) => d.open === true).map((d) => d.name))
  // References to stable definitions are `S.Name` here.
  const open = (n: string): boolean => n.startsWith("S.") ? surface.stableOpen.has(n.slice(2)) : ownOpen.has(n)
  for (const def of order) {
    const l = lazy.get(def.name) ?? new Set<string>()
    const ctx: EmitContext = { prefix: "", suspend: (n) => l.has(n), open }
    const node = local(def.node)
    const doc = docComment(def.description, 0)
    const typeDecl = node.kind === "object"
      ? `export interface ${def.name} ${objectTypeBody(node.properties, ctx, 0)}`
      : `export type ${def.name} = ${typeExpr(node, ctx, 0)}`
    out.push(`${doc}${typeDecl}`)
    out.push(`${doc}export const ${def.name}: ${codecType(def.name, def.open === true)} = ${schemaExpr(node, ctx, 0)}`)
    out.push("")
  }
  const ctx: EmitContext = { prefix: "", suspend: () => false, open }
  const { clientRequests, serverRequests } = surface.model
  const entry = (m: (typeof clientRequests)[number]): string =>
    requestEntry({ ...m, params: local(m.params) }, ctx, localName(m.response))
  const list = (xs: ReadonlyArray<string>): string => xs.map((m) => JSON.stringify(m)).join(", ")
  out.push(
    "/** Every client → server request of the experimental protocol: method → `{ params, response }` schemas. */",
    "export const ClientRequests = {",
    clientRequests.map(entry).join(",\n"),
    "} as const",
    "",
    "/** Every server → client request of the experimental protocol: method → `{ params, response }` schemas. */",
    "export const ServerRequests = {",
    serverRequests.map(entry).join(",\n"),
    "} as const",
    "",
    "/** Client request methods that only the experimental protocol has. */",
    `export const newClientRequestMethods: ReadonlyArray<ClientRequestMethod> = [${list(surface.newClientRequests)}]`,
    "",
    "/** Stable client request methods whose params or response gain experimental fields. */",
    `export const extendedClientRequestMethods: ReadonlyArray<ClientRequestMethod> = [${list(surface.extendedClientRequests)}]`,
    "",
    ...CLIENT_REQUEST_TYPES,
    "",
    ...SERVER_REQUEST_TYPES,
    ""
  )
  return out.join("\n")
}
