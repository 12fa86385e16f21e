/**
 * Approvals on the real codex binary: a shell command the model asks to run only runs when approved.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { Approvals, Codex } from "effect-codex"
import { CodexTest, MockModel } from "@effect-codex/testing"

/** A workspace directory for the agent, removed with the scope. */
const workspace = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(path.join(tmpdir(), "effect-codex-ws-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** Asks the model to `touch <file>` in a fresh workspace and reports whether the file exists afterwards. */
const touchTurn = (options: { readonly approvals?: Approvals.Handlers } = {}) =>
  Effect.gen(function*() {
    const cwd = yield* workspace
    const mock = yield* MockModel.MockModel
    yield* mock.enqueue(MockModel.shellCall({ command: ["touch", "made-by-agent.txt"] }), MockModel.text("Done."))
    const codex = yield* Codex.Codex
    const thread = yield* codex.threadStart({ cwd, approvalPolicy: "untrusted", sandbox: Codex.Sandbox.workspace })
    const result = yield* thread.run("create the file", options)
    const command = result.items.find((item) => item.type === "commandExecution")
    return { created: existsSync(path.join(cwd, "made-by-agent.txt")), result, command }
  }).pipe(Effect.scoped)

describe("Approvals", () => {
  it.live("declines by default: the command never runs", () =>
    Effect.gen(function*() {
      const { created, result, command } = yield* touchTurn()
      expect(created).toBe(false)
      expect(result.status).toBe("completed")
      expect(command).toMatchObject({ type: "commandExecution", status: "declined" })
    }).pipe(Effect.provide(CodexTest.layer())))

  it.live("runs the command with Approvals.acceptAll", () =>
    Effect.gen(function*() {
      const { created, command } = yield* touchTurn()
      expect(created).toBe(true)
      expect(command).toMatchObject({ type: "commandExecution", status: "completed" })
    }).pipe(Effect.provide(CodexTest.layer().pipe(Layer.provide(Approvals.acceptAll)))))

  it.live("gives typed params to a handler and sends its typed decision", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const { created } = yield* touchTurn({
        approvals: {
          "item/commandExecution/requestApproval": (params) => {
            seen.push(params.command ?? "")
            return Effect.succeed({ decision: "accept" })
          }
        }
      })
      expect(created).toBe(true)
      expect(seen).toHaveLength(1)
      expect(seen[0]).toContain("touch made-by-agent.txt")
      // The override ended with the turn: the next turn is declined again.
      const again = yield* touchTurn()
      expect(again.created).toBe(false)
    }).pipe(Effect.provide(CodexTest.layer())))

  it.live("a per-turn handler runs with the caller's context (its logger here)", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const recorder = Logger.make((options) => {
        lines.push(String(options.message))
      })
      const { created } = yield* touchTurn({
        approvals: {
          "item/commandExecution/requestApproval": (params) =>
            Effect.logInfo(`asked to run ${params.command}`).pipe(Effect.as({ decision: "accept" as const }))
        }
      }).pipe(Effect.provide(Logger.layer([recorder])))
      expect(created).toBe(true)
      expect(lines.some((line) => line.includes("asked to run") && line.includes("touch made-by-agent.txt"))).toBe(true)
    }).pipe(Effect.provide(CodexTest.layer())))

  it.live("a per-turn handler overrides an accepting layer", () =>
    Effect.gen(function*() {
      const { created } = yield* touchTurn({
        approvals: { "item/commandExecution/requestApproval": () => Effect.succeed({ decision: "decline" }) }
      })
      expect(created).toBe(false)
    }).pipe(Effect.provide(CodexTest.layer().pipe(Layer.provide(Approvals.acceptAll)))))
})
