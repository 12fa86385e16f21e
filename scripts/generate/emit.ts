/**
 * IR → TypeScript source text (Effect 4 `Schema` expressions and matching TypeScript types).
 * Output style: 2-space indentation, double quotes, no semicolons.
 */
import type { LiteralValue, Node, Property } from "./ir.js"

export interface EmitContext {
  /** Prefix for references to definitions (e.g. `"S."` from methods.ts, `""` inside schemas.ts). */
  readonly prefix: string
  /** Whether a reference to `name` must be wrapped in `Schema.suspend` (declared later / cyclic). */
  readonly suspend: (name: string) => boolean
  /** Whether definition `name` is opened for received values (its codec's encoded side is `unknown`). */
  readonly open?: ((name: string) => boolean) | undefined
}

/** The declared codec type of a definition: an opened one decodes unknown variants, so it encodes to `unknown`. */
export const codecType = (name: string, open: boolean): string => open ? `Schema.Codec<${name}, unknown>` : `Schema.Codec<${name}>`

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/

export const propertyKey = (name: string): string => IDENT.test(name) ? name : JSON.stringify(name)

const literal = (v: LiteralValue): string => JSON.stringify(v)

const pad = (indent: number): string => "  ".repeat(indent)

export const docComment = (text: string | undefined, indent: number): string => {
  if (text === undefined || text.trim() === "") return ""
  const lines = text.replace(/\*\//g, "*\\/").split("\n").map((l) => l.trimEnd())
  return `${pad(indent)}/**\n${lines.map((l) => `${pad(indent)} *${l === "" ? "" : ` ${l}`}`).join("\n")}\n${pad(indent)} */\n`
}

const numberChecks = (node: Extract<Node, { kind: "number" }>): Array<string> => {
  const checks: Array<string> = []
  if (node.minimum !== undefined) checks.push(`Schema.isGreaterThanOrEqualTo(${node.minimum})`)
  if (node.maximum !== undefined) checks.push(`Schema.isLessThanOrEqualTo(${node.maximum})`)
  return checks
}

const stringChecks = (node: Extract<Node, { kind: "string" }>): Array<string> => {
  const checks: Array<string> = []
  if (node.minLength !== undefined) checks.push(`Schema.isMinLength(${node.minLength})`)
  if (node.maxLength !== undefined) checks.push(`Schema.isMaxLength(${node.maxLength})`)
  return checks
}

const withChecks = (base: string, checks: ReadonlyArray<string>): string =>
  checks.length === 0 ? base : `${base}.check(${checks.join(", ")})`

export const schemaExpr = (node: Node, ctx: EmitContext, indent: number): string => {
  switch (node.kind) {
    case "ref":
      return ctx.suspend(node.target)
        ? `Schema.suspend((): ${codecType(`${ctx.prefix}${node.target}`, ctx.open?.(node.target) === true)} => ${ctx.prefix}${node.target})`
        : `${ctx.prefix}${node.target}`
    case "unknown":
      return "Schema.Unknown"
    case "string":
      return withChecks("Schema.String", stringChecks(node))
    case "number":
      return withChecks(node.integer ? "Schema.Int" : "Schema.Number", numberChecks(node))
    case "boolean":
      return "Schema.Boolean"
    case "null":
      return "Schema.Null"
    case "literal":
      return node.values.length === 1
        ? `Schema.Literal(${literal(node.values[0]!)})`
        : `Schema.Literals([${node.values.map(literal).join(", ")}])`
    case "array":
      return `Schema.Array(${schemaExpr(node.items, ctx, indent)})`
    case "tuple":
      return `Schema.Tuple([${node.items.map((n) => schemaExpr(n, ctx, indent)).join(", ")}])`
    case "record":
      return `Schema.Record(Schema.String, ${schemaExpr(node.value, ctx, indent)})`
    case "object": {
      if (node.properties.length === 0) return "Schema.Struct({})"
      const fields = node.properties.map((p) => `${pad(indent + 1)}${propertyKey(p.name)}: ${fieldExpr(p, ctx, indent + 1)}`)
      return `Schema.Struct({\n${fields.join(",\n")}\n${pad(indent)}})`
    }
    case "union": {
      const nonNull = node.members.filter((m) => m.kind !== "null")
      if (nonNull.length === 1 && node.members.length === 2) {
        return `Schema.NullOr(${schemaExpr(nonNull[0]!, ctx, indent)})`
      }
      const members = node.members.map((m) => `${pad(indent + 1)}${schemaExpr(m, ctx, indent + 1)}`)
      return `Schema.Union([\n${members.join(",\n")}\n${pad(indent)}])`
    }
    case "unknownValue":
      return `${ctx.prefix}UnknownValue`
    case "unknownVariant":
      return `${ctx.prefix}UnknownVariant(${JSON.stringify(node.tag)}, [${node.known.map(literal).join(", ")}])`
  }
}

const fieldExpr = (p: Property, ctx: EmitContext, indent: number): string => {
  const inner = schemaExpr(p.node, ctx, indent)
  return p.optional ? `Schema.optional(${inner})` : inner
}

const needsParens = (node: Node): boolean => node.kind === "union" || (node.kind === "literal" && node.values.length > 1)

export const typeExpr = (node: Node, ctx: EmitContext, indent: number): string => {
  switch (node.kind) {
    case "ref":
      return `${ctx.prefix}${node.target}`
    case "unknown":
      return "unknown"
    case "string":
      return "string"
    case "number":
      return "number"
    case "boolean":
      return "boolean"
    case "null":
      return "null"
    case "literal":
      return node.values.map(literal).join(" | ")
    case "array": {
      return `ReadonlyArray<${typeExpr(node.items, ctx, indent)}>`
    }
    case "tuple":
      return `readonly [${node.items.map((n) => typeExpr(n, ctx, indent)).join(", ")}]`
    case "record":
      return `{ readonly [x: string]: ${typeExpr(node.value, ctx, indent)} }`
    case "object":
      return objectTypeBody(node.properties, ctx, indent)
    case "union":
      return node.members.map((m) => {
        const t = typeExpr(m, ctx, indent)
        return m.kind === "object" || needsParens(m) ? t : t
      }).join(" | ")
    case "unknownValue":
      return `${ctx.prefix}UnknownValue`
    case "unknownVariant":
      return `${ctx.prefix}UnknownVariant<${JSON.stringify(node.tag)}>`
  }
}

export const objectTypeBody = (properties: ReadonlyArray<Property>, ctx: EmitContext, indent: number): string => {
  if (properties.length === 0) return "{}"
  const lines = properties.map((p) => {
    const t = typeExpr(p.node, ctx, indent + 1)
    const doc = docComment(p.description, indent + 1)
    return p.optional
      ? `${doc}${pad(indent + 1)}readonly ${propertyKey(p.name)}?: ${t} | undefined`
      : `${doc}${pad(indent + 1)}readonly ${propertyKey(p.name)}: ${t}`
  })
  return `{\n${lines.join("\n")}\n${pad(indent)}}`
}
