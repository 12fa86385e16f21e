/**
 * Every example of `examples/`, run offline on the real pinned codex binary against a MockModel that
 * plays the example's `mockScript`. The harness captures what the program prints (Console and stdout),
 * gives it argv and terminal lines, and keeps its temporary directories for inspection; each test
 * checks the output and what codex sent to the model.
 */
import { NodeServices } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { MockModel } from "@effect-codex/testing"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as Sink from "effect/Sink"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"
import * as Terminal from "effect/Terminal"
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs"
import * as path from "node:path"
import * as approvals from "../examples/approvals.js"
import * as cliApp from "../examples/cli-app.js"
import * as demo from "../examples/demo.js"
import * as errorHandling from "../examples/error-handling-and-retry.js"
import * as existingThread from "../examples/existing-thread.js"
import * as imageAndText from "../examples/image-and-text.js"
import * as localImage from "../examples/local-image-and-text.js"
import * as loginAndAccount from "../examples/login-and-account.js"
import * as modelSelect from "../examples/model-select.js"
import * as quickstart from "../examples/quickstart.js"
import * as run from "../examples/run.js"
import { backend, type Example, mockLayer } from "../examples/runtime.js"
import * as streamEvents from "../examples/stream-events.js"
import * as structuredOutput from "../examples/structured-output.js"
import * as threadLifecycle from "../examples/thread-lifecycle.js"
import * as turnControls from "../examples/turn-controls.js"
import * as kitchenSink from "../examples/turn-params-kitchen-sink.js"

/** What one example run left behind. */
interface Outcome {
  /** Everything printed, in order: Console lines, raw stdout writes, terminal prompts. */
  readonly chunks: ReadonlyArray<string>
  readonly output: string
  /** The model requests codex made (`POST /v1/responses`), with their bodies. */
  readonly requests: ReadonlyArray<MockModel.RecordedRequest>
  /** Scripted replies left unused. */
  readonly pending: number
  /** The temporary directories the program made (kept, for inspection). */
  readonly tempDirs: ReadonlyArray<string>
}

const format = (args: ReadonlyArray<unknown>): string =>
  args.map((arg) => typeof arg === "string" ? arg : String(arg)).join(" ")

/** A Console that appends every line to `chunks`. */
const capturingConsole = (chunks: Array<string>): Console.Console => {
  const line = (...args: ReadonlyArray<unknown>) => {
    chunks.push(`${format(args)}\n`)
  }
  const ignore = () => {}
  return {
    assert: ignore,
    clear: ignore,
    count: ignore,
    countReset: ignore,
    debug: line,
    dir: line,
    dirxml: line,
    error: line,
    group: ignore,
    groupCollapsed: ignore,
    groupEnd: ignore,
    info: line,
    log: line,
    table: line,
    time: ignore,
    timeEnd: ignore,
    timeLog: ignore,
    trace: line,
    warn: line
  }
}

const decoder = new TextDecoder()

/** Runs an example offline and collects its outcome. */
const runExample = <E>(
  example: Example<E>,
  options: { readonly args?: ReadonlyArray<string>; readonly lines?: ReadonlyArray<string> } = {}
): Effect.Effect<Outcome, unknown> => {
  const chunks: Array<string> = []
  const tempDirs: Array<string> = []
  const write = () =>
    Sink.forEach((chunk: string | Uint8Array) =>
      Effect.sync(() => chunks.push(typeof chunk === "string" ? chunk : decoder.decode(chunk)))
    )
  const stdio = Layer.succeed(Stdio.Stdio)(Stdio.make({
    args: Effect.succeed(options.args ?? []),
    stdout: write,
    stderr: write,
    stdin: Stream.empty
  }))
  const lines = [...(options.lines ?? [])]
  const terminal = Layer.succeed(Terminal.Terminal)(Terminal.make({
    columns: Effect.succeed(80),
    rows: Effect.succeed(24),
    size: Effect.die("not used by the examples"),
    readInput: Effect.die("not used by the examples"),
    readLine: Effect.suspend(() => {
      const line = lines.shift()
      return line === undefined ? Effect.fail(new Terminal.QuitError()) : Effect.succeed(line)
    }),
    display: (text) => Effect.sync(() => chunks.push(text))
  }))
  // Temporary directories outlive the program, so the test can look at them.
  const files = Layer.effect(FileSystem.FileSystem)(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return {
      ...fs,
      makeTempDirectoryScoped: (dirOptions) =>
        fs.makeTempDirectory(dirOptions).pipe(Effect.tap((dir) => Effect.sync(() => tempDirs.push(dir))))
    } satisfies FileSystem.FileSystem
  }))

  return Effect.gen(function*() {
    const mock = yield* MockModel.MockModel
    yield* example.program.pipe(
      Effect.provide(Layer.mergeAll(stdio, terminal, files).pipe(Layer.provideMerge(NodeServices.layer)))
    )
    const outcome: Outcome = {
      chunks,
      output: chunks.join(""),
      requests: yield* mock.responsesRequests,
      pending: yield* mock.pending,
      tempDirs
    }
    return outcome
  }).pipe(
    Effect.provide(mockLayer(example.mockScript, example.mockOptions)),
    // Around the Codex layer too: approval handlers run in its fibers, not the program's (see the report).
    Effect.provideService(Console.Console, capturingConsole(chunks))
  )
}

/** The text of a recorded model request's input, for searching. */
const inputOf = (request: MockModel.RecordedRequest | undefined): string =>
  JSON.stringify((request?.body as { readonly input?: unknown } | undefined)?.input ?? null)

const body = (request: MockModel.RecordedRequest | undefined) => (request?.body ?? {}) as Record<string, any>

const cleanUp = (dirs: ReadonlyArray<string>) => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
}

describe("examples, offline on the real codex binary", () => {
  it.live("quickstart prints the answer", () =>
    Effect.gen(function*() {
      const { output, requests, pending } = yield* runExample(quickstart)
      expect(output).toBe("Hello! Nice to meet you.\n")
      expect(requests).toHaveLength(1)
      expect(inputOf(requests[0])).toContain("Say hello in one short sentence.")
      expect(pending).toBe(0)
    }))

  it.live("run reports two turns of one thread, the second seeing the first", () =>
    Effect.gen(function*() {
      const { output, requests } = yield* runExample(run)
      expect(output).toMatch(/^thread \S+\n/)
      expect(output).toContain("status:   completed\nanswer:   Teal.\nitems:    userMessage, agentMessage\n")
      expect(output).toContain("answer:   I picked teal.")
      expect(output).toContain("tokens:   42 in, 6 out")
      expect(requests).toHaveLength(2)
      expect(inputOf(requests[1])).toContain("Teal.")
    }))

  it.live("stream-events prints the events of the turn in order", () =>
    Effect.gen(function*() {
      const { output } = yield* runExample(streamEvents)
      const lines = output.trimEnd().split("\n")
      const methods = lines.map((line) => line.split(/\s+/)[0])
      expect(methods.indexOf("turn/started")).toBeLessThan(methods.indexOf("agentMessage/delta"))
      expect(lines.filter((line) => line.startsWith("agentMessage/delta"))).toEqual([
        `agentMessage/delta  "Red"`,
        `agentMessage/delta  ", yellow"`,
        `agentMessage/delta  " and blue."`
      ])
      expect(output).toContain(`item/completed      agentMessage "Red, yellow and blue."`)
      expect(lines.at(-2)).toBe("turn/completed      completed")
      expect(lines.at(-1)).toBe(`${lines.length - 1} events`)
    }))

  it.live("existing-thread resumes the thread by id and the model sees its history", () =>
    Effect.gen(function*() {
      const { output, requests } = yield* runExample(existingThread)
      const id = /created thread (\S+): OK\./.exec(output)?.[1]
      expect(id).toBeDefined()
      expect(output).toContain(`resumed thread ${id} (1 turn so far)`)
      expect(output).toContain("The code word was pineapple.")
      expect(inputOf(requests[1])).toContain("pineapple")
    }))

  it.live("thread-lifecycle names, lists, forks, archives and unarchives", () =>
    Effect.gen(function*() {
      const { output } = yield* runExample(threadLifecycle)
      expect(output).toContain(`read:       "Sourdough notes", 1 turn, preview "Give me a title for a note about sourdough."`)
      expect(output).toContain("listed:     true")
      expect(output).toMatch(/forked:     \S+ from \S+/)
      expect(output).toContain("archived:   listed false")
      expect(output).toContain(`unarchived: "Sourdough notes", listed true`)
    }))

  it.live("image-and-text: a remote URL is refused, a data URL reaches the model", () =>
    Effect.gen(function*() {
      const { output, requests } = yield* runExample(imageAndText)
      expect(output).toContain("remote URL refused: remote image URLs are not supported")
      expect(output).toContain("A red disc on a white background.")
      expect(requests).toHaveLength(1)
      expect(inputOf(requests[0])).toContain(`"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo`)
    }))

  it.live("local-image-and-text: codex reads the PNG the program wrote", () =>
    Effect.gen(function*() {
      const { output, requests, tempDirs } = yield* runExample(localImage)
      try {
        const file = path.join(tempDirs[0]!, "disc.png")
        expect(output).toContain(`wrote ${file}`)
        expect(readFileSync(file).subarray(1, 4).toString()).toBe("PNG")
        expect(output).toContain("A red circle centered on a white square.")
        expect(inputOf(requests[0])).toMatch(/"type":"input_image","image_url":"data:image\/png;base64,/)
      } finally {
        cleanUp(tempDirs)
      }
    }))

  it.live("error-handling-and-retry catches each tagged reason, retries, compacts and signs in again", () =>
    Effect.gen(function*() {
      const { output, requests, pending } = yield* runExample(errorHandling)
      expect(output.trimEnd().split("\n")).toEqual([
        "1. no server: tried /nonexistent/codex (option codexPath)",
        "2. turn failed (ModelNotFound): The model `no-such-model` does not exist",
        "3. attempt failed (HttpConnectionFailed), retrying",
        "3. completed: Hello after a retry!",
        "4. context window full: compacting, then running again",
        "4. completed: Going on after compaction.",
        "5. not signed in: signing in again, then running again",
        "5. completed: Signed in again."
      ])
      expect(body(requests[0]).model).toBe("no-such-model")
      // 404, 503 then the retry, the context overflow, the compaction, the turn again, 401, the turn again.
      expect(requests).toHaveLength(8)
      expect(pending).toBe(0)
    }))

  it.live("cli-app streams the answer to the prompt given as arguments", () =>
    Effect.gen(function*() {
      const { chunks, output, requests } = yield* runExample(cliApp, { args: ["Explain", "Effect", "in one line"] })
      expect(output).toBe("Effect is a TypeScript library for typed, composable, resource-safe programs.\n")
      // Written as it streamed, delta by delta.
      expect(chunks.slice(0, 5)).toEqual([
        "Effect is",
        " a TypeScript library",
        " for typed,",
        " composable,",
        " resource-safe programs."
      ])
      expect(inputOf(requests[0])).toContain("Explain Effect in one line")
    }))

  it.live("cli-app without arguments chats on one thread until the input ends", () =>
    Effect.gen(function*() {
      const { output, requests } = yield* runExample(cliApp, { lines: ["What is Effect?", "What did I ask?"] })
      expect(output).toBe(
        "Ask codex anything. An empty line or Ctrl-D quits.\n" +
          "> Effect is a TypeScript library for typed, composable, resource-safe programs.\n" +
          "> You asked me about Effect.\n" +
          "> \n"
      )
      expect(requests).toHaveLength(2)
      expect(inputOf(requests[1])).toContain("What is Effect?")
    }))

  it.live("turn-params-kitchen-sink sends the typed turn params", () =>
    Effect.gen(function*() {
      const { output, requests } = yield* runExample(kitchenSink)
      const params = JSON.parse(/^turn\/start params: (.*)$/m.exec(output)?.[1] ?? "null")
      expect(params).toMatchObject({
        model: "mock-model",
        effort: "low",
        personality: "pragmatic",
        sandboxPolicy: { type: "readOnly" },
        approvalPolicy: "never"
      })
      expect(output).toContain("completed: It lets the agent look around")
      expect(body(requests[0]).model).toBe("mock-model")
      expect(inputOf(requests[0])).toContain("read-only")
    }))

  it.live("model-select lists the models and runs the turn on the chosen one", () =>
    Effect.gen(function*() {
      const { output, requests } = yield* runExample(modelSelect)
      const chosen = /^chosen: (\S+), effort (\S+)$/m.exec(output)
      expect(chosen).not.toBeNull()
      expect(output).toMatch(new RegExp(`^\\* ${chosen![1]!.replace(/\./g, "\\.")}\\s`, "m"))
      expect(body(requests[0]).model).toBe(chosen![1])
      expect(output).toContain("I am the model you chose")
    }))

  it.live("turn-controls steers one turn and interrupts another", () =>
    Effect.gen(function*() {
      const { output, requests } = yield* runExample(turnControls)
      expect(output).toContain("steered: asked for mountains instead")
      expect(output).toContain("steered turn completed: Peaks hold the sky,\nsnow keeps the time.")
      expect(output).toContain(`received "1\\n2\\n3\\n", interrupting`)
      expect(output).toContain("interrupted turn interrupted")
      expect(inputOf(requests[1])).toContain("make the poem about mountains")
      expect(requests).toHaveLength(3)
    }))

  it.live("login-and-account signs in with a redacted key and out again", () =>
    Effect.gen(function*() {
      const { output, requests } = yield* runExample(loginAndAccount)
      expect(output.trimEnd().split("\n")).toEqual([
        "before: nobody signed in",
        "signing in with <redacted>",
        "after login: signed in with an API key",
        "after logout: nobody signed in"
      ])
      expect(output).not.toContain("sk-example-placeholder-key")
      expect(requests).toHaveLength(0)
    }))

  it.live("structured-output sends the JSON Schema and decodes the answer", () =>
    Effect.gen(function*() {
      const { output, requests } = yield* runExample(structuredOutput)
      expect(output).toBe(
        "Switzerland: capital Bern, 9,000,000 people\nofficial languages: German, French, Italian, Romansh\n"
      )
      const format = body(requests[0]).text?.format
      expect(format?.type).toBe("json_schema")
      expect(Object.keys(format?.schema?.properties ?? {})).toEqual(["name", "capital", "population", "officialLanguages"])
    }))

  it.live("approvals: the accepted command ran, the declined one did not", () =>
    Effect.gen(function*() {
      const { output, tempDirs } = yield* runExample(approvals)
      try {
        expect(output).toContain(`approval asked for "/bin/bash -lc 'touch accepted.txt'": accept`)
        expect(output).toContain(`approval asked for "/bin/bash -lc 'touch declined.txt'": decline`)
        expect(output).toContain("command completed: /bin/bash -lc 'touch accepted.txt'")
        expect(output).toContain("command declined: /bin/bash -lc 'touch declined.txt'")
        expect(output).toContain("files in the workspace: accepted.txt\n")
        // Checked on disk by the test itself, not only by what the program says.
        expect(readdirSync(tempDirs[0]!)).toEqual(["accepted.txt"])
      } finally {
        cleanUp(tempDirs)
      }
    }))

  it.live("demo streams the mock's explanation of what happened", () =>
    Effect.gen(function*() {
      const { chunks, output, requests } = yield* runExample(demo)
      const pid = Number(/^codex app-server pid (\d+) /.exec(output)?.[1])
      expect(pid).toBeGreaterThan(0)
      expect(output).toContain("This answer comes from effect-codex's MockModel")
      expect(output).toMatch(/model mock-model, \d+ tools\s+offered, \d+ input items/)
      expect(output).toMatch(/turn completed in \d+ ms, 15 tokens; shutting codex down\./)
      expect(chunks.length).toBeGreaterThan(50) // word by word
      expect(body(requests[0]).model).toBe("mock-model")
      // The layer is gone: so is the server process.
      expect(existsSync(`/proc/${pid}`)).toBe(false)
    }))
})

describe("examples runtime", () => {
  const backendWith = (env: Record<string, string>, options?: { readonly codexLogin?: boolean }) =>
    backend(options).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env))))

  it.effect("uses the mock unless OPENAI_API_KEY or EFFECT_CODEX_REAL=1 is set", () =>
    Effect.gen(function*() {
      expect((yield* backendWith({}))._tag).toBe("mock")
      expect((yield* backendWith({ OPENAI_API_KEY: "sk-x" })).reason).toBe("OPENAI_API_KEY is set")
      expect((yield* backendWith({ EFFECT_CODEX_REAL: "1" }))._tag).toBe("real")
      expect((yield* backendWith({ CODEX_HOME: "/nonexistent" }, { codexLogin: true }))._tag).toBe("mock")
    }))
})
