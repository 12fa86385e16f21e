/**
 * The real pinned codex binary wired to a `MockModel`, with a temporary `CODEX_HOME`: a whole `Codex`
 * for tests that run offline and deterministically.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Codex } from "effect-codex"
 * import { CodexTest, MockModel } from "@effect-codex/testing"
 *
 * it.live("answers", () =>
 *   Effect.gen(function*() {
 *     const mock = yield* MockModel.MockModel
 *     yield* mock.enqueue(MockModel.text("Hello"))
 *     const codex = yield* Codex.Codex
 *     const thread = yield* codex.threadStart()
 *     const result = yield* thread.run("Hi")
 *     // result.finalResponse === "Hello"
 *   }).pipe(Effect.provide(CodexTest.layer())))
 * ```
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AppServer, Codex, CodexPool, type Errors, Transport } from "effect-codex"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import * as MockModel from "./MockModel.js"

/**
 * The temporary `CODEX_HOME` of a test layer (removed when the layer is released).
 *
 * @since 0.1.0
 * @category services
 */
export class CodexHome extends Context.Service<CodexHome, { readonly path: string }>()(
  "@effect-codex/testing/CodexHome"
) {}

/**
 * A fresh temporary directory as `CODEX_HOME`, removed with the scope.
 *
 * @since 0.1.0
 * @category layers
 */
export const codexHomeLayer: Layer.Layer<CodexHome> = Layer.effect(CodexHome)(
  Effect.acquireRelease(
    Effect.sync(() => ({ path: mkdtempSync(path.join(tmpdir(), "effect-codex-test-")) })),
    (home) => Effect.sync(() => rmSync(home.path, { recursive: true, force: true }))
  )
)

/**
 * Options of {@link layer}: the Codex options (minus what the kit sets) and the mock's options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Omit<Codex.Options, "codexHome"> {
  readonly mock?: MockModel.LayerOptions | undefined
}

/**
 * `AppServer` on the real binary pointed at the `MockModel` and `CodexHome` in context (both are
 * inputs, so several servers can share one home, e.g. to test resuming a thread).
 *
 * @since 0.1.0
 * @category layers
 */
export const appServerLayer = (
  options: Omit<Codex.Options, "codexHome"> = {}
): Layer.Layer<AppServer.AppServer, Errors.StartError, MockModel.MockModel | CodexHome> =>
  Layer.unwrap(Effect.gen(function*() {
    const mock = yield* MockModel.MockModel
    const home = yield* CodexHome
    const config = [...mock.codexConfig, ...Transport.configEntries(options.config)]
    return AppServer.layerNode({ ...options, codexHome: home.path, config })
  }))

/**
 * Everything a test needs: `Codex` (and `AppServer`) on the real binary, the `MockModel` it talks to,
 * and the temporary `CodexHome`. Provide an `Approvals` layer to answer approvals (default: decline).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<Codex.Codex | AppServer.AppServer | MockModel.MockModel | CodexHome, Errors.StartError> => {
  const { mock, ...codexOptions } = options
  const server = appServerLayer(codexOptions)
  return Codex.layer(codexOptions).pipe(
    Layer.provideMerge(server),
    Layer.provideMerge(Layer.merge(MockModel.layerWith(mock ?? {}), codexHomeLayer))
  )
}

/**
 * Options of {@link layerPool}: {@link Options} and the pool's own (`size`, `maxTurnsPerProcess`, ...).
 *
 * @since 0.2.0
 * @category models
 */
export interface PoolOptions extends Options, CodexPool.PoolOptions {}

/**
 * {@link layer} with a `CodexPool` instead of one process: `size` real app-servers sharing the temporary
 * `CodexHome`, all talking to the one `MockModel`.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Codex } from "effect-codex"
 * import { CodexTest } from "@effect-codex/testing"
 *
 * it.live("runs on three processes", () =>
 *   Effect.gen(function*() {
 *     const codex = yield* Codex.Codex
 *     const thread = yield* codex.threadStart()
 *     yield* thread.run("Hi")
 *   }).pipe(Effect.provide(CodexTest.layerPool({ size: 3 }))))
 * ```
 * @since 0.2.0
 * @category layers
 */
export const layerPool = (
  options: PoolOptions = {}
): Layer.Layer<Codex.Codex | MockModel.MockModel | CodexHome, Errors.StartError> => {
  const { mock, ...codexOptions } = options
  return CodexPool.layerWith(codexOptions, appServerLayer(codexOptions)).pipe(
    Layer.provideMerge(Layer.merge(MockModel.layerWith(mock ?? {}), codexHomeLayer))
  )
}
