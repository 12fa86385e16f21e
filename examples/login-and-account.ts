/**
 * Login and account: read the account (`codex.account`), sign in with an API key
 * (`codex.loginApiKey`, which takes a `Redacted` so the key never shows in logs, spans or output) and
 * sign out (`codex.logout`).
 *
 * An existing login is left alone: the example only signs in (and then out again) when nobody is
 * signed in. The key comes from `EXAMPLE_API_KEY`; without it a placeholder key is used.
 *
 * Run: `npx tsx examples/login-and-account.ts` (offline with a scripted MockModel; set OPENAI_API_KEY for the
 * real model).
 */
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { Codex } from "effect-codex"
import type { CodexTest } from "@effect-codex/testing"
import { type MockScript, runMain } from "./runtime.js"

/** The account, in one line. */
const showAccount = (label: string) =>
  Effect.gen(function*() {
    const codex = yield* Codex.Codex
    const { account, requiresOpenaiAuth } = yield* codex.account
    const who = account == null
      ? "nobody signed in"
      : account.type === "chatgpt"
      ? `ChatGPT account ${account.email} (${account.planType})`
      : `signed in with ${account.type === "apiKey" ? "an API key" : account.type}`
    yield* Console.log(`${label}: ${who}${requiresOpenaiAuth ? "" : " (this model provider needs no OpenAI login)"}`)
    return account
  })

export const program = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  const before = yield* showAccount("before")
  if (before != null) return yield* Console.log("already signed in: leaving your login as it is")

  const apiKey = yield* Config.Redacted("EXAMPLE_API_KEY").pipe(
    Config.withDefault(Redacted.make("sk-example-placeholder-key"))
  )
  yield* Console.log(`signing in with ${apiKey}`) // prints <redacted>, never the key
  yield* codex.loginApiKey(apiKey)
  yield* showAccount("after login")

  yield* codex.logout
  yield* showAccount("after logout")
})

/** No model request is made. */
export const mockScript: MockScript = []

/** Offline, the mock model provider asks for an OpenAI login, as the real one does. */
export const mockOptions: CodexTest.Options = { config: ["model_providers.mock.requires_openai_auth=true"] }

runMain(import.meta, { program, mockScript, mockOptions })
