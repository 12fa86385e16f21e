/**
 * Upstream schema errors, patched in this one reviewed place.
 *
 * codex's `generate-json-schema` and its `generate-ts` (ts-rs) output are produced from the same Rust types by two
 * different generators; where they disagree, the wire follows the Rust serde attributes, which ts-rs honours and the
 * JSON Schema generator sometimes misses. Each entry below says why and names what it patches: a `renameProperty`
 * fixes the bundle before the model is built (the verbatim snapshot under generated/schema/ stays untouched); a
 * `knownDifference` documents a disagreement the generator cannot express and keeps. The generator fails when an
 * entry no longer applies (the object is gone, the property to rename is absent or its new name is already there,
 * the known difference no longer occurs), so a patch that upstream made unnecessary is noticed and removed.
 *
 * The check that finds these errors is in officialTypes.ts: it compares the field names of every generated
 * definition with codex's own `generate-ts` output and fails on any disagreement not fixed here.
 */
import { GenerateError, isObject, type Json, type JsonObject } from "./ir.js"

/** The protocols an entry applies to: both (the stable bundle and the experimental one) or only the experimental one. */
export type PatchScope = "both" | "experimental"

/** Renames one property of an object schema (in `properties` and `required`). */
export interface RenameProperty {
  readonly op: "renameProperty"
  readonly scope: PatchScope
  /** JSON pointer (into the bundle) of the object schema whose property is renamed. */
  readonly pointer: string
  readonly from: string
  readonly to: string
  /** Why the schema is wrong, and the evidence. */
  readonly reason: string
}

/**
 * A difference from `generate-ts` that the JSON Schema cannot express in a form the generator converts: it is
 * accepted as documented here (the generated type keeps the JSON Schema's shape). Stale when the definition no
 * longer differs in exactly these fields.
 */
export interface KnownDifference {
  readonly op: "knownDifference"
  readonly scope: PatchScope
  /** Emitted definition name. */
  readonly definition: string
  readonly onlyGenerated: ReadonlyArray<string>
  readonly onlyOfficial: ReadonlyArray<string>
  readonly reason: string
}

/** One entry of the patch table. */
export type SchemaPatch = RenameProperty | KnownDifference

const CAMEL = "the Rust type renames its fields to camelCase (serde `rename_all`); the JSON Schema generator misses " +
  "the rename on this variant, while `generate-ts` (and the wire) use camelCase"

const renames = (
  scope: PatchScope,
  pointer: string,
  names: Readonly<Record<string, string>>,
  what: string
): Array<RenameProperty> =>
  Object.entries(names).map(([from, to]) => ({ op: "renameProperty", scope, pointer, from, to, reason: `${what}: ${CAMEL}` }))

/** The reviewed patches. */
export const SCHEMA_PATCHES: ReadonlyArray<SchemaPatch> = [
  ...renames("both", "#/definitions/v2/ThreadRealtimeItem/oneOf/2", { turn_id: "turnId", item_id: "itemId" },
    "realtime `bemItemPromoted` item (the wire sends `turnId` / `itemId`)"),
  ...renames("experimental", "#/definitions/v2/ThreadTimelineEntry/oneOf/2", { turn_id: "turnId", started_at: "startedAt" },
    "timeline `turnStarted` entry"),
  ...renames("experimental", "#/definitions/v2/ThreadTimelineEntry/oneOf/3", {
    turn_id: "turnId",
    started_at: "startedAt",
    completed_at: "completedAt",
    duration_ms: "durationMs"
  }, "timeline `turnCompleted` entry"),
  ...renames("experimental", "#/definitions/v2/AccountSessionsSwitchResponse/anyOf/1", { auth_url: "authUrl", login_id: "loginId" },
    "`accountSession/switch` login answer"),
  {
    op: "knownDifference",
    scope: "experimental",
    definition: "AppsConfig",
    onlyGenerated: [],
    onlyOfficial: [
      "*.approvals_reviewer",
      "*.default_tools_approval_mode",
      "*.default_tools_enabled",
      "*.destructive_enabled",
      "*.enabled",
      "*.links",
      "*.omit_tools_from",
      "*.open_world_enabled",
      "*.tools"
    ],
    reason: "a `_default` field flattened next to a map of per-app settings (`{ _default } & { [app]: AppConfig }`); the " +
      "JSON Schema lists only `_default` and drops the map, and properties next to a map are not converted: the " +
      "generated type has `_default` only (other keys are accepted, untyped)"
  }
]

const unescape = (segment: string): string => segment.replace(/~1/g, "/").replace(/~0/g, "~")

/** The entries of `patches` that apply to a protocol. */
export const patchesFor = <P extends SchemaPatch>(
  patches: ReadonlyArray<P>,
  protocol: "stable" | "experimental"
): Array<P> => patches.filter((p) => p.scope === "both" || protocol === "experimental")

/**
 * Returns a copy of `bundle` with the renames among `patches` applied; throws a `GenerateError` naming any rename that
 * no longer applies.
 */
export const applyPatches = (bundle: Json, patches: ReadonlyArray<SchemaPatch>): Json => {
  const copy = structuredClone(bundle) as Json
  for (const patch of patches) {
    if (patch.op !== "renameProperty") continue
    const stale = (why: string): GenerateError =>
      new GenerateError(
        patch.pointer,
        `schema patch "${patch.from}" → "${patch.to}" no longer applies (${why}); review and remove it from scripts/generate/patches.ts`
      )
    if (!patch.pointer.startsWith("#/")) throw stale("the pointer must start with #/")
    let target: Json | undefined = copy
    for (const segment of patch.pointer.slice(2).split("/").map(unescape)) {
      target = Array.isArray(target) ? (target as ReadonlyArray<Json>)[Number(segment)] : isObject(target) ? target[segment] : undefined
    }
    if (!isObject(target) || !isObject(target["properties"])) throw stale("no object schema with `properties` there")
    const properties = target["properties"] as Record<string, Json>
    if (!(patch.from in properties)) throw stale(`no property "${patch.from}"`)
    if (patch.to in properties) throw stale(`property "${patch.to}" already exists`)
    const renamed: Record<string, Json> = {}
    for (const [k, v] of Object.entries(properties)) renamed[k === patch.from ? patch.to : k] = v
    const mutable = target as Record<string, Json>
    mutable["properties"] = renamed
    const required = (target as JsonObject)["required"]
    if (Array.isArray(required)) mutable["required"] = required.map((r) => (r === patch.from ? patch.to : r))
  }
  return copy
}
