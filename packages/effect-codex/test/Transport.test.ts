import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { AppServer, CodexBinary, NodeCodex, Transport } from "effect-codex"
import * as NodeStdio from "../src/internal/transport/nodeStdio.js"
import { Processes } from "@effect-codex/testing"

/** A directory with executable shell scripts standing in for codex, removed with the scope. */
const scripts = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(path.join(tmpdir(), "effect-codex-bin-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => ({
  dir,
  write: (name: string, body: string) => {
    const file = path.join(dir, name)
    writeFileSync(file, `#!/bin/sh\n${body}\n`)
    chmodSync(file, 0o755)
    return file
  }
})))

const withEnv = (env: Record<string, string>) =>
  Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env)))

describe("CodexBinary.find", () => {
  it.effect("prefers the option, then CODEX_BIN, then the bundled binary, then PATH", () =>
    Effect.gen(function*() {
      const bin = yield* scripts
      const explicit = bin.write("explicit-codex", "exit 0")
      const fromEnv = bin.write("env-codex", "exit 0")
      const onPath = bin.write("codex", "exit 0")
      expect(yield* CodexBinary.find({ codexPath: explicit }).pipe(withEnv({ CODEX_BIN: fromEnv }))).toBe(explicit)
      expect(yield* CodexBinary.find().pipe(withEnv({ CODEX_BIN: fromEnv, PATH: bin.dir }))).toBe(fromEnv)
      const bundled = yield* CodexBinary.find().pipe(withEnv({ PATH: bin.dir }))
      expect(bundled).toMatch(/@openai\/codex-linux-x64\/vendor\/x86_64-unknown-linux-musl\/bin\/codex$/)
      expect(bundled).not.toBe(onPath)
    }))

  it.effect("fails with AppServerNotFoundError listing every place tried", () =>
    Effect.gen(function*() {
      const bin = yield* scripts
      const missing = path.join(bin.dir, "nope")
      const explicit = yield* CodexBinary.find({ codexPath: missing }).pipe(Effect.flip)
      expect(explicit).toMatchObject({ _tag: "AppServerNotFoundError", searched: [`${missing} (option codexPath)`] })
      const notExecutable = path.join(bin.dir, "plain")
      writeFileSync(notExecutable, "")
      const error = yield* CodexBinary.find({ codexPath: notExecutable }).pipe(Effect.flip)
      expect(error.message).toContain("Pass `codexPath`, set CODEX_BIN")
    }))

  it.effect("fails when CODEX_BIN names a missing or non-executable file, never falling back to another binary", () =>
    Effect.gen(function*() {
      const bin = yield* scripts
      // A codex on PATH and the bundled one are both there: neither may be picked.
      bin.write("codex", "exit 0")
      const missing = path.join(bin.dir, "nope")
      const notExecutable = path.join(bin.dir, "plain")
      writeFileSync(notExecutable, "#!/bin/sh\n")
      for (const file of [missing, notExecutable, bin.dir]) {
        const error = yield* CodexBinary.find().pipe(withEnv({ CODEX_BIN: file, PATH: bin.dir }), Effect.flip)
        expect(error).toMatchObject({ _tag: "AppServerNotFoundError", searched: [`${file} (env CODEX_BIN)`] })
      }
      // An empty CODEX_BIN is no choice: the usual lookup goes on.
      const found = yield* CodexBinary.find().pipe(withEnv({ CODEX_BIN: "", PATH: bin.dir }))
      expect(found).toMatch(/@openai\/codex-linux-x64\/vendor\/x86_64-unknown-linux-musl\/bin\/codex$/)
    }))

  it("finds the bundled binary of an install elsewhere", () => {
    const own = CodexBinary.bundled()
    expect(Option.getOrThrow(own)).toMatch(/@openai\/codex-linux-x64\/vendor\/x86_64-unknown-linux-musl\/bin\/codex$/)
    // Resolved from another directory, the same workspace install is found through node_modules above it.
    expect(CodexBinary.bundled(path.join(process.cwd(), "package.json"))).toEqual(own)
    expect(Option.isNone(CodexBinary.bundled(path.join(tmpdir(), "package.json")))).toBe(true)
  })
})

describe("Transport.stdio", () => {
  it("builds app-server arguments from config, features and extra args", () => {
    expect(Transport.appServerArgs({
      config: { model: `"o3"`, "features.x": "true" },
      enable: ["a"],
      disable: ["b"],
      args: ["--strict-config"]
    })).toEqual([
      "app-server",
      "-c",
      `model="o3"`,
      "-c",
      "features.x=true",
      "--enable",
      "a",
      "--disable",
      "b",
      "--strict-config"
    ])
    expect(Transport.appServerArgs({ config: ["k=v"] })).toEqual(["app-server", "-c", "k=v"])
  })

  it("offline: true passes the offline preset before the user's config (which can override it)", () => {
    expect(Transport.offlineConfig).toEqual([
      "features.plugins=false",
      "features.remote_plugin=false",
      "features.apps=false",
      "analytics.enabled=false",
      "check_for_update_on_startup=false"
    ])
    expect(Transport.appServerArgs({ offline: true, config: { "analytics.enabled": "true" } })).toEqual([
      "app-server",
      ...Transport.offlineConfig.flatMap((entry) => ["-c", entry]),
      "-c",
      "analytics.enabled=true"
    ])
    expect(Transport.appServerArgs({ offline: false })).toEqual(["app-server"])
  })
})

/** The two stdio transports: the platform-neutral one on Node's `ChildProcessSpawner`, and NodeCodex's own (which needs no services). */
const implementations = [
  {
    name: "Transport.stdio",
    stdio: Transport.stdio,
    layerAppServer: AppServer.layer
  },
  {
    name: "NodeCodex's stdio transport",
    stdio: NodeStdio.stdio,
    layerAppServer: NodeCodex.layerAppServer
  }
] as const

for (const impl of implementations) {
  describe(impl.name, () => {
    it.live("passes env, CODEX_HOME, cwd and args to the process", () =>
      Effect.gen(function*() {
        const bin = yield* scripts
        const out = path.join(bin.dir, "seen.txt")
        const fake = bin.write("record", `echo "$CODEX_HOME|$OPENAI_API_KEY|$EXTRA|$(pwd)|$*" > ${out}`)
        const connection = yield* impl.stdio({
          codexPath: fake,
          codexHome: "/tmp/home-x",
          env: { EXTRA: "yes" },
          cwd: bin.dir,
          config: ["a=1"]
        })
        yield* connection.exit
        expect(readFileSync(out, "utf8").trim()).toBe(`/tmp/home-x||yes|${bin.dir}|app-server -c a=1`)
      }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

    it.live("reports the exit code and the last stderr lines of a server that dies during the handshake", () =>
      Effect.gen(function*() {
        const bin = yield* scripts
        const lines = Array.from({ length: 80 }, (_, index) => `echo "line ${index}" >&2`).join("\n")
        const fake = bin.write("dying", `${lines}\necho "fatal: broken config" >&2\nexit 3`)
        const error = yield* Layer.build(impl.layerAppServer({ codexPath: fake, stderrLines: 5 })).pipe(Effect.flip)
        expect(error).toMatchObject({ _tag: "AppServerExitedError", exitCode: 3, signal: null, method: "initialize" })
        if (error._tag !== "AppServerExitedError") return
        expect(error.stderrTail).toEqual(["line 76", "line 77", "line 78", "line 79", "fatal: broken config"])
        expect(error.message).toContain("exited with code 3")
      }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

    it.live("keeps the stderr tail without the ANSI colour codes of codex's logs", () =>
      Effect.gen(function*() {
        const bin = yield* scripts
        // A log line as codex colours it (tracing's ANSI output), and a terminal title (OSC).
        const fake = bin.write(
          "colourful",
          [
            String.raw`printf '\033[2m2026-12-02T03:00:00.000Z\033[0m \033[31mERROR\033[0m \033[2mcodex_core::config\033[0m\033[2m:\033[0m bad key\n' >&2`,
            String.raw`printf '\033]0;codex\007\033[1;33mWARN\033[0m bye\n' >&2`,
            "exit 1"
          ].join("\n")
        )
        const error = yield* Layer.build(impl.layerAppServer({ codexPath: fake })).pipe(Effect.flip)
        if (error._tag !== "AppServerExitedError") return expect.fail(`expected AppServerExitedError, got ${error._tag}`)
        expect(error.stderrTail).toEqual([
          "2026-12-02T03:00:00.000Z ERROR codex_core::config: bad key",
          "WARN bye"
        ])
        expect(error.message).toContain("2026-12-02T03:00:00.000Z ERROR codex_core::config: bad key\nWARN bye")
        expect(error.message).not.toContain("\u001b")
      }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))

    it.live("kills a server that ignores stdin EOF and SIGTERM, and its children, when the scope closes", () =>
      Effect.gen(function*() {
        const bin = yield* scripts
        const childPidFile = path.join(bin.dir, "child.pid")
        const stubborn = bin.write(
          "stubborn",
          `trap '' TERM\nsleep 300 &\necho $! > ${childPidFile}\nwhile true; do sleep 0.1; done`
        )
        const started = Date.now()
        const pids = yield* Effect.scoped(
          Effect.gen(function*() {
            const connection = yield* impl.stdio({
              codexPath: stubborn,
              closeTimeout: Duration.millis(200),
              killTimeout: Duration.millis(300)
            })
            yield* Effect.sleep("300 millis")
            return { server: connection.pid!, child: Number(readFileSync(childPidFile, "utf8")) }
          })
        )
        expect(Processes.isRunning(pids.server)).toBe(false)
        expect(Processes.isRunning(pids.child)).toBe(false)
        // It took the close grace plus the SIGTERM grace, not forever.
        expect(Date.now() - started).toBeLessThan(10_000)
      }).pipe(Effect.provide(NodeServices.layer)))


    it.live("fails with AppServerSpawnError when the process cannot be started", () =>
      Effect.gen(function*() {
        const bin = yield* scripts
        const broken = path.join(bin.dir, "broken")
        writeFileSync(broken, "#!/no/such/interpreter\n")
        chmodSync(broken, 0o755)
        const error = yield* impl.stdio({ codexPath: broken }).pipe(Effect.flip)
        expect(error).toMatchObject({ _tag: "AppServerSpawnError" })
        expect(error.message).toContain(broken)
      }).pipe(Effect.scoped, Effect.provide(NodeServices.layer)))
  })
}
