/**
 * The supported codex range: reading the version from `userAgent`, the range check, and what the
 * handshake does outside the range (one warning; `strictVersion` fails the layer instead).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { CodexVersion } from "effect-codex"
import { FakeAppServer } from "@effect-codex/testing"

/** The `userAgent` of the real codex 0.169.0, from the captured `initialize` answer. */
const capturedUserAgent = (JSON.parse(
  readFileSync(path.resolve(import.meta.dirname, "../../../test/fixtures/captures/text-turn.jsonl"), "utf8")
    .split("\n")[0]!
) as { result: { userAgent: string } }).result.userAgent

/** Builds the AppServer layer on a fake answering `initialize` with `userAgent`; collects the warnings. */
const handshake = (userAgent: string, strictVersion?: boolean) =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const recorder = Logger.make((options) => {
      if (options.logLevel === "Warn") warnings.push(String(options.message))
    })
    // The layer's error, or undefined when it was built.
    const error = yield* Layer.build(FakeAppServer.layerAppServer({ userAgent, strictVersion })).pipe(
      Effect.provide(Logger.layer([recorder])),
      Effect.match({ onFailure: (error) => error, onSuccess: () => undefined })
    )
    return { error, warnings }
  }).pipe(Effect.scoped)

describe("CodexVersion", () => {
  it("reads the version from codex's userAgent", () => {
    expect(capturedUserAgent).toMatch(/^effect-codex-capture\//)
    expect(CodexVersion.fromUserAgent(capturedUserAgent)).toBe("0.169.0")
    expect(CodexVersion.fromUserAgent("codex_cli_rs/0.171.0")).toBe("0.171.0")
    expect(CodexVersion.fromUserAgent("my app/0.172.0-alpha.2 (Mac OS 15.1.0; arm64) iTerm.app/3.5 (my app; 1.0)"))
      .toBe("0.172.0-alpha.2")
    expect(CodexVersion.fromUserAgent("codex")).toBeUndefined()
    expect(CodexVersion.fromUserAgent("name/1.2 (os)")).toBeUndefined()
  })

  it("checks versions against the supported range, min inclusive, below exclusive", () => {
    const { below, min } = CodexVersion.supported
    expect(CodexVersion.supportedRange).toBe(`>=${min} <${below}`)
    expect(CodexVersion.isSupported(min)).toBe(true)
    expect(CodexVersion.isSupported("0.169.0")).toBe(true)
    expect(CodexVersion.isSupported(below)).toBe(false)
    expect(CodexVersion.isSupported(`${below}-alpha.1`)).toBe(false)
    const [major, minor] = min.split(".").map(Number)
    expect(CodexVersion.isSupported(`${major}.${minor! - 1}.9`)).toBe(false)
    expect(CodexVersion.isSupported("not a version")).toBe(false)
  })

  it.effect("a supported server: no warning", () =>
    Effect.gen(function*() {
      const { error, warnings } = yield* handshake(capturedUserAgent, true)
      expect(error).toBeUndefined()
      expect(warnings).toEqual([])
    }))

  it.effect("an unsupported server: one warning, and the server is used", () =>
    Effect.gen(function*() {
      const { error, warnings } = yield* handshake("effect-codex/0.150.0 (Debian 12.0.0; x86_64) xterm (effect-codex; 0.1.0)")
      expect(error).toBeUndefined()
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain(`codex 0.150.0 is outside the versions effect-codex supports (${CodexVersion.supportedRange})`)
    }))

  it.effect("an unsupported server with strictVersion: the layer fails with UnsupportedVersionError", () =>
    Effect.gen(function*() {
      const userAgent = "effect-codex/99.0.0 (Debian 12.0.0; x86_64) xterm (effect-codex; 0.1.0)"
      const { error, warnings } = yield* handshake(userAgent, true)
      expect(error).toMatchObject({
        _tag: "UnsupportedVersionError",
        found: "99.0.0",
        userAgent,
        supported: CodexVersion.supportedRange
      })
      expect(error?.message).toContain("point `codexPath` or CODEX_BIN at a supported codex")
      expect(warnings).toEqual([])
    }))

  it.effect("a userAgent without a version: a warning; with strictVersion, UnsupportedVersionError (found null)", () =>
    Effect.gen(function*() {
      const lenient = yield* handshake("some-proxy")
      expect(lenient.error).toBeUndefined()
      expect(lenient.warnings).toEqual([
        `Cannot tell the codex version from the userAgent "some-proxy"; effect-codex supports ${CodexVersion.supportedRange}`
      ])
      const strict = yield* handshake("some-proxy", true)
      expect(strict.error).toMatchObject({ _tag: "UnsupportedVersionError", found: null, userAgent: "some-proxy" })
    }))
})
