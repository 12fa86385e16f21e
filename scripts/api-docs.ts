/**
 * Writes `docs/API.md`, the API reference of the SDK and the testing kit, from the JSDoc of every
 * export (modules in the order their `index.ts` re-exports them). `--check` fails when the committed
 * file is out of date.
 */
import { readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import ts from "typescript"

const root = path.resolve(import.meta.dirname, "..")
const output = path.join(root, "docs", "API.md")

const packages = [
  { name: "effect-codex", dir: "packages/effect-codex/src" },
  { name: "@effect-codex/testing", dir: "packages/testing/src" },
  { name: "@effect-codex/ai", dir: "packages/ai/src" },
  { name: "@effect-codex/cluster", dir: "packages/cluster/src" }
]

/** The JSDoc right above a declaration (a module header above the first one is not its doc). */
const jsDocOf = (node: ts.Node): string => {
  const doc = (node as { jsDoc?: ReadonlyArray<ts.JSDoc> }).jsDoc?.at(-1)
  if (doc === undefined) return ""
  const comment = ts.getTextOfJSDocComment(doc.comment) ?? ""
  const example = (doc.tags ?? [])
    .filter((tag) => tag.tagName.text === "example")
    .map((tag) => ts.getTextOfJSDocComment(tag.comment) ?? "")
    .join("\n")
  return [comment, example].filter((part) => part !== "").join("\n\n").trim()
}

const isExported = (node: ts.Node): boolean =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)

const kindOf = (node: ts.Node): string =>
  ts.isClassDeclaration(node)
    ? "class"
    : ts.isInterfaceDeclaration(node)
    ? "interface"
    : ts.isTypeAliasDeclaration(node)
    ? "type"
    : ts.isFunctionDeclaration(node)
    ? "function"
    : "const"

/** Whether the declaration's JSDoc carries `@deprecated` (shown next to its kind). */
const isDeprecated = (node: ts.Node): boolean =>
  ((node as { jsDoc?: ReadonlyArray<ts.JSDoc> }).jsDoc ?? []).some((doc) =>
    (doc.tags ?? []).some((tag) => tag.tagName.text === "deprecated")
  )

const namesOf = (node: ts.Node): Array<string> =>
  ts.isVariableStatement(node)
    ? node.declarationList.declarations.map((declaration) => declaration.name.getText())
    : [(node as { name?: ts.Node }).name?.getText() ?? "(anonymous)"]

/** The modules an index re-exports as namespaces, in order: `export * as Name from "./File.js"`. */
const modulesOf = (dir: string): Array<{ readonly namespace: string; readonly file: string }> => {
  const index = ts.createSourceFile("index.ts", readFileSync(path.join(root, dir, "index.ts"), "utf8"), ts.ScriptTarget.Latest)
  return index.statements.flatMap((statement) =>
    ts.isExportDeclaration(statement) && statement.exportClause !== undefined &&
      ts.isNamespaceExport(statement.exportClause) && statement.moduleSpecifier !== undefined
      ? [{
        namespace: statement.exportClause.name.text,
        file: path.join(dir, (statement.moduleSpecifier as ts.StringLiteral).text.replace(/\.js$/, ".ts"))
      }]
      : []
  )
}

const render = (): string => {
  const lines = [
    "# API reference",
    "",
    "Generated from the JSDoc of every export by `npm run docs` (`scripts/api-docs.ts`). Do not edit.",
    ""
  ]
  for (const pkg of packages) {
    const modules = modulesOf(pkg.dir)
    lines.push(`## \`${pkg.name}\``, "", modules.map((m) => `[${m.namespace}](#${m.namespace.toLowerCase()})`).join(" · "), "")
    for (const module of modules) {
      const source = ts.createSourceFile(module.file, readFileSync(path.join(root, module.file), "utf8"), ts.ScriptTarget.Latest, true)
      const header = ts.getLeadingCommentRanges(source.text, 0)?.[0]
      const intro = header === undefined
        ? ""
        : source.text.slice(header.pos, header.end)
          .replace(/^\/\*\*|\*\/$/g, "")
          .split("\n")
          .map((line) => line.replace(/^\s*\* ?/, ""))
          .join("\n")
          .split(/\n@/)[0]!
          .trim()
      lines.push(`### ${module.namespace}`, "", `\`${module.file}\``, "", intro, "")
      for (const statement of source.statements) {
        if (!isExported(statement) || ts.isExportDeclaration(statement)) continue
        const doc = jsDocOf(statement)
        for (const name of namesOf(statement)) {
          lines.push(`- **\`${module.namespace}.${name}\`** (${kindOf(statement)}${isDeprecated(statement) ? ", deprecated" : ""}): ${doc.split("\n\n")[0]!.replace(/\n/g, " ")}`)
        }
        const example = doc.split("\n\n").slice(1).join("\n\n")
        if (example.includes("```")) lines.push("", example.replace(/^/gm, "  "), "")
      }
      lines.push("")
    }
  }
  return `${lines.join("\n").replace(/\n{3,}/g, "\n\n").trim()}\n`
}

const text = render()
if (process.argv.includes("--check")) {
  const current = (() => {
    try {
      return readFileSync(output, "utf8")
    } catch {
      return ""
    }
  })()
  if (current !== text) {
    console.error("docs/API.md is out of date: run `npm run docs` and commit it")
    process.exit(1)
  }
  console.log("docs/API.md is up to date")
} else {
  writeFileSync(output, text)
  console.log(`wrote ${path.relative(root, output)}`)
}
