/**
 * Account and login on the real codex binary (offline): login handles, API-key login, and that every
 * public call is traced while the API key never appears in spans or logs.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Tracer from "effect/Tracer"
import { Codex } from "effect-codex"
import { CodexTest } from "@effect-codex/testing"
import { recordingTracer } from "../support/tracing.js"

const secret = "sk-effect-codex-test-secret-0123456789"

describe("account and login", () => {
  it.live("a ChatGPT login handle gives the auth URL, and wait sees its own cancellation", () =>
    Effect.gen(function*() {
      const codex = yield* Codex.Codex
      const login = yield* codex.loginChatgpt
      expect(login.authUrl).toMatch(/^https:\/\//)
      yield* login.cancel
      const completed = yield* login.wait
      expect(completed).toMatchObject({ loginId: login.loginId, success: false })
      expect(yield* login.wait).toBe(completed)
    }).pipe(Effect.scoped, Effect.provide(CodexTest.layer())))

  it.live("traces public calls and never puts the API key in spans or logs", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const logs: Array<string> = []
      const recorder = Logger.make((options) => {
        logs.push(JSON.stringify([options.message, String(options.cause)]))
      })
      yield* Effect.gen(function*() {
        const codex = yield* Codex.Codex
        yield* Effect.logInfo("starting login")
        yield* codex.loginApiKey(Redacted.make(secret))
        yield* codex.account
        yield* codex.logout
      }).pipe(
        Effect.provide(CodexTest.layer({ apiKey: Redacted.make(secret) })),
        Effect.provideService(Tracer.Tracer, tracer),
        Effect.provide(Logger.layer([recorder]))
      )
      const names = spans.map((span) => span.name)
      expect(names).toEqual(expect.arrayContaining(["Codex.loginApiKey", "Codex.account", "Codex.logout", "AppServer.request"]))
      expect(logs.length).toBeGreaterThan(0)
      const recorded = JSON.stringify([
        ...spans.map((span) => [span.name, [...span.attributes.entries()], span.status]),
        ...logs
      ], (_key, value) => typeof value === "bigint" ? value.toString() : value)
      expect(recorded).not.toContain(secret)
    }))
})
