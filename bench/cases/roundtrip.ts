/**
 * Case 2: request round trip. N sequential `model/list` calls through the SDK (`AppServer.request`, params
 * encoded and result decoded with the generated schemas) vs the raw client, each on its own real server;
 * calls are interleaved (SDK, raw, SDK, raw, ...) so that drift affects both alike.
 */
import * as Effect from "effect/Effect"
import { rawServer } from "../rawClient.js"
import { sdkServer } from "../drivers.js"
import { percentile, round } from "../lib.js"

export const METHOD = "model/list"

export const run = (n: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const server = yield* sdkServer()
    const raw = yield* rawServer()
    const sdkCall = server.request(METHOD, {})
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
    }
    const sdk: Array<number> = []
    const rawTimes: Array<number> = []
    for (let i = 0; i < n; i++) {
      sdk.push(yield* timed(sdkCall))
      rawTimes.push(yield* rawCall)
    }
    const sdkP50 = percentile(sdk, 50)
    const rawP50 = percentile(rawTimes, 50)
    return {
      method: METHOD,
      n,
      sdkP50Ms: round(sdkP50, 3),
      sdkP99Ms: round(percentile(sdk, 99), 3),
      rawP50Ms: round(rawP50, 3),
      rawP99Ms: round(percentile(rawTimes, 99), 3),
      ratioP50: round(sdkP50 / rawP50, 3),
      ratioP99: round(percentile(sdk, 99) / percentile(rawTimes, 99), 3)
    }
  })))
