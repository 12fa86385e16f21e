/**
 * The packaging check (`npm run pack:check`, a step of `.ci/run`): the packages as a user gets them.
 *
 * `npm pack` every workspace package (prepack builds dist/), check what each tarball holds, then install the
 * tarballs with `effect` and `@effect/platform-node` from the registry into two consumer projects under the OS temp
 * dir, outside the workspace: one plain, one with `--omit=optional` (no bundled codex binary). Then:
 *   (a) plain `node`, no tsx, no loader, no workspace condition, runs one real offline turn through the testing kit
 *       (the real codex binary from the tarballs' dependencies, a MockModel on 127.0.0.1); in the `--omit=optional`
 *       consumer, `CodexBinary.find` fails with `AppServerNotFoundError`, and the same turn runs on `CODEX_BIN`;
 *   (b) `tsc --noEmit` passes on a consumer file under the strictest options (with `skipLibCheck: false`, so our
 *       .d.ts files are checked under the user's options too), and under `moduleResolution: Bundler`; the file
 *       asserts at the type level that `Effect.catchTag([...])` removes exactly the caught tags;
 *   (c) the consumer holds exactly one copy of `effect`.
 * It prints figures, not assertions: consumer tsc time with and without our packages, esbuild bundle sizes of a
 * minimal app, install sizes with and without the binary, and its own duration.
 *
 *   npm run pack:check [-- --keep]      --keep leaves the temp dir (tarballs, consumers) for inspection
 */
import { type ChildProcess, spawn } from "node:child_process"
import { gzipSync } from "node:zlib"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { build } from "esbuild"

const ROOT = path.resolve(import.meta.dirname, "..")
const started = performance.now()
const keep = process.argv.includes("--keep")

/** A failed check: the message says what a user would hit. */
class CheckFailed extends Error {}

const check = (ok: boolean, what: string, detail = ""): void => {
  if (!ok) throw new CheckFailed(`${what}${detail === "" ? "" : `\n${detail}`}`)
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/**
 * The environment of everything run as the consumer: without NODE_OPTIONS (the workspace's .npmrc puts the
 * "@effect-codex/source" condition there), npm's own variables, the workspace's node_modules/.bin on PATH, or a
 * CODEX_BIN of the developer's.
 */
const consumerEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key === "NODE_OPTIONS" || key === "CODEX_BIN" || key.toLowerCase().startsWith("npm_")) continue
    env[key] = value
  }
  env["PATH"] = (process.env["PATH"] ?? "")
    .split(path.delimiter)
    .filter((dir) => dir !== "" && path.relative(ROOT, path.resolve(dir)).startsWith(".."))
    .join(path.delimiter)
  return { ...env, ...extra }
}

interface RunOptions {
  readonly cwd: string
  readonly env: NodeJS.ProcessEnv
  /** Exit codes that are not a failure (default: 0). */
  readonly accept?: ReadonlyArray<number>
}

interface RunResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

const children = new Set<ChildProcess>()

const run = (what: string, file: string, args: ReadonlyArray<string>, options: RunOptions): Promise<RunResult> =>
  new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(file, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] })
    children.add(child)
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("error", (error) => {
      children.delete(child)
      reject(new CheckFailed(`${what}: cannot run ${file}: ${error.message}`))
    })
    child.on("close", (code, signal) => {
      children.delete(child)
      const result = { code: code ?? -1, stdout, stderr, ms: performance.now() - t0 }
      if ((options.accept ?? [0]).includes(result.code)) return resolve(result)
      reject(
        new CheckFailed(
          `${what}: \`${[file, ...args].join(" ")}\` in ${options.cwd} ended with ${signal ?? `exit code ${code}`}\n` +
            `--- stdout\n${stdout.trimEnd()}\n--- stderr\n${stderr.trimEnd()}`
        )
      )
    })
  })

/** npm on this Node (the workspace's Node 24 under `npm run`), else `npm` from PATH. */
const npm = (args: ReadonlyArray<string>): readonly [string, ReadonlyArray<string>] => {
  const cli = process.env["npm_execpath"]
  return cli !== undefined && /npm-cli\.js$/.test(cli) ? [process.execPath, [cli, ...args]] : ["npm", args]
}

/**
 * Type-checks one project of the consumer in a fresh process, with the workspace's TypeScript (the consumer's
 * files and node_modules; nothing is emitted), and reports that process's CPU and wall time.
 */
const TYPE_CHECK_MJS = `import * as path from "node:path"
const [typescript, dir, project] = process.argv.slice(2)
const ts = (await import(typescript)).default
const cpu = process.cpuUsage()
const wall = performance.now()
const config = ts.parseJsonConfigFileContent(ts.readConfigFile(path.join(dir, project), ts.sys.readFile).config, ts.sys, dir)
const program = ts.createProgram({ rootNames: config.fileNames, options: config.options })
const diagnostics = ts.getPreEmitDiagnostics(program)
const used = process.cpuUsage(cpu)
const declarations = program.getSourceFiles().filter((file) => file.isDeclarationFile)
const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => dir, getNewLine: () => "\\n" }
console.log(JSON.stringify({
  cpuMs: (used.user + used.system) / 1000,
  wallMs: performance.now() - wall,
  files: declarations.length,
  lines: declarations.reduce((sum, file) => sum + file.getLineStarts().length, 0),
  types: program.getTypeCount(),
  errors: ts.formatDiagnostics(diagnostics, host)
}))
`

interface TypeCheck {
  readonly cpuMs: number
  readonly wallMs: number
  /** Declaration files in the program, their lines, and the types the checker created. */
  readonly files: number
  readonly lines: number
  readonly types: number
}

const typeCheck = async (dir: string, project: string): Promise<TypeCheck> => {
  const helper = path.join(dir, "..", "type-check.mjs")
  if (!fs.existsSync(helper)) fs.writeFileSync(helper, TYPE_CHECK_MJS)
  const typescript = pathToFileURL(path.join(ROOT, "node_modules", "typescript", "lib", "typescript.js")).href
  const { stdout } = await run(`tsc -p ${project}`, process.execPath, [helper, typescript, dir, project], {
    cwd: dir,
    env: consumerEnv()
  })
  const result = JSON.parse(stdout) as TypeCheck & { readonly errors: string }
  check(result.errors === "", `tsc -p ${project} fails in ${dir}:`, result.errors)
  return result
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

const readJson = (file: string): Record<string, unknown> => JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>

/** Total size of the files under `dir` (symlinks not followed), in bytes. */
const treeSize = (dir: string): number =>
  fs.readdirSync(dir, { withFileTypes: true }).reduce((total, entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return total + treeSize(full)
    return total + (entry.isFile() ? fs.lstatSync(full).size : 0)
  }, 0)

/** Every installed package.json named `name` under `dir`/node_modules, at any depth. */
const installedCopies = (dir: string, name: string): Array<string> => {
  const found: Array<string> = []
  const walk = (nodeModules: string): void => {
    if (!fs.existsSync(nodeModules)) return
    for (const entry of fs.readdirSync(nodeModules, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue
      const packageDirs = entry.name.startsWith("@")
        ? fs.readdirSync(path.join(nodeModules, entry.name)).map((sub) => path.join(nodeModules, entry.name, sub))
        : [path.join(nodeModules, entry.name)]
      for (const packageDir of packageDirs) {
        const manifest = path.join(packageDir, "package.json")
        if (fs.existsSync(manifest) && readJson(manifest)["name"] === name) found.push(path.relative(dir, packageDir))
        walk(path.join(packageDir, "node_modules"))
      }
    }
  }
  walk(path.join(dir, "node_modules"))
  return found
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`
const kb = (bytes: number): string => `${(bytes / 1e3).toFixed(0)} kB`
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`
const step = (title: string): void => console.log(`\n-- ${title}`)

// ---------------------------------------------------------------------------
// The consumer project
// ---------------------------------------------------------------------------

/** A user's app in plain ESM JavaScript: one real turn through the testing kit, reported as JSON on stdout. */
const APP = `// One real offline turn: the codex binary, a MockModel on 127.0.0.1, the published packages only.
import { Effect } from "effect"
import { CodexBinary, Codex } from "effect-codex"
import { CodexTest, MockModel } from "@effect-codex/testing"
import { CodexThread } from "@effect-codex/cluster"

const expected = process.argv[2]
const program = Effect.gen(function*() {
  const binary = yield* CodexBinary.find()
  const mock = yield* MockModel.MockModel
  yield* mock.enqueue(MockModel.text(expected))
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart()
  const result = yield* thread.run("Answer with the scripted words.")
  return {
    binary,
    status: result.status,
    answer: result.finalResponse,
    modelCalls: (yield* mock.responsesRequests).length,
    entity: CodexThread.CodexThread.type
  }
})
const outcome = await Effect.runPromise(program.pipe(Effect.provide(CodexTest.layer())))
const resolved = Object.fromEntries(
  ["effect", "effect-codex", "@effect-codex/testing", "@effect-codex/protocol", "@effect-codex/cluster", "@effect/sql-pg"].map((name) => [name, import.meta.resolve(name)])
)
console.log(JSON.stringify({ ...outcome, resolved }))
`

/** Where the binary would be found, without running it: the error's tag and what was searched, as JSON. */
const FIND = `import { Effect } from "effect"
import { CodexBinary } from "effect-codex"

const result = await Effect.runPromise(
  CodexBinary.find().pipe(Effect.map((binary) => ({ binary })), Effect.catch((error) => Effect.succeed({ error })))
)
console.log(JSON.stringify(result))
`

/** The README's examples, type-checked as a user writes them, plus type-level assertions. */
const CONSUMER_TS = `import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Redacted, Schema, Stream } from "effect"
import { LanguageModel, Tool, Toolkit } from "effect/ai"
import { Approvals, Codex, Errors, NodeCodex, Retry } from "effect-codex"
import { CodexTest, MockModel } from "@effect-codex/testing"
import { CodexLanguageModel, CodexTools } from "@effect-codex/ai"
import { CodexCluster, CodexRunner } from "@effect-codex/cluster"
import type { ThreadStartParams } from "@effect-codex/protocol"
import { PgClient } from "@effect/sql-pg"

const program = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart({ sandbox: Codex.Sandbox.readOnly })
  yield* thread.stream("Explain this repository in three sentences").pipe(
    Stream.runForEach((event) =>
      event._tag === "Notification" && event.method === "item/agentMessage/delta"
        ? Console.log(event.params.delta)
        : Effect.void
    )
  )
  const result = yield* thread.run("Now in one sentence")
  yield* Console.log(result.finalResponse, result.usage?.total.totalTokens)
})

const approvals = Approvals.layer({
  "item/commandExecution/requestApproval": (params) =>
    Effect.succeed({ decision: params.command?.startsWith("ls") ? "accept" : "decline" })
})
const params: ThreadStartParams = { sandbox: Codex.Sandbox.readOnly }
const live = NodeCodex.layer({ codexPath: "/usr/local/bin/codex", config: { model: '"gpt-5.5"' } }).pipe(
  Layer.provide(approvals)
)
export const main = (): void => program.pipe(Effect.provide(NodeCodex.layerFromEnv()), NodeRuntime.runMain)
export const withOptions = program.pipe(Effect.provide(live))

const listed = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  yield* codex.threadStart(params)
  return yield* codex.threadList().pipe(Retry.retryOnOverload({ maxAttempts: 6 }))
})
const answered = Effect.gen(function*() {
  const mock = yield* MockModel.MockModel
  yield* mock.enqueue(MockModel.text("Hello"))
  return (yield* (yield* (yield* Codex.Codex).threadStart()).run("Hi")).finalResponse
}).pipe(Effect.provide(CodexTest.layer()))
export const answer: Promise<string | null> = Effect.runPromise(answered)

// Effect.catchTag with two tags removes exactly those two from the error channel, and the handler sees just them.
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
type Caught = Errors.ServerBusyError | Errors.InvalidParamsError
const request = Effect.gen(function*() {
  const codex = yield* Codex.Codex
  return yield* codex.threadList()
})
const handled = request.pipe(
  Effect.catchTag(["ServerBusyError", "InvalidParamsError"], (error) => Effect.succeed(error._tag))
)
export const typeAssertions: [
  before: Equals<Effect.Error<typeof request>, Errors.RequestError>,
  bothThere: Equals<Extract<Effect.Error<typeof request>, Caught>, Caught>,
  after: Equals<Effect.Error<typeof handled>, Exclude<Errors.RequestError, Caught>>,
  success: Equals<Effect.Success<typeof handled>, Effect.Success<typeof request> | Caught["_tag"]>
] = [true, true, true, true]
export { listed }

// @effect-codex/ai, as its README shows it.
const Weather = Tool.make("weather", {
  description: "Today's weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.String
})
const tools = Toolkit.make(Weather)
const toolHandlers = tools.toLayer({ weather: ({ city }) => Effect.succeed(\`Sunny in \${city}\`) })
export const withTools = program.pipe(
  Effect.provide(CodexTools.layerCodex(tools).pipe(
    Layer.provide(toolHandlers),
    Layer.provide(Approvals.layer({ ...CodexTools.approveToolCalls("effect") }))
  ))
)
const Capital = Schema.Struct({ country: Schema.String, capital: Schema.String })
export const capital = LanguageModel.generateObject({ prompt: "The capital of France?", schema: Capital }).pipe(
  Effect.map((response) => response.value.capital),
  Effect.provide(CodexLanguageModel.layer({ turn: { effort: "low" } }).pipe(Layer.provide(NodeCodex.layer())))
)
`

/** @effect-codex/cluster, as its README shows it (appended to CONSUMER_TS). */
const CONSUMER_CLUSTER_TS = `
const database = PgClient.layer({ url: Redacted.make("postgres://codex@db.internal/codex") })
export const runner = CodexRunner.layer({ codexHome: "/var/lib/codex-runner-1", host: "10.0.0.5", port: 34431 }).pipe(
  Layer.provide(database)
)
const turn = Effect.gen(function*() {
  const cluster = yield* CodexCluster.CodexCluster
  const result = yield* cluster.conversation("customer-42").runTurn("Summarise the ticket", { turnKey: "ticket-1" })
  return result.finalResponse
}).pipe(Effect.catchTag("TurnCutError", (cut) => Effect.succeed(\`cut on \${cut.runner}\`)))
export const clustered = turn.pipe(Effect.provide(CodexCluster.layerClient().pipe(Layer.provide(database))))
`

/** The tsc-time figure: a minimal program on effect, and the same importing and using our packages. */
const TIMING_EFFECT_TS = `import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"

export const main = (): void => Effect.log("hello").pipe(NodeRuntime.runMain)
`
const TIMING_OURS_TS = `import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { NodeCodex } from "effect-codex"
import { CodexTest } from "@effect-codex/testing"

export const main = (): void => Effect.log("hello").pipe(NodeRuntime.runMain)
export const live = NodeCodex.layer()
export const test = CodexTest.layer()
`

/** What a user's bundler sees: a minimal app on `NodeCodex.layer`. */
const BUNDLE_APP = `import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { Codex, NodeCodex } from "effect-codex"

Effect.gen(function*() {
  const codex = yield* Codex.Codex
  const thread = yield* codex.threadStart()
  yield* Console.log((yield* thread.run("Hello")).finalResponse)
}).pipe(Effect.provide(NodeCodex.layer()), NodeRuntime.runMain)
`

const STRICTEST = {
  target: "ES2023",
  // "DOM" for the WebCrypto types (CryptoKey, JsonWebKey, Transferable) that effect's own .d.ts files name: without
  // it, skipLibCheck: false fails in effect, not in our packages.
  lib: ["ES2023", "DOM"],
  types: ["node"],
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  noPropertyAccessFromIndexSignature: true,
  noImplicitOverride: true,
  noImplicitReturns: true,
  noFallthroughCasesInSwitch: true,
  noUnusedLocals: true,
  noUnusedParameters: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  // Checked, not skipped: our .d.ts files must hold under the user's options, not only under ours.
  skipLibCheck: false,
  noEmit: true
}

const writeConsumer = (dir: string, tarballs: Record<string, string>): void => {
  fs.mkdirSync(dir, { recursive: true })
  const typesNode = readJson(path.join(ROOT, "node_modules", "@types", "node", "package.json"))["version"]
  const manifest = {
    name: "effect-codex-consumer",
    private: true,
    type: "module",
    dependencies: {
      ...Object.fromEntries(Object.entries(tarballs).map(([name, file]) => [name, `file:${file}`])),
      effect: "^4.1.0",
      "@effect/platform-node": "^4.1.0",
      // The cluster's README has users build their SqlClient with it (the cluster package depends on it too).
      "@effect/sql-pg": String((readJson(path.join(ROOT, "packages", "cluster", "package.json"))["dependencies"] as Record<string, string>)["@effect/sql-pg"])
    },
    devDependencies: { "@types/node": String(typesNode) }
  }
  const tsconfig = (compilerOptions: object, file: string) => JSON.stringify({ compilerOptions, files: [file] }, null, 2)
  const files: Record<string, string> = {
    "package.json": JSON.stringify(manifest, null, 2),
    "app.mjs": APP,
    "find.mjs": FIND,
    "consumer.ts": CONSUMER_TS + CONSUMER_CLUSTER_TS,
    "timing-effect.ts": TIMING_EFFECT_TS,
    "timing-ours.ts": TIMING_OURS_TS,
    "bundle-app.mjs": BUNDLE_APP,
    "tsconfig.json": tsconfig({ ...STRICTEST, module: "NodeNext" }, "consumer.ts"),
    // The .d.ts files were checked by the one above: these check resolution, and time the user's usual setting.
    "tsconfig.bundler.json": tsconfig(
      { ...STRICTEST, module: "Preserve", moduleResolution: "Bundler", skipLibCheck: true },
      "consumer.ts"
    ),
    "tsconfig.timing-ours.json": tsconfig({ ...STRICTEST, module: "NodeNext", skipLibCheck: true }, "timing-ours.ts"),
    "tsconfig.timing-effect.json": tsconfig({ ...STRICTEST, module: "NodeNext", skipLibCheck: true }, "timing-effect.ts")
  }
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text)
}

// ---------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------

interface PackEntry {
  readonly name: string
  readonly filename: string
  readonly size: number
  readonly unpackedSize: number
  readonly files: ReadonlyArray<{ readonly path: string }>
}

interface AppOutcome {
  readonly binary: string
  readonly status: string
  readonly answer: string | null
  readonly modelCalls: number
  /** The entity type of `@effect-codex/cluster`'s `CodexThread`: the cluster package loads. */
  readonly entity: string
  readonly resolved: Record<string, string>
}

const PLATFORM_PACKAGE = `@openai/codex-${process.platform}-${process.arch}`

const main = async (): Promise<void> => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "effect-codex-pack-check-"))
  console.log(`pack:check in ${tmp}${keep ? " (kept)" : ""}`)
  try {
    // -- npm pack (prepack builds dist/) and what each tarball holds
    step("npm pack --workspaces")
    const tarDir = path.join(tmp, "tarballs")
    fs.mkdirSync(tarDir)
    const [npmFile, npmArgs] = npm(["pack", "--workspaces", "--pack-destination", tarDir, "--json", "--loglevel=warn"])
    const packed = JSON.parse((await run("npm pack", npmFile, npmArgs, { cwd: ROOT, env: process.env })).stdout) as Array<PackEntry>
    check(packed.length === 5, `npm pack made ${packed.length} tarballs, expected 5`)
    const tarballs: Record<string, string> = {}
    for (const entry of packed) {
      const files = entry.files.map((f) => f.path)
      const sources = files.filter((f) => f.startsWith("src/"))
      const missing = [
        "LICENSE",
        "README.md",
        "package.json",
        "dist/index.js",
        ...sources.flatMap((f) => {
          const base = f.slice("src/".length, -".ts".length)
          return [`dist/${base}.js`, `dist/${base}.js.map`, `dist/${base}.d.ts`, `dist/${base}.d.ts.map`]
        })
      ].filter((f) => !files.includes(f))
      check(missing.length === 0, `${entry.name}: the tarball lacks ${missing.join(", ")}`)
      const unwanted = files.filter((f) => /(^|\/)(test|schema)\//.test(f) || /\.test\.ts$|tsbuildinfo$/.test(f))
      check(unwanted.length === 0, `${entry.name}: the tarball holds files no user needs: ${unwanted.join(", ")}`)
      tarballs[entry.name] = path.join(tarDir, entry.filename)
      console.log(`${entry.name}: ${entry.files.length} files, ${kb(entry.size)} packed, ${kb(entry.unpackedSize)} unpacked`)
    }

    // -- two consumers outside the workspace: with the bundled binary and without (--omit=optional)
    step("install the tarballs into consumers outside the workspace")
    const consumer = path.join(tmp, "consumer")
    const noBinary = path.join(tmp, "consumer-omit-optional")
    writeConsumer(consumer, tarballs)
    writeConsumer(noBinary, tarballs)
    const install = (dir: string, extra: ReadonlyArray<string>) => {
      const [file, args] = npm(["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...extra])
      return run(`npm install in ${path.basename(dir)}`, file, args, { cwd: dir, env: consumerEnv() })
    }
    const [full, omitted] = await Promise.all([install(consumer, []), install(noBinary, ["--omit=optional"])])
    console.log(`installed in ${seconds(full.ms)} (with the binary) and ${seconds(omitted.ms)} (--omit=optional), in parallel`)

    for (const name of Object.keys(tarballs)) {
      const dir = path.join(consumer, "node_modules", name)
      const manifest = readJson(path.join(dir, "package.json"))
      const dependencies = (manifest["dependencies"] ?? {}) as Record<string, string>
      const peers = (manifest["peerDependencies"] ?? {}) as Record<string, string>
      check(manifest["license"] === "Apache-2.0", `${name}: license is ${String(manifest["license"])}, expected Apache-2.0`)
      check(
        fs.readFileSync(path.join(dir, "LICENSE")).equals(fs.readFileSync(path.join(ROOT, "LICENSE"))),
        `${name}: its LICENSE differs from the repository's LICENSE`
      )
      check(
        dependencies["effect"] === undefined && peers["effect"] !== undefined,
        `${name}: effect must be a peer dependency, not a dependency`
      )
    }

    // -- (c) exactly one copy of effect
    step("(c) one copy of effect")
    for (const dir of [consumer, noBinary]) {
      const copies = installedCopies(dir, "effect")
      check(copies.length === 1, `${path.basename(dir)} holds ${copies.length} copies of effect`, copies.join("\n"))
      console.log(`${path.basename(dir)}: effect ${readJson(path.join(dir, copies[0]!, "package.json"))["version"]} at ${copies[0]}`)
    }

    // -- (b), first part: the strictest check reads every .d.ts (effect's too) and takes a while: it runs alongside (a)
    const strict = typeCheck(consumer, "tsconfig.json")
    const bundler = typeCheck(consumer, "tsconfig.bundler.json")
    strict.catch(() => {}) // both awaited below; a failure is reported there, after (a)
    bundler.catch(() => {})

    // -- (a) plain node runs a turn
    step("(a) plain node runs one offline turn through the testing kit")
    const expected = "Hello from the packed tarballs"
    const runApp = async (dir: string, env: NodeJS.ProcessEnv): Promise<AppOutcome> => {
      const result = await run(`node app.mjs in ${path.basename(dir)}`, process.execPath, ["app.mjs", expected], { cwd: dir, env })
      const outcome = JSON.parse(result.stdout.trim().split("\n").at(-1)!) as AppOutcome
      check(
        outcome.status === "completed" && outcome.answer === expected && outcome.modelCalls === 1 &&
          outcome.entity === "CodexThread",
        `${path.basename(dir)}: the turn did not give the scripted answer`,
        JSON.stringify(outcome, null, 2)
      )
      for (const [name, url] of Object.entries(outcome.resolved)) {
        const file = new URL(url).pathname
        check(
          file.startsWith(path.join(dir, "node_modules") + path.sep) && file.endsWith(".js"),
          `${path.basename(dir)}: ${name} resolved to ${file}, not to the installed package's JavaScript`
        )
      }
      console.log(`${path.basename(dir)}: ${process.version}, ${seconds(result.ms)}, answer ${JSON.stringify(outcome.answer)}, binary ${outcome.binary}`)
      return outcome
    }
    const bundled = await runApp(consumer, consumerEnv())
    check(
      bundled.binary.startsWith(path.join(consumer, "node_modules", PLATFORM_PACKAGE) + path.sep),
      `the turn did not run the binary of ${PLATFORM_PACKAGE} installed with effect-codex`,
      bundled.binary
    )

    step("--omit=optional: no bundled binary; CODEX_BIN runs your own")
    check(
      !fs.existsSync(path.join(noBinary, "node_modules", PLATFORM_PACKAGE)) &&
        fs.existsSync(path.join(noBinary, "node_modules", "@openai", "codex")),
      `--omit=optional installed ${PLATFORM_PACKAGE} anyway (or left out @openai/codex)`
    )
    // With the consumer's node_modules/.bin on PATH, as `npm run` and `npx` put it: the @openai/codex launcher
    // there cannot run without its platform package, so it is skipped, not run.
    const found = await run("node find.mjs", process.execPath, ["find.mjs"], {
      cwd: noBinary,
      env: consumerEnv({ PATH: path.join(noBinary, "node_modules", ".bin") })
    })
    const lookup = JSON.parse(found.stdout.trim()) as { binary?: string; error?: { _tag: string; searched: Array<string> } }
    const notFound = lookup.error
    check(
      notFound?._tag === "AppServerNotFoundError",
      "without the platform package, with only @openai/codex's launcher on PATH, CodexBinary.find did not fail with AppServerNotFoundError",
      found.stdout
    )
    check(
      notFound?.searched.some((entry) => entry.includes("skipped: the @openai/codex launcher")) === true,
      "CodexBinary.find did not say that it skipped the @openai/codex launcher on PATH",
      found.stdout
    )
    console.log(`without a binary: ${notFound?._tag}, searched:\n  ${notFound?.searched.join("\n  ")}`)
    // A launcher whose platform package is installed (here the other consumer's, as a global install would be):
    // its native binary is the one found.
    const viaLauncher = await run("node find.mjs", process.execPath, ["find.mjs"], {
      cwd: noBinary,
      env: consumerEnv({ PATH: path.join(consumer, "node_modules", ".bin") })
    })
    const launched = JSON.parse(viaLauncher.stdout.trim()) as { binary?: string }
    check(
      launched.binary === bundled.binary,
      "the @openai/codex launcher on PATH did not lead to its native binary",
      viaLauncher.stdout
    )
    const own = await runApp(noBinary, consumerEnv({ CODEX_BIN: bundled.binary }))
    check(own.binary === bundled.binary, "CODEX_BIN was not the binary used", own.binary)

    // -- (b) the strictest consumer type-checks; figures: tsc time with and without our packages
    step("(b) tsc --noEmit under the strictest options")
    console.log(`consumer.ts, NodeNext, skipLibCheck: false: passes (${seconds((await strict).wallMs)}, alongside (a))`)
    console.log(`consumer.ts, Bundler, skipLibCheck: true: passes (${seconds((await bundler).wallMs)}, alongside (a))`)
    // Figures: the common skipLibCheck: true, best of three programs each, alternated. CPU time, not wall time: the
    // machine is shared, and CPU time is what our declarations cost (each check in a fresh process).
    const best = { with: Infinity, without: Infinity, withWall: Infinity, withoutWall: Infinity }
    let sizes: readonly [TypeCheck, TypeCheck] | undefined
    for (let round = 0; round < 3; round++) {
      const without = await typeCheck(consumer, "tsconfig.timing-effect.json")
      const withOurs = await typeCheck(consumer, "tsconfig.timing-ours.json")
      sizes = [without, withOurs]
      best.with = Math.min(best.with, withOurs.cpuMs)
      best.without = Math.min(best.without, without.cpuMs)
      best.withWall = Math.min(best.withWall, withOurs.wallMs)
      best.withoutWall = Math.min(best.withoutWall, without.wallMs)
    }
    console.log(`tsc of a minimal program, skipLibCheck: true, best of 3 (CPU time; wall time in brackets):`)
    console.log(`  on effect alone:                       ${seconds(best.without)} (${seconds(best.withoutWall)})`)
    console.log(`  also using effect-codex + testing kit: ${seconds(best.with)} (${seconds(best.withWall)})`)
    console.log(`  overhead of our packages:              ${seconds(best.with - best.without)} (${seconds(best.withWall - best.withoutWall)})`)
    if (sizes !== undefined) {
      const [without, withOurs] = sizes
      console.log(`  declarations: ${without.files} files, ${without.lines} lines; with ours ${withOurs.files} files, ` +
        `${withOurs.lines} lines (+${(100 * (withOurs.lines / without.lines - 1)).toFixed(1)}%); types created: ` +
        `${without.types} and ${withOurs.types}`)
    }

    // -- figures: bundle sizes and install sizes
    step("figures")
    const bundle = async (external: ReadonlyArray<string>) => {
      const result = await build({
        entryPoints: [path.join(consumer, "bundle-app.mjs")],
        absWorkingDir: consumer,
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node22",
        minify: true,
        write: false,
        metafile: true,
        logLevel: "silent",
        external: [...external]
      })
      const text = result.outputFiles[0]!.contents
      const ours = Object.entries(Object.values(result.metafile.outputs)[0]!.inputs)
        .filter(([input]) => /node_modules\/(effect-codex|@effect-codex\/protocol)\//.test(input))
        .reduce((sum, [, info]) => sum + info.bytesInOutput, 0)
      return `${kb(text.length)} (${kb(gzipSync(text).length)} gzipped; effect-codex + protocol: ${kb(ours)})`
    }
    console.log(`esbuild bundle, minified, of a minimal NodeCodex.layer app:`)
    console.log(`  everything bundled:                     ${await bundle([])}`)
    console.log(`  effect, @effect/platform-node external: ${await bundle(["effect", "effect/*", "@effect/platform-node", "@effect/platform-node/*"])}`)
    const nativeSize = treeSize(path.join(consumer, "node_modules", PLATFORM_PACKAGE))
    console.log(`install size (node_modules): ${mb(treeSize(path.join(consumer, "node_modules")))} with the binary ` +
      `(${PLATFORM_PACKAGE}: ${mb(nativeSize)}), ${mb(treeSize(path.join(noBinary, "node_modules")))} with --omit=optional`)
    console.log(`\npack:check passed in ${seconds(performance.now() - started)}`)
  } finally {
    for (const child of children) child.kill("SIGKILL")
    if (!keep) fs.rmSync(tmp, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(`\npack:check FAILED: ${error instanceof CheckFailed ? error.message : String(error)}`)
  process.exitCode = 1
})
