/**
 * Builds the protocol model from the JSON Schema snapshot: definition names (with collision handling),
 * converted definitions, method maps and the set of definitions reachable from them.
 */
import {
  Converter,
  type Fallback,
  GenerateError,
  isObject,
  type Json,
  type JsonObject,
  type Node,
  refsOf,
  stripAnnotations
} from "./ir.js"
import { openReceived } from "./lenient.js"
import { CLIENT_RESPONSE_EXCEPTIONS, RESERVED_NAMES, SERVER_RESPONSE_EXCEPTIONS } from "./methods.js"

export const BUNDLE_FILE = "codex_app_server_protocol.schemas.json"
const ROOT = "#/definitions/"
const V2 = "#/definitions/v2/"
/** Envelope unions replaced by the generated method maps (not emitted as definitions). */
const ENVELOPES = new Set(["ClientRequest", "ClientNotification", "ServerNotification", "ServerRequest"])

export interface Definition {
  readonly name: string
  readonly pointer: string
  readonly description: string | undefined
  readonly node: Node
  /** Opened for what the server sends (see lenient.ts): decodes unknown values and variants. */
  readonly open?: true | undefined
  /** For the open twin `Received<Name>` of a definition also sent: `Name`. */
  readonly twinOf?: string | undefined
}

export interface RequestMethod {
  readonly method: string
  readonly params: Node
  readonly paramsRequired: boolean
  /** Emitted name of the response definition. */
  readonly response: string
  readonly responseSource: "convention" | "exception"
}

export interface NotificationMethod {
  readonly method: string
  readonly params: Node | undefined
  readonly paramsRequired: boolean
}

export interface Collision {
  readonly name: string
  readonly resolution: string
}

export interface Model {
  readonly definitions: ReadonlyArray<Definition>
  readonly clientRequests: ReadonlyArray<RequestMethod>
  readonly serverRequests: ReadonlyArray<RequestMethod>
  readonly serverNotifications: ReadonlyArray<NotificationMethod>
  readonly clientNotifications: ReadonlyArray<NotificationMethod>
  readonly fallbacks: ReadonlyArray<Fallback>
  readonly collisions: ReadonlyArray<Collision>
  readonly totalDefinitions: number
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/

const sortStrings = (xs: Iterable<string>): Array<string> => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))

export interface BuildOptions {
  readonly clientResponseExceptions?: Readonly<Record<string, string>> | undefined
  readonly serverResponseExceptions?: Readonly<Record<string, string>> | undefined
}

export const buildModel = (bundle: Json, standalone: Readonly<Record<string, Json>>, options: BuildOptions = {}): Model => {
  if (!isObject(bundle) || !isObject(bundle["definitions"])) throw new GenerateError("#", "bundle without definitions")
  const rootDefs: Record<string, Json> = { ...bundle["definitions"] }
  const v2Defs = rootDefs["v2"]
  delete rootDefs["v2"]
  if (!isObject(v2Defs)) throw new GenerateError("#/definitions/v2", "missing nested v2 definitions")

  // ---- names and collisions -------------------------------------------------------------------
  // Root definitions keep their name. A v2 definition with the same name is merged into the root one when both
  // have the same shape (annotations ignored, refs compared by name); otherwise it is emitted as `V2<Name>`.
  const pointerSchema = new Map<string, Json>()
  for (const [k, v] of Object.entries(rootDefs)) pointerSchema.set(ROOT + k, v)
  for (const [k, v] of Object.entries(v2Defs)) pointerSchema.set(V2 + k, v as Json)

  const shared = sortStrings(Object.keys(v2Defs).filter((k) => k in rootDefs))
  let differing = new Set<string>()
  for (;;) {
    const canon = (j: Json): string =>
      JSON.stringify(stripAnnotations(j), (key, value: unknown) => {
        if (key === "$ref" && typeof value === "string" && value.startsWith(V2)) {
          const n = value.slice(V2.length)
          return differing.has(n) ? value : ROOT + n
        }
        return value
      })
    const next = new Set(shared.filter((k) => canon(rootDefs[k] as Json) !== canon(v2Defs[k] as Json)))
    if (next.size === differing.size) break
    differing = next
  }
  const collisions: Array<Collision> = shared.map((k) => ({
    name: k,
    resolution: differing.has(k)
      ? `root and v2 shapes differ: root keeps \`${k}\`, v2 emitted as \`V2${k}\``
      : "same shape in root and v2: merged into one definition"
  }))

  const pointerName = new Map<string, string>()
  for (const k of Object.keys(rootDefs)) pointerName.set(ROOT + k, k)
  for (const k of Object.keys(v2Defs)) pointerName.set(V2 + k, differing.has(k) ? `V2${k}` : k)
  const nameToPointer = new Map<string, string>()
  for (const [pointer, name] of [...pointerName.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (!IDENT.test(name)) throw new GenerateError(pointer, `definition name ${JSON.stringify(name)} is not a valid identifier`)
    if (RESERVED_NAMES.has(name) && !ENVELOPES.has(name)) {
      throw new GenerateError(pointer, `definition name ${JSON.stringify(name)} collides with a generated export`)
    }
    const existing = nameToPointer.get(name)
    if (existing === undefined) nameToPointer.set(name, pointer)
    else if (!(existing.startsWith(ROOT) && pointer.startsWith(V2) && !differing.has(name))) {
      throw new GenerateError(pointer, `emitted name ${JSON.stringify(name)} also used by ${existing}`)
    }
  }

  const refName = (ref: string, path: string): string => {
    const name = pointerName.get(ref)
    if (name === undefined) throw new GenerateError(path, `unresolved $ref ${JSON.stringify(ref)}`)
    if (ENVELOPES.has(name)) throw new GenerateError(path, `reference to envelope definition ${name} is unsupported`)
    return name
  }
  const refSchema = (ref: string, path: string): Json => {
    const s = pointerSchema.get(ref)
    if (s === undefined) throw new GenerateError(path, `unresolved $ref ${JSON.stringify(ref)}`)
    return s
  }
  const converter = new Converter({ refName, refSchema })

  // ---- method maps ----------------------------------------------------------------------------
  const envelope = (name: string): ReadonlyArray<JsonObject> => {
    const s = rootDefs[name]
    if (!isObject(s) || !Array.isArray(s["oneOf"])) throw new GenerateError(ROOT + name, "expected a `oneOf` of method variants")
    return s["oneOf"].map((v, i) => {
      if (!isObject(v) || !isObject(v["properties"])) throw new GenerateError(`${ROOT}${name}/oneOf/${i}`, "expected an object variant")
      return v
    })
  }
  const variantMethod = (v: JsonObject, path: string): string => {
    const m = (v["properties"] as JsonObject)["method"]
    if (!isObject(m) || !Array.isArray(m["enum"]) || m["enum"].length !== 1 || typeof m["enum"][0] !== "string") {
      throw new GenerateError(`${path}/properties/method`, "expected a single-value string enum")
    }
    return m["enum"][0]
  }
  const variantParams = (v: JsonObject, path: string): { node: Node | undefined; required: boolean; paramsRef: string | undefined } => {
    const p = (v["properties"] as JsonObject)["params"]
    const required = Array.isArray(v["required"]) && v["required"].includes("params")
    if (p === undefined) return { node: undefined, required: false, paramsRef: undefined }
    let paramsRef: string | undefined
    if (isObject(p) && typeof p["$ref"] === "string") paramsRef = p["$ref"]
    else if (isObject(p) && Array.isArray(p["anyOf"])) {
      const refs = p["anyOf"].filter((m) => isObject(m) && typeof m["$ref"] === "string") as Array<JsonObject>
      const nulls = p["anyOf"].filter((m) => isObject(m) && m["type"] === "null")
      if (refs.length === 1 && refs.length + nulls.length === p["anyOf"].length) paramsRef = refs[0]!["$ref"] as string
    }
    return { node: converter.convert(p, `${path}/properties/params`), required, paramsRef }
  }
  const defExists = (name: string): boolean => pointerSchema.has(ROOT + name) || pointerSchema.has(V2 + name)
  const emittedName = (name: string): string =>
    pointerSchema.has(ROOT + name) ? pointerName.get(ROOT + name)! : pointerName.get(V2 + name)!

  const requests = (envelopeName: string, exceptions: Readonly<Record<string, string>>): Array<RequestMethod> => {
    const seen = new Set<string>()
    const used = new Set<string>()
    const out = envelope(envelopeName).map((v, i): RequestMethod => {
      const path = `${ROOT}${envelopeName}/oneOf/${i}`
      const method = variantMethod(v, path)
      if (seen.has(method)) throw new GenerateError(path, `duplicate method ${method}`)
      seen.add(method)
      const params = variantParams(v, path)
      const paramsOriginal = params.paramsRef?.split("/").pop()
      const conventional = paramsOriginal?.endsWith("Params") ? `${paramsOriginal.slice(0, -"Params".length)}Response` : undefined
      const exception = exceptions[method]
      if (conventional !== undefined && defExists(conventional)) {
        if (exception !== undefined) {
          throw new GenerateError(path, `response exception for ${method} is unnecessary: convention finds ${conventional}`)
        }
        return {
          method,
          params: params.node ?? { kind: "null" },
          paramsRequired: params.required,
          response: emittedName(conventional),
          responseSource: "convention"
        }
      }
      if (exception === undefined) {
        throw new GenerateError(
          path,
          `no response definition for method ${method} (convention tried ${conventional ?? "nothing: params is not a named *Params"}); add it to the exceptions table in scripts/generate/methods.ts`
        )
      }
      if (!defExists(exception)) throw new GenerateError(path, `response exception for ${method} names a non-existent definition ${exception}`)
      used.add(method)
      return {
        method,
        params: params.node ?? { kind: "null" },
        paramsRequired: params.required,
        response: emittedName(exception),
        responseSource: "exception"
      }
    })
    for (const m of Object.keys(exceptions)) {
      if (!seen.has(m)) throw new GenerateError(ROOT + envelopeName, `response exception names unknown method ${m}`)
    }
    return out
  }
  const notifications = (envelopeName: string): Array<NotificationMethod> => {
    const seen = new Set<string>()
    return envelope(envelopeName).map((v, i) => {
      const path = `${ROOT}${envelopeName}/oneOf/${i}`
      const method = variantMethod(v, path)
      if (seen.has(method)) throw new GenerateError(path, `duplicate method ${method}`)
      seen.add(method)
      const params = variantParams(v, path)
      return { method, params: params.node, paramsRequired: params.required }
    })
  }

  const clientRequests = requests("ClientRequest", options.clientResponseExceptions ?? CLIENT_RESPONSE_EXCEPTIONS)
  const serverRequests = requests("ServerRequest", options.serverResponseExceptions ?? SERVER_RESPONSE_EXCEPTIONS)
  const serverNotifications = notifications("ServerNotification")
  const clientNotifications = notifications("ClientNotification")

  // The standalone method files must list exactly the methods of the bundle's envelopes.
  const check = (file: string, methods: ReadonlyArray<{ method: string }>): void => {
    const s = standalone[file]
    if (!isObject(s) || !Array.isArray(s["oneOf"])) throw new GenerateError(file, "expected a `oneOf` of method variants")
    const listed = sortStrings(s["oneOf"].map((v, i) => variantMethod(v as JsonObject, `${file}#/oneOf/${i}`)))
    const ours = sortStrings(methods.map((m) => m.method))
    if (JSON.stringify(listed) !== JSON.stringify(ours)) {
      throw new GenerateError(file, `method list differs from the bundle's envelope (${listed.length} vs ${ours.length})`)
    }
  }
  check("ClientRequest.json", clientRequests)
  check("ServerRequest.json", serverRequests)
  check("ServerNotification.json", serverNotifications)
  check("ClientNotification.json", clientNotifications)

  // ---- reachable definitions ------------------------------------------------------------------
  const roots = new Set<string>()
  const addRefs = (n: Node | undefined): void => {
    if (n !== undefined) refsOf(n).forEach((r) => roots.add(r))
  }
  for (const m of [...clientRequests, ...serverRequests]) {
    addRefs(m.params)
    roots.add(m.response)
  }
  for (const m of [...serverNotifications, ...clientNotifications]) addRefs(m.params)
  for (const k of Object.keys(rootDefs)) {
    if (k.startsWith("JSONRPC") || k.startsWith("Initialize") || k === "RequestId") roots.add(k)
  }

  const converted = new Map<string, Definition>()
  const queue = sortStrings(roots)
  while (queue.length > 0) {
    const name = queue.shift()!
    if (converted.has(name)) continue
    const pointer = nameToPointer.get(name)
    if (pointer === undefined) throw new GenerateError("#", `unknown definition ${name}`)
    const schema = pointerSchema.get(pointer)!
    const node = converter.convert(schema, pointer)
    converted.set(name, {
      name,
      pointer,
      description: isObject(schema) && typeof schema["description"] === "string" ? schema["description"] : undefined,
      node
    })
    for (const r of sortStrings(refsOf(node))) if (!converted.has(r)) queue.push(r)
  }

  return openReceived({
    definitions: sortStrings(converted.keys()).map((n) => converted.get(n)!),
    clientRequests: [...clientRequests].sort((a, b) => (a.method < b.method ? -1 : 1)),
    serverRequests: [...serverRequests].sort((a, b) => (a.method < b.method ? -1 : 1)),
    serverNotifications: [...serverNotifications].sort((a, b) => (a.method < b.method ? -1 : 1)),
    clientNotifications: [...clientNotifications].sort((a, b) => (a.method < b.method ? -1 : 1)),
    fallbacks: [...converter.fallbacks].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    collisions,
    totalDefinitions: pointerName.size
  })
}

/**
 * Orders definitions so that every reference points to an already-declared constant, except inside strongly
 * connected components (recursive types), where the later references are wrapped in `Schema.suspend`.
 * Returns the order and, per definition, the set of names it must reference lazily.
 */
export const orderDefinitions = (
  defs: ReadonlyArray<Definition>
): { readonly order: ReadonlyArray<Definition>; readonly lazy: ReadonlyMap<string, ReadonlySet<string>>; readonly cyclic: ReadonlyArray<ReadonlyArray<string>> } => {
  const byName = new Map(defs.map((d) => [d.name, d]))
  // references to definitions outside `defs` (emitted in another module) need no ordering
  const edges = new Map(defs.map((d) => [d.name, sortStrings(refsOf(d.node)).filter((r) => byName.has(r))]))
  // Tarjan's SCC algorithm (iterative over sorted names → deterministic); SCCs come out in reverse
  // topological order, i.e. dependencies first.
  let index = 0
  const indices = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: Array<string> = []
  const onStack = new Set<string>()
  const sccs: Array<Array<string>> = []
  const strongConnect = (v: string): void => {
    indices.set(v, index)
    low.set(v, index)
    index++
    stack.push(v)
    onStack.add(v)
    for (const w of edges.get(v) ?? []) {
      if (!indices.has(w)) {
        strongConnect(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!))
      }
    }
    if (low.get(v) === indices.get(v)) {
      const scc: Array<string> = []
      for (;;) {
        const w = stack.pop()!
        onStack.delete(w)
        scc.push(w)
        if (w === v) break
      }
      sccs.push(sortStrings(scc))
    }
  }
  for (const name of sortStrings(byName.keys())) if (!indices.has(name)) strongConnect(name)

  const order: Array<Definition> = []
  const declared = new Set<string>()
  const lazy = new Map<string, Set<string>>()
  const cyclic: Array<Array<string>> = []
  for (const scc of sccs) {
    const selfLoop = scc.length === 1 && (edges.get(scc[0]!) ?? []).includes(scc[0]!)
    if (scc.length > 1 || selfLoop) cyclic.push(scc)
    for (const name of scc) {
      const l = new Set<string>()
      for (const r of edges.get(name) ?? []) if (!declared.has(r)) l.add(r)
      lazy.set(name, l)
      declared.add(name)
      order.push(byName.get(name)!)
    }
  }
  return { order, lazy, cyclic }
}
