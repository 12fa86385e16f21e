import { describe, expect, it } from "@effect/vitest"
import { afterAll } from "vitest"
import { Effect, Exit } from "effect"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import {
  ClientNotifications,
  ClientRequests,
  CODEX_VERSION,
  Experimental,
  InitializeResponse,
  ServerNotification,
  ServerNotifications,
  ServerRequest,
  ServerRequests,
  ThreadItem,
  ThreadRealtimeItem,
  ThreadStartResponse,
  TurnCompletedNotification
} from "../../generated/src/index.js"
import type {
  ClientRequestMethodWithOptionalParams,
  ClientRequestParams,
  ClientRequestResponse,
  ServerNotificationParams,
  Thread,
  Turn
} from "../../generated/src/index.js"
import {
  checkAgainst,
  codexBinary,
  codexOutputs,
  GENERATED_DIR,
  generateTree,
  readModel,
  REPO_ROOT
} from "../../scripts/generate.js"
import { Converter, GenerateError, type Json } from "../../scripts/generate/ir.js"
import { buildModel, BUNDLE_FILE } from "../../scripts/generate/model.js"
import { checkOfficialTypes, compareFieldNames, compareMethods } from "../../scripts/generate/officialTypes.js"
import { applyPatches, patchesFor, SCHEMA_PATCHES, type SchemaPatch } from "../../scripts/generate/patches.js"
import { renderSchemas } from "../../scripts/generate/render.js"

const snapshotMethods = (file: string): Array<string> => {
  const json = JSON.parse(fs.readFileSync(path.join(GENERATED_DIR, "schema", file), "utf8")) as {
    oneOf: Array<{ properties: { method: { enum: Array<string> } } }>
  }
  return json.oneOf.map((v) => v.properties.method.enum[0]!).sort()
}

describe("generated method maps", () => {
  it("cover exactly the methods of the committed snapshot", () => {
    const clientRequests = snapshotMethods("ClientRequest.json")
    const serverNotifications = snapshotMethods("ServerNotification.json")
    const serverRequests = snapshotMethods("ServerRequest.json")
    const clientNotifications = snapshotMethods("ClientNotification.json")
    expect(clientRequests.length).toBe(109)
    expect(serverNotifications.length).toBe(86)
    expect(serverRequests.length).toBe(10)
    expect(Object.keys(ClientRequests).sort()).toEqual(clientRequests)
    expect(Object.keys(ServerNotifications).sort()).toEqual(serverNotifications)
    expect(Object.keys(ServerRequests).sort()).toEqual(serverRequests)
    expect(Object.keys(ClientNotifications).sort()).toEqual(clientNotifications)
    expect(clientNotifications).toEqual(["initialized"])
  })

  it("are labelled with the codex version of the package", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(GENERATED_DIR, "package.json"), "utf8")) as { version: string }
    expect(CODEX_VERSION).toBe(pkg.version)
    expect(CODEX_VERSION).toBe("0.169.0")
  })

  it("give every request a params and a response schema", () => {
    for (const entry of [...Object.values(ClientRequests), ...Object.values(ServerRequests)]) {
      expect(Schema.isSchema(entry.params)).toBe(true)
      expect(Schema.isSchema(entry.response)).toBe(true)
    }
    // exceptions to the FooParams -> FooResponse convention
    expect(ClientRequests["config/value/write"].response).toBe(ClientRequests["config/batchWrite"].response)
  })

  it("let methods with null params be called without params", () => {
    const noParams: ClientRequestParams<"account/logout"> = undefined
    const optional: ClientRequestMethodWithOptionalParams = "account/rateLimits/read"
    expect(optional).toBe("account/rateLimits/read")
    expect(Schema.decodeUnknownSync(ClientRequests["account/logout"].params)(noParams)).toBeUndefined()
    expect(Schema.decodeUnknownSync(ClientRequests["account/logout"].params)(null)).toBeNull()
    expect(Schema.decodeUnknownSync(ClientRequests["account/rateLimits/read"].params)(undefined)).toBeUndefined()
    expect(Schema.decodeUnknownSync(ClientNotifications.initialized)(undefined)).toBeUndefined()
    expect(() => Schema.decodeUnknownSync(ClientRequests["account/logout"].params)({ x: 1 })).toThrow()
    expect(() => Schema.decodeUnknownSync(ClientRequests["thread/start"].params)(undefined)).toThrow()
  })
})

const roundTrip = <T>(schema: Schema.Codec<T, unknown>, value: unknown): T => {
  const decoded = Schema.decodeUnknownSync(schema)(value)
  expect(decoded).toEqual(value)
  expect(Schema.encodeSync(schema)(decoded)).toEqual(value)
  return decoded
}

const turn: Turn = {
  id: "turn-1",
  items: [
    { type: "userMessage", id: "item-1", content: [{ type: "text", text: "hi", text_elements: [] }] },
    { type: "agentMessage", id: "item-2", text: "hello", phase: null }
  ],
  status: "completed",
  error: null,
  startedAt: 1764000000,
  completedAt: 1764000001,
  durationMs: 1000
}

const thread: Thread = {
  id: "thr-1",
  sessionId: "sess-1",
  cliVersion: "0.169.0",
  createdAt: 1764000000,
  updatedAt: 1764000001,
  cwd: "/tmp/work",
  ephemeral: false,
  modelProvider: "openai",
  preview: "hi",
  projectId: null,
  source: "appServer",
  status: { type: "active", activeFlags: [] },
  turns: [],
  name: null
}

describe("generated schemas", () => {
  it("round-trip InitializeResponse", () => {
    roundTrip(InitializeResponse, {
      userAgent: "codex_cli_rs/0.169.0",
      codexHome: "/home/me/.codex",
      platformFamily: "unix",
      platformOs: "linux"
    })
  })

  it("round-trip ThreadStartResponse (via the ClientRequests map)", () => {
    const value: ClientRequestResponse<"thread/start"> = {
      thread,
      model: "gpt-5",
      modelProvider: "openai",
      cwd: "/tmp/work",
      approvalPolicy: "never",
      approvalsReviewer: "user",
      sandbox: { type: "workspaceWrite", writableRoots: ["/tmp/work"], networkAccess: false },
      reasoningEffort: null
    }
    roundTrip(ThreadStartResponse, value)
    roundTrip(ClientRequests["thread/start"].response, value)
  })

  it("round-trip TurnCompletedNotification and decode it as a whole message", () => {
    const params: ServerNotificationParams<"turn/completed"> = { threadId: "thr-1", turn }
    roundTrip(TurnCompletedNotification, params)
    roundTrip(ServerNotifications["turn/completed"], params)
    const message = Schema.decodeUnknownSync(ServerNotification)({ method: "turn/completed", params, emittedAtMs: 1 })
    expect(message.method).toBe("turn/completed")
    if (message.method === "turn/completed") expect(message.params.turn.id).toBe("turn-1")
  })

  it("decode a tagged union by its `type`; an unknown tag is kept whole as the unknown variant", () => {
    const item = roundTrip(ThreadItem, { type: "agentMessage", id: "i", text: "t" })
    expect(item.type).toBe("agentMessage")
    roundTrip(ThreadItem, { type: "reasoning", id: "r", summary: ["s"], content: [] })
    const raw = { type: "noSuchItem", id: "x", nested: { a: [1] } }
    const unknown = Schema.decodeUnknownSync(ThreadItem)(raw)
    expect(unknown).toEqual({ type: "@unknown", raw })
    expect(Schema.encodeSync(ThreadItem)(unknown)).toEqual(raw)
    // a known tag with a missing field is not an unknown variant: it fails
    expect(() => Schema.decodeUnknownSync(ThreadItem)({ type: "agentMessage", id: "i" })).toThrow(/text/)
    expect(() => Schema.decodeUnknownSync(ThreadItem)({ id: "x" })).toThrow()
  })

  it("round-trip a map (additionalProperties) inside a server request", () => {
    const params: Schema.Schema.Type<typeof ServerRequests["applyPatchApproval"]["params"]> = {
      conversationId: "thr-1",
      callId: "call-1",
      fileChanges: {
        "a.txt": { type: "add", content: "new" },
        "b.txt": { type: "update", unified_diff: "@@", move_path: null }
      },
      reason: null
    }
    roundTrip(ServerRequests["applyPatchApproval"].params, params)
    const request = Schema.decodeUnknownSync(ServerRequest)({ id: 7, method: "applyPatchApproval", params })
    expect(request.id).toBe(7)
    expect(() =>
      Schema.decodeUnknownSync(ServerRequests["applyPatchApproval"].params)({
        ...params,
        fileChanges: { "a.txt": { type: "add" } }
      })
    ).toThrow()
  })

  it("accept (and drop) unknown extra fields; accept missing optional fields", () => {
    const decoded = Schema.decodeUnknownSync(InitializeResponse)({
      userAgent: "ua",
      codexHome: "/h",
      platformFamily: "unix",
      platformOs: "linux",
      someFutureField: { nested: true }
    })
    expect(decoded).toEqual({ userAgent: "ua", codexHome: "/h", platformFamily: "unix", platformOs: "linux" })
    expect(Schema.decodeUnknownSync(ThreadStartResponse)({
      thread,
      model: "m",
      modelProvider: "p",
      cwd: "/",
      approvalPolicy: { granular: { mcp_elicitations: true, rules: false, sandbox_approval: true } },
      approvalsReviewer: "user",
      sandbox: { type: "readOnly" }
    }).model).toBe("m")
  })

  it.effect("fail to decode a wrong value (Effect API)", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Schema.decodeUnknownEffect(InitializeResponse)({ userAgent: 1, codexHome: "/h", platformFamily: "unix" })
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(exit)).toMatch(/userAgent|platformOs/)
      const ok = yield* Schema.decodeUnknownEffect(ClientRequests["initialize"].params)({
        clientInfo: { name: "effect-codex", title: null, version: "0.0.0" }
      })
      expect(ok.clientInfo.name).toBe("effect-codex")
    }))

  it("check integer formats", () => {
    const schema = ClientRequests["command/exec/resize"].params
    const valid = Schema.decodeUnknownSync(schema)({ processId: "p", size: { rows: 24, cols: 80 } })
    expect(valid.size).toEqual({ rows: 24, cols: 80 })
    expect(() => Schema.decodeUnknownSync(schema)({ processId: "p", size: { rows: 2.5, cols: 80 } })).toThrow()
    expect(() => Schema.decodeUnknownSync(schema)({ processId: "p", size: { rows: -1, cols: 80 } })).toThrow()
  })
})

// The protocol currently has no recursive definitions: exercise the generator's `Schema.suspend` path on a small
// synthetic bundle, evaluating the emitted module.
const envelope = (variants: Array<Json>): Json => ({ oneOf: variants })
const syntheticBundle = (extra: Record<string, Json> = {}): Json => ({
  definitions: {
    ClientRequest: envelope([{
      type: "object",
      properties: {
        id: { $ref: "#/definitions/RequestId" },
        method: { type: "string", enum: ["tree/get"] },
        params: { $ref: "#/definitions/TreeGetParams" }
      },
      required: ["id", "method", "params"]
    }]),
    ClientNotification: envelope([]),
    ServerNotification: envelope([]),
    ServerRequest: envelope([]),
    RequestId: { anyOf: [{ type: "string" }, { type: "integer", format: "int64" }] },
    TreeGetParams: { type: "object", properties: { depth: { type: ["integer", "null"], format: "uint32", minimum: 0 } } },
    TreeGetResponse: {
      type: "object",
      properties: { root: { $ref: "#/definitions/v2/Tree" } },
      required: ["root"]
    },
    ...extra,
    v2: {
      // mutual recursion Tree -> Forest -> Tree, plus self recursion via Tree.parent
      Tree: {
        type: "object",
        properties: {
          value: { type: "string" },
          children: { $ref: "#/definitions/v2/Forest" },
          parent: { anyOf: [{ $ref: "#/definitions/v2/Tree" }, { type: "null" }] },
          labels: { type: "object", additionalProperties: { $ref: "#/definitions/v2/Tree" } }
        },
        required: ["value", "children"]
      },
      Forest: { type: "array", items: { $ref: "#/definitions/v2/Tree" } }
    }
  }
})
const noExceptions = { clientResponseExceptions: {}, serverResponseExceptions: {} }
const syntheticStandalone = (bundle: Json): Record<string, Json> => {
  const defs = (bundle as { definitions: Record<string, Json> }).definitions
  return {
    "ClientRequest.json": defs["ClientRequest"]!,
    "ClientNotification.json": defs["ClientNotification"]!,
    "ServerNotification.json": defs["ServerNotification"]!,
    "ServerRequest.json": defs["ServerRequest"]!
  }
}

describe("generator", () => {
  it("emits Schema.suspend for recursive definitions (decodes a recursive value)", async () => {
    const bundle = syntheticBundle()
    const model = buildModel(bundle, syntheticStandalone(bundle), noExceptions)
    const source = renderSchemas(model, "test")
    expect(source).toContain("Schema.suspend(")
    const dir = path.join(REPO_ROOT, ".tmp", `generate-test-${process.pid}-${Date.now()}`)
    fs.mkdirSync(dir, { recursive: true })
    try {
      const file = path.join(dir, "schemas.ts")
      fs.writeFileSync(file, source)
      const mod = (await import(pathToFileURL(file).href)) as Record<string, Schema.Codec<unknown>>
      const value = {
        value: "root",
        children: [{ value: "a", children: [], parent: null }, { value: "b", children: [{ value: "c", children: [] }] }],
        labels: { self: { value: "x", children: [] } }
      }
      roundTrip(mod["Tree"]!, value)
      roundTrip(mod["TreeGetResponse"]!, { root: value })
      expect(() => Schema.decodeUnknownSync(mod["Tree"]!)({ value: "r", children: [{ value: 1, children: [] }] })).toThrow()
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("opens what the server sends (also in recursive definitions) and keeps what the client sends strict", async () => {
    const kind = { type: "string", enum: ["leaf", "node"] }
    const bundle = syntheticBundle({
      Kind: kind,
      Shape: {
        oneOf: [
          { type: "object", properties: { type: { type: "string", enum: ["round"] } }, required: ["type"] },
          {
            type: "object",
            properties: { type: { type: "string", enum: ["square"] }, side: { type: "number" } },
            required: ["type", "side"]
          }
        ]
      },
      TreeGetParams: { type: "object", properties: { kind: { $ref: "#/definitions/Kind" } } }
    }) as { definitions: { v2: { Tree: { properties: Record<string, Json> } } } }
    bundle.definitions.v2.Tree.properties["kind"] = { $ref: "#/definitions/Kind" }
    bundle.definitions.v2.Tree.properties["shape"] = { $ref: "#/definitions/Shape" }
    const model = buildModel(bundle as unknown as Json, syntheticStandalone(bundle as unknown as Json), noExceptions)
    const byName = new Map(model.definitions.map((d) => [d.name, d]))
    // Kind is sent (params) and received (the tree): strict under its name, open as ReceivedKind
    expect(byName.get("Kind")?.open).toBeUndefined()
    expect(byName.get("ReceivedKind")).toMatchObject({ open: true, twinOf: "Kind" })
    // Shape and Tree are only received: open under their own names
    expect(byName.get("Shape")?.open).toBe(true)
    expect(byName.has("ReceivedShape")).toBe(false)
    const source = renderSchemas(model, "test")
    expect(source).toContain("Schema.suspend((): Schema.Codec<Tree, unknown> => Tree)")
    const dir = path.join(REPO_ROOT, ".tmp", `generate-open-${process.pid}-${Date.now()}`)
    fs.mkdirSync(dir, { recursive: true })
    try {
      const file = path.join(dir, "schemas.ts")
      fs.writeFileSync(file, source)
      const mod = (await import(pathToFileURL(file).href)) as Record<string, Schema.Codec<unknown, unknown>>
      const raw = { type: "triangle", sides: [1, 2, 3] }
      const tree = { value: "r", kind: "aNewKind", shape: raw, children: [{ value: "c", children: [], shape: { type: "round" } }] }
      const decoded = Schema.decodeUnknownSync(mod["Tree"]!)(tree)
      expect(decoded).toEqual({ ...tree, shape: { type: "@unknown", raw } })
      expect(Schema.encodeSync(mod["Tree"]!)(decoded)).toEqual(tree)
      // a known tag with a wrong body is not an unknown variant
      expect(() => Schema.decodeUnknownSync(mod["Shape"]!)({ type: "square" })).toThrow()
      expect(() => Schema.decodeUnknownSync(mod["TreeGetParams"]!)({ kind: "aNewKind" })).toThrow()
      expect(Schema.decodeUnknownSync(mod["TreeGetParams"]!)({ kind: "leaf" })).toEqual({ kind: "leaf" })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
    // the tag an unknown variant decodes to must not be a real one
    const clash = syntheticBundle({
      Shape: {
        oneOf: [
          { type: "object", properties: { type: { type: "string", enum: ["@unknown"] } }, required: ["type"] },
          { type: "object", properties: { type: { type: "string", enum: ["square"] } }, required: ["type"] }
        ]
      },
      TreeGetResponse: { type: "object", properties: { shape: { $ref: "#/definitions/Shape" } }, required: ["shape"] }
    })
    expect(() => buildModel(clash, syntheticStandalone(clash), noExceptions)).toThrow(/already uses the tag "@unknown"/)
  })

  it("fails with the schema path on unsupported keywords", () => {
    const converter = new Converter({
      refName: () => "X",
      refSchema: () => true
    })
    expect(() =>
      converter.convert(
        { type: "object", properties: { bar: { type: "object", patternProperties: {} } } },
        "#/definitions/Foo"
      )
    ).toThrow("#/definitions/Foo/properties/bar: unsupported keyword \"patternProperties\"")
    expect(() => converter.convert({ type: "string", format: "date-time" }, "#/x")).toThrow(GenerateError)
    expect(() => converter.convert(false, "#/y")).toThrow("#/y: unsupported `false` schema")
  })

  it("fails loudly when a client method has no response definition", () => {
    const bundle = syntheticBundle() as { definitions: Record<string, Json> }
    const defs = { ...bundle.definitions }
    delete defs["TreeGetResponse"]
    const broken: Json = { definitions: defs }
    expect(() => buildModel(broken, syntheticStandalone(broken), noExceptions)).toThrow(
      /no response definition for method tree\/get/
    )
    // an exception naming a missing definition, an unnecessary exception, an exception for an unknown method
    expect(() => buildModel(broken, syntheticStandalone(broken), { clientResponseExceptions: { "tree/get": "Nope" } }))
      .toThrow(/names a non-existent definition Nope/)
    expect(() => buildModel(bundle, syntheticStandalone(bundle), { clientResponseExceptions: { "tree/get": "TreeGetResponse" } }))
      .toThrow(/unnecessary/)
    expect(() => buildModel(bundle, syntheticStandalone(bundle), { clientResponseExceptions: { "no/such": "TreeGetResponse" } }))
      .toThrow(/unknown method no\/such/)
  })

  it("records deliberate Unknown fallbacks", () => {
    const converter = new Converter({ refName: () => "X", refSchema: () => true })
    converter.convert({ type: "object", properties: { a: true, b: {} } }, "#/definitions/Foo")
    expect(converter.fallbacks.map((f) => f.path)).toEqual([
      "#/definitions/Foo/properties/a",
      "#/definitions/Foo/properties/b"
    ])
    const committed = fs.readFileSync(path.join(GENERATED_DIR, "FALLBACKS.md"), "utf8")
    expect(committed).toMatch(/Total: \d+/)
  })
})

describe("drift check", () => {
  const copyTree = (from: string, to: string): void => {
    for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
      if (entry.name === "node_modules") continue
      const src = path.join(from, entry.name)
      const dst = path.join(to, entry.name)
      if (entry.isDirectory()) {
        fs.mkdirSync(dst, { recursive: true })
        copyTree(src, dst)
      } else fs.copyFileSync(src, dst)
    }
  }

  it("passes on an untouched copy and reports a hand edit, a missing and an extra file", () => {
    const { tree } = generateTree()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-codex-drift-"))
    try {
      copyTree(GENERATED_DIR, dir)
      expect(checkAgainst(dir, tree)).toEqual({ missing: [], extra: [], differing: [] })

      fs.appendFileSync(path.join(dir, "src", "schemas.ts"), "\n// hand edit\n")
      fs.rmSync(path.join(dir, "schema", "v2", "ThreadStartResponse.json"))
      fs.writeFileSync(path.join(dir, "src", "extra.ts"), "export {}\n")
      expect(checkAgainst(dir, tree)).toEqual({
        missing: ["schema/v2/ThreadStartResponse.json"],
        extra: ["src/extra.ts"],
        differing: ["src/schemas.ts"]
      })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("upstream schema patches and the check against codex's own TypeScript types", () => {
  // the pinned binary's outputs, once for this block
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-codex-official-"))
  const outputs = codexOutputs(codexBinary(), dir)
  const noMethods = { compared: 0, disagreements: [], onlyOfficial: [] }
  const stableCheck = (patches: ReadonlyArray<SchemaPatch>) => ({
    stable: compareFieldNames(readModel(outputs.schema, "stable", {}, patches).definitions, outputs.ts),
    experimental: { compared: 0, fields: 0, unmatched: [], disagreements: [] },
    methods: { stable: noMethods, experimental: noMethods }
  })
  const stablePatches = patchesFor(SCHEMA_PATCHES, "stable")

  it("agree with the patch table, and the generated types use the wire's names", () => {
    expect(() => checkOfficialTypes(stableCheck(SCHEMA_PATCHES), stablePatches)).not.toThrow()
    const bem = {
      id: "i",
      realtimeSessionId: "s",
      type: "bemItemPromoted",
      turnId: "t",
      itemId: "x",
      presentation: { type: "wholeItem" }
    }
    expect(Exit.isSuccess(Schema.decodeUnknownExit(ThreadRealtimeItem)(bem))).toBe(true)
    const { itemId: _itemId, turnId: _turnId, ...rest } = bem
    expect(Exit.isFailure(Schema.decodeUnknownExit(ThreadRealtimeItem)({ ...rest, turn_id: "t", item_id: "x" }))).toBe(true)
  })

  it("fails on a disagreement the table does not explain, naming the definition and the fields", () => {
    // without the table, the JSON Schema's `turn_id` / `item_id` disagree with generate-ts
    expect(() => checkOfficialTypes(stableCheck([]), [])).toThrow(
      /ThreadRealtimeItem \(vs generate-ts v2\/ThreadRealtimeItem\.ts\): only in the JSON Schema: item_id, turn_id; only in generate-ts: itemId, turnId/
    )
    // a field the JSON Schema has and codex's types do not
    const extra: SchemaPatch = {
      op: "renameProperty",
      scope: "both",
      pointer: "#/definitions/v2/ThreadStartParams",
      from: "ephemeral",
      to: "ephemral",
      reason: "test"
    }
    expect(() => checkOfficialTypes(stableCheck([...stablePatches, extra]), stablePatches)).toThrow(
      /ThreadStartParams .*only in the JSON Schema: ephemral; only in generate-ts: ephemeral/
    )
  })

  it("compares the method maps: a method or a params type that generate-ts does not have fails", () => {
    const model = readModel(outputs.schema, "stable")
    const methods = compareMethods(model, outputs.ts)
    expect(methods.disagreements).toEqual([])
    expect(methods.compared).toBe(model.clientRequests.length + model.serverRequests.length +
      model.serverNotifications.length + model.clientNotifications.length)
    // legacy methods that codex's JSON Schema leaves out are reported, not failed
    expect(methods.onlyOfficial).toContain("ClientRequest getAuthStatus")
    const broken = {
      ...model,
      clientRequests: model.clientRequests.map((m) =>
        m.method === "thread/start" ? { ...m, method: "thread/begin" } :
          m.method === "turn/start" ? { ...m, params: { kind: "ref" as const, target: "TurnSteerParams" } } : m
      )
    }
    const check = { ...stableCheck(SCHEMA_PATCHES), methods: { stable: compareMethods(broken, outputs.ts), experimental: noMethods } }
    expect(() => checkOfficialTypes(check, stablePatches)).toThrow(
      /ClientRequest\.ts: method thread\/begin only in the JSON Schema\n.*params of turn\/start are TurnSteerParams in the JSON Schema, TurnStartParams in generate-ts/
    )
  })

  it("fails on a stale patch: a rename that no longer applies, a known difference that no longer occurs", () => {
    const bundle = JSON.parse(fs.readFileSync(path.join(outputs.schema, BUNDLE_FILE), "utf8")) as Json
    const patched = applyPatches(bundle, stablePatches)
    expect(() => applyPatches(patched, stablePatches)).toThrow(
      /#\/definitions\/v2\/ThreadRealtimeItem\/oneOf\/2: schema patch "turn_id" → "turnId" no longer applies \(no property "turn_id"\)/
    )
    const gone: SchemaPatch = { ...stablePatches[0]!, pointer: "#/definitions/v2/NoSuchDefinition" } as SchemaPatch
    expect(() => applyPatches(bundle, [gone])).toThrow(/no longer applies \(no object schema with `properties` there\)/)
    const known: SchemaPatch = {
      op: "knownDifference",
      scope: "both",
      definition: "ThreadStartParams",
      onlyGenerated: [],
      onlyOfficial: ["sandbox"],
      reason: "test"
    }
    expect(() => checkOfficialTypes(stableCheck(SCHEMA_PATCHES), [...stablePatches, known])).toThrow(
      /known difference\(s\) that no longer occur: ThreadStartParams/
    )
  })

  it("accepts a disagreement documented as a known difference", () => {
    const withRenameOnly = stablePatches.filter((p) => !(p.op === "renameProperty" && p.from === "item_id"))
    const known: SchemaPatch = {
      op: "knownDifference",
      scope: "both",
      definition: "ThreadRealtimeItem",
      onlyGenerated: ["item_id"],
      onlyOfficial: ["itemId"],
      reason: "test"
    }
    expect(() => checkOfficialTypes(stableCheck(withRenameOnly), withRenameOnly)).toThrow(/item_id/)
    expect(() => checkOfficialTypes(stableCheck(withRenameOnly), [...withRenameOnly, known])).not.toThrow()
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
})

describe("the experimental surface", () => {
  it("is a separate map: every stable method plus the experimental ones, the stable map unchanged", () => {
    const stable = Object.keys(ClientRequests)
    const experimental = Object.keys(Experimental.ClientRequests)
    expect(experimental.length).toBeGreaterThan(stable.length)
    expect(stable.every((m) => experimental.includes(m))).toBe(true)
    expect(experimental.filter((m) => !stable.includes(m)).sort()).toEqual([...Experimental.newClientRequestMethods].sort())
    expect(Experimental.newClientRequestMethods).toContain("thread/search")
    expect(Experimental.newClientRequestMethods).toContain("mock/experimentalMethod")
    expect("currentTime/read" in ServerRequests).toBe(false)
    expect(Object.keys(Experimental.ServerRequests)).toContain("currentTime/read")
    expect("mock/experimentalMethod" in ClientRequests).toBe(false)
  })

  it("types experimental fields of stable methods (thread/start dynamicTools) only in the experimental map", () => {
    const params: Experimental.ClientRequestParams<"thread/start"> = {
      dynamicTools: [{ type: "function", name: "clock", description: "reads the clock", inputSchema: { type: "object" } }]
    }
    const exact = { onExcessProperty: "error" } as const
    expect(Exit.isSuccess(Schema.decodeUnknownExit(Experimental.ClientRequests["thread/start"].params, exact)(params))).toBe(true)
    expect(Exit.isFailure(Schema.decodeUnknownExit(ClientRequests["thread/start"].params, exact)(params))).toBe(true)
    expect(Experimental.extendedClientRequestMethods).toContain("thread/start")
    // a definition without experimental fields is the stable one
    expect(Experimental.ClientRequests["account/rateLimits/read"].response).toBe(ClientRequests["account/rateLimits/read"].response)
  })
})
