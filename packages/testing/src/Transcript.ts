/**
 * Transcripts: a session's JSON-RPC traffic with `codex app-server`, recorded from a real run and replayed
 * without the binary.
 *
 * {@link tap} (or {@link layerTap}, or `CodexTest.layerTranscript`) records every line the client writes and the
 * server sends, in order, secrets scrubbed. {@link layerCodex} replays the server's side on a `FakeAppServer`: each
 * client message must be the recorded one (its method, its params, its answer to a server request), then the
 * server messages recorded after it are sent, request ids mapped to the client's. Anything else fails typed: the
 * client gets a JSON-RPC error and the {@link Player} a {@link TranscriptMismatchError} naming the request.
 *
 * The file is JSON Lines, one `{"from":"client"|"server","message":{...}}` a line, for a reviewer to read.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Codex } from "effect-codex"
 * import { Transcript } from "@effect-codex/testing"
 *
 * it.live("replays a recorded session without the binary", () =>
 *   Effect.gen(function*() {
 *     const thread = yield* (yield* Codex.Codex).threadStart()
 *     const result = yield* thread.run("Say hello")
 *   }).pipe(Transcript.failOnMismatch, Effect.provide(Transcript.layerCodexFile("test/transcripts/hello.jsonl"))))
 * ```
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { AppServer, Codex, type Errors, Transport } from "effect-codex"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import * as FakeAppServer from "./FakeAppServer.js"
import { failWithMismatch } from "./internal/cassette/mismatch.js"
import * as Normalize from "./internal/cassette/normalize.js"

// ---------------------------------------------------------------------------
// Format
// ---------------------------------------------------------------------------

/**
 * One line of a session: who wrote it and the message (parsed JSON, or the text when it is not JSON).
 *
 * @since 0.2.0
 * @category models
 */
export interface Entry {
  readonly from: "client" | "server"
  readonly message: unknown
}

/**
 * Reads a transcript file (JSON Lines).
 *
 * @since 0.2.0
 * @category constructors
 */
export const read = (file: string): Effect.Effect<ReadonlyArray<Entry>, TranscriptReadError> =>
  Effect.try({
    try: () =>
      readFileSync(file, "utf8").split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as Entry),
    catch: (cause) => new TranscriptReadError({ file, reason: String(cause), cause })
  })

/**
 * Writes a transcript as JSON Lines (creating its folder).
 *
 * @since 0.2.0
 * @category utils
 */
export const write = (file: string, entries: ReadonlyArray<Entry>): Effect.Effect<void> =>
  Effect.sync(() => {
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, entries.map((entry) => `${JSON.stringify(entry)}\n`).join(""))
  })

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * A transcript file is missing or not JSON Lines.
 *
 * @since 0.2.0
 * @category errors
 */
export class TranscriptReadError extends Schema.TaggedError<TranscriptReadError>(
  "effect-codex/testing/Transcript/TranscriptReadError"
)("TranscriptReadError", {
  file: Schema.String,
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return `Cannot replay the transcript ${this.file}: ${this.reason}`
  }
}

/**
 * The client wrote something the transcript does not have at this point: `actual` (a request's method, or
 * `response`/`notification:<method>`) where entry `index` expected `expected`; `path` names the first differing
 * part of the params or the answer when the method is the same.
 *
 * @since 0.2.0
 * @category errors
 */
export class TranscriptMismatchError extends Schema.TaggedError<TranscriptMismatchError>(
  "effect-codex/testing/Transcript/TranscriptMismatchError"
)("TranscriptMismatchError", {
  index: Schema.Number,
  expected: Schema.String,
  actual: Schema.String,
  path: Schema.optional(Schema.String),
  detail: Schema.optional(Schema.Unknown)
}) {
  override get message(): string {
    const where = this.path === undefined ? "" : ` (${this.path} differs: ${JSON.stringify(this.detail)})`
    return `Unexpected client message ${this.actual} at transcript entry ${this.index}: expected ${this.expected}${where}`
  }
}

// ---------------------------------------------------------------------------
// Tap
// ---------------------------------------------------------------------------

/**
 * Options of {@link tap}: values to keep out of the transcript (besides anything shaped like a key or a token).
 *
 * @since 0.2.0
 * @category models
 */
export interface TapOptions {
  readonly secrets?: ReadonlyArray<string | Redacted.Redacted<string>> | undefined
}

const lineSplitter = (onLine: (line: string) => void) => {
  let buffer = ""
  return (chunk: string) => {
    buffer += chunk
    const lines = buffer.split("\n")
    buffer = lines.pop() ?? ""
    for (const line of lines) if (line.trim() !== "") onLine(line)
  }
}

const parseLine = (line: string): unknown => {
  try {
    return JSON.parse(line)
  } catch {
    return line
  }
}

/**
 * `connection` with every line it carries passed to `onEntry` (secrets scrubbed), in the order written and read.
 *
 * @since 0.2.0
 * @category constructors
 */
export const tap = (
  connection: Transport.Connection,
  onEntry: (entry: Entry) => void,
  options: TapOptions = {}
): Transport.Connection => {
  const secrets = Normalize.orderSecrets(
    (options.secrets ?? []).map((secret) => Redacted.isRedacted(secret) ? Redacted.value(secret) : secret)
  )
  const entryOf = (from: Entry["from"]) => (line: string) =>
    onEntry({ from, message: Normalize.scrubValue(parseLine(line), secrets) })
  const fromServer = lineSplitter(entryOf("server"))
  const fromClient = lineSplitter(entryOf("client"))
  const subscribe = connection.subscribe
  return {
    pid: connection.pid,
    exit: connection.exit,
    incoming: Stream.tap(connection.incoming, (chunk) => Effect.sync(() => fromServer(chunk))),
    subscribe: subscribe === undefined ? undefined : (onChunk, onEnd) =>
      subscribe((chunk) => {
        fromServer(chunk)
        onChunk(chunk)
      }, onEnd),
    write: (text) => Effect.andThen(Effect.sync(() => fromClient(text)), connection.write(text))
  }
}

/**
 * The entries a {@link layerTap} recorded so far.
 *
 * @since 0.2.0
 * @category services
 */
export class Recorder extends Context.Service<Recorder, {
  readonly entries: Effect.Effect<ReadonlyArray<Entry>>
}>()("@effect-codex/testing/Transcript/Recorder") {}

/**
 * Wraps the `Transport` in context with {@link tap}; writes the transcript to `file` (when given) as the layer
 * is released.
 *
 * @example
 * ```ts
 * AppServer.layerTransport().pipe(Layer.provide(Transcript.layerTap({ file: "t.jsonl" })), Layer.provide(transport))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerTap = (
  options: TapOptions & { readonly file?: string | undefined } = {}
): Layer.Layer<Transport.Transport | Recorder, never, Transport.Transport> =>
  Layer.effectContext(Effect.gen(function*() {
    const connection = yield* Transport.Transport
    const entries: Array<Entry> = []
    const file = options.file
    if (file !== undefined) yield* Effect.addFinalizer(() => write(file, entries))
    return Context.make(Transport.Transport, tap(connection, (entry) => entries.push(entry), options)).pipe(
      Context.add(Recorder, { entries: Effect.sync(() => [...entries]) })
    )
  }))

// ---------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------

/**
 * The replay of a transcript: the first client message that did not match it.
 *
 * @since 0.2.0
 * @category services
 */
export class Player extends Context.Service<Player, {
  readonly mismatch: Effect.Effect<Option.Option<TranscriptMismatchError>>
}>()("@effect-codex/testing/Transcript/Player") {}

/**
 * Runs `self`; when the client wrote something the transcript did not have, fails with that
 * {@link TranscriptMismatchError} instead of what `self` ended with.
 *
 * @since 0.2.0
 * @category combinators
 */
export const failOnMismatch = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E | TranscriptMismatchError, R | Player> =>
  Player.use((player) => failWithMismatch(self, player.mismatch))

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** What a client message is, for matching and for errors: the request's method, `response`, `notification:<m>`. */
const kindOf = (message: unknown): string =>
  !isObject(message)
    ? "invalid"
    : typeof message.method === "string"
    ? message.id === undefined ? `notification:${message.method}` : message.method
    : "response"

/** The part of a client message compared with the recorded one: a request's params, an answer's result or error. */
const payloadOf = (message: unknown): unknown =>
  !isObject(message) ? message : "method" in message ? message.params : message.error ?? message.result

/** The methods the fake answers by default, and so must be told to leave to the player. */
const fakeDefaults = ["initialize", "thread/start", "thread/resume", "thread/read", "thread/list", "model/list", "turn/start", "turn/interrupt", "turn/steer"]

/** Plays the server side of `entries` on the `FakeAppServer` in context, in a fiber of the current scope. */
const play = (entries: ReadonlyArray<Entry>) =>
  Effect.gen(function*() {
    const fake = yield* FakeAppServer.FakeAppServer
    const handled = new Set([
      ...fakeDefaults,
      ...entries.flatMap((entry) => entry.from === "client" && isObject(entry.message) && typeof entry.message.method === "string" ? [entry.message.method] : [])
    ])
    for (const method of handled) yield* fake.handle(method, () => FakeAppServer.noReply)
    const state = { mismatch: Option.none<TranscriptMismatchError>() }
    const ids = new Map<unknown, unknown>()
    const normalize = { secrets: [] }

    const refuse = (actual: FakeAppServer.Received, error: TranscriptMismatchError) =>
      Effect.suspend(() => {
        if (Option.isNone(state.mismatch)) state.mismatch = Option.some(error)
        const message = actual.message
        return actual.kind === "request" && isObject(message) && handled.has(String(message.method))
          ? fake.send({ id: message.id, error: { code: -32600, message: error.message } })
          : Effect.void
      })

    let read = 0
    const nextClientLine = Effect.map(
      Effect.suspend(() => fake.awaitReceived(read + 1)),
      (received) => received[read++]!
    )

    const walk = Effect.gen(function*() {
      for (const [index, entry] of entries.entries()) {
        if (entry.from === "server") {
          const message = entry.message
          const answer = isObject(message) && !("method" in message) && ids.has(message.id)
            ? { ...message, id: ids.get(message.id) }
            : message
          yield* typeof answer === "string" ? fake.sendRaw(`${answer}\n`) : fake.send(answer)
          continue
        }
        const actual = yield* nextClientLine
        const expected = kindOf(entry.message)
        const got = kindOf(actual.message)
        const difference = expected === got
          ? Normalize.firstDifference(
            Normalize.normalizeJson(payloadOf(entry.message), normalize),
            Normalize.normalizeJson(payloadOf(actual.message), normalize)
          )
          : undefined
        if (expected !== got || difference !== undefined) {
          return yield* refuse(
            actual,
            new TranscriptMismatchError({
              index,
              expected,
              actual: got,
              ...(difference === undefined ? {} : {
                path: difference.path,
                detail: { expected: difference.expected, actual: difference.actual }
              })
            })
          )
        }
        if (isObject(entry.message) && "method" in entry.message && isObject(actual.message)) {
          ids.set(entry.message.id, actual.message.id)
        }
      }
    })
    // Past the end of the transcript (or its first mismatch), every request is refused.
    const refuseRest = Effect.forever(Effect.flatMap(nextClientLine, (actual) =>
      actual.kind !== "request" ? Effect.void : refuse(
        actual,
        new TranscriptMismatchError({
          index: entries.length,
          expected: Option.isSome(state.mismatch) ? "nothing after a mismatch" : "end of transcript",
          actual: kindOf(actual.message)
        })
      )))
    yield* Effect.forkScoped(Effect.andThen(walk, refuseRest))
    return Player.of({ mismatch: Effect.sync(() => state.mismatch) })
  })

/**
 * A whole `Codex` on a `FakeAppServer` that replays the server side of `entries` (no binary), with the
 * {@link Player} that reports the first client message the transcript did not have.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerCodex = (
  entries: ReadonlyArray<Entry>,
  options: AppServer.HandshakeOptions & Codex.ServiceOptions = {}
): Layer.Layer<
  Codex.Codex | AppServer.AppServer | FakeAppServer.FakeAppServer | Player,
  Errors.RequestError | Errors.UnsupportedVersionError
> => {
  const player = Layer.effect(Player)(play(entries))
  return Codex.layer(options).pipe(
    Layer.provideMerge(AppServer.layerTransport(options)),
    Layer.provideMerge(player),
    Layer.provideMerge(FakeAppServer.layer({ requireInitialize: false }))
  )
}

/**
 * {@link layerCodex} on the transcript in `file`.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerCodexFile = (
  file: string,
  options: AppServer.HandshakeOptions & Codex.ServiceOptions = {}
): Layer.Layer<
  Codex.Codex | AppServer.AppServer | FakeAppServer.FakeAppServer | Player,
  Errors.RequestError | Errors.UnsupportedVersionError | TranscriptReadError
> => Layer.unwrap(Effect.map(read(file), (entries) => layerCodex(entries, options)))
