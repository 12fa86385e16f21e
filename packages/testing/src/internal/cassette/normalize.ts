/**
 * What a cassette keeps of a Responses API request: a normalised summary (the conversation and the request's
 * options, without what codex changes from run to run), its digest, and the first place two summaries differ.
 *
 * Measured with codex-cli 0.169.0, two runs of the same test differ in: every input item's `id`
 * (`msg_<uuid>`, `fco_<uuid>`), `prompt_cache_key` and `client_metadata` (thread, turn, installation ids), the
 * context codex writes itself (`<environment_context>` with the cwd and the date, `<skills_instructions>` with
 * the `CODEX_HOME` path, `<permissions instructions>` with the writable roots), the `Chunk ID` and `Wall time` of a
 * command's output, and temporary directories (`mkdtemp` names) wherever they appear.
 *
 * @since 0.2.0
 *
 * @internal
 */
import { createHash } from "node:crypto"
import { tmpdir } from "node:os"

/**
 * How to normalise: the secrets to scrub.
 *
 * @since 0.2.0
 * @category models
 * @internal
 */
export interface NormalizeOptions {
  /** Values replaced by `<redacted>` wherever they appear. */
  readonly secrets: ReadonlyArray<string>
}

/**
 * A JSON value.
 *
 * @since 0.2.0
 * @category models
 * @internal
 */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Request fields that are ids, caches or bookkeeping, not part of what is asked. */
const volatileFields = new Set(["prompt_cache_key", "client_metadata", "metadata", "user", "safety_identifier"])
/** Item fields that differ run to run (ids) or are opaque model state echoed back. */
const volatileItemFields = new Set(["id", "status", "encrypted_content"])

const LONG_TEXT = 2000
const REDACTED = "<redacted>"

/**
 * `sha256:` and the first 16 hex digits of the hash of `text`.
 *
 * @since 0.2.0
 * @category utils
 * @internal
 */
export const hash = (text: string): string => `sha256:${createHash("sha256").update(text).digest("hex").slice(0, 16)}`

const tmpRoots = [...new Set([tmpdir(), "/tmp"])].map(escapeRegExp).join("|")
/** A `mkdtemp` folder: a prefix and 6 random characters, directly under a temporary root. */
const tmpFolder = new RegExp(`(?:${tmpRoots})/([A-Za-z0-9._-]*?)[A-Za-z0-9]{6}(?![A-Za-z0-9._-])`, "g")
/** Context codex writes itself, in a tag of its own: `<environment_context>…</environment_context>`. */
const contextBlock = /^\s*<([a-z_][a-z_ ]*)>[\s\S]*<\/\1>\s*$/

/** Shapes of credentials scrubbed even when nobody marked them: OpenAI keys, bearer tokens, JWTs (ChatGPT tokens). */
const credentialShapes: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bsk-[A-Za-z0-9_-]{16,}/g, REDACTED],
  [/\bBearer\s+[A-Za-z0-9._~+/-]+=*/gi, `Bearer ${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g, REDACTED]
]

/**
 * Replaces every secret (give them longest first) and every credential-shaped string by `<redacted>`.
 *
 * @since 0.2.0
 * @category utils
 * @internal
 */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string =>
  credentialShapes.reduce(
    (acc, [shape, replacement]) => acc.replace(shape, replacement),
    secrets.reduce((acc, secret) => secret.length === 0 ? acc : acc.split(secret).join(REDACTED), text)
  )

/**
 * Secrets longest first, so that a secret containing another is replaced whole.
 *
 * @since 0.2.0
 * @category utils
 * @internal
 */
export const orderSecrets = (secrets: ReadonlyArray<string>): ReadonlyArray<string> =>
  [...new Set(secrets.filter((secret) => secret.length > 0))].sort((a, b) => b.length - a.length)

/**
 * One string of a request, as the summary keeps it.
 *
 * @since 0.2.0
 * @category utils
 * @internal
 */
export const normalizeText = (text: string, options: NormalizeOptions): string => {
  const clean = scrub(text, options.secrets)
    .replace(tmpFolder, "$$TMPDIR/$1XXXXXX")
    .replace(/Chunk ID: \S+/g, "Chunk ID: <chunk>")
    .replace(/Wall time: [\d.]+ seconds/g, "Wall time: <time>")
  const context = contextBlock.exec(clean)
  if (context !== null) return `<${context[1]}>…</${context[1]}>`
  if (clean.length <= LONG_TEXT) return clean
  return `${clean.slice(0, 100)}… [${clean.length} chars, ${hash(clean)}]`
}

const normalizeValue = (value: unknown, options: NormalizeOptions): Json => {
  if (typeof value === "string") return normalizeText(value, options)
  if (Array.isArray(value)) return value.map((item) => normalizeValue(item, options))
  if (isObject(value)) {
    const out: Record<string, Json> = {}
    for (const [key, field] of Object.entries(value)) {
      if (volatileItemFields.has(key) || field === undefined) continue
      out[key] = normalizeValue(field, options)
    }
    return out
  }
  return typeof value === "number" || typeof value === "boolean" ? value : null
}

/**
 * Any JSON value with its strings normalised (secrets, temporary folders, codex's context) and ids left out.
 *
 * @since 0.2.0
 * @category utils
 * @internal
 */
export const normalizeJson: (value: unknown, options: NormalizeOptions) => Json = (value, options) =>
  normalizeValue(value, options)

/** A JSON string (tool call arguments) parsed, so the summary shows its fields. */
const parsedOrText = (text: string, options: NormalizeOptions): Json => {
  try {
    return normalizeValue(JSON.parse(text), options)
  } catch {
    return normalizeText(text, options)
  }
}

const normalizePart = (part: unknown, options: NormalizeOptions): Json => {
  if (isObject(part) && typeof part.text === "string" && /^(input|output)_text$/.test(String(part.type))) {
    return normalizeText(part.text, options)
  }
  if (isObject(part) && part.type === "input_image" && typeof part.image_url === "string") {
    return { image: hash(part.image_url) }
  }
  return normalizeValue(part, options)
}

const normalizeItem = (item: unknown, options: NormalizeOptions): Json => {
  if (!isObject(item)) return normalizeValue(item, options)
  if (item.type === "message" || (item.type === undefined && typeof item.role === "string")) {
    const content = Array.isArray(item.content)
      ? item.content.map((part) => normalizePart(part, options))
      : normalizeValue(item.content, options)
    return { role: normalizeValue(item.role, options), content }
  }
  const out: Record<string, Json> = {}
  for (const [key, field] of Object.entries(item)) {
    if (volatileItemFields.has(key) || field === undefined) continue
    out[key] = key === "arguments" && typeof field === "string" ? parsedOrText(field, options) : normalizeValue(field, options)
  }
  return out
}

const toolName = (tool: unknown): Json => {
  if (!isObject(tool)) return normalizeValue(tool, { secrets: [] })
  if (tool.type === "namespace" && Array.isArray(tool.tools)) {
    return { namespace: String(tool.name), tools: tool.tools.map(toolName) }
  }
  return typeof tool.name === "string" ? tool.name : String(tool.type)
}

/**
 * The summary of a request body: `model`, the options (every other field but the volatile ones), the tools by
 * name (their descriptions are codex's), the instructions, and the input items without ids.
 *
 * @since 0.2.0
 * @category utils
 * @internal
 */
export const summarize = (body: unknown, options: NormalizeOptions): Json => {
  if (!isObject(body)) return normalizeValue(body, options)
  const settings: Record<string, Json> = {}
  for (const [key, field] of Object.entries(body)) {
    if (["model", "input", "tools", "instructions"].includes(key) || volatileFields.has(key)) continue
    settings[key] = normalizeValue(field, options)
  }
  const summary: Record<string, Json> = { model: normalizeValue(body.model, options), options: settings }
  if (typeof body.instructions === "string" && body.instructions.length > 0) {
    summary.instructions = normalizeText(body.instructions, options)
  }
  if (Array.isArray(body.tools)) summary.tools = body.tools.map(toolName)
  summary.input = Array.isArray(body.input)
    ? body.input.map((item) => normalizeItem(item, options))
    : normalizeValue(body.input, options)
  return summary
}

/**
 * JSON with object keys sorted: the same value always gives the same text.
 *
 * @since 0.2.0
 * @category utils
 * @internal
 */
export const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, field: unknown) =>
    isObject(field)
      ? Object.fromEntries(Object.keys(field).sort().map((key) => [key, field[key]]))
      : field)

/**
 * The digest of a summary.
 *
 * @since 0.2.0
 * @category utils
 * @internal
 */
export const digest = (summary: unknown): string => hash(canonical(summary))

/**
 * The first place two values differ: its path (`input[2].content[0]`) and the two values there.
 *
 * @since 0.2.0
 * @category models
 * @internal
 */
export interface Difference {
  readonly path: string
  readonly expected: unknown
  readonly actual: unknown
}

const join = (path: string, key: string | number): string =>
  typeof key === "number" ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`

/**
 * Walks two JSON values in step and returns the first difference, or `undefined` when they are equal.
 *
 * @since 0.2.0
 * @category utils
 * @internal
 */
export const firstDifference = (expected: unknown, actual: unknown, path = ""): Difference | undefined => {
  if (Array.isArray(expected) && Array.isArray(actual)) {
    for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
      const found = firstDifference(expected[i], actual[i], join(path, i))
      if (found !== undefined) return found
    }
    return undefined
  }
  if (isObject(expected) && isObject(actual)) {
    for (const key of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
      const found = firstDifference(expected[key], actual[key], join(path, key))
      if (found !== undefined) return found
    }
    return undefined
  }
  return canonical(expected) === canonical(actual) ? undefined : { path: path === "" ? "(root)" : path, expected, actual }
}

/**
 * Scrubs every string of a JSON value (for what a cassette stores of a response).
 *
 * @since 0.2.0
 * @category utils
 * @internal
 */
export const scrubValue = (value: unknown, secrets: ReadonlyArray<string>): unknown => {
  if (typeof value === "string") return scrub(value, secrets)
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, secrets))
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubValue(v, secrets)]))
  return value
}
