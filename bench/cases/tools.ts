/**
 * Case 7: one call of an effect/ai tool per turn, through `@effect-codex/ai`'s two paths on the same codex server
 * (real binary, MockModel): over MCP (codex → HTTP on 127.0.0.1 → effect/ai McpServer; the approval answered by
 * `CodexTools.approveToolCalls`) and as dynamic tools (codex → `item/tool/call` on the app-server connection).
 * Rounds alternate the two paths (and a plain text turn, the baseline) on one thread each; medians of the whole
 * turn and of codex's own `durationMs` of the tool item.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Tool from "effect/ai/Tool"
import * as Toolkit from "effect/ai/Toolkit"
import { Codex, type Thread } from "effect-codex"
import { CodexTest, MockModel } from "@effect-codex/testing"
import { CodexTools } from "@effect-codex/ai"
import { median, round } from "../lib.js"

const Echo = Tool.make("echo", {
  description: "Echoes its text",
  parameters: Schema.Struct({ text: Schema.String }),
  success: Schema.String
})
const tools = Toolkit.make(Echo)
const handlers = tools.toLayer({ echo: ({ text }) => Effect.succeed(text) })

/** The tool item's `durationMs` as codex measured it (undefined for a plain turn). */
const toolDuration = (items: ReadonlyArray<{ readonly type: string }>): number | undefined => {
  const item = items.find((entry) => entry.type === "mcpToolCall" || entry.type === "dynamicToolCall") as
    | { readonly durationMs?: number | null }
    | undefined
  return item?.durationMs ?? undefined
}

export const run = (n: number) =>
  Effect.gen(function*() {
    const mock = yield* MockModel.MockModel
    const codex = yield* Codex.Codex
    const dynamic = yield* CodexTools.dynamic(tools)
    const mcpThread = yield* codex.threadStart()
    const dynamicThread = yield* dynamic.threadStart()
    const plainThread = yield* codex.threadStart()
    const approvals = { ...CodexTools.approveToolCalls("effect"), ...dynamic.approvals }
    const turn = (thread: Thread.Thread, ...replies: ReadonlyArray<MockModel.Reply>) =>
      Effect.gen(function*() {
        yield* mock.enqueue(replies)
        const t0 = performance.now()
        const result = yield* thread.run("echo", { approvals })
        const ms = performance.now() - t0
        if (result.status !== "completed") return yield* Effect.die(new Error(`turn ${result.status}`))
        return { ms, toolMs: toolDuration(result.items) }
      })
    const done = () => MockModel.text("done")
    const paths = {
      mcp: () => turn(mcpThread, MockModel.functionCall({ namespace: "mcp__effect", name: "echo", arguments: { text: "hi" } }), done()),
      dynamic: () => turn(dynamicThread, MockModel.functionCall({ name: "echo", arguments: { text: "hi" } }), done()),
      plain: () => turn(plainThread, MockModel.text("hi"))
    }
    type Sample = { readonly ms: number; readonly toolMs: number | undefined }
    const samples: Record<"mcp" | "dynamic" | "plain", Array<Sample>> = { mcp: [], dynamic: [], plain: [] }
    // Two warm-up rounds (MCP session start-up, first dynamic call), not measured.
    for (let round = -2; round < n; round++) {
      const order = (["mcp", "dynamic", "plain"] as const).map((_, i, all) => all[(i + Math.max(round, 0)) % all.length]!)
      for (const path of order) {
        const sample = yield* paths[path]()
        if (round >= 0) samples[path].push(sample)
      }
    }
    const turnMs = (path: keyof typeof samples) => round(median(samples[path].map((s) => s.ms)))
    const toolMs = (path: "mcp" | "dynamic") => round(median(samples[path].map((s) => s.toolMs ?? Number.NaN)))
    return {
      n,
      mcpTurnMs: turnMs("mcp"),
      dynamicTurnMs: turnMs("dynamic"),
      plainTurnMs: turnMs("plain"),
      mcpToolMs: toolMs("mcp"),
      dynamicToolMs: toolMs("dynamic"),
      /** Dynamic turn time over MCP turn time (below 1: dynamic tools are faster). */
      turnRatio: round(turnMs("dynamic") / turnMs("mcp"), 3),
      /** The same for the tool call alone, as codex timed it. */
      toolRatio: round(toolMs("dynamic") / toolMs("mcp"), 3)
    }
  }).pipe(
    Effect.provide(
      Layer.unwrap(Effect.map(
        CodexTools.serve(tools),
        (endpoint) => CodexTest.layer(CodexTools.withEndpoint<CodexTest.Options>({ experimentalApi: true }, endpoint))
      )).pipe(Layer.provideMerge(handlers))
    ),
    Effect.scoped,
    Effect.runPromise
  )
