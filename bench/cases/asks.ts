/**
 * Case 10: asking across processes (`@effect-codex/cluster`, a turn run with `ask`). The local cluster of the
 * example (examples/cluster/local.ts: a throwaway PostgreSQL, runner processes each with a pool of one codex process)
 * with the bench process as the client that follows the turn (`StreamTurn`) and answers its request (`respond`);
 * against a plain `Codex` in the bench process answering the same request with a per-turn handler (`approvals`). The
 * model (`Local.touching`) asks to run `touch <file>` once a turn, under `approvalPolicy: "untrusted"`.
 *
 * Two figures a request, from clocks of the one machine (milliseconds):
 * - request → client: from codex's `item/started` of the command (its `emittedAtMs`) until the client has the request
 *   (the `effect-codex/request` event in the bench process; for the plain `Codex`, the handler's call). The cluster's
 *   path: codex → runner → the request stored in PostgreSQL → the stream's reply to the client.
 * - answer → codex: from the client's `respond` (for the plain `Codex`, the handler's answer) until codex says the
 *   request is resolved (`serverRequest/resolved`, its `emittedAtMs`). The cluster's path: the conditional UPDATE
 *   with its NOTIFY → the runner's LISTEN → the request read → the answer written to codex.
 *
 * And, for scale, a notification through the same path without the store: codex's `item/started` of the command until
 * the client has it. Medians and p99 over `requests` turns a path, the paths alternating turn by turn.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { Codex, NodeCodex, Turn } from "effect-codex"
import { CodexCluster, CodexThread } from "@effect-codex/cluster"
import { MockModel } from "@effect-codex/testing"
import * as Local from "../../examples/cluster/local.js"
import { CODEX_BINARY, median, percentile, round, tempDir } from "../lib.js"

/** One request's times (ms since the epoch). */
interface Times {
  commandStarted?: number | undefined
  /** When the client had codex's `item/started` of the command (a notification through the same path, no store). */
  clientHasStarted?: number | undefined
  clientHasIt?: number | undefined
  answered?: number | undefined
  resolved?: number | undefined
}

const isCommandStarted = (method: string, params: unknown) =>
  method === "item/started" && (params as { readonly item?: { readonly type?: string } }).item?.type === "commandExecution"

const figures = (times: ReadonlyArray<Times>) => {
  const toClient = times.map((t) => t.clientHasIt! - t.commandStarted!)
  const toCodex = times.map((t) => t.resolved! - t.answered!)
  const notification = times.map((t) => t.clientHasStarted! - t.commandStarted!)
  return {
    notificationToClientMs: { p50: round(median(notification)), p99: round(percentile(notification, 99)) },
    requestToClientMs: { p50: round(median(toClient)), p99: round(percentile(toClient, 99)) },
    answerToCodexMs: { p50: round(median(toCodex)), p99: round(percentile(toCodex, 99)) }
  }
}

const complete = (times: Times, path: string) => {
  for (const key of ["commandStarted", "clientHasStarted", "clientHasIt", "answered", "resolved"] as const) {
    if (times[key] === undefined) throw new Error(`10: ${path}: no ${key} seen`)
  }
  return times
}

export const run = (options: { readonly requests: number; readonly runners: number }) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const mock = yield* MockModel.MockModel
    const cluster = yield* CodexCluster.CodexCluster
    const home = yield* tempDir("home")
    const plain = Context.get(
      yield* Layer.build(NodeCodex.layer({ codexPath: CODEX_BINARY, codexHome: home, config: mock.codexConfig })),
      Codex.Codex
    )
    const threadParams = { cwd: yield* tempDir("asks"), approvalPolicy: "untrusted", sandbox: Codex.Sandbox.workspace } as const
    const thread = yield* plain.threadStart(threadParams)
    const chat = cluster.conversation("asks")
    yield* chat.open({ _tag: "Start", params: { ...threadParams, cwd: yield* tempDir("asks") } })

    const viaCluster = (index: number) =>
      Effect.gen(function*() {
        const times: Times = {}
        yield* chat.streamTurn(`touch:c${index}.txt`, { turnKey: `asks/${index}`, ask: true }).pipe(
          Stream.runForEach((event) => {
            if (CodexThread.isRequestEvent(event)) {
              if (event.params.status !== "pending") return Effect.void
              times.clientHasIt = Date.now()
              times.answered = Date.now()
              return Effect.asVoid(chat.respond(event.params.requestId, { decision: "accept" }, { by: "bench" }))
            }
            if (isCommandStarted(event.method, event.params)) {
              times.commandStarted = event.emittedAtMs
              times.clientHasStarted = Date.now()
            }
            if (event.method === "serverRequest/resolved") times.resolved = event.emittedAtMs
            return Effect.void
          })
        )
        return complete(times, "cluster")
      })

    const viaPlain = (index: number) =>
      Effect.gen(function*() {
        const times: Times = {}
        yield* thread.stream(`touch:p${index}.txt`, {
          approvals: {
            "item/commandExecution/requestApproval": () =>
              Effect.sync(() => {
                times.clientHasIt = Date.now()
                times.answered = Date.now()
                return { decision: "accept" as const }
              })
          }
        }).pipe(Stream.filter(Turn.isNotification), Stream.runForEach((event) =>
          Effect.sync(() => {
            if (isCommandStarted(event.method, event.params)) {
              times.commandStarted = event.emittedAtMs
              times.clientHasStarted = Date.now()
            }
            if (event.method === "serverRequest/resolved") times.resolved = event.emittedAtMs
          })
        ))
        return complete(times, "plain Codex")
      })

    // Warm both paths (the conversation's entity and thread, the LISTEN connection of the runner).
    yield* viaCluster(-1)
    yield* viaPlain(-1)
    const clusterTimes: Array<Times> = []
    const plainTimes: Array<Times> = []
    for (let index = 0; index < options.requests; index++) {
      if (index % 2 === 0) {
        clusterTimes.push(yield* viaCluster(index))
        plainTimes.push(yield* viaPlain(index))
      } else {
        plainTimes.push(yield* viaPlain(index))
        clusterTimes.push(yield* viaCluster(index))
      }
    }
    return {
      runners: options.runners,
      requests: options.requests,
      cluster: figures(clusterTimes),
      plain: figures(plainTimes)
    }
  }).pipe(Effect.provide(Local.standalone(options.runners, undefined, Local.touching)))))
