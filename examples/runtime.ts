/**
 * The shared runtime of the examples: it picks the model backend and runs an example's `program` with
 * `NodeRuntime.runMain`.
 *
 * - With `OPENAI_API_KEY` set (or `EFFECT_CODEX_REAL=1`, to use an existing Codex login), the program
 *   talks to the real model through `NodeCodex.layerFromEnv()` (`CODEX_BIN`, `CODEX_HOME`, `CODEX_MODEL` apply).
 * - Otherwise it runs fully offline: the real pinned `codex app-server` binary, pointed at a local
 *   `MockModel` that answers with the example's `mockScript`, in a temporary `CODEX_HOME`.
 *
 * Either way the example itself is the same user code: it only asks for `Codex.Codex` (and Node's
 * platform services). One line on stderr says which backend is used.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { CodexTest, MockModel } from "@effect-codex/testing"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Codex, type Errors, NodeCodex } from "effect-codex"
import { existsSync } from "node:fs"
import { homedir } from "node:os"
import * as path from "node:path"

/** What an example program may use: the Codex service and Node's platform services (files, stdio, terminal). */
export type Services = Codex.Codex | NodeServices.NodeServices

/** The model replies an example scripts for the offline backend, in order (one per model request). */
export type MockScript = ReadonlyArray<MockModel.Reply>

/** An example: honest user code plus the replies the offline mock gives it. */
export interface Example<E> {
  readonly program: Effect.Effect<void, E, Services>
  readonly mockScript: MockScript
  /** Options of the offline backend (`CodexTest.layer`), e.g. extra codex config. */
  readonly mockOptions?: CodexTest.Options | undefined
}

/** Options of the backend choice. */
export interface BackendOptions {
  /** Also use the real model when a Codex login exists (`$CODEX_HOME/auth.json` or `~/.codex/auth.json`). */
  readonly codexLogin?: boolean
}

/** Which backend to use: `real` with `OPENAI_API_KEY` or `EFFECT_CODEX_REAL=1` (or a Codex login, if asked), else `mock`. */
export const backend = (options: BackendOptions = {}) =>
  Effect.gen(function*() {
    const apiKey = yield* Config.option(Config.NonEmptyString("OPENAI_API_KEY"))
    if (Option.isSome(apiKey)) return { _tag: "real", reason: "OPENAI_API_KEY is set" } as const
    const forced = yield* Config.String("EFFECT_CODEX_REAL").pipe(Config.withDefault(""))
    if (forced === "1") return { _tag: "real", reason: "EFFECT_CODEX_REAL=1" } as const
    if (options.codexLogin === true) {
      const home = yield* Config.String("CODEX_HOME").pipe(Config.withDefault(path.join(homedir(), ".codex")))
      const auth = path.join(home, "auth.json")
      if (existsSync(auth)) return { _tag: "real", reason: `a Codex login exists in ${auth}` } as const
    }
    return { _tag: "mock", reason: "no OPENAI_API_KEY" } as const
  })

/** The offline backend: the real binary on a `MockModel` with `script` queued (also gives the mock and home). */
export const mockLayer = (script: MockScript, options: CodexTest.Options = {}) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const mock = yield* MockModel.MockModel
    yield* mock.enqueue(script)
  })).pipe(Layer.provideMerge(CodexTest.layer(options)))

/** The `Codex` layer of the chosen backend; says on stderr which one it is. */
export const layer = (
  script: MockScript,
  options: BackendOptions = {},
  mockOptions: CodexTest.Options = {}
): Layer.Layer<Codex.Codex, Errors.StartError | Config.ConfigError> =>
  Layer.unwrap(Effect.gen(function*() {
    const chosen = yield* backend(options)
    if (chosen._tag === "real") {
      yield* Console.error(`[effect-codex] model backend: the real model (${chosen.reason})`)
      return NodeCodex.layerFromEnv() as Layer.Layer<Codex.Codex, Errors.StartError | Config.ConfigError>
    }
    yield* Console.error(
      `[effect-codex] model backend: MockModel, offline with scripted replies (${chosen.reason}; set it or EFFECT_CODEX_REAL=1 for the real model)`
    )
    return mockLayer(script, mockOptions)
  }))

/**
 * Runs the example with `NodeRuntime.runMain` when its file is the entry point (`npx tsx examples/NAME.ts`);
 * does nothing when the file is imported (by the tests).
 */
export const runMain = <E>(meta: ImportMeta, example: Example<E>, options: BackendOptions = {}): void => {
  if (!meta.main) return
  example.program.pipe(
    Effect.provide(layer(example.mockScript, options, example.mockOptions)),
    Effect.provide(NodeServices.layer),
    NodeRuntime.runMain
  )
}
