/**
 * The web example (`examples/http-server`) end to end in a real headless browser: Debian's `chromium` driven by
 * `playwright-core`, against the example's server on a free port (real codex binary, offline MockModel). The page
 * is used as a person would: type a prompt, watch the answer fill, press Stop on a long answer.
 *
 * Needs `chromium` (`apt-get install -y chromium`; `.ci/run` installs it), or `CHROMIUM_PATH`. Without it the test
 * is skipped, and says so, except in CI (`CI` set), where it fails: CI must never skip it. It runs with
 * `npm run test:browser` (a step of `.ci/run` of its own); `npm test` leaves `*.browser.test.ts` out.
 */
import { describe, expect, it } from "@effect/vitest"
import { Processes } from "@effect-codex/testing"
import * as Effect from "effect/Effect"
import { Codex } from "effect-codex"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { chromium, type Page } from "playwright-core"
import { answerDeltas } from "../examples/http-server/mock.js"
import { baseUrl, offlineServer, settledStatus } from "./support/httpServer.js"

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const skip = !existsSync(executablePath) && process.env.CI === undefined
const skipReason = `SKIPPED: no chromium at ${executablePath} (apt-get install -y chromium, or set CHROMIUM_PATH)`
if (skip) console.warn(`web example browser test ${skipReason}`)

/** Runs a step in the browser (a promise) as an Effect. */
const browser = <A>(step: () => Promise<A>) => Effect.promise(step)

/**
 * Records the answer's text at every animation frame where it changed (what the user saw painted) in `window.paints`.
 * Browser code, so a string (this file is typechecked without the DOM types).
 */
const recordPaints = (page: Page) =>
  browser(() =>
    page.evaluate(`{
      const answer = document.getElementById("answer")
      const paints = window.paints = []
      let last = answer.textContent
      const frame = () => {
        if (answer.textContent !== last) paints.push(last = answer.textContent)
        requestAnimationFrame(frame)
      }
      requestAnimationFrame(frame)
    }`)
  )

const paintsOf = (page: Page) => browser(() => page.evaluate<Array<string>>("window.paints"))

const ask = (page: Page, prompt: string) =>
  browser(async () => {
    await page.fill("#prompt", prompt)
    await page.click("#send")
  })

const stateOf = (page: Page) => browser(() => page.getAttribute("#status", "data-state"))

const waitForState = (page: Page, state: string) =>
  browser(() => page.waitForSelector(`#status[data-state="${state}"]`, { timeout: 60_000 }))

/** The pids of this process's children named `codex`. */
const codexChildren = (): Array<number> =>
  readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"))
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      return name === "codex" && parent === process.pid && Processes.isRunning(Number(pid)) ? [Number(pid)] : []
    } catch {
      return []
    }
  })

describe.skipIf(skip)(`web example in headless chromium${skip ? ` (${skipReason})` : ""}`, () => {
  it.live("the answer fills as it is written, Stop interrupts a long turn, and no codex process is left", () =>
    Effect.gen(function*() {
      const codexPid = yield* Effect.gen(function*() {
        const url = yield* baseUrl
        const codex = yield* Codex.Codex
        const launched = yield* Effect.acquireRelease(
          browser(() => chromium.launch({ executablePath, headless: true })),
          (instance) => browser(() => instance.close())
        )
        const page = yield* browser(() => launched.newPage())
        yield* browser(() => page.goto(url))
        expect(yield* stateOf(page)).toBe("idle")

        // A short answer: seen growing over several paints, then complete.
        yield* recordPaints(page)
        const prompt = "Hello from the browser"
        yield* ask(page, prompt)
        yield* waitForState(page, "completed")
        const expected = answerDeltas(prompt).join("")
        expect(yield* browser(() => page.textContent("#answer"))).toBe(expected)
        const partial = (yield* paintsOf(page)).filter((text) => text !== "" && text !== expected)
        expect(partial.length).toBeGreaterThan(1)
        for (const text of partial) expect(expected.startsWith(text)).toBe(true)

        // A long answer, stopped with the Stop button once a few numbers are on screen.
        yield* ask(page, "Now count to 400")
        const counting = `document.getElementById("answer").textContent.includes("3 ")`
        yield* browser(() => page.waitForFunction(counting, undefined, { timeout: 60_000 }))
        expect(yield* stateOf(page)).toBe("running")
        yield* browser(() => page.click("#stop"))
        yield* waitForState(page, "interrupted")
        const stopped = (yield* browser(() => page.textContent("#answer"))) ?? ""
        expect(stopped).toMatch(/^1 2 3 /)
        expect(stopped).not.toContain("400")
        expect(yield* browser(() => page.textContent("#status"))).toBe("turn interrupted")
        const threadId = yield* browser(() => page.getAttribute("body", "data-thread-id"))
        expect(yield* settledStatus(threadId ?? "")).toBe("interrupted")
        expect(codexChildren()).toEqual([codex.server.pid])
        return codex.server.pid!
      }).pipe(Effect.provide(offlineServer), Effect.scoped)

      // The server's scope closed: its codex process is gone, and no other was left.
      expect(Processes.isRunning(codexPid)).toBe(false)
      expect(codexChildren()).toEqual([])
    }), 180_000) // a browser, a codex process and two turns: room for a busy machine (a hang still fails)
})
