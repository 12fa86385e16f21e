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
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { chromium, type Page } from "playwright-core"
import { MockModel } from "@effect-codex/testing"
import * as Schedule from "effect/Schedule"
import { createServer } from "node:http"
import * as path from "node:path"
import { answerDeltas } from "../examples/http-server/mock.js"
import { baseUrl, offlineServer, settledStatus, workspace } from "./support/httpServer.js"

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

  it.live("a person approves, declines and answers codex from the page; only the page can; nothing waits after", () =>
    Effect.gen(function*() {
      const codexPid = yield* Effect.gen(function*() {
        const url = yield* baseUrl
        const codex = yield* Codex.Codex
        const mock = yield* MockModel.MockModel
        const launched = yield* Effect.acquireRelease(
          browser(() => chromium.launch({ executablePath, headless: true })),
          (instance) => browser(() => instance.close())
        )
        const page = yield* browser(() => launched.newPage())
        yield* browser(() => page.goto(url))
        yield* browser(() => page.fill("#who", "tester"))
        const fileOf = (name: string) => {
          const file = path.join(workspace, name)
          rmSync(file, { force: true })
          return file
        }
        const last = "#requests .request:last-child"
        const waitForRequest = (state: string) =>
          browser(() => page.waitForSelector(`${last}[data-state="${state}"]`, { timeout: 60_000 }))

        // A command runs only after the click, and a page of another site cannot approve it.
        const approved = fileOf("approved.txt")
        yield* ask(page, "please run `touch approved.txt`")
        yield* waitForRequest("pending")
        expect(yield* browser(() => page.textContent(`${last} .command`))).toContain("touch approved.txt")
        expect(yield* browser(() => page.textContent(last))).toContain(`in ${workspace}`)
        const threadId = (yield* browser(() => page.getAttribute("body", "data-thread-id")))!
        const requestId = (yield* browser(() => page.getAttribute(last, "data-request-id")))!
        const evil = yield* otherSite(`${url}/threads/${threadId}/requests/${requestId}`)
        const other = yield* browser(() => launched.newPage())
        yield* browser(() => other.goto(evil))
        yield* browser(() => other.waitForFunction("window.attempts.length === 3", undefined, { timeout: 30_000 }))
        const attempts = yield* browser(() => other.evaluate<Array<string>>("window.attempts"))
        // The fetch with a header needs a CORS preflight the server never allows; the others are sent and refused.
        expect(attempts).toEqual(["fetch with secret: TypeError", "no-cors fetch: sent", "form: sent"])
        yield* browser(() => other.close())
        yield* Effect.sleep("300 millis")
        expect(yield* browser(() => page.getAttribute(last, "data-state"))).toBe("pending")
        expect(yield* codex.thread(threadId).pending).toHaveLength(1)
        expect(existsSync(approved)).toBe(false)
        yield* browser(() => page.click(`${last} button.approve`))
        yield* waitForState(page, "completed")
        expect(existsSync(approved)).toBe(true)
        expect(yield* browser(() => page.getAttribute(last, "data-state"))).toBe("answered")
        expect(yield* browser(() => page.textContent(`${last} .outcome`))).toMatch(/^answered by tester at /)

        // Decline: no file, and the turn completes.
        const declined = fileOf("declined.txt")
        yield* ask(page, "please run `touch declined.txt`")
        yield* waitForRequest("pending")
        yield* browser(() => page.click(`${last} button.decline`))
        yield* waitForState(page, "completed")
        expect(existsSync(declined)).toBe(false)
        expect(yield* browser(() => page.getAttribute(last, "data-state"))).toBe("answered")

        // A question: the answer chosen on the page reaches the model.
        yield* ask(page, "ask me about colors")
        yield* waitForRequest("pending")
        expect(yield* browser(() => page.textContent(`${last} .question`))).toContain("Which color should it be?")
        yield* browser(() => page.check(`${last} input[type=radio][value="blue"]`))
        yield* browser(() => page.click(`${last} button.send`))
        yield* waitForState(page, "completed")
        const requests = yield* mock.responsesRequests
        expect(JSON.stringify(requests.at(-1)?.body)).toContain(`{\\"answers\\":{\\"color\\":{\\"answers\\":[\\"blue\\"]}}}`)

        // Nobody answers: declined at the timeout, and the page says so.
        const late = fileOf("late.txt")
        yield* browser(() => page.fill("#wait", "0.05")) // 3 seconds
        yield* ask(page, "please run `touch late.txt`")
        yield* waitForRequest("pending")
        yield* waitForRequest("timedOut")
        expect(yield* browser(() => page.textContent(`${last} .outcome`))).toMatch(/^nobody answered in time: declined/)
        yield* waitForState(page, "completed")
        expect(existsSync(late)).toBe(false)

        // The page closes while a request waits: the turn is interrupted and nothing is left waiting.
        yield* browser(() => page.fill("#wait", ""))
        const closed = fileOf("closed.txt")
        yield* ask(page, "please run `touch closed.txt`")
        yield* waitForRequest("pending")
        yield* browser(() => page.close())
        expect(yield* settledStatus(threadId)).toBe("interrupted")
        const pending = yield* codex.thread(threadId).pending.pipe(
          Effect.filterOrFail((requests) => requests.length === 0),
          Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 50 })
        )
        expect(pending).toEqual([])
        expect(existsSync(closed)).toBe(false)
        expect(codexChildren()).toEqual([codex.server.pid])
        return codex.server.pid!
      }).pipe(Effect.provide(offlineServer), Effect.scoped)

      expect(Processes.isRunning(codexPid)).toBe(false)
      expect(codexChildren()).toEqual([])
    }), 240_000)
})

/**
 * A page of another site (another port of 127.0.0.1) that tries to answer `target` three ways: a `fetch` with a
 * guessed secret header, a `no-cors` fetch, a form post; it records in `window.attempts` what the browser let out.
 */
const otherSite = (target: string) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: ReturnType<typeof createServer>; readonly url: string }>((resume) => {
      const body = JSON.stringify({ answer: { decision: "accept" }, by: "mallory" })
      const html = `<!doctype html><body><iframe name="sink"></iframe>
<form id="f" method="POST" action="${target}" enctype="text/plain" target="sink"><input name='${body.slice(0, -1)},"x":"' value='"}'></form>
<script>
window.attempts = []
;(async () => {
  try {
    await fetch(${JSON.stringify(target)}, { method: "POST", headers: { "content-type": "application/json", "x-page-secret": "guessed" }, body: ${JSON.stringify(body)} })
    attempts.push("fetch with secret: sent")
  } catch (error) { attempts.push("fetch with secret: " + error.name) }
  await fetch(${JSON.stringify(target)}, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: ${JSON.stringify(body)} })
  attempts.push("no-cors fetch: sent")
  document.getElementById("f").submit()
  attempts.push("form: sent")
})()
</script></body>`
      const server = createServer((_, response) => {
        response.writeHead(200, { "content-type": "text/html" }).end(html)
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as { port: number }
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${address.port}/` }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ url }) => url))
