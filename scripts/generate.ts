/**
 * Generates the `@effect-codex/protocol` package (everything under generated/) from the pinned codex binary.
 *
 *   npm run generate          regenerate generated/ in place
 *   npm run generate:check    regenerate in memory/temp and compare with generated/ (exit 1 on drift)
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { experimentalSurface, type ExperimentalSurface, renderExperimental } from "./generate/experimental.js"
import { renderGuards } from "./generate/guards.js"
import { GenerateError, type Json } from "./generate/ir.js"
import { CLIENT_RESPONSE_EXCEPTIONS, EXPERIMENTAL_CLIENT_RESPONSE_EXCEPTIONS } from "./generate/methods.js"
import { type BuildOptions, buildModel, BUNDLE_FILE, type Model } from "./generate/model.js"
import { checkOfficialTypes, compareFieldNames, compareMethods, type OfficialTypesCheck } from "./generate/officialTypes.js"
import { applyPatches, patchesFor, SCHEMA_PATCHES, type SchemaPatch } from "./generate/patches.js"
import { renderFallbacks, renderIndex, renderMethods, renderPackageJson, renderReadme, renderSchemas } from "./generate/render.js"

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const GENERATED_DIR = path.join(REPO_ROOT, "generated")
/** Directories under generated/ that the generator neither writes nor compares. */
const IGNORED = new Set(["node_modules", "dist"])

const PLATFORM_PACKAGES: Readonly<Record<string, readonly [pkg: string, triple: string]>> = {
  "linux-x64": ["codex-linux-x64", "x86_64-unknown-linux-musl"],
  "linux-arm64": ["codex-linux-arm64", "aarch64-unknown-linux-musl"],
  "darwin-x64": ["codex-darwin-x64", "x86_64-apple-darwin"],
  "darwin-arm64": ["codex-darwin-arm64", "aarch64-apple-darwin"]
}

export const codexBinary = (): string => {
  const entry = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`]
  if (entry === undefined) throw new Error(`no pinned codex binary for ${process.platform}-${process.arch}`)
  const bin = path.join(REPO_ROOT, "node_modules", "@openai", entry[0], "vendor", entry[1], "bin", "codex")
  if (!fs.existsSync(bin)) throw new Error(`pinned codex binary not found at ${bin} (run npm install)`)
  return bin
}

export const codexVersion = (bin: string): string => {
  const out = execFileSync(bin, ["--version"], { encoding: "utf8" }).trim()
  const m = /(\d+\.\d+\.\d+(?:-[\w.]+)?)\s*$/.exec(out)
  if (m === null) throw new Error(`cannot parse codex version from ${JSON.stringify(out)}`)
  return m[1]!
}

const listFiles = (root: string, rel = ""): Array<string> => {
  const dir = path.join(root, rel)
  if (!fs.existsSync(dir)) return []
  const out: Array<string> = []
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const r = rel === "" ? entry.name : `${rel}/${entry.name}`
    if (entry.isDirectory()) {
      if (rel === "" && IGNORED.has(entry.name)) continue
      out.push(...listFiles(root, r))
    } else out.push(r)
  }
  return out.sort()
}

/** In-memory generated tree: relative path (posix) → content. */
export type Tree = ReadonlyMap<string, Buffer>

export interface Generated {
  readonly version: string
  readonly model: Model
  readonly experimental: ExperimentalSurface
  /** The field names of the generated definitions compared with codex's own `generate-ts` types. */
  readonly officialTypes: OfficialTypesCheck
  readonly tree: Tree
}

/** Where {@link codexOutputs} wrote each output of the pinned binary. */
export interface CodexOutputs {
  /** `generate-json-schema` */
  readonly schema: string
  /** `generate-json-schema --experimental` */
  readonly experimentalSchema: string
  /** `generate-ts` (codex's own TypeScript types, written by ts-rs) */
  readonly ts: string
  /** `generate-ts --experimental` */
  readonly experimentalTs: string
}

/** Runs the pinned binary's four generators into sub-directories of `dir`. */
export const codexOutputs = (bin: string, dir: string): CodexOutputs => {
  const out: CodexOutputs = {
    schema: path.join(dir, "schema"),
    experimentalSchema: path.join(dir, "experimental-schema"),
    ts: path.join(dir, "ts"),
    experimentalTs: path.join(dir, "experimental-ts")
  }
  const run = (args: ReadonlyArray<string>, to: string): void =>
    void execFileSync(bin, ["app-server", ...args, "--out", to], { stdio: ["ignore", "ignore", "pipe"] })
  run(["generate-json-schema"], out.schema)
  run(["generate-json-schema", "--experimental"], out.experimentalSchema)
  run(["generate-ts"], out.ts)
  run(["generate-ts", "--experimental"], out.experimentalTs)
  return out
}

const readJson = (dir: string, f: string): Json => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as Json

/** Builds the model of a `generate-json-schema` output, with the reviewed patches of patches.ts applied. */
export const readModel = (
  dir: string,
  protocol: "stable" | "experimental",
  options: BuildOptions = {},
  patches: ReadonlyArray<SchemaPatch> = SCHEMA_PATCHES
): Model => {
  const standalone: Record<string, Json> = {}
  for (const f of ["ClientRequest.json", "ServerRequest.json", "ServerNotification.json", "ClientNotification.json"]) {
    standalone[f] = readJson(dir, f)
  }
  return buildModel(applyPatches(readJson(dir, BUNDLE_FILE), patchesFor(patches, protocol)), standalone, options)
}

/** Runs the pinned codex binary and renders the complete generated/ tree in memory. */
export const generateTree = (): Generated => {
  const bin = codexBinary()
  const version = codexVersion(bin)
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "effect-codex-schema-"))
  try {
    const outputs = codexOutputs(bin, tmp)
    const tree = new Map<string, Buffer>()
    for (const f of listFiles(outputs.schema)) tree.set(`schema/${f}`, fs.readFileSync(path.join(outputs.schema, f)))
    const model = readModel(outputs.schema, "stable")
    const experimental = experimentalSurface(
      model,
      readModel(outputs.experimentalSchema, "experimental", {
        clientResponseExceptions: { ...CLIENT_RESPONSE_EXCEPTIONS, ...EXPERIMENTAL_CLIENT_RESPONSE_EXCEPTIONS }
      })
    )
    const officialTypes = checkOfficialTypes({
      stable: compareFieldNames(model.definitions, outputs.ts),
      experimental: compareFieldNames(experimental.model.definitions, outputs.experimentalTs),
      methods: {
        stable: compareMethods(model, outputs.ts),
        experimental: compareMethods(experimental.model, outputs.experimentalTs)
      }
    })
    const text = (s: string): Buffer => Buffer.from(s, "utf8")
    tree.set("package.json", text(renderPackageJson(version)))
    tree.set("LICENSE", fs.readFileSync(path.join(REPO_ROOT, "LICENSE")))
    tree.set("README.md", text(renderReadme(model, version, { experimental, officialTypes })))
    tree.set("FALLBACKS.md", text(renderFallbacks(model, version)))
    tree.set("src/schemas.ts", text(renderSchemas(model, version)))
    tree.set("src/methods.ts", text(renderMethods(model, version)))
    tree.set("src/guards.ts", text(renderGuards(model, version)))
    tree.set("src/experimental.ts", text(renderExperimental(experimental, version)))
    tree.set("src/index.ts", text(renderIndex(version)))
    return {
      version,
      model,
      experimental,
      officialTypes,
      tree: new Map([...tree.entries()].sort(([a], [b]) => (a < b ? -1 : 1)))
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

export interface Drift {
  readonly missing: ReadonlyArray<string>
  readonly extra: ReadonlyArray<string>
  readonly differing: ReadonlyArray<string>
}

export const driftIsEmpty = (d: Drift): boolean => d.missing.length + d.extra.length + d.differing.length === 0

/** Compares an expected tree with the files in `dir`. */
export const compareTree = (tree: Tree, dir: string): Drift => {
  const actual = new Set(listFiles(dir))
  const missing: Array<string> = []
  const differing: Array<string> = []
  for (const [rel, content] of tree) {
    if (!actual.has(rel)) missing.push(rel)
    else if (!fs.readFileSync(path.join(dir, rel)).equals(content)) differing.push(rel)
  }
  const extra = [...actual].filter((rel) => !tree.has(rel))
  return { missing, extra, differing }
}

/** Regenerates and compares with `dir` (defaults to the committed generated/ tree). */
export const checkAgainst = (dir: string = GENERATED_DIR, tree: Tree = generateTree().tree): Drift => compareTree(tree, dir)

export const formatDrift = (
  d: Drift,
  dir: string,
  labels: { readonly differing: string; readonly missing: string; readonly extra: string } = {
    differing: "differs:",
    missing: "missing:",
    extra: "extra:  "
  }
): string =>
  [
    ...d.differing.map((f) => `  ${labels.differing} ${path.join(dir, f)}`),
    ...d.missing.map((f) => `  ${labels.missing} ${path.join(dir, f)}`),
    ...d.extra.map((f) => `  ${labels.extra} ${path.join(dir, f)}`)
  ].join("\n")

/** Writes `tree` into `dir`: changed files are rewritten, stale files removed (node_modules untouched). */
export const writeTree = (tree: Tree, dir: string): Drift => {
  const drift = compareTree(tree, dir)
  for (const rel of [...drift.missing, ...drift.differing]) {
    const target = path.join(dir, rel)
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.writeFileSync(target, tree.get(rel)!)
  }
  for (const rel of drift.extra) fs.rmSync(path.join(dir, rel))
  const pruneEmpty = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      if (entry.isDirectory() && !(d === dir && IGNORED.has(entry.name))) {
        const sub = path.join(d, entry.name)
        pruneEmpty(sub)
        if (fs.readdirSync(sub).length === 0) fs.rmdirSync(sub)
      }
    }
  }
  pruneEmpty(dir)
  return drift
}

const main = (argv: ReadonlyArray<string>): number => {
  const check = argv.includes("--check")
  const unknown = argv.filter((a) => a !== "--check")
  if (unknown.length > 0) {
    console.error(`usage: tsx scripts/generate.ts [--check]  (unknown arguments: ${unknown.join(" ")})`)
    return 2
  }
  const { experimental, model, officialTypes, tree, version } = generateTree()
  const summary = `codex ${version}: ${model.definitions.length} definitions, ${model.clientRequests.length} client requests, ` +
    `${model.serverNotifications.length} server notifications, ${model.serverRequests.length} server requests, ` +
    `${model.clientNotifications.length} client notifications, ${model.fallbacks.length} Unknown fallbacks; ` +
    `experimental: ${experimental.model.clientRequests.length} client requests, ${experimental.definitions.length} own definitions; ` +
    `field names agree with generate-ts for ${officialTypes.stable.compared} stable and ${officialTypes.experimental.compared} experimental definitions`
  if (check) {
    const drift = checkAgainst(GENERATED_DIR, tree)
    if (!driftIsEmpty(drift)) {
      console.error(`generated/ is out of date with ${summary}:\n${formatDrift(drift, GENERATED_DIR)}\nrun \`npm run generate\``)
      return 1
    }
    console.log(`generated/ is up to date (${summary})`)
    return 0
  }
  fs.mkdirSync(GENERATED_DIR, { recursive: true })
  const drift = writeTree(tree, GENERATED_DIR)
  const changed = drift.missing.length + drift.differing.length + drift.extra.length
  console.log(`${summary}\n${changed === 0 ? "no changes" : `updated ${changed} file(s):\n${
    formatDrift(drift, GENERATED_DIR, { differing: "updated:", missing: "created:", extra: "removed:" })
  }`}`)
  console.log(`fallbacks (Schema.Unknown): ${model.fallbacks.length}, listed in generated/FALLBACKS.md`)
  return 0
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2))
  } catch (e) {
    if (e instanceof GenerateError) console.error(`generate: ${e.message}`)
    else console.error(e)
    process.exitCode = 1
  }
}
