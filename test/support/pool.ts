/**
 * Helpers of the CodexPool tests: a MockModel reply chosen by the prompt, the codex processes this test started,
 * and a gauge's value.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { CodexPool } from "effect-codex"
import { MockModel, Processes } from "@effect-codex/testing"
import { readdirSync, readFileSync } from "node:fs"

/** The prompt of the model request: the last `ask:<token>` in it (earlier ones are the thread's history). */
export const lastAsk = (request: MockModel.RecordedRequest) => JSON.stringify(request.body).match(/ask:[\w-]+/g)?.at(-1)

/** Answers `ask:<token>` with `answer:<token>`; a token starting with `stall` never ends, `slow` streams a while. */
export const byPrompt = MockModel.dynamic((request) => {
  const ask = lastAsk(request) ?? "ask:none"
  const token = ask.slice("ask:".length)
  if (token.startsWith("stall")) return MockModel.stall()
  const answer = `answer:${token}`
  if (!token.startsWith("slow")) return MockModel.text(answer)
  const words = Array.from({ length: 30 }, (_, index) => `${index} `)
  return MockModel.text(`${words.join("")}${answer}`, { deltas: [...words, answer], intervalMs: 15 })
})

/** The codex processes this test process started (children whose command is codex). */
export const codexChildren = () =>
  readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((name) => {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8")
      const command = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      return ppid === process.pid && command.startsWith("codex") && Processes.isRunning(Number(name))
        ? [Number(name)]
        : []
    } catch {
      return []
    }
  })

/** The value of a pool gauge (every pool of this test process adds to it). */
export const gauge = (metric: typeof CodexPool.processes) => Effect.map(Metric.value(metric), (state) => state.value)

