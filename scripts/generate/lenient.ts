/**
 * Lenient where the protocol grows, strict where we send.
 *
 * Every position the server fills (client request responses, server notification params, server request params)
 * is opened: a string enum also accepts any other string (`UnknownValue`), and a tagged union also accepts an object
 * whose tag is none of the known ones, which decodes to `{ <tag>: "@unknown", raw }` with the received object kept
 * whole in `raw` (`UnknownVariant`). Positions we fill (client request params, server request responses, client
 * notification params) stay exactly as the schema says. A definition used on both sides is emitted twice: strict under
 * its own name, open as `Received<Name>`; a definition the server alone sends is open under its own name.
 */
import { childrenOf, GenerateError, type LiteralValue, type Node, refsOf, withReferrers } from "./ir.js"
import type { Definition, Model, NotificationMethod, RequestMethod } from "./model.js"

/** The tag value an unknown variant decodes to; no codex tag may use it (the generator checks). */
export const UNKNOWN_TAG = "@unknown"

/** Name of the open twin of a definition that is also sent. */
const receivedName = (name: string): string => `Received${name}`

/**
 * The tag key of a union whose non-null members are all objects with a required single-literal string key taking at
 * least two values (two members may share one: alternative shapes of one variant).
 */
const tagOf = (
  node: Extract<Node, { kind: "union" }>,
  resolve: (node: Node) => Node
): { readonly key: string; readonly known: ReadonlyArray<string> } | undefined => {
  const objects = node.members.filter((m) => m.kind !== "null").map((m) => resolve(m))
  if (objects.length < 2 || objects.some((m) => m.kind !== "object")) return undefined
  const tags = (m: Node): Map<string, LiteralValue> => {
    const out = new Map<string, LiteralValue>()
    if (m.kind !== "object") return out
    for (const p of m.properties) {
      const t = resolve(p.node)
      if (!p.optional && t.kind === "literal" && t.values.length === 1) out.set(p.name, t.values[0]!)
    }
    return out
  }
  const perMember = objects.map(tags)
  for (const key of [...perMember[0]!.keys()].sort()) {
    const values = perMember.map((t) => t.get(key))
    if (values.some((v) => typeof v !== "string")) continue
    const known = [...new Set(values as Array<string>)]
    if (known.length < 2) continue
    return { key, known }
  }
  return undefined
}

/** An enum worth opening: a literal of two or more strings. */
const isEnum = (node: Node): node is Extract<Node, { kind: "literal" }> =>
  node.kind === "literal" && node.values.length >= 2 && node.values.every((v) => typeof v === "string")

/** A union of string literals (`oneOf` of `const`s, each with its own description) that together make an enum. */
const isEnumUnion = (node: Extract<Node, { kind: "union" }>): boolean =>
  node.members.flatMap((m) => m.kind === "literal" ? m.values.filter((v) => typeof v === "string") : []).length >= 2

export const openReceived = (model: Model): Model => {
  const defs = new Map(model.definitions.map((d) => [d.name, d]))
  const resolve = (node: Node, seen: Set<string> = new Set()): Node => {
    if (node.kind !== "ref" || seen.has(node.target)) return node
    seen.add(node.target)
    return resolve(defs.get(node.target)!.node, seen)
  }

  // Which definitions change when opened: those with an enum or tagged union of their own, and those that refer
  // to one that changes (a fixpoint over the reference graph).
  const opensItself = (node: Node): boolean => {
    switch (node.kind) {
      case "literal":
        return isEnum(node)
      case "union":
        return tagOf(node, resolve) !== undefined || isEnumUnion(node) || node.members.some(opensItself)
      default:
        return childrenOf(node).some(opensItself)
    }
  }
  const changed = withReferrers(model.definitions, model.definitions.filter((d) => opensItself(d.node)).map((d) => d.name))

  const reachable = (roots: Iterable<string>): Set<string> => {
    const out = new Set<string>()
    const queue = [...roots]
    while (queue.length > 0) {
      const name = queue.pop()!
      if (out.has(name)) continue
      out.add(name)
      queue.push(...refsOf(defs.get(name)!.node))
    }
    return out
  }
  const rootsOf = (nodes: ReadonlyArray<Node | undefined>): Set<string> => {
    const out = new Set<string>()
    for (const n of nodes) if (n !== undefined) refsOf(n, out)
    return out
  }
  const sent = reachable(rootsOf([
    ...model.clientRequests.map((m) => m.params),
    ...model.serverRequests.map((m) => ({ kind: "ref", target: m.response }) as const),
    ...model.clientNotifications.map((m) => m.params)
  ]))
  const received = reachable(rootsOf([
    ...model.clientRequests.map((m) => ({ kind: "ref", target: m.response }) as const),
    ...model.serverNotifications.map((m) => m.params),
    ...model.serverRequests.map((m) => m.params)
  ]))

  /** The name under which the open form of `name` is emitted. */
  const openName = (name: string): string => changed.has(name) && sent.has(name) ? receivedName(name) : name

  /** The open form of `node`; `where` (a JSON pointer or a method) names it in errors. */
  const open = (node: Node, where: string): Node => {
    switch (node.kind) {
      case "ref":
        return { kind: "ref", target: openName(node.target) }
      case "literal":
        return isEnum(node) ? { kind: "union", members: [node, { kind: "unknownValue" }] } : node
      case "union": {
        // the enum's literals stay as they are; one `UnknownValue` at the end opens them all
        const members = node.members.map((m) => m.kind === "literal" ? m : open(m, where))
        if (isEnumUnion(node)) members.push({ kind: "unknownValue" })
        const tag = tagOf(node, resolve)
        if (tag === undefined) return { kind: "union", members }
        if (tag.known.includes(UNKNOWN_TAG)) {
          throw new GenerateError(
            where,
            `a tagged union (tag \`${tag.key}\`) already uses the tag ${JSON.stringify(UNKNOWN_TAG)} that unknown variants decode to`
          )
        }
        return { kind: "union", members: [...members, { kind: "unknownVariant", tag: tag.key, known: tag.known }] }
      }
      case "array":
        return { kind: "array", items: open(node.items, where) }
      case "tuple":
        return { kind: "tuple", items: node.items.map((n) => open(n, where)) }
      case "record":
        return { kind: "record", value: open(node.value, where) }
      case "object":
        return { kind: "object", properties: node.properties.map((p) => ({ ...p, node: open(p.node, `${where}/${p.name}`) })) }
      default:
        return node
    }
  }

  const definitions: Array<Definition> = []
  for (const d of model.definitions) {
    const isSent = sent.has(d.name)
    const isReceived = received.has(d.name)
    if (!changed.has(d.name) || !isReceived) {
      definitions.push(d)
      continue
    }
    const opened: Definition = { ...d, node: open(d.node, d.pointer), open: true }
    if (!isSent) {
      definitions.push(opened)
      continue
    }
    const name = receivedName(d.name)
    if (defs.has(name)) throw new GenerateError(d.pointer, `the open twin ${name} collides with a definition`)
    definitions.push(d, {
      ...opened,
      name,
      twinOf: d.name,
      description: `${d.name} as the server sends it: open to values and variants this codex version does not know.${
        d.description === undefined ? "" : `\n\n${d.description}`
      }`
    })
  }
  const openRequest = (m: RequestMethod, side: "client" | "server"): RequestMethod =>
    side === "client" ? { ...m, response: openName(m.response) } : { ...m, params: open(m.params, m.method) }
  const openNotification = (m: NotificationMethod): NotificationMethod =>
    m.params === undefined ? m : { ...m, params: open(m.params, m.method) }
  return {
    ...model,
    definitions: definitions.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    clientRequests: model.clientRequests.map((m) => openRequest(m, "client")),
    serverRequests: model.serverRequests.map((m) => openRequest(m, "server")),
    serverNotifications: model.serverNotifications.map(openNotification)
  }
}
