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
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { AppServer, Codex, CodexBinary, CodexPool, Errors, NodeCodex, Transport } from "effect-codex"
import { randomBytes } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import * as Cassette from "./Cassette.js"
import * as MockModel from "./MockModel.js"
import * as Transcript from "./Transcript.js"

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
    return yield* appServerOn(mock.codexConfig, options)
  }))

/** The real binary in the `CodexHome` in context, with `codexConfig` (a model provider) before the test's config. */
const appServerOn = (codexConfig: ReadonlyArray<string>, options: Omit<Codex.Options, "codexHome">) =>
  CodexHome.use((home) =>
    Effect.succeed(
    NodeCodex.layerAppServer({
      ...options,
      codexHome: home.path,
      config: [...codexConfig, ...Transport.configEntries(options.config)]
    })))

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
 * Options of {@link listeningServer}: the server options (minus what the kit sets) and where it listens.
 *
 * @since 0.2.0
 * @category models
 */
export interface ListeningServerOptions extends Omit<Transport.StdioOptions, "codexHome"> {
  /** `"ws"` (default): `ws://127.0.0.1` on a free port, with a capability token; `"unix"`: a unix socket. */
  readonly listen?: "ws" | "unix" | undefined
  /** The capability token of a `ws` server (default: a random one); `null` for a server without auth. */
  readonly token?: string | null | undefined
  /** How long to wait for the server to listen. Default 30 seconds. */
  readonly readyTimeout?: Duration.Input | undefined
}

/**
 * A `codex app-server --listen` started by {@link listeningServer}: where it listens and how to stop it.
 *
 * @since 0.2.0
 * @category models
 */
export interface ListeningServer {
  /** `ws://127.0.0.1:PORT` or `unix:///…/app-server.sock`, for `NodeCodex.layerRemote({ url })`. */
  readonly url: string
  /** The capability token, for `NodeCodex.layerRemote({ token })` (undefined without auth). */
  readonly token: Redacted.Redacted<string> | undefined
  readonly pid: number
  /** Sends `signal` to the server (default SIGKILL), for tests of a server that goes away. */
  readonly kill: (signal?: ChildProcess.Signal) => Effect.Effect<void>
}

const listeningPattern = /listening on: (ws:\/\/[^\s\u001b]+)/

/**
 * Starts the real binary as a server that clients connect to (`codex app-server --listen`), pointed at the
 * `MockModel` and `CodexHome` in context, and waits until it listens. The server is the test's: it lives as long as
 * the scope (then SIGTERM, SIGKILL after 2 s), whatever its clients do.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect, Layer } from "effect"
 * import { Codex, NodeCodex } from "effect-codex"
 * import { CodexTest, MockModel } from "@effect-codex/testing"
 *
 * it.live("answers over a WebSocket", () =>
 *   Effect.gen(function*() {
 *     const server = yield* CodexTest.listeningServer()
 *     const result = yield* Effect.gen(function*() {
 *       const thread = yield* (yield* Codex.Codex).threadStart()
 *       return yield* thread.run("Hi")
 *     }).pipe(Effect.provide(NodeCodex.layerRemote({ url: server.url, token: server.token })))
 *   }).pipe(Effect.scoped, Effect.provide(Layer.merge(MockModel.layer, CodexTest.codexHomeLayer))))
 * ```
 * @since 0.2.0
 * @category constructors
 */
export const listeningServer = (
  options: ListeningServerOptions = {}
): Effect.Effect<
  ListeningServer,
  Errors.AppServerSpawnError | Errors.AppServerNotFoundError,
  Scope.Scope | MockModel.MockModel | CodexHome
> =>
  Effect.gen(function*() {
    const mock = yield* MockModel.MockModel
    const home = yield* CodexHome
    const binary = yield* CodexBinary.find(options)
    const listenDir = path.join(home.path, "listen")
    mkdirSync(listenDir, { recursive: true, mode: 0o700 })
    const socketPath = path.join(listenDir, "app-server.sock")
    const token = options.listen === "unix" || options.token === null
      ? undefined
      : options.token ?? randomBytes(24).toString("hex")
    const tokenFile = path.join(listenDir, "ws-token")
    if (token !== undefined) writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 })
    const args = Transport.appServerArgs({
      ...options,
      config: [...mock.codexConfig, ...Transport.configEntries(options.config)],
      args: [
        ...(options.args ?? []),
        "--listen",
        options.listen === "unix" ? `unix://${socketPath}` : "ws://127.0.0.1:0",
        ...(token === undefined ? [] : ["--ws-auth", "capability-token", "--ws-token-file", tokenFile])
      ]
    })
    const command = `${binary} ${args.join(" ")}`
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const handle = yield* spawner.spawn(ChildProcess.make(binary, args, {
      env: { ...options.env, CODEX_HOME: home.path },
      extendEnv: true,
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
      killSignal: "SIGTERM",
      forceKillAfter: Duration.seconds(2)
    })).pipe(Effect.mapError((error) => new Errors.AppServerSpawnError({ command, reason: error.message, cause: error })))

    // codex prints the address it bound (the port it picked for :0) to stderr; a unix socket appears as a file.
    const stderr: Array<string> = []
    const listening = yield* Deferred.make<string>()
    yield* Stream.decodeText(handle.stderr).pipe(
      Stream.splitLines,
      Stream.runForEach((line) =>
        Effect.suspend(() => {
          stderr.push(line)
          const match = listeningPattern.exec(line)
          return match === null ? Effect.void : Deferred.succeed(listening, match[1]!)
        })
      ),
      Effect.ignore,
      Effect.forkScoped
    )
    const url = options.listen === "unix"
      ? Effect.sync(() => existsSync(socketPath)).pipe(
        Effect.repeat({ until: (exists) => exists, schedule: Schedule.spaced(Duration.millis(20)) }),
        Effect.as(`unix://${socketPath}`)
      )
      : Deferred.await(listening)
    const failed = (reason: string) =>
      new Errors.AppServerSpawnError({ command, reason: `${reason}; stderr:\n${stderr.slice(-20).join("\n")}` })
    const address = yield* Effect.raceFirst(
      url,
      handle.exitCode.pipe(
        Effect.ignore,
        Effect.andThen(Effect.fail(failed("the server exited before it listened")))
      )
    ).pipe(
      Effect.timeoutOrElse({
        duration: options.readyTimeout ?? Duration.seconds(30),
        orElse: () => Effect.fail(failed("the server did not listen in time"))
      })
    )
    return {
      url: address,
      token: token === undefined ? undefined : Redacted.make(token),
      pid: handle.pid,
      kill: (signal = "SIGKILL") => Effect.ignore(handle.kill({ killSignal: signal }))
    } satisfies ListeningServer
  }).pipe(Effect.provide(NodeServices.layer))

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
): Layer.Layer<Codex.Codex | CodexPool.CodexPool | MockModel.MockModel | CodexHome, Errors.StartError> => {
  const { mock, ...codexOptions } = options
  return CodexPool.layerWith(codexOptions, appServerLayer(codexOptions)).pipe(
    Layer.provideMerge(Layer.merge(MockModel.layerWith(mock ?? {}), codexHomeLayer))
  )
}

/**
 * Options of {@link layerCassette}: the Codex options, and how to record (upstream, key, model) or replay.
 *
 * @since 0.2.0
 * @category models
 */
export interface CassetteOptions
  extends Omit<Options, "mock">, Omit<Cassette.RecordOptions, "file">, Omit<Cassette.ReplayOptions, "file" | "mock">
{
  /**
   * `record`: always record; `replay`: replay only (a missing cassette fails); `auto` (default): record when the
   * cassette is missing and a key is set, replay otherwise. `EFFECT_CODEX_RECORD=1` forces `record`.
   */
  readonly mode?: "record" | "replay" | "auto" | undefined
}

/**
 * Everything {@link layer} gives, with the model behind codex on a cassette: recorded from a real Responses API
 * (`upstream`, default OpenAI's; `apiKey`, default `OPENAI_API_KEY`; `model`, default `CODEX_MODEL`) and written
 * to `file` when the layer is released, or replayed offline from `file` through the real codex binary. Wrap the
 * test in `Cassette.failOnMismatch` to get a `CassetteMismatchError` when the code under test asks something new.
 *
 * @example
 * ```ts
 * import { it } from "@effect/vitest"
 * import { Effect } from "effect"
 * import { Codex } from "effect-codex"
 * import { Cassette, CodexTest } from "@effect-codex/testing"
 *
 * it.live("answers", () =>
 *   Effect.gen(function*() {
 *     const thread = yield* (yield* Codex.Codex).threadStart()
 *     const result = yield* thread.run("Say hello")
 *   }).pipe(Cassette.failOnMismatch, Effect.provide(CodexTest.layerCassette("test/cassettes/hello.json"))))
 * ```
 * @since 0.2.0
 * @category layers
 */
export const layerCassette = (
  file: string,
  options: CassetteOptions = {}
): Layer.Layer<
  Codex.Codex | AppServer.AppServer | CodexHome | Cassette.Session,
  Errors.StartError | Cassette.CassetteReadError | Config.ConfigError
> =>
  Layer.unwrap(Effect.gen(function*() {
    const { apiKey, headers, mode, model, provider, secrets, timing, upstream, ...codexOptions } = options
    const forced = Option.getOrElse(yield* Config.option(Config.Boolean(Cassette.RECORD_ENV)), () => false)
    const key = apiKey ?? Option.getOrUndefined(yield* Config.option(Config.Redacted("OPENAI_API_KEY")))
    const recording = forced || mode === "record" ||
      ((mode ?? "auto") === "auto" && !existsSync(file) && key !== undefined)
    if (recording) {
      const recordedModel = model ?? Option.getOrUndefined(yield* Config.option(Config.String("CODEX_MODEL")))
      const recorder = Cassette.layerRecord({ file, apiKey: key, headers, model: recordedModel, provider, secrets, upstream })
      const server = Layer.unwrap(Cassette.RecorderService.use((recorder) => appServerOn(recorder.codexConfig, codexOptions)))
      const recorded: CassetteLayer = Codex.layer(codexOptions).pipe(
        Layer.provideMerge(server),
        Layer.provideMerge(Layer.merge(recorder, codexHomeLayer))
      )
      return recorded
    }
    const cassette = yield* Cassette.read(file)
    const replayed: CassetteLayer = Codex.layer(codexOptions).pipe(
      Layer.provideMerge(appServerLayer(codexOptions)),
      Layer.provideMerge(Layer.merge(Cassette.replay(cassette, { file, mock: provider, secrets, timing }), codexHomeLayer))
    )
    return replayed
  }))

type CassetteLayer = Layer.Layer<Codex.Codex | AppServer.AppServer | CodexHome | Cassette.Session, Errors.StartError>

/**
 * {@link layer} with the session's JSON-RPC traffic tapped into a transcript (`Transcript.Recorder`), written to
 * `file` as JSON Lines when the layer is released; replay it without the binary with `Transcript.layerCodexFile`.
 *
 * @example
 * ```ts
 * Effect.provide(CodexTest.layerTranscript("test/transcripts/hello.jsonl"))
 * ```
 * @since 0.2.0
 * @category layers
 */
export const layerTranscript = (
  file: string,
  options: Options & Transcript.TapOptions = {}
): Layer.Layer<
  Codex.Codex | AppServer.AppServer | MockModel.MockModel | CodexHome | Transcript.Recorder,
  Errors.StartError
> => {
  const { mock, secrets, ...codexOptions } = options
  const server = Layer.unwrap(Effect.gen(function*() {
    const model = yield* MockModel.MockModel
    const home = yield* CodexHome
    const transport = Transport.layerStdio({
      ...codexOptions,
      codexHome: home.path,
      config: [...model.codexConfig, ...Transport.configEntries(codexOptions.config)]
    }).pipe(Layer.provide(NodeServices.layer))
    return AppServer.layerTransport(codexOptions).pipe(
      Layer.provideMerge(Transcript.layerTap({ file, secrets })),
      Layer.provide(transport)
    )
  }))
  return Codex.layer(codexOptions).pipe(
    Layer.provideMerge(server),
    Layer.provideMerge(Layer.merge(MockModel.layerWith(mock ?? {}), codexHomeLayer))
  )
}
