/**
 * Captures real `codex app-server` sessions, fully offline, as fixtures.
 *
 *   npx tsx scripts/capture.ts [scenario ...]
 *
 * Every scenario spawns the pinned codex binary with a fresh temporary
 * CODEX_HOME and working directory, pointed at a `MockModel` (scripted local
 * Responses API), does the handshake and its requests, and writes into
 * test/fixtures/captures/:
 *
 *   <scenario>.jsonl                 every line the server wrote to stdout, verbatim, in order
 *   <scenario>.client.jsonl          every line the client wrote to stdin, verbatim, in order
 *   <scenario>.timeline.jsonl        both directions interleaved: {"t":ms,"dir":"in"|"out","line":"..."}
 *   <scenario>.model-requests.json   what codex sent to the mock model (summarised: tool names, input tail)
 *
 * See test/fixtures/captures/README.md.
 */
import { MockModel } from "@effect-codex/testing"
import * as Effect from "effect/Effect"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const ROOT = Path.resolve(import.meta.dirname, "..")
const OUT = Path.join(ROOT, "test/fixtures/captures")
const CODEX_BIN = Path.join(
  ROOT,
  "node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
)
const TURN_TIMEOUT_MS = 30_000

type Json = Record<string, unknown>
interface TimelineEntry {
  readonly t: number
  readonly dir: "in" | "out"
  readonly line: string
}

/** A minimal line-oriented app-server client that records every line. */
class Session {
  readonly timeline: Array<TimelineEntry> = []
  readonly serverLines: Array<string> = []
  readonly clientLines: Array<string> = []
  readonly stderr: Array<string> = []
  private readonly started = Date.now()
  private nextId = 1
  private buffer = ""
  private readonly pending = new Map<number | string, (msg: Json) => void>()
  private readonly waiters = new Set<{ pred: (m: Json) => boolean; resolve: (m: Json) => void }>()
  private readonly seen: Array<Json> = []
  /** Answers server→client requests; default: decline. */
  onServerRequest: (msg: Json) => unknown = () => ({ decision: "decline" })
  readonly exited: Promise<number | null>

  constructor(readonly child: ChildProcessWithoutNullStreams, readonly codexHome: string, readonly cwd: string) {
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      this.buffer += chunk
      let i: number
      while ((i = this.buffer.indexOf("\n")) >= 0) {
        const line = this.buffer.slice(0, i)
        this.buffer = this.buffer.slice(i + 1)
        if (line.length > 0) this.onLine(line)
      }
    })
    child.stderr.setEncoding("utf8")
    child.stderr.on("data", (d: string) => this.stderr.push(d))
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)))
  }

  static spawn(codexArgs: ReadonlyArray<string>): Session {
    const codexHome = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-codex-capture-home-"))
    const cwd = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-codex-capture-cwd-"))
    const child = spawn(CODEX_BIN, ["app-server", ...codexArgs], {
      cwd,
      env: { ...process.env, CODEX_HOME: codexHome, RUST_LOG: process.env.RUST_LOG ?? "warn" },
      stdio: ["pipe", "pipe", "pipe"]
    })
    return new Session(child, codexHome, cwd)
  }

  private now() {
    return Date.now() - this.started
  }

  private onLine(line: string) {
    this.serverLines.push(line)
    this.timeline.push({ t: this.now(), dir: "in", line })
    let msg: Json
    try {
      msg = JSON.parse(line) as Json
    } catch {
      return
    }
    this.seen.push(msg)
    if (msg.id !== undefined && typeof msg.method === "string") {
      const result = this.onServerRequest(msg)
      this.write({ id: msg.id, result })
    } else if (msg.id !== undefined) {
      const resolve = this.pending.get(msg.id as number)
      this.pending.delete(msg.id as number)
      resolve?.(msg)
    }
    for (const w of [...this.waiters]) {
      if (w.pred(msg)) {
        this.waiters.delete(w)
        w.resolve(msg)
      }
    }
  }

  write(msg: Json) {
    const line = JSON.stringify(msg)
    this.clientLines.push(line)
    this.timeline.push({ t: this.now(), dir: "out", line })
    this.child.stdin.write(line + "\n")
  }

  request(method: string, params?: unknown): Promise<Json> {
    const id = this.nextId++
    return new Promise((resolve) => {
      this.pending.set(id, resolve)
      this.write(params === undefined ? { id, method } : { id, method, params })
    })
  }

  notify(method: string, params?: unknown) {
    this.write(params === undefined ? { method } : { method, params })
  }

  /** Resolves with the first message (already seen after `fromIndex`, or future) matching `pred`. */
  waitFor(pred: (m: Json) => boolean, timeoutMs = TURN_TIMEOUT_MS, fromIndex = 0): Promise<Json> {
    const already = this.seen.slice(fromIndex).find(pred)
    if (already) return Promise.resolve(already)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.waiters.delete(w)) reject(new Error(`timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      const w = {
        pred,
        resolve: (m: Json) => {
          clearTimeout(timer)
          resolve(m)
        }
      }
      this.waiters.add(w)
    })
  }

  get seenCount() {
    return this.seen.length
  }

  async initialize() {
    const res = await this.request("initialize", {
      clientInfo: { name: "effect-codex-capture", title: "effect-codex capture", version: "0.1.0" }
    })
    this.notify("initialized")
    return res
  }

  async threadStart(params: Json = {}): Promise<string> {
    const res = await this.request("thread/start", params)
    return ((res.result as Json).thread as Json).id as string
  }

  /** Starts a turn and waits for its `turn/completed`. Returns the turn id and duration. */
  async turn(threadId: string, text: string): Promise<{ turnId: string; ms: number; completed: Json }> {
    const from = this.seenCount
    const t0 = Date.now()
    const res = await this.request("turn/start", { threadId, input: [{ type: "text", text }] })
    const turnId = ((res.result as Json).turn as Json).id as string
    const completed = await this.waitFor(
      (m) => m.method === "turn/completed" && (((m.params as Json).turn as Json).id === turnId),
      TURN_TIMEOUT_MS,
      from
    )
    return { turnId, ms: Date.now() - t0, completed }
  }

  async close() {
    this.child.stdin.end()
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 3000)
    this.child.kill("SIGTERM")
    await this.exited
    clearTimeout(timer)
    Fs.rmSync(this.codexHome, { recursive: true, force: true })
    Fs.rmSync(this.cwd, { recursive: true, force: true })
  }
}

const summarizeModelRequest = (r: MockModel.RecordedRequest) => {
  const body = (typeof r.body === "object" && r.body !== null ? r.body : {}) as Json
  const input = Array.isArray(body.input) ? (body.input as Array<Json>) : []
  return {
    method: r.method,
    path: r.path,
    answer: r.answer,
    headers: Object.fromEntries(
      Object.entries(r.headers).filter(([k]) => ["accept", "content-type", "originator"].includes(k))
    ),
    body: r.body === undefined ? undefined : {
      ...Object.fromEntries(
        Object.entries(body).filter(([k]) => !["input", "tools", "client_metadata", "prompt_cache_key"].includes(k))
      ),
      tools: Array.isArray(body.tools) ? (body.tools as Array<Json>).map((t) => t.name ?? t.type) : undefined,
      inputCount: input.length,
      // the developer/system preamble is long and machine specific: keep only the conversation tail
      inputTail: input.filter((i) => i.role !== "developer").slice(-4)
    }
  }
}

type Scenario = (session: Session, mock: MockModel.MockModel, notes: Array<string>) => Promise<void>

interface ScenarioDef {
  readonly description: string
  readonly mock?: MockModel.LayerOptions
  readonly run: Scenario
}

/** The model asks to `touch` a file; the client answers `decision`; the model then replies `answer`. */
const shellApproval = (decision: "accept" | "decline", answer: MockModel.Reply): Scenario => async (s, mock, notes) => {
  await Effect.runPromise(mock.enqueue(
    MockModel.shellCall({ command: "touch created-by-codex.txt", callId: "call_shell_1" }),
    answer
  ))
  s.onServerRequest = () => ({ decision })
  await s.initialize()
  const threadId = await s.threadStart({ approvalPolicy: "untrusted", sandbox: "workspace-write" })
  const { ms } = await s.turn(threadId, "Create a file")
  notes.push(`turn took ${ms} ms`)
  notes.push(`file created in cwd: ${Fs.existsSync(Path.join(s.cwd, "created-by-codex.txt"))}`)
}

const scenarios: Record<string, ScenarioDef> = {
  "text-turn": {
    description: "handshake, thread/start {}, one text turn streamed as deltas [\"Hel\",\"lo\",\" world\"]",
    run: async (s, mock, notes) => {
      await Effect.runPromise(mock.enqueue(MockModel.text("Hello world", { deltas: ["Hel", "lo", " world"] })))
      await s.initialize()
      const threadId = await s.threadStart()
      const { ms } = await s.turn(threadId, "Say hello")
      notes.push(`turn took ${ms} ms (turn/start sent → turn/completed received)`)
    }
  },
  "shell-approval-accept": {
    description:
      "thread/start {approvalPolicy:untrusted, sandbox:workspace-write}; the model calls exec_command `touch created-by-codex.txt`; the client accepts; the model answers text",
    run: shellApproval("accept", MockModel.text("Created the file.", { deltas: ["Created ", "the file."] }))
  },
  "shell-approval-decline": {
    description: "as shell-approval-accept, but the client answers {decision:\"decline\"}",
    run: shellApproval("decline", MockModel.text("Okay, I did not create it."))
  },
  "apply-patch-approval": {
    description:
      "the model runs `apply_patch <<'EOF' ... EOF` through exec_command (Add File hello.txt); codex asks item/fileChange/requestApproval; the client accepts",
    run: async (s, mock, notes) => {
      await Effect.runPromise(mock.enqueue(
        MockModel.applyPatch("*** Add File: hello.txt\n+hello from the mock\n", { callId: "call_patch_1" }),
        MockModel.text("Patched.")
      ))
      s.onServerRequest = () => ({ decision: "accept" })
      await s.initialize()
      const threadId = await s.threadStart({ approvalPolicy: "untrusted", sandbox: "workspace-write" })
      const { ms } = await s.turn(threadId, "Add hello.txt")
      notes.push(`turn took ${ms} ms`)
      const file = Path.join(s.cwd, "hello.txt")
      notes.push(`hello.txt: ${Fs.existsSync(file) ? JSON.stringify(Fs.readFileSync(file, "utf8")) : "missing"}`)
    }
  },
  "turn-failed-http-500": {
    description: "the model answers HTTP 500 (request_max_retries=0, stream_max_retries=0)",
    run: async (s, mock, notes) => {
      await Effect.runPromise(mock.enqueue(MockModel.fail(500, { error: { message: "mock internal error" } })))
      await s.initialize()
      const threadId = await s.threadStart()
      const { ms } = await s.turn(threadId, "This will fail")
      notes.push(`turn took ${ms} ms`)
    }
  },
  "turn-failed-response-failed": {
    description: "the model streams response.created then response.failed {code:server_error} (no retries)",
    run: async (s, mock, notes) => {
      await Effect.runPromise(mock.enqueue(MockModel.failed({ code: "server_error", message: "mock stream failure" })))
      await s.initialize()
      const threadId = await s.threadStart()
      const { ms } = await s.turn(threadId, "This will fail mid-stream")
      notes.push(`turn took ${ms} ms`)
    }
  },
  "turn-http-500-retried": {
    description:
      "request_max_retries=1, stream_max_retries=1: the model answers HTTP 500 twice, then text; codex retries the request once, then the stream once (error notification with willRetry:true)",
    mock: { requestMaxRetries: 1, streamMaxRetries: 1 },
    run: async (s, mock, notes) => {
      await Effect.runPromise(mock.enqueue(MockModel.fail(500), MockModel.fail(500), MockModel.text("Recovered.")))
      await s.initialize()
      const threadId = await s.threadStart()
      const { ms } = await s.turn(threadId, "Retry please")
      const reqs = await Effect.runPromise(mock.responsesRequests)
      notes.push(`turn took ${ms} ms; model requests at +${reqs.map((r) => r.receivedAt - reqs[0]!.receivedAt).join(", +")} ms`)
    }
  },
  "turn-stall-idle-timeout": {
    description:
      "the model sends response.created then nothing; stream_idle_timeout_ms=1000, stream_max_retries=0: codex gives up on its own",
    mock: { streamIdleTimeoutMs: 1000 },
    run: async (s, mock, notes) => {
      await Effect.runPromise(mock.enqueue(MockModel.stall()))
      await s.initialize()
      const threadId = await s.threadStart()
      const { ms } = await s.turn(threadId, "Hello?")
      notes.push(`turn took ${ms} ms`)
    }
  },
  "structured-output": {
    description: "turn/start with outputSchema (JSON schema); the model answers JSON text; see text.format in the model request",
    run: async (s, mock, notes) => {
      await Effect.runPromise(mock.enqueue(MockModel.text(JSON.stringify({ answer: 42 }))))
      await s.initialize()
      const threadId = await s.threadStart()
      const from = s.seenCount
      const res = await s.request("turn/start", {
        threadId,
        input: [{ type: "text", text: "Answer in JSON" }],
        outputSchema: {
          type: "object",
          properties: { answer: { type: "number" } },
          required: ["answer"],
          additionalProperties: false
        }
      })
      const turnId = ((res.result as Json).turn as Json).id as string
      await s.waitFor(
        (m) => m.method === "turn/completed" && (((m.params as Json).turn as Json).id === turnId),
        TURN_TIMEOUT_MS,
        from
      )
      const [req] = await Effect.runPromise(mock.responsesRequests)
      notes.push(`text.format sent to the model: ${JSON.stringify((req?.body as Json | undefined)?.text)}`)
    }
  },
  "turn-interrupt": {
    description: "the model stalls forever after response.created; the client sends turn/interrupt",
    run: async (s, mock, notes) => {
      await Effect.runPromise(mock.enqueue(MockModel.stall()))
      await s.initialize()
      const threadId = await s.threadStart()
      const from = s.seenCount
      const res = await s.request("turn/start", { threadId, input: [{ type: "text", text: "Take your time" }] })
      const turnId = ((res.result as Json).turn as Json).id as string
      await Effect.runPromise(mock.awaitResponsesRequests(1))
      await new Promise((r) => setTimeout(r, 200))
      const t0 = Date.now()
      await s.request("turn/interrupt", { threadId, turnId })
      await s.waitFor((m) => m.method === "turn/completed", 10_000, from)
      notes.push(`turn/interrupt → turn/completed took ${Date.now() - t0} ms`)
    }
  },
  "threads-and-models": {
    description: "after one text turn: thread/read {includeTurns:true}, thread/list {}, model/list {}",
    run: async (s, mock, notes) => {
      await Effect.runPromise(mock.enqueue(MockModel.text("Hi!")))
      await s.initialize()
      const threadId = await s.threadStart()
      await s.turn(threadId, "Hello")
      await s.request("thread/read", { threadId, includeTurns: true })
      await s.request("thread/read", { threadId })
      await s.request("thread/list", {})
      const models = await s.request("model/list", {})
      const data = ((models.result as Json | undefined)?.data ?? []) as Array<Json>
      notes.push(`model/list returned ${data.length} models: ${data.map((m) => m.id ?? m.model).join(", ")}`)
    }
  },
  "errors": {
    description:
      "a request before initialize, initialize twice, an unknown method, bad params (turn/start without input, thread/read with a wrong type), thread/read of an unknown thread, turn/start on an unknown thread",
    run: async (s) => {
      await s.request("thread/list", {})
      await s.initialize()
      await s.request("initialize", {
        clientInfo: { name: "effect-codex-capture", title: "effect-codex capture", version: "0.1.0" }
      })
      await s.request("no/such/method", {})
      await s.request("turn/start", { threadId: "not-a-thread" })
      await s.request("thread/read", { threadId: 42 })
      await s.request("thread/read", { threadId: "00000000-0000-0000-0000-000000000000" })
      await s.request("turn/start", {
        threadId: "00000000-0000-0000-0000-000000000000",
        input: [{ type: "text", text: "hi" }]
      })
    }
  }
}

const runScenario = (name: string, scenario: ScenarioDef) =>
  Effect.gen(function*() {
    const mock = yield* MockModel.MockModel
    const session = Session.spawn(mock.codexArgs)
    const notes: Array<string> = []
    const t0 = Date.now()
    const outcome = yield* Effect.promise(() =>
      scenario.run(session, mock, notes).then(() => "ok", (e: unknown) => `error: ${String(e)}`)
    )
    // let trailing notifications arrive
    yield* Effect.promise(() => new Promise((r) => setTimeout(r, 300)))
    const requests = yield* mock.requests
    yield* Effect.promise(() => session.close())
    const write = (file: string, content: string) => Fs.writeFileSync(Path.join(OUT, file), content)
    const jsonl = (lines: ReadonlyArray<string>) => lines.map((l) => l + "\n").join("")
    write(`${name}.jsonl`, jsonl(session.serverLines))
    write(`${name}.client.jsonl`, jsonl(session.clientLines))
    write(`${name}.timeline.jsonl`, jsonl(session.timeline.map((e) => JSON.stringify(e))))
    write(`${name}.model-requests.json`, JSON.stringify(requests.map(summarizeModelRequest), null, 2) + "\n")
    console.log(`${name}: ${outcome}; ${session.serverLines.length} server lines, ${session.clientLines.length} client lines, ${requests.length} model requests, ${Date.now() - t0} ms`)
    for (const n of notes) console.log(`  ${n}`)
    if (outcome !== "ok") console.log(session.stderr.join("").slice(-2000))
    return { name, description: scenario.description, mock: scenario.mock ?? {}, outcome, notes }
  }).pipe(Effect.provide(MockModel.layerWith(scenario.mock)))

const main = Effect.gen(function*() {
  Fs.mkdirSync(OUT, { recursive: true })
  const only = process.argv.slice(2)
  const results: Array<{ readonly name: string }> = []
  for (const [name, scenario] of Object.entries(scenarios)) {
    if (only.length > 0 && !only.includes(name)) continue
    results.push(yield* runScenario(name, scenario))
  }
  // merge with an earlier index so that capturing a subset keeps the other entries
  const indexFile = Path.join(OUT, "scenarios.json")
  const previous: Array<{ name: string }> = Fs.existsSync(indexFile)
    ? (JSON.parse(Fs.readFileSync(indexFile, "utf8")) as { scenarios: Array<{ name: string }> }).scenarios
    : []
  const merged = Object.keys(scenarios).flatMap((name) => {
    const entry = results.find((r) => r.name === name) ?? previous.find((r) => r.name === name)
    return entry ? [entry] : []
  })
  Fs.writeFileSync(
    indexFile,
    JSON.stringify({ codex: "codex-cli 0.169.0", capturedAt: new Date().toISOString(), scenarios: merged }, null, 2) +
      "\n"
  )
})

Effect.runPromise(main).catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
