/**
 * Every message captured from the real codex 0.169.0 `app-server` (test/fixtures/captures, see its README.md)
 * decodes with the generated schemas, and every decoded value survives encode → decode unchanged.
 *
 * - server notifications `{method, params}` → `ServerNotifications[method]`;
 * - responses `{id, result}` → `ClientRequests[method].response`, the method found through the client's request
 *   with the same id in `<scenario>.client.jsonl`; error responses `{id, error}` carry `{code: number, message: string}`;
 * - server → client requests `{id, method, params}` → `ServerRequests[method].params`, and the client's answer
 *   `{id, result}` → `ServerRequests[method].response`;
 * - client requests → `ClientRequests[method].params`, client notifications → `ClientNotifications[method]`.
 *   Requests the server rejected as malformed (`Invalid request: ...`, only in the `errors` scenario) must NOT
 *   decode: the schemas agree with the server about what is invalid.
 *
 * The captures are analysed once; each test checks one kind of finding across all scenarios and expects the list
 * to be empty, so one run names every failing `file:line method: issue`.
 */
import { describe, expect, it } from "@effect/vitest"
import { Exit } from "effect"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import { isDeepStrictEqual } from "node:util"
import { ClientNotifications, ClientRequests, ServerNotifications, ServerRequests } from "../../generated/src/index.js"

const CAPTURES = path.resolve(import.meta.dirname, "..", "fixtures", "captures")
const BUNDLE = path.resolve(
  import.meta.dirname,
  "..",
  "..",
  "generated",
  "schema",
  "codex_app_server_protocol.schemas.json"
)

type AnyCodec = Schema.Codec<unknown>
type Json = Record<string, unknown>
interface RequestEntry {
  readonly params: AnyCodec
  readonly response: AnyCodec
}

interface Line {
  readonly file: string
  readonly line: number
  readonly message: Json
}

const scenarioNames: ReadonlyArray<string> = (JSON.parse(
  fs.readFileSync(path.join(CAPTURES, "scenarios.json"), "utf8")
) as { scenarios: Array<{ name: string }> }).scenarios.map((s) => s.name)

const readLines = (file: string): Array<Line> =>
  fs.readFileSync(path.join(CAPTURES, file), "utf8")
    .split("\n")
    .flatMap((text, index) => text.trim() === "" ? [] : [{ file, line: index + 1, message: JSON.parse(text) as Json }])

const has = (o: Json, key: string): boolean => Object.hasOwn(o, key)
// Kinds of messages: requests (id + method), responses (id, no method), notifications (method, no id).
const isRequest = (m: Json): boolean => has(m, "id") && has(m, "method")
const isResponse = (m: Json): boolean => has(m, "id") && !has(m, "method")
const isNotification = (m: Json): boolean => has(m, "method") && !has(m, "id")

const lookup = <A>(map: object, method: unknown): A | undefined =>
  typeof method === "string" && Object.hasOwn(map, method) ? (map as Record<string, A>)[method] : undefined

interface Scenario {
  readonly name: string
  readonly server: ReadonlyArray<Line>
  readonly client: ReadonlyArray<Line>
  /** client request id → the request line */
  readonly clientRequests: ReadonlyMap<unknown, Line>
  /** client request id → the server's response line */
  readonly responses: ReadonlyMap<unknown, Line>
  /** server request id → the client's answer line */
  readonly answers: ReadonlyMap<unknown, Line>
}

const load = (name: string): Scenario => {
  const server = readLines(`${name}.jsonl`)
  const client = readLines(`${name}.client.jsonl`)
  const byId = (lines: ReadonlyArray<Line>, pick: (m: Json) => boolean) =>
    new Map(lines.filter((l) => pick(l.message)).map((l) => [l.message["id"], l]))
  return {
    name,
    server,
    client,
    clientRequests: byId(client, isRequest),
    responses: byId(server, isResponse),
    answers: byId(client, isResponse)
  }
}

/** Paths whose key is in `raw` but not in `encoded` (dropped), or whose value differs (changed). */
const compare = (raw: unknown, encoded: unknown, at: string, dropped: Array<string>, changed: Array<string>) => {
  if (raw !== null && typeof raw === "object" && encoded !== null && typeof encoded === "object") {
    for (const [key, value] of Object.entries(raw)) {
      const sub = Array.isArray(raw) ? `${at}[]` : `${at}.${key}`
      if (!Object.hasOwn(encoded, key)) dropped.push(sub)
      else compare(value, (encoded as Record<string, unknown>)[key], sub, dropped, changed)
    }
  } else if (!isDeepStrictEqual(raw, encoded)) changed.push(at)
}

type Checked = { readonly ok: true; readonly encoded: unknown } | { readonly ok: false; readonly issue: string }

interface Analysis {
  readonly failures: {
    readonly notifications: Array<string>
    readonly responses: Array<string>
    readonly serverRequests: Array<string>
    readonly clientMessages: Array<string>
  }
  /** `<method> <path>` of keys present in a real message but unknown to its schema (dropped when decoding) */
  readonly dropped: Set<string>
  /** client requests the server rejected as malformed, `<scenario> <method>` */
  readonly rejected: Array<string>
  readonly errors: Array<{ scenario: string; method: unknown; code: unknown }>
  readonly methods: {
    readonly notifications: Set<string>
    readonly responses: Set<string>
    readonly serverRequests: Set<string>
    readonly clientRequests: Set<string>
  }
  decoded: number
}

const analyse = (scenarios: ReadonlyArray<Scenario>): Analysis => {
  const a: Analysis = {
    failures: { notifications: [], responses: [], serverRequests: [], clientMessages: [] },
    dropped: new Set(),
    rejected: [],
    errors: [],
    methods: { notifications: new Set(), responses: new Set(), serverRequests: new Set(), clientRequests: new Set() },
    decoded: 0
  }
  const where = (l: Line, method: unknown) => `${l.file}:${l.line} ${String(method)}`

  /** decode, encode, decode again: the second decode must equal the first; the encoding must keep every value */
  const check = (schema: AnyCodec, value: unknown, method: string): Checked => {
    const first = Schema.decodeUnknownExit(schema)(value)
    if (Exit.isFailure(first)) return { ok: false, issue: `decode: ${String(first.cause)}` }
    const encoded = Schema.encodeUnknownExit(schema)(first.value)
    if (Exit.isFailure(encoded)) return { ok: false, issue: `encode: ${String(encoded.cause)}` }
    const second = Schema.decodeUnknownExit(schema)(encoded.value)
    if (Exit.isFailure(second)) return { ok: false, issue: `decode after encode: ${String(second.cause)}` }
    if (!isDeepStrictEqual(second.value, first.value)) return { ok: false, issue: "round trip changed the value" }
    const dropped: Array<string> = []
    const changed: Array<string> = []
    compare(value, encoded.value, "", dropped, changed)
    if (changed.length > 0) return { ok: false, issue: `values changed at ${changed.join(", ")}` }
    for (const p of dropped) a.dropped.add(`${method} ${p}`)
    a.decoded++
    return { ok: true, encoded: encoded.value }
  }

  for (const s of scenarios) {
    for (const l of s.server) {
      const m = l.message
      if (isNotification(m)) {
        const schema = lookup<AnyCodec>(ServerNotifications, m["method"])
        const result: Checked = schema === undefined
          ? { ok: false, issue: "not in ServerNotifications" }
          : check(schema, m["params"], String(m["method"]))
        if (result.ok) a.methods.notifications.add(String(m["method"]))
        else a.failures.notifications.push(`${where(l, m["method"])}: ${result.issue}`)
      } else if (isResponse(m)) {
        const method = s.clientRequests.get(m["id"])?.message["method"]
        if (has(m, "error")) {
          const error = m["error"] as Json
          a.errors.push({ scenario: s.name, method, code: error["code"] })
          if (typeof error["code"] !== "number" || typeof error["message"] !== "string") {
            a.failures.responses.push(`${where(l, method)}: error is not {code: number, message: string}`)
          }
          continue
        }
        const entry = lookup<RequestEntry>(ClientRequests, method)
        const result: Checked = !has(m, "result")
          ? { ok: false, issue: "neither result nor error" }
          : entry === undefined
          ? { ok: false, issue: "no client request with this id in ClientRequests" }
          : check(entry.response, m["result"], String(method))
        if (result.ok) a.methods.responses.add(String(method))
        else a.failures.responses.push(`${where(l, method)}: ${result.issue}`)
      } else if (isRequest(m)) {
        const method = m["method"]
        const entry = lookup<RequestEntry>(ServerRequests, method)
        if (entry === undefined) {
          a.failures.serverRequests.push(`${where(l, method)}: not in ServerRequests`)
          continue
        }
        const params = check(entry.params, m["params"], String(method))
        if (!params.ok) a.failures.serverRequests.push(`${where(l, method)}: ${params.issue}`)
        const answer = s.answers.get(m["id"])
        const response: Checked = answer === undefined
          ? { ok: false, issue: "the client never answered" }
          : check(entry.response, answer.message["result"], `${String(method)} (answer)`)
        if (!response.ok) a.failures.serverRequests.push(`${where(answer ?? l, method)} (answer): ${response.issue}`)
        else if (!isDeepStrictEqual(response.encoded, answer?.message["result"])) {
          a.failures.serverRequests.push(`${where(answer ?? l, method)} (answer): encodes differently`)
        }
        if (params.ok && response.ok) a.methods.serverRequests.add(String(method))
      } else {
        a.failures.notifications.push(`${l.file}:${l.line}: neither request, response nor notification`)
      }
    }

    for (const l of s.client) {
      const m = l.message
      const method = m["method"]
      if (isRequest(m)) {
        const entry = lookup<RequestEntry>(ClientRequests, method)
        const error = s.responses.get(m["id"])?.message["error"] as Json | undefined
        if (typeof error?.["message"] === "string" && error["message"].startsWith("Invalid request")) {
          // deliberately malformed (errors scenario): the schemas must reject it too
          a.rejected.push(`${s.name} ${String(method)}`)
          if (entry !== undefined && Exit.isSuccess(Schema.decodeUnknownExit(entry.params)(m["params"]))) {
            a.failures.clientMessages.push(`${where(l, method)}: the server rejected these params but they decode`)
          }
          continue
        }
        const result: Checked = entry === undefined
          ? { ok: false, issue: "not in ClientRequests" }
          : check(entry.params, m["params"], `${String(method)} (params)`)
        if (result.ok) a.methods.clientRequests.add(String(method))
        else a.failures.clientMessages.push(`${where(l, method)}: ${result.issue}`)
      } else if (isNotification(m)) {
        const schema = lookup<AnyCodec>(ClientNotifications, method)
        const result: Checked = schema === undefined
          ? { ok: false, issue: "not in ClientNotifications" }
          : check(schema, m["params"], String(method))
        if (!result.ok) a.failures.clientMessages.push(`${where(l, method)}: ${result.issue}`)
      }
    }
  }
  return a
}

const scenarios = scenarioNames.map(load)
const analysis = analyse(scenarios)

// The real numbers of the codex 0.169.0 captures.
const NOTIFICATION_METHODS = 16
const RESPONSE_METHODS = 7
const SERVER_REQUEST_METHODS = 2
const CLIENT_REQUEST_METHODS = 7

/**
 * Keys the real server sends that the JSON Schema of `codex app-server generate-json-schema` does not declare:
 * experimental fields (only emitted with `--experimental`, which the generator does not pass). Decoding drops them
 * (excess properties are ignored). Any other dropped key would mean the generator lost a declared field.
 */
const UNDECLARED: Record<string, ReadonlyArray<string>> = {
  Thread: ["attachedToThreadId", "canAcceptDirectInput", "daybreakEnabled", "environments", "extra"],
  ThreadStartResponse: ["activePermissionProfile", "multiAgentMode", "runtimeWorkspaceRoots"],
  ThreadListResponse: ["readStates"],
  ThreadReadResponse: ["readState"],
  CommandExecutionRequestApprovalParams: ["availableDecisions"]
}
const THREAD = UNDECLARED["Thread"]!
const EXPECTED_DROPPED = [
  ...THREAD.map((k) => `thread/started .thread.${k}`),
  ...THREAD.map((k) => `thread/start .thread.${k}`),
  ...THREAD.map((k) => `thread/read .thread.${k}`),
  ...THREAD.map((k) => `thread/list .data[].${k}`),
  ...UNDECLARED["ThreadStartResponse"]!.map((k) => `thread/start .${k}`),
  "thread/list .readStates",
  "thread/read .readState",
  "item/commandExecution/requestApproval .availableDecisions"
]

describe("codex 0.169.0 captures decode with the generated schemas", () => {
  it(`${scenarios.length} scenarios, every line a request, a response or a notification`, () => {
    expect(scenarios.length).toBe(12)
    for (const s of scenarios) {
      expect(s.server.length, s.name).toBeGreaterThan(0)
      expect(s.client.length, s.name).toBeGreaterThan(0)
      // every response answers a client request, every client request is answered
      for (const id of s.responses.keys()) expect(s.clientRequests.has(id), `${s.name}: response ${id}`).toBe(true)
      for (const [id, l] of s.clientRequests) expect(s.responses.has(id), `${l.file}:${l.line} unanswered`).toBe(true)
    }
  })

  it("server notifications decode with ServerNotifications[method] and round-trip", () => {
    expect(analysis.failures.notifications).toEqual([])
  })

  it("responses decode with ClientRequests[method].response and round-trip; errors are {code, message}", () => {
    expect(analysis.failures.responses).toEqual([])
  })

  it("server requests decode with ServerRequests[method].params; the client's answers with .response", () => {
    expect(analysis.failures.serverRequests).toEqual([])
  })

  it("client requests decode with ClientRequests[method].params; the malformed ones the server rejected do not", () => {
    expect(analysis.failures.clientMessages).toEqual([])
    expect(analysis.rejected).toEqual(["errors no/such/method", "errors turn/start", "errors thread/read"])
  })

  it("error responses: only in the errors scenario, all -32600", () => {
    expect(analysis.errors.map((e) => e.scenario)).toEqual(analysis.errors.map(() => "errors"))
    expect(analysis.errors.map((e) => e.method)).toEqual([
      "thread/list",
      "initialize",
      "no/such/method",
      "turn/start",
      "thread/read",
      "thread/read",
      "turn/start"
    ])
    expect(new Set(analysis.errors.map((e) => e.code))).toEqual(new Set([-32600]))
  })

  it(
    `cover ${NOTIFICATION_METHODS} notification, ${RESPONSE_METHODS} response, ${SERVER_REQUEST_METHODS} server ` +
      `request and ${CLIENT_REQUEST_METHODS} client request methods`,
    () => {
      expect(analysis.methods.notifications.size).toBeGreaterThanOrEqual(NOTIFICATION_METHODS)
      expect(analysis.methods.responses.size).toBeGreaterThanOrEqual(RESPONSE_METHODS)
      expect(analysis.methods.serverRequests.size).toBeGreaterThanOrEqual(SERVER_REQUEST_METHODS)
      expect(analysis.methods.clientRequests.size).toBeGreaterThanOrEqual(CLIENT_REQUEST_METHODS)
      expect([...analysis.methods.responses].sort()).toEqual([
        "initialize",
        "model/list",
        "thread/list",
        "thread/read",
        "thread/start",
        "turn/interrupt",
        "turn/start"
      ])
      expect([...analysis.methods.serverRequests].sort()).toEqual([
        "item/commandExecution/requestApproval",
        "item/fileChange/requestApproval"
      ])
      expect(analysis.decoded).toBeGreaterThan(200)
    }
  )

  it("drop only keys the JSON Schema does not declare (experimental fields)", () => {
    expect([...analysis.dropped].sort()).toEqual([...new Set(EXPECTED_DROPPED)].sort())
    const definitions = (JSON.parse(fs.readFileSync(BUNDLE, "utf8")) as { definitions: Record<string, Json> })
      .definitions
    const v2 = definitions["v2"] as Record<string, Json>
    for (const [name, keys] of Object.entries(UNDECLARED)) {
      const definition = v2[name] ?? definitions[name]
      expect(definition, name).toBeDefined()
      const declared = Object.keys((definition?.["properties"] ?? {}) as Json)
      expect(declared.length, name).toBeGreaterThan(0)
      for (const key of keys) expect(declared, `${name}.${key}`).not.toContain(key)
    }
  })
})
