/**
 * The baseline: a minimal raw Node client of `codex app-server` (child_process.spawn + readline), the kind of
 * client someone writes in 60 lines without any SDK. No schemas, no timeouts, no Effect.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as readline from "node:readline"
import * as Effect from "effect/Effect"
import { CODEX_BINARY, tempDir, trackPid } from "./lib.js"

export interface RawNotification {
  readonly method: string
  readonly params: any
}

export interface RawClient {
  readonly pid: number
  readonly child: ChildProcessWithoutNullStreams
  readonly request: (method: string, params?: unknown) => Promise<any>
  readonly notify: (method: string, params?: unknown) => void
  /** Registers a notification listener; returns a function that removes it. */
  readonly onNotification: (listener: (notification: RawNotification) => void) => () => void
  readonly close: () => Promise<void>
}

export interface RawOptions {
  readonly binary: string
  readonly codexHome: string
  readonly config?: ReadonlyArray<string>
  readonly cwd?: string
}

/** Spawns `codex app-server` and returns the client (not yet initialized). */
export const spawnRaw = (options: RawOptions): RawClient => {
  const args = ["app-server", ...(options.config ?? []).flatMap((kv) => ["-c", kv])]
  const child = spawn(options.binary, args, {
    env: { ...process.env, CODEX_HOME: options.codexHome },
    stdio: ["pipe", "pipe", "pipe"],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd })
  })
  child.stderr.resume()
  let nextId = 1
  const pending = new Map<number, { resolve: (value: any) => void; reject: (error: unknown) => void }>()
  const listeners = new Set<(notification: RawNotification) => void>()
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const lines = readline.createInterface({ input: child.stdout, crlfDelay: Infinity })
  lines.on("line", (line) => {
    if (line.length === 0) return
    const message = JSON.parse(line)
    if (typeof message.method === "string") {
      if (message.id !== undefined) {
        // A server request: the baseline declines everything it does not know.
        child.stdin.write(`${JSON.stringify({ id: message.id, error: { code: -32601, message: "unhandled" } })}\n`)
        return
      }
      for (const listener of listeners) listener(message)
      return
    }
    const entry = pending.get(message.id)
    if (entry === undefined) return
    pending.delete(message.id)
    if (message.error !== undefined) entry.reject(message.error)
    else entry.resolve(message.result)
  })
  child.once("exit", () => {
    for (const entry of pending.values()) entry.reject(new Error("codex app-server exited"))
    pending.clear()
  })
  return {
    pid: child.pid!,
    child,
    request: (method, params) =>
      new Promise((resolve, reject) => {
        const id = nextId++
        pending.set(id, { resolve, reject })
        child.stdin.write(`${JSON.stringify(params === undefined ? { id, method } : { id, method, params })}\n`)
      }),
    notify: (method, params) => {
      child.stdin.write(`${JSON.stringify(params === undefined ? { method } : { method, params })}\n`)
    },
    onNotification: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.stdin.end()
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000)
      await exited
      clearTimeout(timer)
    }
  }
}

/** The same handshake the SDK performs. */
export const initialize = async (client: RawClient): Promise<any> => {
  const result = await client.request("initialize", {
    clientInfo: { name: "raw-bench", title: "raw-bench", version: "0.1.0" },
    capabilities: { experimentalApi: false }
  })
  client.notify("initialized")
  return result
}

/**
 * A raw client on a fresh `CODEX_HOME`, initialized, closed with the scope (its pid is tracked so the
 * bench can check that nothing survives).
 */
export const rawServer = (options: { readonly config?: ReadonlyArray<string>; readonly cwd?: string } = {}) =>
  Effect.gen(function*() {
    const codexHome = yield* tempDir("home")
    return yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const client = spawnRaw({ binary: CODEX_BINARY, codexHome, ...options })
        trackPid(client.pid)
        await initialize(client)
        return client
      }),
      (client) => Effect.promise(() => client.close())
    )
  })
