/**
 * ChatGPT tokens from the host application, on the real `Codex` over the in-memory FakeAppServer: the login sends
 * the tokens as `chatgptAuthTokens`, and codex's `account/chatgptAuthTokens/refresh` requests are answered by the
 * application's own Effect (running with its services), its failure answered as an error, and declined when no
 * handler is given.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import { Approvals, Codex } from "effect-codex"
import { FakeAppServer } from "@effect-codex/testing"

const secret = "eyJ.host-access-token-secret"

/** The host application's own token store: hands out the next token and counts how often it was asked. */
class TokenStore extends Context.Service<TokenStore, {
  readonly next: (accountId: string | null) => Effect.Effect<Codex.ChatgptTokens, "store-offline">
  readonly asked: Array<string | null>
}>()("test/TokenStore") {}

const storeLayer = (online: boolean) =>
  Layer.sync(TokenStore)(() => {
    const asked: Array<string | null> = []
    return {
      asked,
      next: (accountId) =>
        Effect.suspend(() => {
          asked.push(accountId)
          return online
            ? Effect.succeed({
              accessToken: Redacted.make(`${secret}-${asked.length}`),
              chatgptAccountId: accountId ?? "account-new",
              chatgptPlanType: "pro"
            })
            : Effect.fail("store-offline" as const)
        })
    }
  })

/** Codex on the fake, whose approvals refresh tokens through the TokenStore in context. */
const codexWithRefresh = (online: boolean) =>
  Layer.unwrap(Effect.gen(function*() {
    const store = yield* TokenStore
    return FakeAppServer.layerCodex().pipe(
      Layer.provide(Approvals.layer(Approvals.chatgptTokenRefresh((request) => store.next(request.previousAccountId ?? null))))
    )
  })).pipe(Layer.provideMerge(storeLayer(online)))

describe("ChatGPT tokens from the host", () => {
  it.effect("loginChatgptTokens signs in with the tokens as chatgptAuthTokens", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      yield* fake.script("account/login/start", FakeAppServer.result({ type: "chatgptAuthTokens" }))
      const codex = yield* Codex.Codex
      yield* codex.loginChatgptTokens({ accessToken: Redacted.make(secret), chatgptAccountId: "account-1" })
      const [request] = yield* fake.requests("account/login/start")
      expect(request?.params).toEqual({ type: "chatgptAuthTokens", accessToken: secret, chatgptAccountId: "account-1" })
    }).pipe(Effect.provide(FakeAppServer.layerCodex())))

  it.effect("a refresh request is answered by the application's Effect, with its services", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const answer = yield* fake.request("account/chatgptAuthTokens/refresh", {
        reason: "unauthorized",
        previousAccountId: "account-1"
      })
      expect(answer).toMatchObject({
        result: { accessToken: `${secret}-1`, chatgptAccountId: "account-1", chatgptPlanType: "pro" }
      })
      expect((yield* TokenStore).asked).toEqual(["account-1"])
      const second = yield* fake.request("account/chatgptAuthTokens/refresh", { reason: "unauthorized" })
      expect(second).toMatchObject({ result: { accessToken: `${secret}-2`, chatgptAccountId: "account-new" } })
    }).pipe(Effect.provide(codexWithRefresh(true))))

  it.effect("a failed refresh is answered with an error that says so, and the token store is asked once", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const answer = yield* fake.request("account/chatgptAuthTokens/refresh", { reason: "unauthorized" })
      expect(answer).toMatchObject({ error: { code: -32603 } })
      expect("error" in answer ? answer.error.message : "").toContain("could not refresh the ChatGPT tokens")
      expect("error" in answer ? answer.error.message : "").toContain("store-offline")
      expect((yield* TokenStore).asked).toEqual([null])
    }).pipe(Effect.provide(codexWithRefresh(false)), Effect.provide(Logger.layer([]))))

  it.effect("without a refresh handler the request is declined by default", () =>
    Effect.gen(function*() {
      const fake = yield* FakeAppServer.FakeAppServer
      const answer = yield* fake.request("account/chatgptAuthTokens/refresh", { reason: "unauthorized" })
      expect(answer).toMatchObject({ error: { code: -32601 } })
    }).pipe(Effect.provide(FakeAppServer.layerCodex()), Effect.provide(Logger.layer([]))))
})
