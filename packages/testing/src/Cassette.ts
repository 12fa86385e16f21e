/**
 * Cassettes: record a test's model traffic once against a real Responses API, replay it offline forever.
 *
 * {@link record} starts a recording proxy on `127.0.0.1`: codex talks to it as to any Responses API, it forwards
 * each request to the upstream (adding the API key itself) and streams the answer back unchanged as it arrives,
 * and it keeps, per request, a normalised summary (the conversation and the request's options, without the ids,
 * cache keys, dates and temporary paths codex changes from run to run), its digest, and the response's events
 * with their timing. Secrets are never kept: no request header at all, the API key and every value marked in
 * `secrets` replaced by `<redacted>`, and anything shaped like an OpenAI key, a bearer token or a JWT too.
 *
 * {@link replay} serves a cassette from a {@link MockModel} (no network): request N must have the digest of the
 * recorded request N, else the turn fails (HTTP 400, which codex does not retry) and the {@link Session} holds a
 * {@link CassetteMismatchError} naming the first part that differs, e.g. `input[4].content[0]`.
 *
 * Most tests use `CodexTest.layerCassette(file, { mode })`, which picks recording or replay.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Codex } from "effect-codex"
 * import { Cassette, CodexTest } from "@effect-codex/testing"
 *
 * it.live("summarises the release notes", () =>
 *   Effect.gen(function*() {
 *     const codex = yield* Codex.Codex
 *     const thread = yield* codex.threadStart()
 *     const result = yield* thread.run("Summarise: v2 adds cassettes")
 *     // recorded once with OPENAI_API_KEY, replayed offline in CI
 *   }).pipe(Cassette.failOnMismatch, Effect.provide(CodexTest.layerCassette("test/cassettes/summary.json"))))
 * ```
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as path from "node:path"
import { failWithMismatch } from "./internal/cassette/mismatch.js"
import * as Normalize from "./internal/cassette/normalize.js"
import * as Sse from "./internal/cassette/sse.js"
import * as MockModel from "./MockModel.js"

// ---------------------------------------------------------------------------
// Format
// ---------------------------------------------------------------------------

/**
 * One event of a recorded stream: the milliseconds since the previous event (or since the request, for the
 * first), its SSE `event:` name and its `data:` (parsed JSON).
 *
 * @since 0.2.0
 * @category models
 */
export interface RecordedEvent {
  readonly delayMs: number
  readonly event: string
  readonly data: unknown
}

/**
 * What the upstream answered: a stream of events (`200 text/event-stream`) or a status with a body.
 *
 * @since 0.2.0
 * @category models
 */
export interface RecordedResponse {
  readonly status: number
  readonly events?: ReadonlyArray<RecordedEvent> | undefined
  readonly body?: unknown
}

/**
 * One model request and its response. `summary` is what the request asked, normalised; `digest` its hash.
 *
 * @since 0.2.0
 * @category models
 */
export interface Interaction {
  readonly digest: string
  readonly summary: unknown
  readonly response: RecordedResponse
}

/**
 * A cassette: the model it was recorded with and every `POST /v1/responses`, in order. Stored as pretty JSON.
 *
 * @since 0.2.0
 * @category models
 */
export interface Cassette {
  readonly version: 1
  readonly model: string
  readonly interactions: ReadonlyArray<Interaction>
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * A request did not match the cassette: request `index` (0-based, over the model requests) differs from the
 * recorded one first at `path` (e.g. `input[4].content[0]`: the fifth input item's first text), where the
 * cassette has `expected` and the request `actual`. `path` is `request` when there is no recorded request left.
 *
 * @since 0.2.0
 * @category errors
 */
export class CassetteMismatchError extends Schema.TaggedError<CassetteMismatchError>(
  "effect-codex/testing/Cassette/CassetteMismatchError"
)("CassetteMismatchError", {
  file: Schema.optional(Schema.String),
  index: Schema.Number,
  path: Schema.String,
  expected: Schema.Unknown,
  actual: Schema.Unknown
}) {
  override get message(): string {
    const where = this.file === undefined ? "the cassette" : this.file
    const show = (value: unknown) => value === undefined ? "nothing" : JSON.stringify(value)
    return `Model request ${this.index} does not match ${where} at ${this.path}: recorded ${show(this.expected)}, got ${
      show(this.actual)
    } (re-record with ${RECORD_ENV}=1)`
  }
}

/**
 * A cassette to replay is missing or is not a cassette.
 *
 * @since 0.2.0
 * @category errors
 */
export class CassetteReadError extends Schema.TaggedError<CassetteReadError>(
  "effect-codex/testing/Cassette/CassetteReadError"
)("CassetteReadError", {
  file: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `Cannot replay the cassette ${this.file}: ${this.reason}`
  }
}

/**
 * The test made fewer model requests than the cassette holds (`played` of `recorded`).
 *
 * @since 0.2.0
 * @category errors
 */
export class CassetteUnplayedError extends Schema.TaggedError<CassetteUnplayedError>(
  "effect-codex/testing/Cassette/CassetteUnplayedError"
)("CassetteUnplayedError", {
  file: Schema.optional(Schema.String),
  played: Schema.Number,
  recorded: Schema.Number
}) {
  override get message(): string {
    return `The test made ${this.played} of the ${this.recorded} model requests in ${this.file ?? "the cassette"}`
  }
}

/**
 * The environment variable that forces recording (`1` or `true`) whatever the mode: `EFFECT_CODEX_RECORD`.
 *
 * @since 0.2.0
 * @category constants
 */
export const RECORD_ENV = "EFFECT_CODEX_RECORD"

// ---------------------------------------------------------------------------
// Summaries
// ---------------------------------------------------------------------------

/**
 * Options shared by recording and replay: values to keep out of the cassette.
 *
 * @since 0.2.0
 * @category models
 */
export interface SecretOptions {
  /**
   * Values never written (replaced by `<redacted>` in summaries and recorded events), besides the API key and
   * anything shaped like a key or token. Give the same list when replaying.
   */
  readonly secrets?: ReadonlyArray<string | Redacted.Redacted<string>> | undefined
}

const secretValues = (
  options: SecretOptions,
  more: ReadonlyArray<Redacted.Redacted<string> | undefined> = []
): ReadonlyArray<string> =>
  Normalize.orderSecrets([
    ...(options.secrets ?? []).map((secret) => Redacted.isRedacted(secret) ? Redacted.value(secret) : secret),
    ...more.flatMap((secret) => secret === undefined ? [] : [Redacted.value(secret)])
  ])

/**
 * The normalised summary of a Responses API request body, as a cassette stores it: `model`, `options` (every
 * field but the input, the tools, the instructions and the volatile ones), `tools` by name, `instructions`, and
 * `input` with messages as `{ role, content: [text...] }`, tool calls with parsed arguments, and no ids.
 *
 * @example
 * ```ts
 * Cassette.summarize({ model: "m", input: [{ type: "message", id: "msg_1", role: "user", content: [{ type: "input_text", text: "hi" }] }] })
 * // { model: "m", options: {}, input: [{ role: "user", content: ["hi"] }] }
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const summarize = (body: unknown, options: SecretOptions = {}): unknown =>
  Normalize.summarize(body, { secrets: secretValues(options) })

/**
 * The digest of a summary (`sha256:` and 16 hex digits of its canonical JSON).
 *
 * @since 0.2.0
 * @category utils
 */
export const digest: (summary: unknown) => string = Normalize.digest

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

/**
 * Reads a cassette file.
 *
 * @since 0.2.0
 * @category constructors
 */
export const read = (file: string): Effect.Effect<Cassette, CassetteReadError> =>
  Effect.try({
    try: () => JSON.parse(readFileSync(file, "utf8")) as unknown,
    catch: (cause) =>
      new CassetteReadError({
        file,
        reason: existsSync(file) ? "not JSON" : `no such file (record it: set ${RECORD_ENV}=1 and OPENAI_API_KEY)`,
        cause
      })
  }).pipe(
    Effect.filterOrFail(
      (value): value is Cassette =>
        typeof value === "object" && value !== null && (value as Cassette).version === 1 &&
        Array.isArray((value as Cassette).interactions),
      () => new CassetteReadError({ file, reason: "not a version 1 cassette" })
    )
  )

/**
 * Writes a cassette as pretty JSON (creating its folder), for a reviewer to read in a diff.
 *
 * @since 0.2.0
 * @category utils
 */
export const write = (file: string, cassette: Cassette): Effect.Effect<void> =>
  Effect.sync(() => {
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, `${JSON.stringify(cassette, null, 2)}\n`)
  })

// ---------------------------------------------------------------------------
// Session
// ---------------------------------------------------------------------------

/**
 * The cassette a test runs on: how, what it holds so far, and the first request that did not match it.
 *
 * @since 0.2.0
 * @category models
 */
export interface SessionService {
  readonly mode: "record" | "replay"
  /** The cassette's file, when it has one. */
  readonly file: string | undefined
  /** What was recorded so far (record mode) or what is played (replay mode). */
  readonly cassette: Effect.Effect<Cassette>
  /** The first request that did not match (replay mode). */
  readonly mismatch: Effect.Effect<Option.Option<CassetteMismatchError>>
  /** Fails with the first mismatch, or when the test made fewer requests than recorded (replay mode). */
  readonly verify: Effect.Effect<void, CassetteMismatchError | CassetteUnplayedError>
}

/**
 * The {@link SessionService} of the cassette in use.
 *
 * @since 0.2.0
 * @category services
 */
export class Session extends Context.Service<Session, SessionService>()("@effect-codex/testing/Cassette/Session") {}

/**
 * Runs `self`; when a model request did not match the cassette, fails with that {@link CassetteMismatchError}
 * instead of what `self` ended with (the failed turn, typically). Use it around a test's body.
 *
 * @example
 * ```ts
 * const error = yield* thread.run("a changed prompt").pipe(Cassette.failOnMismatch, Effect.flip)
 * // error._tag === "CassetteMismatchError", error.path === "input[4].content[0]"
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const failOnMismatch = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E | CassetteMismatchError, R | Session> =>
  Session.use((session) => failWithMismatch(self, session.mismatch))

// ---------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------

/**
 * Options of {@link replay}.
 *
 * @since 0.2.0
 * @category models
 */
export interface ReplayOptions extends SecretOptions {
  /** `immediate` (default): every event at once; `recorded`: with the recorded delays between events. */
  readonly timing?: "immediate" | "recorded" | undefined
  /** The cassette's file, named in errors. */
  readonly file?: string | undefined
  /** Options of the `MockModel` that serves the cassette (its `model` is the cassette's). */
  readonly mock?: Omit<MockModel.LayerOptions, "model" | "defaultReply"> | undefined
}

const recordedReply = (response: RecordedResponse, timing: ReplayOptions["timing"]): MockModel.Reply => {
  if (response.events === undefined) return MockModel.fail(response.status, response.body)
  const reply = MockModel.events(response.events.map((event) => ({ ...(event.data as object), type: event.event })))
  return timing === "recorded" ? { ...reply, delaysMs: response.events.map((event) => event.delayMs) } : reply
}

const mismatchReply = (error: CassetteMismatchError): MockModel.Reply =>
  MockModel.fail(400, { error: { type: "invalid_request_error", code: "cassette_mismatch", message: error.message } })

/**
 * Serves `cassette` from a `MockModel` (and provides the {@link Session}): model request N gets the recorded
 * response N when its summary has the recorded digest, else an HTTP 400 that fails the turn, and the session
 * keeps a {@link CassetteMismatchError} naming the first difference.
 *
 * @example
 * ```ts
 * const cassette = yield* Cassette.read("test/cassettes/hello.json")
 * // CodexTest.appServerLayer() and Codex.layer() over Cassette.replay(cassette), or just CodexTest.layerCassette
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const replay = (
  cassette: Cassette,
  options: ReplayOptions = {}
): Layer.Layer<MockModel.MockModel | Session> => {
  const secrets = secretValues(options)
  const state = { played: 0, mismatch: Option.none<CassetteMismatchError>() }
  const answer = (request: MockModel.RecordedRequest): MockModel.Reply => {
    const index = state.played++
    const actual = Normalize.summarize(request.body, { secrets })
    const recorded = cassette.interactions[index]
    if (recorded !== undefined && recorded.digest === Normalize.digest(actual)) {
      return Option.isSome(state.mismatch) ? mismatchReply(state.mismatch.value) : recordedReply(recorded.response, options.timing)
    }
    const difference = recorded === undefined
      ? { path: "request", expected: undefined, actual }
      : Normalize.firstDifference(recorded.summary, actual) ?? { path: "digest", expected: recorded.digest, actual: Normalize.digest(actual) }
    const error = new CassetteMismatchError({ file: options.file, index, ...difference })
    if (Option.isNone(state.mismatch)) state.mismatch = Option.some(error)
    return mismatchReply(error)
  }
  const session: SessionService = {
    mode: "replay",
    file: options.file,
    cassette: Effect.succeed(cassette),
    mismatch: Effect.sync(() => state.mismatch),
    verify: Effect.suspend((): Effect.Effect<void, CassetteMismatchError | CassetteUnplayedError> =>
      Option.isSome(state.mismatch)
        ? Effect.fail(state.mismatch.value)
        : state.played < cassette.interactions.length
        ? Effect.fail(new CassetteUnplayedError({ file: options.file, played: state.played, recorded: cassette.interactions.length }))
        : Effect.void
    )
  }
  return Layer.merge(
    MockModel.layerWith({ ...options.mock, model: cassette.model, defaultReply: MockModel.dynamic(answer) }),
    Layer.succeed(Session, session)
  )
}

// ---------------------------------------------------------------------------
// Recording
// ---------------------------------------------------------------------------

/**
 * Options of {@link record}.
 *
 * @since 0.2.0
 * @category models
 */
export interface RecordOptions extends SecretOptions {
  /** The Responses API to record, up to `/v1` (default `https://api.openai.com/v1`). */
  readonly upstream?: string | undefined
  /** Sent upstream as `Authorization: Bearer <key>` (an API key or a ChatGPT access token); never written. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** More headers sent upstream (e.g. `ChatGPT-Account-Id`); never written, their values scrubbed. */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
  /** The model codex asks for (default `mock-model`). */
  readonly model?: string | undefined
  /** The cassette's file, for the {@link Session}. */
  readonly file?: string | undefined
  /** Provider options of the codex config (retries, idle timeout, offline features), as for a `MockModel`. */
  readonly provider?: Omit<MockModel.LayerOptions, "model" | "defaultReply" | "usage"> | undefined
}

/**
 * A running recording proxy.
 *
 * @since 0.2.0
 * @category models
 */
export interface Recorder {
  /** `http://127.0.0.1:<port>/v1` */
  readonly baseUrl: string
  readonly model: string
  /** The `-c key=value` overrides that point codex at the proxy (as `MockModel.codexConfig`). */
  readonly codexConfig: ReadonlyArray<string>
  /** What was recorded so far, secrets scrubbed. */
  readonly cassette: Effect.Effect<Cassette>
  /** Writes {@link cassette} to `file`. */
  readonly save: (file: string) => Effect.Effect<void>
}

/** Request headers not forwarded: the proxy's own connection, and the credentials it sets itself. */
const hopHeaders = new Set(["host", "connection", "content-length", "authorization", "accept-encoding", "keep-alive"])

/** The JSON a text holds, or the text itself. */
const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

interface Pending {
  readonly index: number
  readonly summary: Normalize.Json
  readonly response: RecordedResponse
}

/**
 * Starts a recording proxy for the Responses API in the current scope: codex, pointed at it with
 * {@link Recorder.codexConfig}, gets the upstream's responses streamed back unchanged as they arrive, and the
 * proxy keeps each model request's summary and response events (secrets scrubbed). Other paths (e.g.
 * `GET /v1/models`) are forwarded, not recorded.
 *
 * @example
 * ```ts
 * const recorder = yield* Cassette.record({ apiKey: Redacted.make(process.env.OPENAI_API_KEY!), model: "gpt-5.5" })
 * // run codex with recorder.codexConfig ... then:
 * yield* recorder.save("test/cassettes/hello.json")
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const record = Effect.fnUntraced(function*(options: RecordOptions = {}): Effect.fn.Return<Recorder, never, Scope.Scope> {
  const upstream = (options.upstream ?? "https://api.openai.com/v1").replace(/\/+$/, "")
  const model = options.model ?? "mock-model"
  const extraHeaders = Object.entries(options.headers ?? {}).map(([name, value]) =>
    [name, Redacted.isRedacted(value) ? Redacted.value(value) : value] as const
  )
  const secrets = Normalize.orderSecrets([
    ...secretValues(options, [options.apiKey]),
    ...extraHeaders.map(([, value]) => value)
  ])
  const recorded: Array<Pending> = []
  let arrivals = 0
  const sockets = new Set<Net.Socket>()
  const controllers = new Set<AbortController>()

  const forward = async (req: Http.IncomingMessage, res: Http.ServerResponse, rawBody: Buffer) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const isResponses = req.method === "POST" && url.pathname === "/v1/responses"
    const index = isResponses ? arrivals++ : -1
    const summary = isResponses ? Normalize.summarize(parseJson(rawBody.toString("utf8")), { secrets }) : null
    const headers = new Headers()
    for (const [name, value] of Object.entries(req.headers)) {
      if (hopHeaders.has(name) || value === undefined) continue
      headers.set(name, Array.isArray(value) ? value.join(", ") : value)
    }
    if (options.apiKey !== undefined) headers.set("authorization", `Bearer ${Redacted.value(options.apiKey)}`)
    for (const [name, value] of extraHeaders) headers.set(name, value)
    const controller = new AbortController()
    controllers.add(controller)
    const startedAt = Date.now()
    try {
      const upstreamResponse = await fetch(`${upstream}${url.pathname.replace(/^\/v1/, "")}${url.search}`, {
        method: req.method ?? "GET",
        headers,
        ...(rawBody.length > 0 ? { body: new Uint8Array(rawBody) } : {}),
        signal: controller.signal
      })
      const contentType = upstreamResponse.headers.get("content-type") ?? "application/octet-stream"
      res.writeHead(upstreamResponse.status, { "content-type": contentType, "cache-control": "no-cache" })
      res.flushHeaders()
      const isStream = contentType.includes("text/event-stream")
      const parser = Sse.makeParser()
      const events: Array<RecordedEvent> = []
      const bodyChunks: Array<Buffer> = []
      let last = startedAt
      const keep = (parsed: ReadonlyArray<Sse.ParsedEvent>) => {
        const now = Date.now()
        for (const event of parsed) {
          events.push({ delayMs: now - last, event: event.event, data: Normalize.scrubValue(event.data, secrets) })
          last = now
        }
      }
      const decoder = new TextDecoder()
      if (upstreamResponse.body !== null) {
        for await (const chunk of upstreamResponse.body) {
          res.write(chunk)
          if (!isResponses) continue
          if (isStream) keep(parser.push(decoder.decode(chunk, { stream: true })))
          else bodyChunks.push(Buffer.from(chunk))
        }
      }
      res.end()
      if (!isResponses) return
      if (isStream) keep(parser.end())
      const body = parseJson(Buffer.concat(bodyChunks).toString("utf8"))
      recorded.push({
        index,
        summary,
        response: isStream
          ? { status: upstreamResponse.status, events }
          : { status: upstreamResponse.status, body: Normalize.scrubValue(body, secrets) }
      })
    } catch (cause) {
      const message = `cassette recorder: upstream ${upstream} failed: ${Normalize.scrub(String(cause), secrets)}`
      if (!res.headersSent) {
        res.writeHead(502, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: { type: "upstream_error", message } }))
      } else res.destroy()
    } finally {
      controllers.delete(controller)
    }
  }

  const server = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => void forward(req, res, Buffer.concat(chunks)))
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  const port = yield* Effect.acquireRelease(
    Effect.callback<number>((resume) => {
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
      })
    }),
    () =>
      Effect.callback<void>((resume) => {
        for (const controller of controllers) controller.abort()
        server.close(() => resume(Effect.void))
        for (const socket of sockets) socket.destroy()
      })
  )

  const baseUrl = `http://127.0.0.1:${port}/v1`
  const cassette = Effect.sync((): Cassette => ({
    version: 1,
    model,
    interactions: [...recorded].sort((a, b) => a.index - b.index).map(({ response, summary }) => ({
      digest: Normalize.digest(summary),
      summary,
      response
    }))
  }))
  return {
    baseUrl,
    model,
    codexConfig: MockModel.codexConfigFor(baseUrl, { ...options.provider, model }),
    cassette,
    save: (file) => Effect.flatMap(cassette, (value) => write(file, value))
  }
})

/**
 * {@link record} as a layer: the {@link Recorder} and a {@link Session} in record mode; the cassette is written
 * to `options.file` (when given) as the layer is released.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRecord = (options: RecordOptions = {}): Layer.Layer<RecorderService | Session> =>
  Layer.effectContext(Effect.gen(function*() {
    const recorder = yield* record(options)
    if (options.file !== undefined) {
      const file = options.file
      yield* Effect.addFinalizer(() => recorder.save(file))
    }
    const session: SessionService = {
      mode: "record",
      file: options.file,
      cassette: recorder.cassette,
      mismatch: Effect.succeed(Option.none()),
      verify: Effect.void
    }
    return Context.make(RecorderService, recorder).pipe(Context.add(Session, session))
  }))

/**
 * The {@link Recorder} of {@link layerRecord}.
 *
 * @since 0.2.0
 * @category services
 */
export class RecorderService extends Context.Service<RecorderService, Recorder>()(
  "@effect-codex/testing/Cassette/Recorder"
) {}
