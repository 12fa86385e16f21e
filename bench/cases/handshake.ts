/**
 * Case 1: handshake. Spawn → `initialize` result, on the real binary: the SDK's `NodeCodex.layerAppServer` build vs
 * the raw client (child_process.spawn + readline, same initialize). Median of N runs, SDK and raw alternated.
 */
import * as Effect from "effect/Effect"
import { initialize, spawnRaw } from "../rawClient.js"
import { sdkServer } from "../drivers.js"
import { CODEX_BINARY, makeTempDir, median, removeTempDir, round, trackPid } from "../lib.js"

const sdkOnce = async (): Promise<number> => {
  let elapsed = 0
  const t0 = performance.now()
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    yield* sdkServer()
    elapsed = performance.now() - t0
  })))
  return elapsed
}

const rawOnce = async (): Promise<number> => {
  const home = makeTempDir("home")
  const t0 = performance.now()
  const client = spawnRaw({ binary: CODEX_BINARY, codexHome: home })
  trackPid(client.pid)
  await initialize(client)
  const elapsed = performance.now() - t0
  await client.close()
  removeTempDir(home)
  return elapsed
}

export const run = async (n: number) => {
  // Warm-up (page cache, module loading), not counted.
  await rawOnce()
  await sdkOnce()
  const sdk: Array<number> = []
  const raw: Array<number> = []
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      sdk.push(await sdkOnce())
      raw.push(await rawOnce())
    } else {
      raw.push(await rawOnce())
      sdk.push(await sdkOnce())
    }
  }
  const sdkMedian = median(sdk)
  const rawMedian = median(raw)
  return {
    n,
    sdkMedianMs: round(sdkMedian),
    rawMedianMs: round(rawMedian),
    ratio: round(sdkMedian / rawMedian, 3),
    sdkMs: sdk.map((x) => round(x)),
    rawMs: raw.map((x) => round(x))
  }
}
