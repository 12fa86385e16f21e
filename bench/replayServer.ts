/**
 * A replay `codex app-server` for the benchmark (case 6): speaks the app-server protocol on stdio by replaying
 * a captured real session (test/fixtures/captures/text-turn.timeline.jsonl, codex 0.169.0), so that a client's
 * CPU per turn can be measured without codex and the model on the same cores.
 *
 * - `initialize` → the captured result, then the captured server notifications of the handshake;
 * - `thread/start` → the captured result and the thread's notifications (`thread/started`, `warning`), with a
 *   fresh thread id;
 * - `turn/start` → the captured result, then the captured notification sequence of the turn up to its
 *   `turn/completed`, with the request's thread id and a fresh turn id and item ids per turn;
 * - anything else → a JSON-RPC error `-32601` (and a line on stderr).
 *
 * Pacing: each line is written on its own; lines codex emitted in the same millisecond are written together,
 * with a 1 ms pause between such groups (a text turn replays in about 10 ms instead of codex's 100-150 ms).
 * Plain Node, no dependencies (run by `node` with type stripping); exits when stdin ends. Command-line
 * arguments (`app-server -c ...`) are ignored. `REPLAY_CAPTURE` names another timeline file.
 */
import { randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import * as readline from "node:readline"

interface TimelineEntry {
  readonly t: number
  readonly dir: "in" | "out"
  readonly line: string
}

/** A line to write: its text with placeholders, and the captured millisecond it was emitted at. */
interface Template {
  readonly t: number
  readonly text: string
  /** The JSON-RPC response to the request being replayed: its `id` is set at replay time. */
  readonly isResponse: boolean
}

const file = process.env.REPLAY_CAPTURE ??
  path.resolve(import.meta.dirname, "../test/fixtures/captures/text-turn.timeline.jsonl")
const timeline: Array<TimelineEntry> = readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) =>
  JSON.parse(l)
)

const requestId = (method: string): number => {
  const entry = timeline.find((e) => e.dir === "out" && JSON.parse(e.line).method === method)
  if (entry === undefined) throw new Error(`${file}: no ${method} request`)
  return JSON.parse(entry.line).id
}
const responseIndex = (id: number): number => {
  const index = timeline.findIndex((e) => e.dir === "in" && JSON.parse(e.line).id === id && !("method" in JSON.parse(e.line)))
  if (index === -1) throw new Error(`${file}: no response to request ${id}`)
  return index
}

const initializeAt = responseIndex(requestId("initialize"))
const threadStartAt = responseIndex(requestId("thread/start"))
const turnStartAt = responseIndex(requestId("turn/start"))
const capturedThreadId: string = JSON.parse(timeline[threadStartAt]!.line).result.thread.id
const capturedTurnId: string = JSON.parse(timeline[turnStartAt]!.line).result.turn.id
const turnCompletedAt = timeline.findIndex((e, i) =>
  i > turnStartAt && e.dir === "in" && JSON.parse(e.line).method === "turn/completed"
)
if (turnCompletedAt === -1) throw new Error(`${file}: no turn/completed`)

const THREAD = "\u0000thread\u0000"
const TURN = "\u0000turn\u0000"
const itemPlaceholder = (i: number) => `\u0000item${i}\u0000`

/** Item ids of the turn (each is replaced by a fresh id per turn). */
const capturedItemIds = [
  ...new Set(
    timeline.slice(turnStartAt, turnCompletedAt).flatMap((e) => {
      const message = JSON.parse(e.line)
      return e.dir === "in" && message.method === "item/started" ? [String(message.params.item.id)] : []
    })
  )
]

const template = (entry: TimelineEntry): Template => {
  const message = JSON.parse(entry.line)
  const isResponse = !("method" in message)
  let text = isResponse ? JSON.stringify(message.result) : entry.line
  text = text.replaceAll(capturedThreadId, THREAD).replaceAll(capturedTurnId, TURN)
  capturedItemIds.forEach((id, i) => {
    text = text.replaceAll(id, itemPlaceholder(i))
  })
  return { t: entry.t, text, isResponse }
}

const incoming = (from: number, to: number) =>
  timeline.slice(from, to).filter((e) => e.dir === "in" && !("id" in JSON.parse(e.line) && !("method" in JSON.parse(e.line))))

/** The initialize response, then the server notifications before the thread/start response that name no thread. */
const handshake: Array<Template> = [
  template(timeline[initializeAt]!),
  ...incoming(initializeAt + 1, threadStartAt).filter((e) => !e.line.includes(capturedThreadId)).map(template)
]
/** The thread/start response, then the notifications naming the thread until the turn/start response. */
const threadStarted: Array<Template> = [
  template(timeline[threadStartAt]!),
  ...incoming(threadStartAt + 1, turnStartAt).filter((e) => e.line.includes(capturedThreadId)).map(template)
]
/** The turn/start response, then everything up to and including turn/completed. */
const turn: Array<Template> = [template(timeline[turnStartAt]!), ...incoming(turnStartAt + 1, turnCompletedAt + 1).map(template)]

/** Groups of lines emitted in the same captured millisecond. */
const groups = (templates: ReadonlyArray<Template>): Array<Array<Template>> => {
  const out: Array<Array<Template>> = []
  for (const t of templates) {
    const last = out[out.length - 1]
    if (last !== undefined && last[0]!.t === t.t) last.push(t)
    else out.push([t])
  }
  return out
}
const handshakeGroups = groups(handshake)
const threadGroups = groups(threadStarted)
const turnGroups = groups(turn)

const write = (line: string) => {
  process.stdout.write(`${line}\n`)
}
/** The pause between groups: `REPLAY_PAUSE_MS` (default 1; 0 writes a turn's lines back to back). */
const pauseMs = Number(process.env.REPLAY_PAUSE_MS ?? "1")
const pause = () => new Promise<void>((resolve) => setTimeout(resolve, pauseMs))

/** Writes the groups, the response carrying `id`, with the ids substituted. */
const replay = async (
  id: unknown,
  templateGroups: ReadonlyArray<ReadonlyArray<Template>>,
  substitute: (text: string) => string
) => {
  for (let g = 0; g < templateGroups.length; g++) {
    if (g > 0 && pauseMs > 0) await pause()
    for (const t of templateGroups[g]!) {
      const text = substitute(t.text)
      write(t.isResponse ? `{"id":${JSON.stringify(id)},"result":${text}}` : text)
    }
  }
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
lines.on("line", (line) => {
  if (line.length === 0) return
  const message = JSON.parse(line)
  if (typeof message.method !== "string" || message.id === undefined) return // notifications, answers
  switch (message.method) {
    case "initialize":
      void replay(message.id, handshakeGroups, (text) => text)
      return
    case "thread/start": {
      const threadId = randomUUID()
      void replay(message.id, threadGroups, (text) => text.replaceAll(THREAD, threadId))
      return
    }
    case "turn/start": {
      const threadId = String(message.params.threadId)
      const turnId = randomUUID()
      const itemIds = capturedItemIds.map(() => randomUUID())
      void replay(message.id, turnGroups, (text) => {
        let out = text.replaceAll(THREAD, threadId).replaceAll(TURN, turnId)
        itemIds.forEach((itemId, i) => {
          out = out.replaceAll(itemPlaceholder(i), itemId)
        })
        return out
      })
      return
    }
    default:
      process.stderr.write(`replay server: ${message.method} is not replayed\n`)
      write(JSON.stringify({ id: message.id, error: { code: -32601, message: `not replayed: ${message.method}` } }))
  }
})
lines.on("close", () => process.exit(0))
