/**
 * Case 11: a person answers codex from a page, in one process: the web example's server (real binary, MockModel)
 * and a client reading its Server-Sent Events with `fetch`, as the page does. Each round is a turn whose model runs
 * `true`, which codex asks about (`untrusted`):
 * - request → page: from the moment the request reached the client (`createdAt`) to its `request` event parsed by
 *   the SSE reader;
 * - answer → codex: from the answer's `POST` to codex's `serverRequest/resolved` for it (codex has the answer).
 * Baseline in the same run: the same turn answered by a handler function (`Approvals.layer`-style, per turn), from
 * the handler's call to the same `serverRequest/resolved`. Medians and p99.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { Codex } from "effect-codex"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { mockOptions, serverLayer } from "../../examples/http-server/main.js"
import { mockLayer } from "../../examples/runtime.js"
import { baseUrl, pageSecret, post, sseEvents } from "../../test/support/httpServer.js"
import { median, percentile, round } from "../lib.js"

const prompt = "please run `true`"

export const run = (n: number) => {
  const cwd = mkdtempSync(path.join(tmpdir(), "effect-codex-bench-ask-"))
  return Effect.gen(function*() {
    const codex = yield* Codex.Codex
    const url = yield* baseUrl
    const secret = yield* pageSecret
    // When codex said it has the answer to a request (`serverRequest/resolved`), by request id.
    const resolvedAt = new Map<string, Deferred.Deferred<number>>()
    const resolution = (requestId: string) => {
      let at = resolvedAt.get(requestId)
      if (at === undefined) {
        at = Deferred.makeUnsafe<number>()
        resolvedAt.set(requestId, at)
      }
      return at
    }
    yield* codex.server.listen({
      onNotifications: (notifications) => {
        for (const notification of notifications) {
          if (notification._tag === "Notification" && notification.method === "serverRequest/resolved") {
            Deferred.doneUnsafe(resolution(String(notification.params.requestId)), Exit.succeed(Date.now()))
          }
        }
      },
      onClose: () => {}
    })
    const waitResolved = (requestId: string) =>
      Effect.suspend(() => {
        const at = resolution(requestId)
        return Effect.ensuring(Deferred.await(at), Effect.sync(() => resolvedAt.delete(requestId)))
      })

    const threadResponse = yield* post("/threads", undefined, { secret })
    const { threadId } = (yield* Effect.promise(() => threadResponse.json())) as { threadId: string }

    /** One turn answered from the "page": the two latencies. */
    const viaPage = Effect.gen(function*() {
      const response = yield* post(`/threads/${threadId}/turns`, { prompt }, { secret })
      let toPage = 0
      let toCodex = 0
      yield* sseEvents(response).pipe(
        Stream.runForEach((event) =>
          Effect.gen(function*() {
            if (event.event !== "request") return
            const request = event.data as { readonly requestId: string; readonly createdAt: number }
            toPage = Date.now() - request.createdAt
            const answeredAt = Date.now()
            yield* post(`/threads/${threadId}/requests/${request.requestId}`, {
              answer: { decision: "accept" },
              by: "bench"
            }, { secret })
            toCodex = (yield* waitResolved(request.requestId)) - answeredAt
          })
        ),
        Effect.orDie
      )
      return { toPage, toCodex }
    })

    /** One turn answered by a handler function: from its call to codex's resolution. */
    const thread = yield* codex.threadStart({ cwd, approvalPolicy: "untrusted", sandbox: Codex.Sandbox.workspace })
    const viaHandler = Effect.gen(function*() {
      let calledAt = 0
      let requestId = ""
      yield* thread.run(prompt, {
        approvals: {
          "item/commandExecution/requestApproval": (_, request) =>
            Effect.sync(() => {
              calledAt = Date.now()
              requestId = String(request.id)
              return { decision: "accept" as const }
            })
        }
      })
      return (yield* waitResolved(requestId)) - calledAt
    })

    const toPage: Array<number> = []
    const toCodex: Array<number> = []
    const handler: Array<number> = []
    // One warm-up round of each, not measured.
    for (let round = -1; round < n; round++) {
      const page = yield* viaPage
      const direct = yield* viaHandler
      if (round < 0) continue
      toPage.push(page.toPage)
      toCodex.push(page.toCodex)
      handler.push(direct)
    }
    const stats = (values: ReadonlyArray<number>) => ({
      median: round(median(values)),
      p99: round(percentile(values, 99))
    })
    return {
      n,
      url,
      requestToPage: stats(toPage),
      answerToCodex: stats(toCodex),
      handlerToCodex: stats(handler),
      /** How much longer an answer from the page takes to reach codex than a handler's (medians). */
      answerRatio: round(median(toCodex) / Math.max(1, median(handler)), 3)
    }
  }).pipe(
    Effect.provide(
      serverLayer({ port: 0, host: "127.0.0.1" }, { cwd }).pipe(Layer.provideMerge(mockLayer([], mockOptions(1))))
    ),
    Effect.scoped,
    Effect.ensuring(Effect.sync(() => rmSync(cwd, { recursive: true, force: true }))),
    Effect.runPromise
  )
}
