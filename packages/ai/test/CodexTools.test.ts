/**
 * CodexTools on the real codex binary: an effect/ai Toolkit called by codex over MCP (HTTP on 127.0.0.1) and as
 * dynamic tools. The MockModel emits the tool call; the tests check that the handler ran with the caller's service
 * and that the next model request carries the tool's output (or its error).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Tool from "effect/ai/Tool"
import * as Toolkit from "effect/ai/Toolkit"
import { Approvals, Codex } from "effect-codex"
import { CodexTest, MockModel } from "@effect-codex/testing"
import { CodexTools } from "@effect-codex/ai"
import * as Net from "node:net"

/** The caller's own service: the handlers greet through it, and it records whom it greeted. */
class Greeter extends Context.Service<Greeter, {
  readonly greet: (name: string) => string
  readonly greeted: Array<string>
}>()("test/Greeter") {}

const greeterLayer = Layer.sync(Greeter)(() => {
  const greeted: Array<string> = []
  return { greeted, greet: (name) => (greeted.push(name), `Hello, ${name}! (from the caller's Greeter)`) }
})

const Greet = Tool.make("greet", {
  description: "Greets someone",
  parameters: Schema.Struct({ name: Schema.String }),
  success: Schema.String
})
const Lookup = Tool.make("lookup", {
  description: "Looks a key up",
  parameters: Schema.Struct({ key: Schema.String }),
  success: Schema.String,
  failure: Schema.Struct({ missing: Schema.String })
})
const Crash = Tool.make("crash", { description: "Always dies", parameters: Tool.EmptyParams, success: Schema.String })
const tools = Toolkit.make(Greet, Lookup, Crash)

const handlers = tools.toLayer(Effect.gen(function*() {
  const greeter = yield* Greeter
  return {
    greet: ({ name }) => Effect.sync(() => greeter.greet(name)),
    lookup: ({ key }) => Effect.fail({ missing: key }),
    crash: () => Effect.die(new Error("secret internals"))
  }
}))

/** The text the model got back for `callId` in a later request (`function_call_output`). */
const toolOutput = (request: MockModel.RecordedRequest | undefined, callId: string): string | undefined => {
  const input = (request?.body as { readonly input?: ReadonlyArray<Record<string, unknown>> } | undefined)?.input ?? []
  const item = input.find((entry) => entry.type === "function_call_output" && entry.call_id === callId)
  if (item === undefined) return undefined
  const output = item.output as string | ReadonlyArray<{ readonly text?: string }>
  return typeof output === "string" ? output : output.map((part) => part.text ?? "").join("\n")
}

/**
 * Codex on the real binary (pointed at the MockModel) with the toolkit served over MCP by `CodexTools.layerCodex`,
 * and the experimental API on, for dynamic tools.
 */
const codexWithTools = Layer.unwrap(Effect.gen(function*() {
  const mock = yield* MockModel.MockModel
  const home = yield* CodexTest.CodexHome
  return CodexTools.layerCodex(tools, { experimentalApi: true, config: mock.codexConfig, codexHome: home.path })
})).pipe(
  Layer.provideMerge(handlers),
  Layer.provideMerge(greeterLayer),
  Layer.provideMerge(Layer.merge(MockModel.layer, CodexTest.codexHomeLayer))
)

/** One turn in which the model calls `call` then answers "done"; the turn's result and the model's requests. */
const toolTurn = (
  call: { readonly name: string; readonly namespace?: string; readonly arguments: unknown },
  options: { readonly approvals?: Approvals.Handlers; readonly dynamic?: CodexTools.Dynamic } = {}
) =>
  Effect.gen(function*() {
    const mock = yield* MockModel.MockModel
    yield* mock.reset
    const callId = `call-${call.name}`
    yield* mock.enqueue(MockModel.functionCall({ ...call, callId }), MockModel.text("done"))
    const codex = yield* Codex.Codex
    const thread = options.dynamic === undefined ? yield* codex.threadStart() : yield* options.dynamic.threadStart()
    const result = yield* thread.run("use the tool", options.approvals === undefined ? {} : { approvals: options.approvals })
    const requests = yield* mock.responsesRequests
    return { result, requests, output: toolOutput(requests[1], callId) }
  })

describe("CodexTools over MCP", () => {
  it.live("codex calls the tool; the handler runs with the caller's service; the output reaches the model", () =>
    Effect.gen(function*() {
      const { output, result } = yield* toolTurn(
        { namespace: "mcp__effect", name: "greet", arguments: { name: "Ada" } },
        { approvals: CodexTools.approveToolCalls("effect") }
      )
      expect((yield* Greeter).greeted).toEqual(["Ada"])
      expect(output).toContain("Hello, Ada! (from the caller's Greeter)")
      expect(result.status).toBe("completed")
      const call = result.items.find((item) => item.type === "mcpToolCall")
      expect(call).toMatchObject({ server: "effect", tool: "greet", status: "completed" })
    }).pipe(Effect.provide(codexWithTools)))

  it.live("a tool call is declined by default: the handler does not run and the model is told", () =>
    Effect.gen(function*() {
      const { output, result } = yield* toolTurn({ namespace: "mcp__effect", name: "greet", arguments: { name: "Bo" } })
      expect((yield* Greeter).greeted).toEqual([])
      expect(output).toContain("rejected")
      expect(result.status).toBe("completed")
    }).pipe(Effect.provide(codexWithTools)))

  it.live("a declared failure and a defect are tool errors the model sees; the turn completes", () =>
    Effect.gen(function*() {
      const approvals = CodexTools.approveToolCalls("effect")
      const failed = yield* toolTurn({ namespace: "mcp__effect", name: "lookup", arguments: { key: "k1" } }, { approvals })
      expect(failed.result.status).toBe("completed")
      expect(failed.output).toContain("k1")
      const died = yield* toolTurn({ namespace: "mcp__effect", name: "crash", arguments: {} }, { approvals })
      expect(died.result.status).toBe("completed")
      expect(died.output).toBeDefined()
      expect(died.output).not.toContain("secret internals")
      const item = died.result.items.find((entry) => entry.type === "mcpToolCall")
      expect(item).toMatchObject({ tool: "crash" })
    }).pipe(Effect.provide(codexWithTools)))

  it.live("the endpoint needs the bearer token, listens on 127.0.0.1, and stops with its scope (open requests cut)", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const endpoint = yield* CodexTools.serve(tools, { name: "mine" }).pipe(Scope.provide(scope))
      expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
      expect(endpoint.config.join("\n")).not.toContain(Redacted.value(endpoint.token))
      expect(Object.values(endpoint.env)).toEqual([Redacted.value(endpoint.token)])
      const post = (authorization?: string) =>
        Effect.promise(() =>
          fetch(endpoint.url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              accept: "application/json, text/event-stream",
              ...(authorization === undefined ? {} : { authorization })
            },
            body: JSON.stringify({
              jsonrpc: "2.0",
              id: 1,
              method: "initialize",
              params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } }
            })
          }).then((response) => response.status, () => "refused" as const)
        )
      expect(yield* post()).toBe(401)
      expect(yield* post("Bearer wrong")).toBe(401)
      expect(yield* post(`Bearer ${Redacted.value(endpoint.token)}`)).toBe(200)
      // A request still in flight (its body never finishes) does not hold the close open: it is cut.
      const socket = Net.connect(Number(new URL(endpoint.url).port), "127.0.0.1").on("error", () => {}) // reset when cut
      const cut = Effect.callback<void>((resume) => void socket.once("close", () => resume(Effect.void)))
      yield* Effect.callback<void>((resume) => void socket.once("connect", () => resume(Effect.void)))
      socket.write("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
      yield* Scope.close(scope, Exit.void)
      yield* cut
      expect(yield* post(`Bearer ${Redacted.value(endpoint.token)}`)).toBe("refused")
    }).pipe(Effect.provide(handlers), Effect.provide(greeterLayer)))
})

describe("CodexTools as dynamic tools", () => {
  it.live("codex calls the tool in-process; the handler runs with the caller's service; the output reaches the model", () =>
    Effect.gen(function*() {
      const dynamic = yield* CodexTools.dynamic(tools)
      expect(dynamic.specs.map((spec) => spec.name)).toEqual(["greet", "lookup", "crash"])
      const { output, result } = yield* toolTurn(
        { name: "greet", arguments: { name: "Cy" } },
        { dynamic, approvals: dynamic.approvals }
      )
      expect((yield* Greeter).greeted).toEqual(["Cy"])
      expect(output).toBe("Hello, Cy! (from the caller's Greeter)")
      expect(result.items.find((item) => item.type === "dynamicToolCall")).toMatchObject({
        tool: "greet",
        success: true
      })
    }).pipe(Effect.provide(codexWithTools)))

  it.live("failures, defects and bad arguments are tool errors; the turn completes", () =>
    Effect.gen(function*() {
      const dynamic = yield* CodexTools.dynamic(tools)
      const run = (name: string, args: unknown) =>
        toolTurn({ name, arguments: args }, { dynamic, approvals: dynamic.approvals })
      const failed = yield* run("lookup", { key: "k2" })
      expect(failed.output).toContain("k2")
      const died = yield* run("crash", {})
      expect(died.output).toContain("internal error")
      expect(died.output).not.toContain("secret internals")
      const invalid = yield* run("greet", { name: 42 })
      expect(invalid.output).toBeDefined()
      expect((yield* Greeter).greeted).toEqual([])
      for (const turn of [failed, died, invalid]) {
        expect(turn.result.status).toBe("completed")
        expect(turn.result.items.find((item) => item.type === "dynamicToolCall")).toMatchObject({ success: false })
      }
    }).pipe(Effect.provide(codexWithTools)))

  it.live("without the handler installed, the call is declined by default", () =>
    Effect.gen(function*() {
      const dynamic = yield* CodexTools.dynamic(tools)
      const { output, result } = yield* toolTurn({ name: "greet", arguments: { name: "Di" } }, { dynamic })
      expect((yield* Greeter).greeted).toEqual([])
      expect(output).toContain("no handler")
      expect(result.status).toBe("completed")
    }).pipe(Effect.provide(codexWithTools)))
})
