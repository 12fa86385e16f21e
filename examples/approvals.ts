/**
 * Approvals: with `approvalPolicy: "untrusted"` codex asks before running commands. effect-codex
 * declines everything by default; here a per-turn handler accepts one command and declines the other,
 * and the workspace shows the effect: only the accepted file exists.
 *
 * Run: `npx tsx examples/approvals.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for the real model).
 */
import { MockModel } from "@effect-codex/testing"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import { Codex } from "effect-codex"
import { runMain } from "./runtime.js"

export const program = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const workspace = yield* fs.makeTempDirectoryScoped({ prefix: "effect-codex-approvals-" })
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart({
    cwd: workspace,
    approvalPolicy: "untrusted",
    sandbox: Codex.Sandbox.workspace
  })

  const result = yield* thread.run(
    "Run these two shell commands, one after the other, and nothing else: `touch accepted.txt`, then `touch declined.txt`.",
    {
      approvals: {
        "item/commandExecution/requestApproval": Effect.fnUntraced(function*(params) {
          const decision = params.command?.includes("accepted.txt") ? "accept" : "decline"
          yield* Console.log(`approval asked for ${JSON.stringify(params.command)}: ${decision}`)
          return { decision }
        })
      }
    }
  )

  for (const item of result.items) {
    if (item.type === "commandExecution") yield* Console.log(`command ${item.status}: ${item.command}`)
  }
  yield* Console.log(`files in the workspace: ${(yield* fs.readDirectory(workspace)).join(", ") || "(none)"}`)
  yield* Console.log(result.finalResponse)
}).pipe(Effect.scoped)

export const mockScript = [
  // A generous yield time: the turn waits for the command even on a busy machine.
  MockModel.shellCall({ command: "touch accepted.txt", yieldTimeMs: 10_000 }),
  MockModel.shellCall({ command: "touch declined.txt", yieldTimeMs: 10_000 }),
  MockModel.text("Created accepted.txt; running `touch declined.txt` was declined.")
]

runMain(import.meta, { program, mockScript })
