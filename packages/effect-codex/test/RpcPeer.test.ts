import { beforeEach, describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { RpcPeer, Transport } from "effect-codex"
import { InMemoryTransport } from "@effect-codex/testing"

type Wire = Record<string, unknown>

/**
 * How the peer reads: `pull` runs the connection's `incoming` stream; `push` gives the connection a
 * `subscribe` (fed here chunk by chunk from the same stream), as NodeCodex's stdio transport has.
 */
type Mode = "pull" | "push"
let mode: Mode = "pull"

/** `connection` with the push form of its input. */
const pushed = (connection: Transport.Transport): Transport.Transport => ({
  ...connection,
  subscribe: (onChunk, onEnd) =>
    connection.incoming.pipe(
      Stream.runForEach((chunk) => Effect.sync(() => onChunk(chunk))),
      Effect.andThen(Effect.sync(onEnd)),
      Effect.forkScoped,
      Effect.asVoid
    )
})

/** An in-memory connection plus a peer on it, and the messages the client wrote, parsed. */
const setup = (options: RpcPeer.PeerOptions = {}) =>
  Effect.gen(function*() {
    const { client, server } = yield* InMemoryTransport.make
    const peer = yield* RpcPeer.make(mode === "push" ? pushed(client) : client, options)
    const sent = server.received.pipe(
      Stream.splitLines,
      Stream.map((line) => JSON.parse(line) as Wire)
    )
    const reply = (message: Wire) => server.send(`${JSON.stringify(message)}\n`)
    return { peer, server, sent, reply }
  })

/** Serves every request the client sends with `answer` (in arrival order). */
const serve = (
  env: Effect.Success<ReturnType<typeof setup>>,
  answer: (message: Wire) => Wire | undefined
) =>
  env.sent.pipe(
    Stream.runForEach((message) => {
      const response = answer(message)
      return response === undefined ? Effect.void : env.reply(response)
    }),
    Effect.forkScoped
  )

for (const each of ["pull", "push"] as const) describe(`RpcPeer, ${each} read`, () => {
  beforeEach(() => {
    mode = each
  })

  it.effect("speaks the app-server wire format: no jsonrpc field, numeric ids, params omitted when absent", () =>
    Effect.gen(function*() {
      const env = yield* setup()
      const seen: Array<Wire> = []
      yield* serve(env, (message) => {
        seen.push(message)
        return "id" in message ? { id: message.id, result: { echo: message.params ?? null } } : undefined
      })
      const result = yield* env.peer.request("thread/start", { cwd: "/tmp" })
      yield* env.peer.notify("initialized")
      const second = yield* env.peer.request("account/logout", undefined)
      expect(result).toEqual({ echo: { cwd: "/tmp" } })
      expect(second).toEqual({ echo: null })
      yield* Effect.yieldNow
      expect(seen[0]).toEqual({ id: 1, method: "thread/start", params: { cwd: "/tmp" } })
      expect(seen[1]).toEqual({ method: "initialized" })
      expect(seen[2]).toEqual({ id: 2, method: "account/logout" })
      expect(seen.some((message) => "jsonrpc" in message)).toBe(false)
    }))

  it.effect("correlates 1,000 concurrent requests answered in reverse order", () =>
    Effect.gen(function*() {
      const env = yield* setup()
      const held: Array<Wire> = []
      yield* serve(env, (message) => {
        held.push(message)
        return undefined
      })
      const calls = yield* Effect.forEach(
        Array.from({ length: 1000 }, (_, index) => index),
        (index) => env.peer.request("echo", { index }),
        { concurrency: "unbounded" }
      ).pipe(Effect.forkScoped)
      while (held.length < 1000) yield* Effect.yieldNow
      for (const message of [...held].reverse()) {
        yield* env.reply({ id: message.id, result: (message.params as { index: number }).index })
      }
      const results = yield* Fiber.join(calls)
      expect(results).toEqual(Array.from({ length: 1000 }, (_, index) => index))
    }))

  it.effect("classifies error responses by code, overload without data included", () =>
    Effect.gen(function*() {
      const env = yield* setup()
      const errors: Record<string, Wire> = {
        busy: { code: -32001, message: "Server overloaded; retry later." },
        unknown: {
          code: -32600,
          message: "Invalid request: unknown variant `unknown`, expected one of `initialize`, `thread/start`, `turn/start`"
        },
        params: { code: -32600, message: "Invalid request: invalid type: integer `5`, expected a string" },
        internal: { code: -32603, message: "boom" },
        state: { code: -32600, message: "expected active turn id `t1` but found `t2`" },
        other: { code: 42, message: "odd", data: { x: 1 } }
      }
      yield* serve(env, (message) => ({ id: message.id, error: errors[message.method as string] }))
      const tags = yield* Effect.forEach(Object.keys(errors), (method) =>
        env.peer.request(method, {}).pipe(Effect.flip, Effect.map((error) => [error._tag, error])))
      expect(tags.map(([tag]) => tag)).toEqual([
        "ServerBusyError",
        "MethodNotFoundError",
        "InvalidParamsError",
        "InternalRpcError",
        "InvalidRequestError",
        "JsonRpcError"
      ])
      const unknown = tags[1]![1] as { message: string; expected?: ReadonlyArray<string> }
      expect(unknown).toMatchObject({
        message: "Invalid request: unknown variant `unknown` (the server knows 3 methods, listed in `expected`)",
        expected: ["initialize", "thread/start", "turn/start"]
      })
      const other = tags[5]![1] as { method: string; code: number; data: unknown; message: string }
      expect(other).toMatchObject({ method: "other", code: 42, data: { x: 1 }, message: "odd" })
    }))

  it.effect("frames partial chunks, CRLF and blank lines; garbage is a ProtocolError and the peer goes on", () =>
    Effect.gen(function*() {
      const env = yield* setup({ maxLineLength: 1000 })
      const notes = yield* env.peer.subscribe
      const errors = yield* env.peer.protocolErrors.pipe(Stream.take(3), Stream.runCollect, Effect.forkScoped)
      yield* Effect.yieldNow
      yield* env.server.send(`{"method":"a","par`)
      yield* env.server.send(`ams":{"n":1}}\r\n\n  \nnot json\n[1,2]\n`)
      yield* env.server.send(`${"x".repeat(1500)}`)
      yield* env.server.send(`${"y".repeat(10)}\n{"method":"b","params":{},"emittedAtMs":5}\n`)
      const received = yield* notes.pipe(Stream.take(2), Stream.runCollect)
      expect(received).toEqual([
        { method: "a", params: { n: 1 } },
        { method: "b", params: {}, emittedAtMs: 5 }
      ])
      const reasons = (yield* Fiber.join(errors)).map((error) => error.reason)
      expect(reasons[0]).toMatch(/invalid JSON/)
      expect(reasons[1]).toBe("not a JSON object")
      expect(reasons[2]).toBe("line longer than 1000 characters dropped")
    }))

  it.effect("answers server requests with the handler, and -32601 when there is none", () =>
    Effect.gen(function*() {
      const env = yield* setup()
      const answers = yield* env.sent.pipe(Stream.toPull)
      yield* env.reply({ id: "s1", method: "item/tool/requestUserInput", params: {} })
      const unhandled = (yield* answers)[0]
      yield* env.peer.setRequestHandler((request) =>
        request.method === "ok" ? Effect.succeed({ decision: "decline" }) : Effect.fail({ code: -32000, message: "no" })
      )
      yield* env.reply({ id: 7, method: "ok", params: {} })
      const handled = (yield* answers)[0]
      expect(unhandled).toMatchObject({ id: "s1", error: { code: -32601 } })
      expect(handled).toEqual({ id: 7, result: { decision: "decline" } })
    }))

  it.effect("fails every pending request, the notification streams and later requests when the server exits", () =>
    Effect.gen(function*() {
      const env = yield* setup()
      const notes = yield* env.peer.subscribe
      const streamed = yield* notes.pipe(Stream.runDrain, Effect.flip, Effect.forkScoped)
      const pending = yield* Effect.forEach(["a", "b", "c"], (method) =>
        env.peer.request(method, {}).pipe(Effect.flip, Effect.forkScoped))
      yield* Effect.yieldNow
      yield* env.server.close({ exitCode: 3, stderrTail: ["fatal: bad"], reason: "test exit" })
      for (const [index, fiber] of pending.entries()) {
        const error = yield* Fiber.join(fiber)
        const method = ["a", "b", "c"][index]
        expect(error).toMatchObject({ _tag: "AppServerExitedError", method, sent: true, exitCode: 3 })
        expect(error.message).toContain(`exited with code 3 while "${method}" was pending (test exit)`)
        expect(error.message).toContain("fatal: bad")
      }
      expect((yield* Fiber.join(streamed))._tag).toBe("AppServerExitedError")
      // A call after the exit is refused, never sent, and says so.
      const later = yield* env.peer.request("thread/start", {}).pipe(Effect.flip)
      expect(later).toMatchObject({ _tag: "AppServerExitedError", method: "thread/start", sent: false, exitCode: 3 })
      expect(later.message).toContain(
        `"thread/start" was refused (not sent): codex app-server had already exited with code 3 (test exit)`
      )
      expect(later.message).not.toContain("pending")
      const laterNote = yield* env.peer.notify("initialized").pipe(Effect.flip)
      expect(laterNote).toMatchObject({ method: "initialized", sent: false })
      const lateSubscriber = yield* env.peer.subscribe
      expect((yield* lateSubscriber.pipe(Stream.runDrain, Effect.flip))._tag).toBe("AppServerExitedError")
    }))

  it.effect("delivers a last message that has no trailing newline before reporting the exit", () =>
    Effect.gen(function*() {
      const env = yield* setup()
      const notes = yield* env.peer.subscribe
      const seen: Array<string> = []
      const ended = yield* notes.pipe(
        Stream.runForEach((note) => Effect.sync(() => seen.push(note.method))),
        Effect.flip,
        Effect.forkScoped
      )
      yield* env.server.send(`{"method":"first"}\n{"method":"last"}`)
      yield* env.server.close({ exitCode: 0 })
      expect((yield* Fiber.join(ended))._tag).toBe("AppServerExitedError")
      expect(seen).toEqual(["first", "last"])
    }))

  it.effect("times out a request with its own or the default timeout", () =>
    Effect.gen(function*() {
      const env = yield* setup({ requestTimeout: Duration.seconds(10) })
      const short = yield* env.peer.request("slow", {}, { timeout: Duration.seconds(1) }).pipe(
        Effect.flip,
        Effect.forkScoped
      )
      const long = yield* env.peer.request("slower", {}).pipe(Effect.flip, Effect.forkScoped)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* Fiber.join(short)).toMatchObject({ _tag: "RequestTimeoutError", method: "slow", timeoutMillis: 1000 })
      expect(long.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust(Duration.seconds(9))
      expect(yield* Fiber.join(long)).toMatchObject({ _tag: "RequestTimeoutError", method: "slower" })
    }))

  it.effect("a shorter timeout set after a longer one fires on time; an answered request never times out", () =>
    Effect.gen(function*() {
      const env = yield* setup({ requestTimeout: Duration.seconds(30) })
      const errors: Array<string> = []
      yield* env.peer.protocolErrors.pipe(
        Stream.runForEach((error) => Effect.sync(() => errors.push(error.reason))),
        Effect.forkScoped
      )
      const long = yield* env.peer.request("long", {}).pipe(Effect.flip, Effect.forkScoped)
      yield* TestClock.adjust(Duration.seconds(5))
      const short = yield* env.peer.request("short", {}, { timeout: Duration.seconds(2) }).pipe(
        Effect.flip,
        Effect.forkScoped
      )
      const answered = yield* env.peer.request("answered", {}, { timeout: Duration.seconds(1) }).pipe(Effect.forkScoped)
      yield* env.reply({ id: 3, result: "in time" })
      expect(yield* Fiber.join(answered)).toBe("in time")
      yield* TestClock.adjust(Duration.seconds(2))
      expect(short.pollUnsafe()).toBeDefined()
      expect(yield* Fiber.join(short)).toMatchObject({ _tag: "RequestTimeoutError", method: "short", timeoutMillis: 2000 })
      expect(long.pollUnsafe()).toBeUndefined()
      // The timed-out request's late answer is dropped quietly; the long one still runs to its own deadline.
      yield* env.reply({ id: 2, result: "too late" })
      yield* TestClock.adjust(Duration.seconds(23))
      expect(long.pollUnsafe()).toBeDefined()
      expect(yield* Fiber.join(long)).toMatchObject({ _tag: "RequestTimeoutError", method: "long", timeoutMillis: 30_000 })
      expect(errors).toEqual([])
    }))

  it.effect("listen: notifications a chunk at a time, in order, until the scope closes; then the end", () =>
    Effect.gen(function*() {
      const env = yield* setup()
      const batches: Array<Array<string>> = []
      const closes: Array<string> = []
      const listener = (name: string): RpcPeer.Listener<RpcPeer.IncomingNotification> => ({
        onNotifications: (notifications) => batches.push(notifications.map((n) => `${name}:${n.method}`)),
        onClose: (error) => closes.push(`${name}:${error.reason}`)
      })
      const early = yield* Scope.make()
      yield* Scope.provide(env.peer.listen(listener("a")), early)
      yield* env.peer.listen(listener("b"))
      yield* env.server.send(`{"method":"one"}\n{"method":"two"}\n`)
      yield* Effect.yieldNow
      yield* Scope.close(early, Exit.void)
      yield* env.server.send(`{"method":"three"}\n`)
      yield* Effect.yieldNow
      expect(batches).toEqual([["a:one", "a:two"], ["b:one", "b:two"], ["b:three"]])
      yield* env.server.close({ exitCode: 0, reason: "gone" })
      yield* env.peer.closed
      expect(closes).toEqual(["b:gone"])
      // A listener that arrives after the end hears of it at once.
      yield* env.peer.listen(listener("late"))
      expect(closes).toEqual(["b:gone", "late:gone"])
    }))

  it.effect("RpcPeer.layer builds the peer over the Transport in context", () =>
    Effect.gen(function*() {
      const { client, server } = yield* InMemoryTransport.make
      const answered = yield* server.received.pipe(
        Stream.splitLines,
        Stream.map((line) => JSON.parse(line) as Wire),
        Stream.runForEach((message) => server.send(`${JSON.stringify({ id: message.id, result: "pong" })}\n`)),
        Effect.forkScoped
      )
      const result = yield* Effect.gen(function*() {
        const peer = yield* RpcPeer.RpcPeer
        return yield* peer.request("ping", {})
      }).pipe(Effect.provide(RpcPeer.layer().pipe(Layer.provide(Layer.succeed(Transport.Transport)(client)))))
      expect(result).toBe("pong")
      yield* Fiber.interrupt(answered)
    }))
})
