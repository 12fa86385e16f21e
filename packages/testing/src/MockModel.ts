/**
 * A scripted, local OpenAI Responses API for offline `codex app-server` runs.
 *
 * `MockModel` starts a Node `http` server on `127.0.0.1` (random port) and
 * answers every `POST /v1/responses` with the next scripted {@link Reply}
 * (FIFO, one reply per model request). Point codex at it with
 * {@link MockModel.codexConfig} (the `-c key=value` overrides) and a
 * fresh, empty `CODEX_HOME`.
 *
 * Measured with codex-cli 0.169.0: a whole offline text turn takes about
 * 150-250 ms; a turn with one approved shell call about 500 ms.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MockModel } from "@effect-codex/testing"
 *
 * const program = Effect.gen(function*() {
 *   const mock = yield* MockModel.MockModel
 *   yield* mock.enqueue(
 *     MockModel.shellCall({ command: "touch x", callId: "call-1" }),
 *     MockModel.text("Done.", { deltas: ["Do", "ne."] })
 *   )
 *   // spawn `codex app-server` with `mock.codexArgs` ... run a turn ...
 *   const requests = yield* mock.responsesRequests
 * }).pipe(Effect.provide(MockModel.layer))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Transport } from "effect-codex"
import * as Http from "node:http"
import type * as Net from "node:net"

// ---------------------------------------------------------------------------
// Script DSL
// ---------------------------------------------------------------------------

/**
 * One Server-Sent Event of the Responses API stream: `type` becomes the SSE
 * `event:` line and the whole object the `data:` line.
 *
 * @since 0.1.0
 * @category models
 */
export interface SseEvent {
  readonly type: string
  readonly [key: string]: unknown
}

/**
 * Token usage reported in `response.completed` (Responses API field names).
 * codex turns it into `thread/tokenUsage/updated`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Usage {
  readonly input_tokens: number
  readonly output_tokens: number
  readonly total_tokens: number
  readonly input_tokens_details?: { readonly cached_tokens?: number } | null
  readonly output_tokens_details?: { readonly reasoning_tokens?: number } | null
}

/**
 * A `200 text/event-stream` reply. `usage` is added to the final
 * `response.completed` event when that event has none; `intervalMs` waits
 * between events (0: write them all at once).
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamReply {
  readonly _tag: "Stream"
  readonly events: ReadonlyArray<SseEvent>
  readonly usage: Usage | undefined
  readonly intervalMs: number
}

/**
 * An HTTP error reply (`status` with a JSON or text body).
 *
 * @since 0.1.0
 * @category models
 */
export interface FailReply {
  readonly _tag: "Fail"
  readonly status: number
  readonly body: unknown
  readonly headers: Readonly<Record<string, string>>
}

/**
 * Sends `200` headers and `response.created`, then nothing: for `durationMs`
 * (then the stream ends without `response.completed`) or forever
 * (`durationMs` undefined; until the server closes).
 *
 * @since 0.1.0
 * @category models
 */
export interface StallReply {
  readonly _tag: "Stall"
  readonly durationMs: number | undefined
}

/**
 * A reply computed from the recorded request it answers.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamicReply {
  readonly _tag: "Dynamic"
  readonly respond: (request: RecordedRequest) => Reply
}

/**
 * What the mock answers to one `POST /v1/responses`.
 *
 * @since 0.1.0
 * @category models
 */
export type Reply = StreamReply | FailReply | StallReply | DynamicReply

/**
 * Default usage: 10 input, 5 output tokens. @since 0.1.0
 *
 * @category utils
 */
export const defaultUsage: Usage = {
  input_tokens: 10,
  input_tokens_details: null,
  output_tokens: 5,
  output_tokens_details: null,
  total_tokens: 15
}

let counter = 0
const nextId = (prefix: string): string => `${prefix}_mock_${++counter}`

/**
 * Options shared by the stream reply constructors. @since 0.1.0
 *
 * @category models
 */
export interface StreamOptions {
  /** Token usage in `response.completed` (default: the layer's usage). */
  readonly usage?: Usage | undefined
  /** The `response.id` (default: generated). */
  readonly responseId?: string | undefined
  /** Milliseconds between SSE events (default 0). */
  readonly intervalMs?: number | undefined
}

/**
 * A raw SSE stream, for events the other constructors do not cover. Add
 * `response.created` / `response.completed` yourself; `usage` is merged into a
 * final `response.completed` that lacks one.
 *
 * @example
 * ```ts
 * MockModel.events([
 *   { type: "response.created", response: { id: "r1" } },
 *   { type: "response.completed", response: { id: "r1" } }
 * ])
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const events = (
  events: ReadonlyArray<SseEvent>,
  options?: Pick<StreamOptions, "usage" | "intervalMs">
): StreamReply => ({
  _tag: "Stream",
  events,
  usage: options?.usage,
  intervalMs: options?.intervalMs ?? 0
})

const envelope = (items: ReadonlyArray<SseEvent>, options: StreamOptions | undefined): StreamReply => {
  const id = options?.responseId ?? nextId("resp")
  return events(
    [
      { type: "response.created", response: { id } },
      ...items,
      { type: "response.completed", response: { id } }
    ],
    options
  )
}

/**
 * Options of {@link text}. @since 0.1.0
 *
 * @category models
 */
export interface TextOptions extends StreamOptions {
  /** The chunks sent as `response.output_text.delta` (default: the whole text as one delta). */
  readonly deltas?: ReadonlyArray<string> | undefined
  /** The message item id (codex uses it as the `agentMessage` item id). */
  readonly itemId?: string | undefined
}

/**
 * An assistant message: `response.output_item.added`, one
 * `response.output_text.delta` per delta (codex emits
 * `item/agentMessage/delta`), `response.output_item.done` with the full text,
 * then `response.completed`.
 *
 * @example
 * ```ts
 * MockModel.text("Hello", { deltas: ["Hel", "lo"] })
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const text = (text: string, options?: TextOptions): StreamReply => {
  const itemId = options?.itemId ?? nextId("msg")
  const deltas = options?.deltas ?? [text]
  return envelope(
    [
      {
        type: "response.output_item.added",
        output_index: 0,
        item: { type: "message", role: "assistant", id: itemId, status: "in_progress", content: [] }
      },
      ...deltas.map((delta): SseEvent => ({
        type: "response.output_text.delta",
        item_id: itemId,
        output_index: 0,
        content_index: 0,
        delta
      })),
      {
        type: "response.output_item.done",
        output_index: 0,
        item: {
          type: "message",
          role: "assistant",
          id: itemId,
          status: "completed",
          content: [{ type: "output_text", text, annotations: [] }]
        }
      }
    ],
    options
  )
}

/**
 * Options of {@link functionCall}. @since 0.1.0
 *
 * @category models
 */
export interface FunctionCallOptions extends StreamOptions {
  /** Tool name as listed in the request's `tools` (e.g. `exec_command`). */
  readonly name: string
  /**
   * The namespace of a tool listed inside a `namespace` tool: codex lists an MCP server's tools in a namespace
   * `mcp__<server>` (call them with `{ namespace: "mcp__<server>", name: "<tool>" }`), as it lists dynamic tools
   * declared in one.
   */
  readonly namespace?: string | undefined
  /** Arguments: an object is JSON-encoded, a string is sent as is. */
  readonly arguments: unknown
  /** The `call_id` (default: generated); codex uses it as the item id. */
  readonly callId?: string | undefined
}

/**
 * A `function_call` output item for any tool codex offered in `tools` (or inside a `namespace` tool, with
 * `namespace`).
 * codex runs the tool and sends a second model request with the
 * `function_call_output`, so enqueue a follow-up reply (e.g. {@link text}).
 *
 * @since 0.1.0
 * @category utils
 */
export const functionCall = (options: FunctionCallOptions): StreamReply => {
  const callId = options.callId ?? nextId("call")
  return envelope(
    [{
      type: "response.output_item.done",
      output_index: 0,
      item: {
        type: "function_call",
        id: nextId("fc"),
        call_id: callId,
        name: options.name,
        ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
        arguments: typeof options.arguments === "string" ? options.arguments : JSON.stringify(options.arguments)
      }
    }],
    options
  )
}

const shellQuote = (arg: string): string => /^[A-Za-z0-9_\-+=.,/:@%^]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`

/**
 * Options of {@link shellCall}. @since 0.1.0
 *
 * @category models
 */
export interface ShellCallOptions extends StreamOptions {
  /**
   * The command. A string is passed as `cmd` unchanged; an array is
   * shell-quoted and joined. codex runs it as `/bin/bash -lc '<cmd>'`.
   */
  readonly command: string | ReadonlyArray<string>
  readonly callId?: string | undefined
  /** Working directory (default: the turn cwd). */
  readonly workdir?: string | undefined
  /**
   * How long codex waits for the command before yielding it to the background (default 10 s here, so a
   * slow machine still sees the command finish within the turn).
   */
  readonly yieldTimeMs?: number | undefined
  /** Ask for unsandboxed execution (`sandbox_permissions: "require_escalated"`). */
  readonly escalated?: boolean | undefined
  /** Approval question shown with an escalation request. */
  readonly justification?: string | undefined
}

/**
 * A call of codex's shell tool. codex-cli 0.169.0 offers `exec_command`
 * (unified exec) with arguments `{ cmd, workdir?, yield_time_ms?,
 * sandbox_permissions?, justification?, ... }`. With `approvalPolicy:
 * "untrusted"` codex asks the client first
 * (`item/commandExecution/requestApproval`).
 *
 * @example
 * ```ts
 * yield* mock.enqueue(
 *   MockModel.shellCall({ command: ["touch", "x"], callId: "call-1" }),
 *   MockModel.text("Created x.")
 * )
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const shellCall = (options: ShellCallOptions): StreamReply => {
  const cmd = typeof options.command === "string" ? options.command : options.command.map(shellQuote).join(" ")
  const args: Record<string, unknown> = { cmd, yield_time_ms: options.yieldTimeMs ?? 10_000 }
  if (options.workdir !== undefined) args.workdir = options.workdir
  if (options.escalated) args.sandbox_permissions = "require_escalated"
  if (options.justification !== undefined) args.justification = options.justification
  return functionCall({ ...options, name: "exec_command", arguments: args })
}

/**
 * Options of {@link applyPatch}. @since 0.1.0
 *
 * @category models
 */
export interface ApplyPatchOptions extends StreamOptions {
  readonly callId?: string | undefined
}

/**
 * An `apply_patch` invocation. codex 0.169.0 does not offer a separate
 * `apply_patch` tool for unknown models, but it intercepts
 * `apply_patch <<'EOF' ... EOF` run through `exec_command` and turns it into a
 * `fileChange` item (approval: `item/fileChange/requestApproval`). The patch
 * body is wrapped in `*** Begin Patch` / `*** End Patch` if missing.
 *
 * @example
 * ```ts
 * MockModel.applyPatch("*** Add File: hello.txt\n+hi")
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const applyPatch = (patch: string, options?: ApplyPatchOptions): StreamReply => {
  const body = patch.trimEnd()
  const full = body.startsWith("*** Begin Patch") ? body : `*** Begin Patch\n${body}\n*** End Patch`
  return functionCall({
    ...options,
    name: "exec_command",
    arguments: { cmd: `apply_patch <<'EOF'\n${full}\nEOF\n`, yield_time_ms: 1000 }
  })
}

/**
 * An HTTP error status instead of a stream. With the default
 * `requestMaxRetries: 0` codex fails the turn at once (`error` notification,
 * then `turn/completed` with `status: "failed"`); codex retries 5xx and 429
 * otherwise.
 *
 * @example
 * ```ts
 * MockModel.fail(500, { error: { message: "boom" } })
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const fail = (
  status: number,
  body: unknown = { error: { type: "server_error", message: `mock model failure (${status})` } },
  headers: Readonly<Record<string, string>> = {}
): FailReply => ({ _tag: "Fail", status, body, headers })

/**
 * A `200` stream that ends with `response.failed` (the model failed
 * mid-stream). Codes codex treats as retryable (e.g.
 * `rate_limit_exceeded`) are retried per `stream_max_retries`.
 *
 * @since 0.1.0
 * @category utils
 */
export const failed = (
  error: { readonly code?: string; readonly message?: string } = {},
  options?: Pick<StreamOptions, "responseId" | "intervalMs">
): StreamReply => {
  const id = options?.responseId ?? nextId("resp")
  return events([
    { type: "response.created", response: { id } },
    {
      type: "response.failed",
      response: { id, error: { code: error.code ?? "server_error", message: error.message ?? "mock model failure" } }
    }
  ], options)
}

/**
 * Headers and `response.created`, then silence: for `duration` (then the
 * stream ends without `response.completed`), or forever when omitted.
 * codex gives up after the provider's `stream_idle_timeout_ms` (see
 * {@link LayerOptions.streamIdleTimeoutMs}).
 *
 * @since 0.1.0
 * @category utils
 */
export const stall = (duration?: Duration.Input): StallReply => ({
  _tag: "Stall",
  durationMs: duration === undefined ? undefined : Duration.toMillis(duration)
})

/**
 * A reply chosen when the request arrives, from the recorded request.
 *
 * @example
 * ```ts
 * MockModel.dynamic((req) => MockModel.text(`You sent ${JSON.stringify(req.body).length} bytes`))
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const dynamic = (respond: (request: RecordedRequest) => Reply): DynamicReply => ({ _tag: "Dynamic", respond })

// ---------------------------------------------------------------------------
// Recorded requests
// ---------------------------------------------------------------------------

/**
 * How the mock answered a request: `scripted` (next queued reply),
 * `default` (queue was empty), `builtin` (e.g. `GET /v1/models`),
 * `notFound` (404).
 *
 * @since 0.1.0
 * @category models
 */
export type Answer = "scripted" | "default" | "builtin" | "notFound"

/**
 * One HTTP request received by the mock.
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordedRequest {
  /** 0-based arrival index over all requests. */
  readonly index: number
  readonly method: string
  /** Path without the query string, e.g. `/v1/responses`. */
  readonly path: string
  readonly query: string
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  /** Parsed JSON body, or the raw text when it is not JSON, or `undefined` when empty. */
  readonly body: unknown
  readonly rawBody: string
  readonly receivedAt: number
  readonly answer: Answer
}

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/**
 * The running mock server: the shape of the {@link MockModel} service.
 *
 * @since 0.2.0
 * @category models
 */
export interface MockModel {
  /** `http://127.0.0.1:<port>/v1` */
  readonly baseUrl: string
  readonly port: number
  /** The model name codex is configured with (default `mock-model`). */
  readonly model: string
  /**
   * `key=value` overrides pointing codex at this mock, fully offline; pass
   * each after `-c` (see {@link codexArgs}).
   */
  readonly codexConfig: ReadonlyArray<string>
  /** {@link codexConfig} as argv: `["-c", "k=v", "-c", ...]`. */
  readonly codexArgs: ReadonlyArray<string>
  /** Appends replies (arrays are flattened) to the FIFO queue. */
  readonly enqueue: (...replies: ReadonlyArray<Reply | ReadonlyArray<Reply>>) => Effect.Effect<void>
  /** Replaces the reply used when the queue is empty. */
  readonly setDefaultReply: (reply: Reply) => Effect.Effect<void>
  /** Number of queued replies not yet consumed. */
  readonly pending: Effect.Effect<number>
  /** Every request received, in arrival order. */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** Only the `POST /v1/responses` requests (one per model call). */
  readonly responsesRequests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** How many model requests got the default reply because the queue was empty. */
  readonly defaultReplies: Effect.Effect<number>
  /** Waits until at least `n` `POST /v1/responses` requests have arrived. */
  readonly awaitResponsesRequests: (n: number) => Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** Clears the queue and the recorded requests. */
  readonly reset: Effect.Effect<void>
}

/**
 * The `MockModel` service. Provide it with {@link layer} or {@link layerWith}.
 *
 * @example
 * ```ts
 * const mock = yield* MockModel.MockModel
 * yield* mock.enqueue(MockModel.text("Hello", { deltas: ["Hel", "lo"] }))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const MockModel: Context.Service<MockModel, MockModel> = Context.Service<MockModel>(
  "@effect-codex/testing/MockModel"
)

/**
 * The running mock server.
 *
 * @deprecated Use {@link MockModel} (the interface of the same name as the service).
 * @since 0.1.0
 * @category models
 */
export type MockModelService = MockModel

/**
 * Options of {@link make} / {@link layerWith}.
 *
 * @since 0.1.0
 * @category layers
 */
export interface LayerOptions {
  /** Reply used when the queue is empty (default: `text("Mock reply.")`). */
  readonly defaultReply?: Reply | undefined
  /** Usage added to stream replies that do not set their own (default {@link defaultUsage}). */
  readonly usage?: Usage | undefined
  /** Model name (default `mock-model`; codex warns it has no metadata and uses fallbacks). */
  readonly model?: string | undefined
  /** Provider id in codex config (default `mock`). */
  readonly providerId?: string | undefined
  /** `request_max_retries` of the provider (default 0: HTTP errors fail the turn at once). */
  readonly requestMaxRetries?: number | undefined
  /** `stream_max_retries` of the provider (default 0). */
  readonly streamMaxRetries?: number | undefined
  /** `stream_idle_timeout_ms` of the provider (default: codex's own, 300000). */
  readonly streamIdleTimeoutMs?: number | undefined
  /**
   * Also pass `Transport.offlineConfig`: codex features that reach the network
   * at startup off (plugins, apps, analytics, update check). Default `true`.
   */
  readonly offline?: boolean | undefined
}

const tomlString = (s: string): string => JSON.stringify(s)

const writeEvent = (res: Http.ServerResponse, event: SseEvent): void => {
  res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
}

const withUsage = (events: ReadonlyArray<SseEvent>, usage: Usage | undefined): ReadonlyArray<SseEvent> => {
  if (usage === undefined) return events
  const last = events[events.length - 1]
  if (last === undefined || last.type !== "response.completed") return events
  const response = (typeof last.response === "object" && last.response !== null ? last.response : {}) as Record<
    string,
    unknown
  >
  if (response.usage !== undefined) return events
  return [...events.slice(0, -1), { ...last, response: { ...response, usage } }]
}

const sendJson = (res: Http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = typeof body === "string" ? body : JSON.stringify(body)
  res.writeHead(status, {
    "content-type": typeof body === "string" ? "text/plain" : "application/json",
    ...headers
  })
  res.end(text)
}

/**
 * Starts the mock server in the current scope; it stops (closing every open
 * connection, also stalled streams) when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(options: LayerOptions = {}) {
  const model = options.model ?? "mock-model"
  const providerId = options.providerId ?? "mock"
  const usage = options.usage ?? defaultUsage
  // dynamic: fresh item and response ids for every default reply
  let defaultReply: Reply = options.defaultReply ?? dynamic(() => text("Mock reply."))
  const queue: Array<Reply> = []
  const recorded: Array<RecordedRequest> = []
  let defaults = 0
  const waiters = new Set<() => void>()
  const sockets = new Set<Net.Socket>()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let closed = false

  const later = (ms: number, f: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t)
      f()
    }, ms)
    timers.add(t)
  }

  const writeStream = (res: Http.ServerResponse, reply: StreamReply) => {
    const evs = withUsage(reply.events, reply.usage ?? usage)
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
    if (reply.intervalMs <= 0) {
      for (const ev of evs) writeEvent(res, ev)
      res.end()
      return
    }
    let i = 0
    const step = () => {
      if (res.destroyed || closed) return
      const ev = evs[i++]
      if (ev === undefined) {
        res.end()
        return
      }
      writeEvent(res, ev)
      later(reply.intervalMs, step)
    }
    res.flushHeaders()
    step()
  }

  const answer = (res: Http.ServerResponse, reply: Reply, request: RecordedRequest): void => {
    switch (reply._tag) {
      case "Stream":
        return writeStream(res, reply)
      case "Fail":
        return sendJson(res, reply.status, reply.body, { ...reply.headers })
      case "Stall": {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
        writeEvent(res, { type: "response.created", response: { id: nextId("resp") } })
        if (reply.durationMs !== undefined) later(reply.durationMs, () => res.end())
        return
      }
      case "Dynamic":
        return answer(res, reply.respond(request), request)
    }
  }

  const handle = (req: Http.IncomingMessage, res: Http.ServerResponse, rawBody: string) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    let body: unknown = undefined
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody)
      } catch {
        body = rawBody
      }
    }
    const isResponses = req.method === "POST" && url.pathname === "/v1/responses"
    const isModels = req.method === "GET" && url.pathname === "/v1/models"
    const next = isResponses ? queue.shift() : undefined
    const answerKind: Answer = isResponses ? (next === undefined ? "default" : "scripted") : isModels ? "builtin" : "notFound"
    if (answerKind === "default") defaults++
    const request: RecordedRequest = {
      index: recorded.length,
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.search,
      headers: { ...req.headers },
      body,
      rawBody,
      receivedAt: Date.now(),
      answer: answerKind
    }
    recorded.push(request)
    for (const wake of [...waiters]) wake()
    if (isResponses) return answer(res, next ?? defaultReply, request)
    if (isModels) {
      return sendJson(res, 200, {
        object: "list",
        data: [{ id: model, object: "model", created: 0, owned_by: "effect-codex-mock" }],
        models: []
      })
    }
    return sendJson(res, 404, {
      error: { type: "not_found", message: `mock model: no route for ${req.method} ${url.pathname}` }
    })
  }

  const server = Http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      try {
        handle(req, res, Buffer.concat(chunks).toString("utf8"))
      } catch (e) {
        if (!res.headersSent) sendJson(res, 500, { error: { message: String(e) } })
        else res.destroy()
      }
    })
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })

  const port = yield* Effect.acquireRelease(
    Effect.callback<number, Error>((resume) => {
      const onError = (e: Error) => resume(Effect.fail(e))
      server.once("error", onError)
      server.listen(0, "127.0.0.1", () => {
        server.off("error", onError)
        const address = server.address()
        resume(Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
      })
    }),
    () =>
      Effect.callback<void>((resume) => {
        closed = true
        for (const t of timers) clearTimeout(t)
        timers.clear()
        for (const wake of [...waiters]) wake()
        server.close(() => resume(Effect.void))
        for (const s of sockets) s.destroy()
        server.closeAllConnections()
      })
  ).pipe(Effect.orDie)

  const baseUrl = `http://127.0.0.1:${port}/v1`
  const providerFields = [
    `name=${tomlString("effect-codex mock")}`,
    `base_url=${tomlString(baseUrl)}`,
    `wire_api="responses"`,
    `request_max_retries=${options.requestMaxRetries ?? 0}`,
    `stream_max_retries=${options.streamMaxRetries ?? 0}`,
    ...(options.streamIdleTimeoutMs !== undefined ? [`stream_idle_timeout_ms=${options.streamIdleTimeoutMs}`] : [])
  ]
  const codexConfig: ReadonlyArray<string> = [
    `model_provider=${tomlString(providerId)}`,
    `model_providers.${providerId}={ ${providerFields.join(", ")} }`,
    `model=${tomlString(model)}`,
    ...((options.offline ?? true) ? Transport.offlineConfig : [])
  ]

  const responsesOnly = () => recorded.filter((r) => r.method === "POST" && r.path === "/v1/responses")

  const service: MockModel = {
    baseUrl,
    port,
    model,
    codexConfig,
    codexArgs: codexConfig.flatMap((kv) => ["-c", kv]),
    enqueue: (...replies) =>
      Effect.sync(() => {
        for (const r of replies) {
          if (Array.isArray(r)) queue.push(...(r as ReadonlyArray<Reply>))
          else queue.push(r as Reply)
        }
      }),
    setDefaultReply: (reply) =>
      Effect.sync(() => {
        defaultReply = reply
      }),
    pending: Effect.sync(() => queue.length),
    requests: Effect.sync(() => recorded.slice()),
    responsesRequests: Effect.sync(responsesOnly),
    defaultReplies: Effect.sync(() => defaults),
    awaitResponsesRequests: (n) =>
      Effect.callback<ReadonlyArray<RecordedRequest>>((resume) => {
        const check = () => {
          const got = responsesOnly()
          if (got.length >= n || closed) {
            waiters.delete(check)
            resume(Effect.succeed(got))
          }
        }
        waiters.add(check)
        check()
        return Effect.sync(() => waiters.delete(check))
      }),
    reset: Effect.sync(() => {
      queue.length = 0
      recorded.length = 0
      defaults = 0
    })
  }
  return service
})

/**
 * A layer with custom {@link LayerOptions}.
 *
 * @example
 * ```ts
 * MockModel.layerWith({ defaultReply: MockModel.fail(500), streamIdleTimeoutMs: 2000 })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: LayerOptions = {}): Layer.Layer<MockModel> => Layer.effect(MockModel, make(options))

/**
 * The mock with default options: model `mock-model`, no retries, offline
 * features, default reply `text("Mock reply.")`.
 *
 * @example
 * ```ts
 * it.live("talks to the mock", () =>
 *   Effect.gen(function*() {
 *     const mock = yield* MockModel.MockModel
 *     // ...
 *   }).pipe(Effect.provide(MockModel.layer)))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<MockModel> = layerWith()
