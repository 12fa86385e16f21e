import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Errors, Thread, Transport, Turn } from "effect-codex"
import * as path from "node:path"

const rpc = { method: "thread/start", code: -32000, message: "no" }
const result: Turn.Result = {
  id: "turn-1",
  threadId: "thread-1",
  status: "failed",
  error: null,
  startedAt: null,
  completedAt: null,
  durationMs: null,
  finalResponse: null,
  items: [],
  usage: null,
  turnUsage: null
}
const exited = { exitCode: 1, signal: null, stderrTail: [], reason: "exited" }

/** One instance of every error class, with the short tag `Effect.catchTag` matches on. */
const every: ReadonlyArray<readonly [string, { readonly _tag: string; readonly name: string }]> = [
  ["ParseError", new Errors.ParseError(rpc)],
  ["InvalidRequestError", new Errors.InvalidRequestError(rpc)],
  ["MethodNotFoundError", new Errors.MethodNotFoundError(rpc)],
  ["InvalidParamsError", new Errors.InvalidParamsError(rpc)],
  ["InternalRpcError", new Errors.InternalRpcError(rpc)],
  ["ServerBusyError", new Errors.ServerBusyError(rpc)],
  ["ExperimentalApiNotEnabledError", new Errors.ExperimentalApiNotEnabledError(rpc)],
  ["JsonRpcError", new Errors.JsonRpcError(rpc)],
  ["RequestTimeoutError", new Errors.RequestTimeoutError({ method: "thread/start", timeoutMillis: 10 })],
  ["AppServerExitedError", new Errors.AppServerExitedError(exited)],
  ["AppServerNotFoundError", new Errors.AppServerNotFoundError({ searched: ["/nowhere/codex"] })],
  ["UnsupportedVersionError", new Errors.UnsupportedVersionError({ found: null, userAgent: "x", supported: ">=0" })],
  ["AppServerSpawnError", new Errors.AppServerSpawnError({ command: "codex app-server", reason: "EACCES" })],
  ["ProtocolError", new Errors.ProtocolError({ reason: "invalid JSON", excerpt: "{" })],
  [
    "RetryLimitExceededError",
    new Errors.RetryLimitExceededError({ attempts: 3, lastError: new Errors.ServerBusyError(rpc) })
  ],
  ["TurnFailedError", Errors.turnFailed(result)],
  ["TurnStalledError", new Errors.TurnStalledError({ threadId: "thread-1", turnId: "turn-1", idleMillis: 5 })],
  ["StructuredOutputError", new Errors.StructuredOutputError({ threadId: "thread-1", response: null, reason: "x" })]
]

describe("Errors", () => {
  it.each(every)("%s keeps its short tag and has a namespaced identifier", (tag, error) => {
    expect(error._tag).toBe(tag)
    expect(error.name).toBe(`effect-codex/Errors/${tag}`)
  })

  it.effect("Effect.catchTag still matches the short tag", () =>
    Effect.gen(function*() {
      const caught = yield* Effect.fail(new Errors.ServerBusyError(rpc)).pipe(
        Effect.catchTag("ServerBusyError", (error) => Effect.succeed(error.method))
      )
      expect(caught).toBe("thread/start")
    }))

  it("the old homes re-export the moved classes", () => {
    expect(Turn.TurnFailedError).toBe(Errors.TurnFailedError)
    expect(Turn.TurnStalledError).toBe(Errors.TurnStalledError)
    expect(Thread.StructuredOutputError).toBe(Errors.StructuredOutputError)
  })

  it("ProtocolError keeps the decoding failure it wraps", () => {
    const parse = (() => {
      try {
        JSON.parse("{")
      } catch (error) {
        return error
      }
    })()
    const error = new Errors.ProtocolError({ reason: "invalid JSON", excerpt: "{", cause: parse })
    expect(error.cause).toBe(parse)
    expect(new Errors.ProtocolError({ reason: "invalid JSON", excerpt: "{" }).cause).toBeUndefined()
  })

  it.effect("AppServerSpawnError keeps the spawn failure as its cause", () =>
    Effect.gen(function*() {
      const error = yield* Transport.stdio({
        codexPath: process.execPath,
        cwd: path.join(import.meta.dirname, "no-such-directory")
      }).pipe(Effect.scoped, Effect.flip)
      expect(error._tag).toBe("AppServerSpawnError")
      if (error._tag !== "AppServerSpawnError") return
      expect(error.cause).toBeDefined()
      expect(error.reason).toBe((error.cause as Error).message)
    }).pipe(Effect.provide(NodeServices.layer)))
})
