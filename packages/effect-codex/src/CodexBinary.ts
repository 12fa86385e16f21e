/**
 * Finding the `codex` executable: an explicit path, then `CODEX_BIN`, then the native binary bundled
 * with the pinned `@openai/codex` npm package, then `codex` on `PATH`.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { accessSync, constants, realpathSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { AppServerNotFoundError } from "./Errors.js"

/** Rust target triples of the platform packages `@openai/codex` ships, by `process.platform`/`process.arch`. */
const targetTriples: Record<string, string> = {
  "linux-x64": "x86_64-unknown-linux-musl",
  "android-x64": "x86_64-unknown-linux-musl",
  "linux-arm64": "aarch64-unknown-linux-musl",
  "android-arm64": "aarch64-unknown-linux-musl",
  "darwin-x64": "x86_64-apple-darwin",
  "darwin-arm64": "aarch64-apple-darwin",
  "win32-x64": "x86_64-pc-windows-msvc",
  "win32-arm64": "aarch64-pc-windows-msvc"
}

const executableName = process.platform === "win32" ? "codex.exe" : "codex"

const isExecutable = (file: string): boolean => {
  try {
    accessSync(file, constants.X_OK)
    return statSync(file).isFile()
  } catch {
    return false
  }
}

/**
 * The native binary inside the `@openai/codex` platform package for this platform, as Node resolves it
 * from `from` (a file or directory URL or path; default: this SDK's own installation). `none` when the
 * package or its platform package is not installed. The file is not checked.
 *
 * @example
 * ```ts
 * import { CodexBinary } from "effect-codex"
 *
 * // The binary of an `npm install --prefix /tmp/codex-0.171.0 @openai/codex@0.171.0`:
 * const binary = CodexBinary.bundled("/tmp/codex-0.171.0/")
 * ```
 * @since 0.2.0
 * @category utils
 */
export const bundled = (from: string | URL = import.meta.url): Option.Option<string> => {
  const key = `${process.platform === "android" ? "linux" : process.platform}-${process.arch}`
  const triple = targetTriples[`${process.platform}-${process.arch}`]
  if (triple === undefined) return Option.none()
  try {
    const codexPackage = createRequire(from).resolve("@openai/codex/package.json")
    const platformPackage = createRequire(codexPackage).resolve(`@openai/codex-${key}/package.json`)
    return Option.some(path.join(path.dirname(platformPackage), "vendor", triple, "bin", executableName))
  } catch {
    return Option.none()
  }
}

/**
 * Options for {@link find}.
 *
 * @since 0.1.0
 * @category models
 */
export interface FindOptions {
  /** An explicit path to the codex executable; when given, nothing else is tried. */
  readonly codexPath?: string | undefined
}

/**
 * Resolves the codex executable: `codexPath` > env `CODEX_BIN` > the bundled `@openai/codex` binary >
 * `codex` on `PATH`. Fails with `AppServerNotFoundError` listing every place tried. A `codexPath` or a
 * (non-empty) `CODEX_BIN` is the only place tried: when it is missing or not executable, that is the
 * error, never a silent fall-back to another binary.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CodexBinary } from "effect-codex"
 *
 * const program = CodexBinary.find().pipe(Effect.tap((file) => Effect.log(`using ${file}`)))
 * ```
 * @since 0.1.0
 * @category constructors
 */
export const find: (options?: FindOptions) => Effect.Effect<string, AppServerNotFoundError> = Effect.fn(
  "CodexBinary.find"
)(function*(options: FindOptions = {}) {
  const searched: Array<string> = []
  const attempt = (file: string, source: string): Option.Option<string> => {
    searched.push(`${file} (${source})`)
    return isExecutable(file) ? Option.some(path.resolve(file)) : Option.none()
  }
  /** An explicit choice is the only place tried. */
  const only = (file: string, source: string) =>
    Option.match(attempt(file, source), {
      onNone: () => Effect.fail(new AppServerNotFoundError({ searched })),
      onSome: Effect.succeed
    })
  if (options.codexPath !== undefined) return yield* only(options.codexPath, "option codexPath")
  const fromEnv = yield* Config.option(Config.String("CODEX_BIN")).pipe(Effect.orElseSucceed(() => Option.none()))
  if (Option.isSome(fromEnv) && fromEnv.value !== "") return yield* only(fromEnv.value, "env CODEX_BIN")
  const bundledFile = bundled()
  if (Option.isSome(bundledFile)) {
    const found = attempt(bundledFile.value, "bundled @openai/codex")
    if (Option.isSome(found)) return found.value
  } else {
    searched.push(`@openai/codex for ${process.platform}-${process.arch} (not installed)`)
  }
  const pathVariable = yield* Config.String("PATH").pipe(Config.withDefault(""), Effect.orElseSucceed(() => ""))
  for (const dir of pathVariable.split(path.delimiter).filter((entry) => entry !== "")) {
    const found = attempt(path.join(dir, executableName), "PATH")
    if (Option.isNone(found)) continue
    const launcher = npmLauncher(found.value)
    if (Option.isNone(launcher)) return found.value
    // npm's `codex` launcher: run the native binary it would run, or go on when it has none.
    const native = Option.flatMap(bundled(launcher.value), (file) => attempt(file, `native binary of ${found.value}`))
    if (Option.isSome(native)) return native.value
    searched.push(`${found.value} skipped: the @openai/codex launcher without its platform package`)
  }
  return yield* new AppServerNotFoundError({ searched })
})

/**
 * The `@openai/codex` package directory when `file` is its npm launcher (`bin/codex.js`, linked as
 * `node_modules/.bin/codex`): that script only starts the native binary of the platform package, and fails when
 * that package was not installed (`npm install --omit=optional`).
 */
const npmLauncher = (file: string): Option.Option<string> => {
  try {
    const real = realpathSync(file)
    return /[\\/]@openai[\\/]codex[\\/]bin[\\/]codex\.js$/.test(real)
      ? Option.some(path.dirname(path.dirname(real)) + path.sep)
      : Option.none()
  } catch {
    return Option.none()
  }
}
