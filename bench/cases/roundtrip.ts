/**
 * Case 2: request round trip. N sequential `model/list` calls through the SDK (`AppServer.request`, params
 * encoded and result decoded with the generated schemas) vs the raw client, each on its own real server;
 * calls are interleaved (SDK, raw, SDK, raw, ...) so that drift affects both alike. Interleaved with them, the
 * same SDK call over the remote transport (`NodeCodex.layerAppServerRemote`, a WebSocket to a server started with
 * `--listen ws://127.0.0.1:0` and a capability token), reported as a ratio to the SDK over stdio.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AppServer, NodeCodex } from "effect-codex"
import { CodexTest, MockModel } from "@effect-codex/testing"
import { rawServer } from "../rawClient.js"
import { sdkServer } from "../drivers.js"
import { CODEX_BINARY, percentile, round, trackPid } from "../lib.js"

/** `AppServer` over a WebSocket to a listening server of the pinned binary, in the current scope. */
const remoteServer = Effect.gen(function*() {
  const environment = yield* Layer.build(Layer.merge(MockModel.layer, CodexTest.codexHomeLayer))
  const listening = yield* CodexTest.listeningServer({ codexPath: CODEX_BINARY }).pipe(
    Effect.provideContext(environment)
  )
  trackPid(listening.pid)
  const context = yield* Layer.build(NodeCodex.layerAppServerRemote({ url: listening.url, token: listening.token }))
  return Context.get(context, AppServer.AppServer)
})

export const METHOD = "model/list"

export const run = (n: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const server = yield* sdkServer()
    const raw = yield* rawServer()
    const remote = yield* remoteServer
    const sdkCall = server.request(METHOD, {})
    const wsCall = remote.request(METHOD, {})
    // The raw call is timed inside the promise: no Effect on the baseline's clock.
    const rawCall = Effect.promise(async () => {
      const t0 = performance.now()
      await raw.request(METHOD, {})
      return performance.now() - t0
    })
    const timed = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.gen(function*() {
        const t0 = performance.now()
        yield* effect
        return performance.now() - t0
      })
    // Warm-up: the first calls of each side are not counted. As many as are measured: the SDK runs far more
    // code than the raw client, and a shorter warm-up measures V8 optimizing it rather than steady state.
    const warmup = n
    for (let i = 0; i < warmup; i++) {
      yield* sdkCall
      yield* rawCall
      yield* wsCall
    }
    const sdk: Array<number> = []
    const rawTimes: Array<number> = []
    const ws: Array<number> = []
    for (let i = 0; i < n; i++) {
      sdk.push(yield* timed(sdkCall))
      rawTimes.push(yield* rawCall)
      ws.push(yield* timed(wsCall))
    }
    const sdkP50 = percentile(sdk, 50)
    const rawP50 = percentile(rawTimes, 50)
    const wsP50 = percentile(ws, 50)
    return {
      method: METHOD,
      n,
      sdkP50Ms: round(sdkP50, 3),
      sdkP99Ms: round(percentile(sdk, 99), 3),
      rawP50Ms: round(rawP50, 3),
      rawP99Ms: round(percentile(rawTimes, 99), 3),
      ratioP50: round(sdkP50 / rawP50, 3),
      ratioP99: round(percentile(sdk, 99) / percentile(rawTimes, 99), 3),
      wsP50Ms: round(wsP50, 3),
      wsP99Ms: round(percentile(ws, 99), 3),
      /** The SDK over a WebSocket / the SDK over stdio, p50. */
      wsRatioP50: round(wsP50 / sdkP50, 3)
    }
  })))
