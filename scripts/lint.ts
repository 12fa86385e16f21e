/**
 * Project lint, with the TypeScript compiler API (no extra linter):
 * - every exported declaration of the SDK packages has a JSDoc comment with `@since` and `@category` tags;
 * - no import of the retired Effect 3 package `@effect/schema`;
 * - the core (`packages/effect-codex/src`) imports `@effect/platform-node` only in `NodeCodex.ts`, its one Node module;
 * - no `console.*` in library code (use Effect's logger) and no `.only` left in tests;
 * - every `@since` in a package names a version no later than the package's own (see `packageVersion`), and
 *   `AppServer.SDK_VERSION` is effect-codex's version; packages depend on each other at their current versions.
 * Prints each finding as `file:line: message` and exits 1 when there is any.
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import * as path from "node:path"
import ts from "typescript"

const root = path.resolve(import.meta.dirname, "..")

const walk = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    if (name === "node_modules" || name === "dist" || name.startsWith(".")) return []
    return statSync(full).isDirectory() ? walk(full) : full.endsWith(".ts") ? [full] : []
  })

const findings: Array<string> = []

/** The `version` of the package a library file belongs to (`packages/<name>/package.json`). */
const packageVersion = (file: string): string => {
  const dir = path.relative(path.join(root, "packages"), file).split(path.sep)[0]!
  return (JSON.parse(readFileSync(path.join(root, "packages", dir, "package.json"), "utf8")) as { version: string }).version
}
const versionParts = (version: string): Array<number> => version.split(".").map(Number)
const isLater = (a: string, b: string): boolean => {
  const [x, y] = [versionParts(a), versionParts(b)]
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0)
  return false
}
const report = (file: string, source: ts.SourceFile, node: ts.Node, message: string) => {
  const { line } = source.getLineAndCharacterOfPosition(node.getStart(source))
  findings.push(`${path.relative(root, file)}:${line + 1}: ${message}`)
}

const isExported = (node: ts.Node): boolean =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)

const hasJsDoc = (node: ts.Node): boolean => (node as { jsDoc?: ReadonlyArray<unknown> }).jsDoc?.length !== undefined

/** The `@` tags of the node's JSDoc comment closest to it. */
const jsDocTags = (node: ts.Node): ReadonlyArray<string> => {
  const docs = (node as { jsDoc?: ReadonlyArray<ts.JSDoc> }).jsDoc ?? []
  return (docs[docs.length - 1]?.tags ?? []).map((tag) => tag.tagName.text)
}

const declarationName = (node: ts.Node): string => {
  if (ts.isVariableStatement(node)) return node.declarationList.declarations.map((d) => d.name.getText()).join(", ")
  const name = (node as { name?: ts.Node }).name
  return name === undefined ? "(anonymous)" : name.getText()
}

const coreDir = path.join(root, "packages", "effect-codex", "src") + path.sep
const isCore = (file: string): boolean => file.startsWith(coreDir)

const libraryFiles = walk(path.join(root, "packages")).filter((file) => file.includes(`${path.sep}src${path.sep}`))
const allFiles = ["packages", "scripts", "test", "bench", "examples"]
  .map((dir) => path.join(root, dir))
  .filter((dir) => {
    try {
      return statSync(dir).isDirectory()
    } catch {
      return false
    }
  })
  .flatMap(walk)

for (const file of allFiles) {
  const text = readFileSync(file, "utf8")
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const isLibrary = libraryFiles.includes(file)
  if (isLibrary) {
    const version = packageVersion(file)
    for (const match of text.matchAll(/@since (\S+)/g)) {
      if (!/^\d+\.\d+\.\d+$/.test(match[1]!) || isLater(match[1]!, version)) {
        const line = text.slice(0, match.index).split("\n").length
        findings.push(`${path.relative(root, file)}:${line}: @since ${match[1]} is not a version up to the package's ${version}`)
      }
    }
    const sdkVersion = /export const SDK_VERSION = "([^"]+)"/.exec(text)?.[1]
    if (sdkVersion !== undefined && sdkVersion !== version) {
      findings.push(`${path.relative(root, file)}: SDK_VERSION ${sdkVersion} is not the package's version ${version}`)
    }
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) {
      const specifier = node.moduleSpecifier?.getText(source).slice(1, -1)
      if (specifier !== undefined && (specifier === "@effect/schema" || specifier.startsWith("@effect/schema/"))) {
        report(file, source, node, "imports the retired Effect 3 package @effect/schema; use effect/Schema")
      }
      if (
        specifier !== undefined && specifier.startsWith("@effect/platform-") && isCore(file) &&
        path.basename(file) !== "NodeCodex.ts"
      ) {
        report(file, source, node, `imports ${specifier}; the core is platform-neutral (Node layers go in NodeCodex.ts)`)
      }
    }
    if (isLibrary && node.parent === source && isExported(node)) {
      if (!hasJsDoc(node)) report(file, source, node, `exported ${declarationName(node)} has no JSDoc comment`)
      else {
        const tags = jsDocTags(node)
        for (const tag of ["since", "category"]) {
          if (!tags.includes(tag)) report(file, source, node, `exported ${declarationName(node)} has no @${tag} tag`)
        }
      }
    }
    if (ts.isPropertyAccessExpression(node)) {
      const target = node.expression.getText(source)
      const member = node.name.getText(source)
      if (isLibrary && target === "console") report(file, source, node, `console.${member} in library code; use Effect.log*`)
      if (!isLibrary && member === "only" && /^(it|describe|test)(\.\w+)?$/.test(target)) {
        report(file, source, node, `${target}.only left in a test`)
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
}

// Each package depends on the workspace's own packages at their current versions.
const manifests = readdirSync(path.join(root, "packages")).map((dir) => ({
  file: path.join("packages", dir, "package.json"),
  json: JSON.parse(readFileSync(path.join(root, "packages", dir, "package.json"), "utf8")) as {
    readonly name: string
    readonly version: string
    readonly dependencies?: Record<string, string>
    readonly peerDependencies?: Record<string, string>
  }
}))
for (const { file, json } of manifests) {
  for (const [name, range] of Object.entries({ ...json.dependencies, ...json.peerDependencies })) {
    const own = manifests.find((other) => other.json.name === name)
    if (own !== undefined && range !== own.json.version) {
      findings.push(`${file}: depends on ${name} ${range}, but the workspace's ${name} is ${own.json.version}`)
    }
  }
}

if (findings.length > 0) {
  console.error(findings.join("\n"))
  console.error(`\nlint: ${findings.length} finding(s) in ${allFiles.length} files`)
  process.exit(1)
}
console.log(`lint: ${allFiles.length} files clean`)
