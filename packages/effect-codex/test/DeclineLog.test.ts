/**
 * The default policy's log line names the opt-in that answers each method: `Approvals.acceptAll` only where it
 * changes the answer (command and file-change approvals), `CodexTools.approveToolCalls` for MCP elicitations, the
 * toolkit's dynamic approvals for dynamic tool calls, a handler for permissions and questions.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import { Approvals, type AppServer } from "effect-codex"

/** Asks the default policy to answer a request of `method`; the answer and the lines it logged. */
const declined = (method: string) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const recorder = Logger.make((options) => {
      lines.push(String(options.message))
    })
    const request = { id: 1, method, params: { threadId: "thread-1" } } as unknown as AppServer.KnownServerRequest
    const answer = yield* Approvals.make({}).handle(request).pipe(
      Effect.match({ onFailure: (error) => ({ error }), onSuccess: (result) => ({ result }) }),
      Effect.provide(Logger.layer([recorder]))
    )
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(`effect-codex declined "${method}" (default policy).`)
    return { answer, line: lines[0]! }
  })

describe("the default policy's decline log", () => {
  it.effect("command and file-change approvals: Approvals.acceptAll or a handler", () =>
    Effect.gen(function*() {
      for (
        const method of [
          "item/commandExecution/requestApproval",
          "item/fileChange/requestApproval",
          "execCommandApproval",
          "applyPatchApproval"
        ]
      ) {
        const { line } = yield* declined(method)
        expect(line).toContain("Provide Approvals.acceptAll")
        expect(line).toContain(`Approvals.layer({ "${method}": ... })`)
      }
    }))

  it.effect("MCP elicitations: CodexTools.approveToolCalls, not acceptAll", () =>
    Effect.gen(function*() {
      const { answer, line } = yield* declined("mcpServer/elicitation/request")
      expect(answer).toEqual({ result: { action: "decline" } })
      expect(line).toContain("CodexTools.approveToolCalls(serverName)")
      expect(line).not.toContain("Provide Approvals.acceptAll")
      expect(line).toContain("Approvals.acceptAll does not answer elicitations")
    }))

  it.effect("dynamic tool calls: the toolkit's dynamic approvals or a handler, not acceptAll", () =>
    Effect.gen(function*() {
      const { line } = yield* declined("item/tool/call")
      expect(line).toContain("CodexTools.dynamic(toolkit).approvals")
      expect(line).toContain(`Approvals.layer({ "item/tool/call": ... })`)
      expect(line).not.toContain("Provide Approvals.acceptAll")
    }))

  it.effect("permissions and questions: a handler of their own", () =>
    Effect.gen(function*() {
      const permissions = yield* declined("item/permissions/requestApproval")
      expect(permissions.line).toContain(`Approvals.layer({ "item/permissions/requestApproval": ... })`)
      expect(permissions.line).toContain("Approvals.acceptAll never does")
      const questions = yield* declined("item/tool/requestUserInput")
      expect(questions.answer).toEqual({ result: { answers: {} } })
      expect(questions.line).toContain("a handler that answers the questions")
      expect(questions.line).not.toContain("Provide Approvals.acceptAll")
    }))

  it.effect("ChatGPT token refreshes: Approvals.chatgptTokenRefresh; an unknown method: a handler", () =>
    Effect.gen(function*() {
      const refresh = yield* declined("account/chatgptAuthTokens/refresh")
      expect(refresh.line).toContain("Approvals.chatgptTokenRefresh(...)")
      const unknown = yield* declined("item/somethingNew/request")
      expect(unknown.answer).toMatchObject({ error: { code: -32601 } })
      expect(unknown.line).toContain(`Approvals.layer({ "item/somethingNew/request": ... })`)
      expect(unknown.line).not.toContain("acceptAll")
    }))
})
