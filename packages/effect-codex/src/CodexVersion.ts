/**
 * The codex versions this SDK supports, and the check the handshake makes against the server's
 * `userAgent` (`<client name>/<codex version> (<os>; <arch>) ...`). Outside the range the handshake logs
 * one warning; with `strictVersion: true` it fails with `UnsupportedVersionError` instead.
 *
 * The range is what `npm run compat -- <version>` measured: the offline integration tests pass on every
 * version in it (see the compatibility table in the README).
 *
 * @example
 * ```ts
 * import { CodexVersion } from "effect-codex"
 *
 * CodexVersion.fromUserAgent("effect-codex/0.169.0 (Debian 12.0.0; x86_64) xterm (effect-codex; 0.1.0)") // "0.169.0"
 * CodexVersion.isSupported("0.169.0") // true
 * ```
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import { UnsupportedVersionError } from "./Errors.js"

/**
 * The supported codex versions: from `min` (inclusive) to `below` (exclusive), compared as `major.minor.patch`.
 *
 * @since 0.2.0
 * @category constants
 */
export const supported = { min: "0.160.0", below: "0.172.0" } as const

/**
 * {@link supported} as a semver range, e.g. `>=0.160.0 <0.172.0`.
 *
 * @since 0.2.0
 * @category constants
 */
export const supportedRange = `>=${supported.min} <${supported.below}`

const versionPattern = /^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?$/

/** The first `/<semver>` followed by a space or the end: the version after the originator. */
const userAgentPattern = /\/(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)(?=\s|$)/

/**
 * The codex version in a server's `userAgent`, or `undefined` when it names none.
 *
 * @since 0.2.0
 * @category parsing
 */
export const fromUserAgent = (userAgent: string): string | undefined => userAgentPattern.exec(userAgent)?.[1]

const core = (version: string): [number, number, number] | undefined => {
  const match = versionPattern.exec(version)
  return match === null ? undefined : [Number(match[1]), Number(match[2]), Number(match[3])]
}

const compare = (a: [number, number, number], b: [number, number, number]): number =>
  a[0] - b[0] || a[1] - b[1] || a[2] - b[2]

/**
 * True when `version` is within {@link supported}. A pre-release counts as its `major.minor.patch`
 * (`0.172.0-alpha.1` is outside `<0.172.0`); text that is not a version is not supported.
 *
 * @since 0.2.0
 * @category guards
 */
export const isSupported = (version: string): boolean => {
  const parsed = core(version)
  return parsed !== undefined && compare(parsed, core(supported.min)!) >= 0 &&
    compare(parsed, core(supported.below)!) < 0
}

/**
 * Options of {@link check}.
 *
 * @since 0.2.0
 * @category models
 */
export interface CheckOptions {
  /** Fail with `UnsupportedVersionError` instead of logging a warning. Default false. */
  readonly strict?: boolean | undefined
}

/**
 * Checks the server's `userAgent` against {@link supported}: a supported version passes silently; an
 * unsupported version, or a `userAgent` with no version in it, logs one warning, or fails with
 * `UnsupportedVersionError` when `strict`.
 *
 * @since 0.2.0
 * @category checks
 */
export const check: (userAgent: string, options?: CheckOptions) => Effect.Effect<void, UnsupportedVersionError> =
  Effect.fn("CodexVersion.check")(function*(userAgent: string, options: CheckOptions = {}) {
    const found = fromUserAgent(userAgent)
    if (found !== undefined && isSupported(found)) return
    const error = new UnsupportedVersionError({ found: found ?? null, userAgent, supported: supportedRange })
    if (options.strict === true) return yield* error
    yield* Effect.logWarning(error.message).pipe(
      Effect.annotateLogs({ userAgent, supported: supportedRange })
    )
  })
