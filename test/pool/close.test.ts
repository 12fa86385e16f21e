/**
 * A quick close on the real codex binary: a program that returns while a turn still runs in a fiber forked into an
 * outer scope. The layer closes first (its processes stop), then the outer scope interrupts the turn, whose server
 * has gone: the interrupt grace (10 s by default) applies to a live server only, so closing takes well under a
 * second, with one process or a pool.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { Codex, type Errors } from "effect-codex"
import { CodexTest, MockModel, Processes } from "@effect-codex/testing"
import { byPrompt } from "../support/pool.js"

/** Runs a turn that never ends in a fiber of `outer`, returns once the model has the request; the pids it ran on. */
const returnWithRunningTurn = (outer: Scope.Scope) =>
  Effect.gen(function*() {
    const mock = yield* MockModel.MockModel
    const codex = yield* Codex.Codex
    const thread = yield* codex.threadStart()
    yield* thread.run("ask:stall-forever").pipe(Effect.forkIn(outer))
    yield* mock.awaitResponsesRequests(1)
    return codex.server.pid!
  })

const closesQuickly = (layer: Layer.Layer<Codex.Codex | MockModel.MockModel, Errors.StartError>) =>
  Effect.gen(function*() {
    const outer = yield* Scope.make()
    const pid = yield* returnWithRunningTurn(outer).pipe(Effect.provide(layer))
    const returnedAt = Date.now()
    yield* Scope.close(outer, Exit.void)
    const closedIn = Date.now() - returnedAt
    expect(Processes.isRunning(pid)).toBe(false)
    // The old code waited out the 10 s interrupt grace here, on a server that had already exited.
    expect(closedIn).toBeLessThan(1000)
  })

describe("closing with a turn still running", () => {
  it.live("one process: the scope closes in under a second", () =>
    closesQuickly(CodexTest.layer({ mock: { defaultReply: byPrompt } })), 60_000)

  it.live("a pool: the scope closes in under a second", () =>
    closesQuickly(CodexTest.layerPool({ size: 2, mock: { defaultReply: byPrompt } })), 60_000)
})
