/**
 * What every stdio transport of a `codex app-server` shares, whichever way it spawns the process: the command
 * (binary, arguments, environment), the stderr tail kept for exit errors, the exit report and the first step of
 * the close sequence (end stdin, then give the server `closeTimeout` to exit by itself).
 *
 * @since 0.2.0
 *
 * @internal
 */
import * as Config from "effect/Config"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as CodexBinary from "../../CodexBinary.js"
import { AppServerSpawnError } from "../../Errors.js"
import type { ExitInfo, StdioOptions } from "../../Transport.js"
import { appServerArgs, configEntries } from "./args.js"

/**
 * The process to spawn.
 *
 * @since 0.2.0
 * @category models
 */
export interface Command {
  readonly binary: string
  readonly args: ReadonlyArray<string>
  /** Variables merged over the parent's environment. */
  readonly env: Readonly<Record<string, string | Redacted.Redacted<string>>>
  readonly cwd: string | undefined
  /** How long to wait after SIGTERM before SIGKILL. */
  readonly killTimeout: Duration.Duration
}

/**
 * Resolves the binary and builds the command of `options`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const command = Effect.fnUntraced(function*(options: StdioOptions) {
  const binary = yield* CodexBinary.find(options)
  const env: Record<string, string | Redacted.Redacted<string>> = { ...options.env }
  if (options.codexHome !== undefined) env.CODEX_HOME = options.codexHome
  if (options.apiKey !== undefined) env.OPENAI_API_KEY = options.apiKey
  return {
    binary,
    args: appServerArgs(options),
    env,
    cwd: options.cwd,
    killTimeout: Duration.fromInputUnsafe(options.killTimeout ?? Duration.seconds(2))
  } satisfies Command
})

/**
 * The error of a process that could not be started.
 *
 * @since 0.2.0
 * @category constructors
 */
export const spawnError = (command: Command, error: Error) =>
  new AppServerSpawnError({ command: `${command.binary} ${command.args.join(" ")}`, reason: error.message, cause: error })

/** Terminal escape sequences: CSI (colours, cursor moves) and OSC (titles, links), as codex's logs colour them. */
const ansiPattern = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-_]/g

/**
 * The last `options.stderrLines` (default 50) lines of stderr, as plain text: codex colours its logs even into
 * a pipe.
 *
 * @since 0.2.0
 * @category constructors
 */
export const stderrTail = (options: StdioOptions) => {
  const size = options.stderrLines ?? 50
  const lines: Array<string> = []
  return {
    push: (line: string) => {
      lines.push(line.replace(ansiPattern, ""))
      if (lines.length > size) lines.shift()
    },
    snapshot: (): ReadonlyArray<string> => [...lines]
  }
}

/**
 * Reports how the process exited, once its last stderr lines had `stderrDone` (at most 200 ms) to arrive.
 *
 * @since 0.2.0
 * @category utils
 */
export const reportExit = (
  exited: Deferred.Deferred<ExitInfo>,
  status: { readonly exitCode: number | null; readonly signal: string | null },
  stderrDone: Effect.Effect<unknown>,
  tail: { readonly snapshot: () => ReadonlyArray<string> }
): Effect.Effect<void> =>
  stderrDone.pipe(
    Effect.timeoutOption(Duration.millis(200)),
    Effect.andThen(Deferred.succeed(exited, { ...status, stderrTail: tail.snapshot(), reason: "process exited" })),
    Effect.asVoid
  )

/**
 * The first step of closing: end stdin and give the server `closeTimeout` (default 2 s) to exit by itself.
 * Signals, if it does not, are the next finalizer's.
 *
 * @since 0.2.0
 * @category utils
 */
export const endAndWait = (
  options: StdioOptions,
  endInput: Effect.Effect<unknown>,
  exited: Deferred.Deferred<ExitInfo>
): Effect.Effect<void> =>
  endInput.pipe(
    Effect.andThen(Deferred.await(exited)),
    Effect.timeoutOption(options.closeTimeout ?? Duration.seconds(2)),
    Effect.asVoid
  )

/**
 * `options` with what the environment sets and they do not, as a `Config`: `CODEX_HOME`, `OPENAI_API_KEY` (kept
 * redacted), and `CODEX_MODEL` (passed first as `-c model=...`). `CODEX_BIN` is read where the binary is found.
 *
 * @since 0.2.0
 * @category utils
 */
export const environmentConfig = <O extends StdioOptions>(options: O): Config.Config<O> =>
  Config.all({
    codexHome: Config.option(Config.String("CODEX_HOME")),
    apiKey: Config.option(Config.Redacted("OPENAI_API_KEY")),
    model: Config.option(Config.String("CODEX_MODEL"))
  }).pipe(Config.map(({ apiKey, codexHome, model }) => {
    const config = configEntries(options.config)
    return {
      ...options,
      ...(Option.isSome(codexHome) && options.codexHome === undefined ? { codexHome: codexHome.value } : {}),
      ...(Option.isSome(apiKey) && options.apiKey === undefined ? { apiKey: apiKey.value } : {}),
      config: Option.isSome(model) ? [`model=${JSON.stringify(model.value)}`, ...config] : config
    }
  }))
