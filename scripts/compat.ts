/**
 * Runs the offline integration tests against another codex release: `npm run compat -- <version>`.
 *
 * 1. `npm install --prefix <tmp> @openai/codex@<version>` (the native package is a few hundred MB);
 * 2. one handshake through the SDK with `CODEX_BIN` set to that binary (the lookup the tests use), which
 *    must report the same version in its `userAgent`: otherwise the run would test another binary;
 * 3. `vitest run` of the compat suite with that `CODEX_BIN`;
 * 4. prints one summary row: version, whether it is in `CodexVersion.supported`, passed and failed counts,
 *    the failed tests, and apart from them the failed tests of {@link pinnedBehaviour}. Exits 1 when any
 *    other test failed.
 *
 * The compat suite is every test of `test/` that runs the real binary: `test/codex`, `test/core`,
 * `test/faults.test.ts` and `test/examples.test.ts`. Not in it: `test/protocol` (the generated schemas
 * against the pinned 0.169.0 snapshot and its captured traffic: they run no binary, so another version
 * changes nothing there) and the unit tests of `packages/*` (in-memory fakes).
 *
 * Options: `--keep` leaves the install folder; `--dir <path>` installs there (and reuses an install of
 * the same version already there).
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { AppServer, CodexBinary, CodexVersion, NodeCodex } from "effect-codex"
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"

/** The test files of the compat suite (see the header). */
const compatSuite = ["test/codex", "test/core", "test/faults.test.ts", "test/examples.test.ts"]

/**
 * Tests of the suite that also assert codex 0.169.0's own behaviour, not only the SDK's: their failures are
 * reported in a column of their own. Each names what it depends on.
 */
const pinnedBehaviour: ReadonlyArray<{ readonly test: string; readonly dependsOn: string }> = [
  {
    test: "test/codex/threads.test.ts › thread lifecycle forks, lists, renames, archives and unarchives threads",
    dependsOn: "thread/list lists a fork before its first turn (0.169.0 does; 0.168.0 lists it only after one)"
  },
  {
    test:
      "test/examples.test.ts › examples, offline on the real codex binary error-handling-and-retry catches each tagged error and recovers by retrying",
    dependsOn: "the example prints codex's own error message for an unknown model, whose wording differs by release"
  }
]

const root = path.resolve(import.meta.dirname, "..")

const args = process.argv.slice(2)
const version = args.find((arg) => !arg.startsWith("--") && args[args.indexOf(arg) - 1] !== "--dir")
const keep = args.includes("--keep")
const dirArg = args.includes("--dir") ? args[args.indexOf("--dir") + 1] : undefined
if (version === undefined || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) {
  console.error("usage: npm run compat -- <version> [--keep] [--dir <path>]   (e.g. npm run compat -- 0.171.0)")
  process.exit(2)
}

const started = Date.now()
const seconds = (from: number) => `${Math.round((Date.now() - from) / 1000)} s`
const dir = dirArg === undefined ? mkdtempSync(path.join(tmpdir(), `effect-codex-compat-${version}-`)) : path.resolve(dirArg)
mkdirSync(dir, { recursive: true })

/** The version of `@openai/codex` installed in `dir`, if any. */
const installedVersion = (): string | undefined => {
  const file = path.join(dir, "node_modules", "@openai", "codex", "package.json")
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version : undefined
}

if (installedVersion() === version) {
  console.log(`compat ${version}: reusing the install in ${dir}`)
} else {
  console.log(`compat ${version}: npm install --prefix ${dir} @openai/codex@${version} ...`)
  const installStarted = Date.now()
  const install = spawnSync(
    "npm",
    ["install", "--prefix", dir, "--no-save", "--no-audit", "--no-fund", "--loglevel=error", `@openai/codex@${version}`],
    { stdio: "inherit" }
  )
  if (install.status !== 0) {
    console.error(`compat ${version}: npm install failed (exit ${install.status})`)
    process.exit(1)
  }
  console.log(`compat ${version}: installed in ${seconds(installStarted)}`)
}

const binary = Option.getOrUndefined(CodexBinary.bundled(path.join(dir, "package.json")))
if (binary === undefined || !existsSync(binary)) {
  console.error(`compat ${version}: no native codex binary for ${process.platform}-${process.arch} in ${dir}`)
  process.exit(1)
}
const env = { ...process.env, CODEX_BIN: binary }

// The handshake resolves the binary from CODEX_BIN, as every test does (CodexTest passes no codexPath).
process.env.CODEX_BIN = binary
const home = mkdtempSync(path.join(tmpdir(), "effect-codex-compat-home-"))
const userAgent = await Effect.runPromise(
  Effect.gen(function*() {
    const server = yield* AppServer.AppServer
    return server.metadata.userAgent
  }).pipe(
    Effect.provide(NodeCodex.layerAppServer({ codexHome: home, offline: true })),
    Effect.ensuring(Effect.sync(() => rmSync(home, { recursive: true, force: true })))
  )
)
const reported = CodexVersion.fromUserAgent(userAgent)
console.log(`compat ${version}: CODEX_BIN=${binary}\ncompat ${version}: userAgent ${userAgent}`)
if (reported !== version) {
  console.error(`compat ${version}: the server reports ${reported ?? "no version"}, not ${version}; stopping`)
  process.exit(1)
}

const results = path.join(dir, "vitest-results.json")
const testsStarted = Date.now()
spawnSync(
  "npx",
  // Absolute paths: vitest's filters match substrings, and "test/codex" alone would also pick up
  // packages/effect-codex/test/Codex.test.ts.
  [
    "vitest",
    "run",
    ...compatSuite.map((entry) => path.join(root, entry) + (entry.endsWith(".ts") ? "" : path.sep)),
    "--reporter=dot",
    "--reporter=json",
    `--outputFile.json=${results}`
  ],
  { cwd: root, env, stdio: "inherit" }
)

interface VitestJson {
  readonly numPassedTests: number
  readonly numFailedTests: number
  readonly testResults: ReadonlyArray<{
    readonly name: string
    readonly assertionResults: ReadonlyArray<{ readonly fullName: string; readonly status: string }>
  }>
}
if (!existsSync(results)) {
  console.error(`compat ${version}: vitest wrote no results`)
  process.exit(1)
}
const report = JSON.parse(readFileSync(results, "utf8")) as VitestJson
const tests = report.testResults.flatMap((file) =>
  file.assertionResults.map((test) => ({ name: `${path.relative(root, file.name)} › ${test.fullName}`, status: test.status }))
)
for (const { test } of pinnedBehaviour) {
  if (!tests.some((candidate) => candidate.name === test)) console.error(`compat ${version}: no test named "${test}"`)
}
const isPinned = (name: string) => pinnedBehaviour.some(({ test }) => test === name)
const failed = tests.filter((test) => test.status === "failed")
const sdkFailures = failed.filter((test) => !isPinned(test.name)).map((test) => test.name)
const pinnedFailures = failed.filter((test) => isPinned(test.name)).map((test) => test.name)
const list = (names: ReadonlyArray<string>) => names.length === 0 ? "none" : names.join("<br>")
console.log(
  `\ncompat ${version}: tests ran in ${seconds(testsStarted)}, ${seconds(started)} in all\n\n` +
    "| codex | in supported range | passed | failed | failed tests | failed tests of 0.169.0 behaviour |\n" +
    "| --- | --- | --- | --- | --- | --- |\n" +
    `| ${version} | ${CodexVersion.isSupported(version) ? "yes" : "no"} | ${report.numPassedTests} | ${report.numFailedTests} | ${
      list(sdkFailures)
    } | ${list(pinnedFailures)} |`
)
for (const { dependsOn, test } of pinnedBehaviour) {
  if (pinnedFailures.includes(test)) console.log(`\n${test}: depends on 0.169.0 behaviour: ${dependsOn}`)
}
if (!keep && dirArg === undefined) rmSync(dir, { recursive: true, force: true })
process.exit(sdkFailures.length === 0 ? 0 : 1)
