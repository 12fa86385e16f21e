/**
 * The web example (`examples/http-server`) for tests: its server on a free port of 127.0.0.1, on the real codex
 * binary and the offline MockModel with the example's own replies, and a reader of its Server-Sent Events.
 */
import { Sse } from "effect/encoding"
import * as Effect from "effect/Effect"
import { HttpServer } from "effect/http"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { Codex } from "effect-codex"
import { mockOptions, serverLayer } from "../../examples/http-server/main.js"
import { mockLayer } from "../../examples/runtime.js"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"

/** The agent's working directory in these tests (removed when the test process exits). */
export const workspace = mkdtempSync(path.join(tmpdir(), "effect-codex-web-"))
process.on("exit", () => rmSync(workspace, { recursive: true, force: true }))

/** How long a request waits for the page in these tests before it is declined. */
export const askTimeoutMillis = 120_000

/**
 * The example's server on a free port, with what it runs on (`Codex`, `MockModel`, ...) also in the context. The
 * mock writes a delta every 40 ms (the example: 150 ms), still slower than a browser paints.
 */
export const offlineServer = serverLayer({ port: 0, host: "127.0.0.1" }, {
  cwd: workspace,
  askTimeout: askTimeoutMillis
}).pipe(
  Layer.provideMerge(mockLayer([], mockOptions(40)))
)

/** A secret of a page the server served (what the page sends with every POST). */
export const pageSecret = Effect.gen(function*() {
  const url = yield* baseUrl
  const html = yield* Effect.promise(() => fetch(url).then((response) => response.text()))
  return /const secret = "([^"]+)"/.exec(html)![1]!
})

/** POSTs `body` as JSON to the server's `path`, as the page does (with a page secret) unless `init` says otherwise. */
export const post = (path: string, body?: unknown, init: RequestInit & { readonly secret?: string | null } = {}) =>
  Effect.gen(function*() {
    const url = yield* baseUrl
    const secret = init.secret === undefined ? yield* pageSecret : init.secret
    const { secret: _, ...rest } = init
    return yield* Effect.promise(() =>
      fetch(`${url}${path}`, {
        method: "POST",
        ...rest,
        headers: {
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(secret === null ? {} : { "x-page-secret": secret }),
          ...(rest.headers as Record<string, string> | undefined)
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
    )
  })

/** The server's base URL, e.g. `http://127.0.0.1:41234`. */
export const baseUrl = Effect.map(HttpServer.HttpServer, (server) => HttpServer.formatAddress(server.address))

/** The status of the thread's last turn as codex has it, once it is no longer running. */
export const settledStatus = (threadId: string) =>
  Effect.gen(function*() {
    const codex = yield* Codex.Codex
    const thread = yield* codex.thread(threadId).read()
    const status = thread.turns.at(-1)?.status
    return status === "inProgress" ? yield* Effect.fail("still running" as const) : status
  }).pipe(Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100 }))

/** One Server-Sent Event: its name, its data (JSON), and which read of the response body brought it (from 1). */
export interface Received {
  readonly event: string
  readonly data: unknown
  readonly read: number
}

/** The Server-Sent Events of a `fetch` response, as they arrive (parsed with `effect/encoding`'s `Sse` parser). */
export const sseEvents = (response: Response): Stream.Stream<Received, unknown> =>
  Stream.suspend(() => {
    let read = 0
    const parsed: Array<Received> = []
    const parser = Sse.makeParser((event) => {
      if (event._tag === "Event") parsed.push({ event: event.event, data: JSON.parse(event.data), read })
    })
    return Stream.fromReadableStream({ evaluate: () => response.body!, onError: (cause) => cause }).pipe(
      Stream.decodeText,
      Stream.mapEffect((text) =>
        Effect.suspend(() => {
          read++
          const error = parser.feed(text)
          return error === undefined ? Effect.succeed(parsed.splice(0)) : Effect.fail(error)
        })
      ),
      Stream.flattenIterable
    )
  })
