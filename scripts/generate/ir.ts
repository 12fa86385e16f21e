/**
 * JSON Schema (draft-07, as emitted by `codex app-server generate-json-schema`) → a small
 * intermediate representation that maps 1:1 onto Effect 4 `Schema` constructors.
 *
 * Anything the converter does not understand is an error carrying the JSON pointer of the
 * offending schema; deliberate "any JSON value" fallbacks are recorded in `fallbacks`.
 */

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
export type JsonObject = { readonly [key: string]: Json }

export type LiteralValue = string | number | boolean

export type Node =
  | { readonly kind: "ref"; readonly target: string }
  | { readonly kind: "unknown" }
  | { readonly kind: "string"; readonly minLength?: number | undefined; readonly maxLength?: number | undefined }
  | {
    readonly kind: "number"
    readonly integer: boolean
    readonly minimum?: number | undefined
    readonly maximum?: number | undefined
  }
  | { readonly kind: "boolean" }
  | { readonly kind: "null" }
  | { readonly kind: "literal"; readonly values: ReadonlyArray<LiteralValue> }
  | { readonly kind: "array"; readonly items: Node }
  | { readonly kind: "tuple"; readonly items: ReadonlyArray<Node> }
  | { readonly kind: "object"; readonly properties: ReadonlyArray<Property> }
  | { readonly kind: "record"; readonly value: Node }
  | { readonly kind: "union"; readonly members: ReadonlyArray<Node> }
  /** Received positions only (see lenient.ts): a string outside the enum it is added to. */
  | { readonly kind: "unknownValue" }
  /** Received positions only: an object whose `tag` is none of `known`, decoded to `{ [tag]: "@unknown", raw }`. */
  | { readonly kind: "unknownVariant"; readonly tag: string; readonly known: ReadonlyArray<string> }

export interface Property {
  readonly name: string
  readonly node: Node
  readonly optional: boolean
  readonly description: string | undefined
}

export interface Fallback {
  readonly path: string
  readonly reason: string
}

export class GenerateError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`)
    this.name = "GenerateError"
  }
}

const ANNOTATION_KEYS = new Set(["title", "description", "$schema", "default", "examples", "deprecated", "$comment"])
const STRUCTURAL_KEYS = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "enum",
  "const",
  "$ref",
  "anyOf",
  "oneOf",
  "allOf",
  "format",
  "minimum",
  "maximum",
  "minLength",
  "maxLength"
])

const INTEGER_FORMATS = new Set(["int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64"])
const NUMBER_FORMATS = new Set(["float", "double"])

export const isObject = (u: unknown): u is JsonObject => typeof u === "object" && u !== null && !Array.isArray(u)

/** Strips annotation-only keywords (recursively) so that two schemas can be compared for shape. */
export const stripAnnotations = (j: Json): Json => {
  if (Array.isArray(j)) return j.map(stripAnnotations)
  if (isObject(j)) {
    const out: Record<string, Json> = {}
    for (const key of Object.keys(j).sort()) {
      if (ANNOTATION_KEYS.has(key)) continue
      const value = j[key] as Json
      // inside `properties` the keys are property names, not keywords
      if (key === "properties" && isObject(value)) {
        const props: Record<string, Json> = {}
        for (const p of Object.keys(value).sort()) props[p] = stripAnnotations(value[p] as Json)
        out[key] = props
      } else {
        out[key] = stripAnnotations(value)
      }
    }
    return out
  }
  return j
}

const describe = (s: JsonObject): string | undefined => typeof s["description"] === "string" ? s["description"] : undefined

export interface ConverterOptions {
  /** Resolves a `$ref` to the emitted definition name; throws for unknown refs. */
  readonly refName: (ref: string, path: string) => string
  /** Resolves a `$ref` to its JSON schema (used to flatten `properties` + `anyOf` objects). */
  readonly refSchema: (ref: string, path: string) => Json
}

export class Converter {
  readonly fallbacks: Array<Fallback> = []

  constructor(private readonly options: ConverterOptions) {}

  private fallback(path: string, reason: string): Node {
    this.fallbacks.push({ path, reason })
    return { kind: "unknown" }
  }

  convert(schema: Json, path: string): Node {
    if (schema === true) return this.fallback(path, "`true` schema (any JSON value)")
    if (schema === false) throw new GenerateError(path, "unsupported `false` schema")
    if (!isObject(schema)) throw new GenerateError(path, `schema must be an object or boolean, got ${JSON.stringify(schema)}`)
    for (const key of Object.keys(schema)) {
      if (!ANNOTATION_KEYS.has(key) && !STRUCTURAL_KEYS.has(key)) {
        throw new GenerateError(path, `unsupported keyword ${JSON.stringify(key)}`)
      }
    }
    const structural = Object.keys(schema).filter((k) => STRUCTURAL_KEYS.has(k))
    if (structural.length === 0) return this.fallback(path, "`{}` schema (any JSON value)")

    if ("$ref" in schema) {
      if (structural.length !== 1) {
        throw new GenerateError(path, `$ref combined with ${structural.filter((k) => k !== "$ref").join(", ")} is unsupported`)
      }
      const ref = schema["$ref"]
      if (typeof ref !== "string") throw new GenerateError(path, "$ref must be a string")
      return { kind: "ref", target: this.options.refName(ref, path) }
    }

    if ("allOf" in schema) {
      const allOf = schema["allOf"]
      if (!Array.isArray(allOf) || allOf.length !== 1 || structural.length !== 1) {
        throw new GenerateError(path, "unsupported `allOf` (only a single-member allOf without sibling keywords is supported)")
      }
      return this.convert(allOf[0] as Json, `${path}/allOf/0`)
    }

    if ("const" in schema) {
      if (structural.some((k) => k !== "const" && k !== "type")) {
        throw new GenerateError(path, "`const` combined with other keywords is unsupported")
      }
      return this.literalNode([schema["const"] as Json], `${path}/const`)
    }

    if ("enum" in schema) {
      if (structural.some((k) => k !== "enum" && k !== "type")) {
        throw new GenerateError(path, "`enum` combined with other keywords is unsupported")
      }
      const values = schema["enum"]
      if (!Array.isArray(values) || values.length === 0) throw new GenerateError(path, "`enum` must be a non-empty array")
      this.checkEnumAgainstType(values, schema["type"], path)
      return this.literalNode(values, `${path}/enum`)
    }

    const unionKey = "oneOf" in schema ? "oneOf" : "anyOf" in schema ? "anyOf" : undefined
    if (unionKey !== undefined) {
      if ("oneOf" in schema && "anyOf" in schema) throw new GenerateError(path, "both `oneOf` and `anyOf` are unsupported")
      const members = schema[unionKey]
      if (!Array.isArray(members) || members.length === 0) throw new GenerateError(path, `\`${unionKey}\` must be a non-empty array`)
      const others = structural.filter((k) => k !== unionKey)
      if (others.length === 0) {
        return union(members.map((m, i) => this.convert(m as Json, `${path}/${unionKey}/${i}`)))
      }
      // `type: "object"` next to a union of objects: the union alone describes the value
      if (schema["type"] === "object" && others.length === 1) {
        return union(members.map((m, i) => this.convert(m as Json, `${path}/${unionKey}/${i}`)))
      }
      // serde "flatten" of an enum into a struct: shared `properties` + one of several object alternatives
      if (schema["type"] === "object" && others.every((k) => k === "type" || k === "properties" || k === "required" || k === "additionalProperties")) {
        return union(members.map((m, i) => {
          const memberPath = `${path}/${unionKey}/${i}`
          let alt = m as Json
          if (isObject(alt) && typeof alt["$ref"] === "string") alt = this.options.refSchema(alt["$ref"], memberPath)
          if (!isObject(alt) || alt["type"] !== "object") {
            throw new GenerateError(memberPath, "alternative of an object with sibling properties must be an object schema")
          }
          return this.convert(mergeObjectSchemas(schema, alt, memberPath), memberPath)
        }))
      }
      throw new GenerateError(path, `\`${unionKey}\` combined with ${others.join(", ")} is unsupported`)
    }

    const type = schema["type"]
    if (type === undefined) {
      throw new GenerateError(path, `schema without \`type\` (keywords: ${structural.join(", ")}) is unsupported`)
    }
    const types = Array.isArray(type) ? type : [type]
    if (types.length === 0) throw new GenerateError(path, "empty `type` array")
    return union(types.map((t) => this.typedNode(schema, t as Json, path)))
  }

  private checkEnumAgainstType(values: ReadonlyArray<Json>, type: Json | undefined, path: string): void {
    if (type === undefined) return
    const types = Array.isArray(type) ? type : [type]
    for (const v of values) {
      const t = v === null ? "null" : typeof v === "number" ? (Number.isInteger(v) ? "integer" : "number") : typeof v
      const ok = types.includes(t) || (t === "integer" && types.includes("number"))
      if (!ok) throw new GenerateError(path, `enum value ${JSON.stringify(v)} does not match type ${JSON.stringify(type)}`)
    }
  }

  private literalNode(values: ReadonlyArray<Json>, path: string): Node {
    const literals: Array<LiteralValue> = []
    let hasNull = false
    for (const v of values) {
      if (v === null) hasNull = true
      else if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") {
        if (!literals.includes(v)) literals.push(v)
      } else throw new GenerateError(path, `unsupported literal value ${JSON.stringify(v)}`)
    }
    const members: Array<Node> = []
    if (literals.length > 0) members.push({ kind: "literal", values: literals })
    if (hasNull) members.push({ kind: "null" })
    return union(members)
  }

  private typedNode(schema: JsonObject, type: Json, path: string): Node {
    const format = schema["format"]
    switch (type) {
      case "string": {
        if (format !== undefined) throw new GenerateError(path, `unsupported string format ${JSON.stringify(format)}`)
        return {
          kind: "string",
          minLength: numberKeyword(schema, "minLength", path),
          maxLength: numberKeyword(schema, "maxLength", path)
        }
      }
      case "integer":
      case "number": {
        let integer = type === "integer"
        if (format !== undefined) {
          if (typeof format !== "string") throw new GenerateError(path, "`format` must be a string")
          if (INTEGER_FORMATS.has(format)) integer = true
          else if (!(NUMBER_FORMATS.has(format) && type === "number")) {
            throw new GenerateError(path, `unsupported ${type} format ${JSON.stringify(format)}`)
          }
        }
        return {
          kind: "number",
          integer,
          minimum: numberKeyword(schema, "minimum", path),
          maximum: numberKeyword(schema, "maximum", path)
        }
      }
      case "boolean":
        return { kind: "boolean" }
      case "null":
        return { kind: "null" }
      case "array": {
        const items = schema["items"]
        if (items === undefined) return { kind: "array", items: this.fallback(`${path}/items`, "array without `items`") }
        if (Array.isArray(items)) {
          return { kind: "tuple", items: items.map((it, i) => this.convert(it as Json, `${path}/items/${i}`)) }
        }
        return { kind: "array", items: this.convert(items as Json, `${path}/items`) }
      }
      case "object":
        return this.objectNode(schema, path)
      default:
        throw new GenerateError(path, `unsupported type ${JSON.stringify(type)}`)
    }
  }

  private objectNode(schema: JsonObject, path: string): Node {
    const properties = schema["properties"] ?? {}
    if (!isObject(properties)) throw new GenerateError(path, "`properties` must be an object")
    const required = schema["required"] ?? []
    if (!Array.isArray(required) || required.some((r) => typeof r !== "string")) {
      throw new GenerateError(path, "`required` must be an array of strings")
    }
    const names = Object.keys(properties)
    for (const r of required as ReadonlyArray<string>) {
      if (!names.includes(r)) throw new GenerateError(path, `required property ${JSON.stringify(r)} is not declared in \`properties\``)
    }
    const additional = schema["additionalProperties"]
    if (names.length === 0 && additional !== undefined && additional !== false) {
      if (additional === true) {
        return { kind: "record", value: this.fallback(`${path}/additionalProperties`, "`additionalProperties: true` (map of any JSON values)") }
      }
      return { kind: "record", value: this.convert(additional, `${path}/additionalProperties`) }
    }
    if (names.length === 0 && additional === undefined && !/^#\/definitions\/(v2\/)?[^/]+$/.test(path)) {
      // a nested `{ type: "object" }`: any JSON object; keep its keys instead of stripping them all
      return { kind: "record", value: this.fallback(path, "`type: object` without properties (any JSON object)") }
    }
    if (additional !== undefined && typeof additional !== "boolean") {
      throw new GenerateError(path, "`properties` together with an `additionalProperties` schema is unsupported")
    }
    return {
      kind: "object",
      properties: names.map((name) => {
        const prop = properties[name] as Json
        return {
          name,
          node: this.convert(prop, `${path}/properties/${name}`),
          optional: !(required as ReadonlyArray<string>).includes(name),
          description: isObject(prop) ? describe(prop) : undefined
        }
      })
    }
  }
}

const numberKeyword = (schema: JsonObject, key: string, path: string): number | undefined => {
  const v = schema[key]
  if (v === undefined) return undefined
  if (typeof v !== "number") throw new GenerateError(path, `\`${key}\` must be a number`)
  return v
}

const mergeObjectSchemas = (base: JsonObject, alt: JsonObject, path: string): JsonObject => {
  const baseProps = isObject(base["properties"]) ? base["properties"] : {}
  const altProps = isObject(alt["properties"]) ? alt["properties"] : {}
  const properties: Record<string, Json> = { ...baseProps }
  for (const [k, v] of Object.entries(altProps)) {
    if (k in properties && JSON.stringify(properties[k]) !== JSON.stringify(v)) {
      throw new GenerateError(path, `conflicting definitions of property ${JSON.stringify(k)} in flattened object`)
    }
    properties[k] = v
  }
  const req = (s: JsonObject): ReadonlyArray<Json> => Array.isArray(s["required"]) ? s["required"] : []
  const required = [...new Set([...req(base), ...req(alt)])]
  const merged: Record<string, Json> = { type: "object", properties, required }
  for (const k of Object.keys(alt)) {
    if (ANNOTATION_KEYS.has(k) || ["type", "properties", "required", "additionalProperties"].includes(k)) continue
    if (k === "anyOf" || k === "oneOf") merged[k] = alt[k] as Json
    else throw new GenerateError(path, `unsupported keyword ${JSON.stringify(k)} in a flattened object alternative`)
  }
  return merged
}

/** Flattens nested unions and collapses single-member unions. */
export const union = (members: ReadonlyArray<Node>): Node => {
  const flat: Array<Node> = []
  for (const m of members) {
    if (m.kind === "union") flat.push(...m.members)
    else flat.push(m)
  }
  const deduped: Array<Node> = []
  for (const m of flat) {
    if (!deduped.some((d) => JSON.stringify(d) === JSON.stringify(m))) deduped.push(m)
  }
  if (deduped.length === 1) return deduped[0]!
  return { kind: "union", members: deduped }
}

/** The nodes directly inside a node (object properties, union members, array, tuple and record elements). */
export const childrenOf = (node: Node): ReadonlyArray<Node> => {
  switch (node.kind) {
    case "array":
      return [node.items]
    case "tuple":
    case "union":
      return node.kind === "tuple" ? node.items : node.members
    case "object":
      return node.properties.map((p) => p.node)
    case "record":
      return [node.value]
    default:
      return []
  }
}

/** Names of definitions referenced by a node. */
export const refsOf = (node: Node, out: Set<string> = new Set()): Set<string> => {
  if (node.kind === "ref") out.add(node.target)
  else for (const child of childrenOf(node)) refsOf(child, out)
  return out
}

/** `seed` plus every definition that refers, directly or through others, to one of them (a fixpoint). */
export const withReferrers = (
  definitions: ReadonlyArray<{ readonly name: string; readonly node: Node }>,
  seed: Iterable<string>
): Set<string> => {
  const out = new Set(seed)
  for (let grew = true; grew;) {
    grew = false
    for (const d of definitions) {
      if (!out.has(d.name) && [...refsOf(d.node)].some((r) => out.has(r))) {
        out.add(d.name)
        grew = true
      }
    }
  }
  return out
}
