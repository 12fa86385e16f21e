/**
 * The stdio transport on Node, spawned with `node:child_process` itself: the server's stdout is read in its
 * `data` callback and handed to the peer through `Connection.subscribe` (no Effect stream, no fiber woken per
 * chunk), and a write is one `stdin.write` (waiting for `drain` only when Node asks to). The command, the stderr
 * tail, the exit report and the close sequence are the platform-neutral transport's (`internal/stdio`): close
 * stdin, wait `closeTimeout`, SIGTERM to the process group, SIGKILL after `killTimeout`. Imported only by
 * `NodeCodex`.
 *
 * @since 0.2.0
 *
 * @internal
 */
import * as ChildProcess from "node:child_process"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type { AppServerNotFoundError, AppServerSpawnError } from "../../Errors.js"
import { type ExitInfo, type StdioOptions, Transport } from "../../Transport.js"
import * as LineFramer from "./lineFramer.js"
import * as Stdio from "./stdio.js"

/** How long to wait for the process group to go after the last SIGKILL. */
const graceMillis = 1_000

/** The leader is running, or a member of its process group (spawned detached: its own group) still is. */
const alive = (child: ChildProcess.ChildProcess): boolean => {
  if (child.exitCode === null && child.signalCode === null) return true
  try {
    process.kill(-child.pid!, 0)
    return true
  } catch (error) {
    // EPERM: only members that cannot be signalled (zombies) remain.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Sends `signal` to the process group, or to the leader if there is no group left to signal. */
const signal = (child: ChildProcess.ChildProcess, name: NodeJS.Signals) => {
  try {
    process.kill(-child.pid!, name)
  } catch {
    child.kill(name)
  }
}

/** Waits until the process group has gone, checking every 10 ms, at most `millis`. */
const gone = (child: ChildProcess.ChildProcess, millis: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const deadline = Date.now() + millis
    let timer: ReturnType<typeof setTimeout> | undefined
    const poll = () => {
      clearTimeout(timer)
      if (Date.now() >= deadline || !alive(child)) {
        child.off("exit", poll)
        resume(Effect.void)
      } else timer = setTimeout(poll, 10)
    }
    child.on("exit", poll)
    poll()
    return Effect.sync(() => {
      clearTimeout(timer)
      child.off("exit", poll)
    })
  })

/** SIGTERM to the process group, then SIGKILL after `killTimeout` if anything of it is left. */
const terminate = (child: ChildProcess.ChildProcess, killTimeout: Duration.Duration): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (!alive(child)) return Effect.void
    signal(child, "SIGTERM")
    return gone(child, Duration.toMillis(killTimeout)).pipe(
      Effect.andThen(Effect.suspend(() => {
        if (!alive(child)) return Effect.void
        signal(child, "SIGKILL")
        return gone(child, graceMillis)
      }))
    )
  })

/** Spawns the command and waits until it has started (or failed to). */
const spawn = (command: Stdio.Command) =>
  Effect.callback<ChildProcess.ChildProcess, AppServerSpawnError>((resume) => {
    const env: Record<string, string | undefined> = { ...process.env }
    for (const [key, value] of Object.entries(command.env)) {
      env[key] = Redacted.isRedacted(value) ? Redacted.value(value) : value
    }
    const child = ChildProcess.spawn(command.binary, command.args, {
      env,
      ...(command.cwd === undefined ? {} : { cwd: command.cwd }),
      stdio: "pipe",
      detached: true
    })
    let started = false
    // Once started, an error (a signal that could not be sent) is not the caller's: the close sequence goes on.
    child.on("error", (error) => {
      if (!started) resume(Effect.fail(Stdio.spawnError(command, error)))
    })
    child.once("spawn", () => {
      started = true
      resume(Effect.succeed(child))
    })
  })

/**
 * Spawns `codex app-server` with `node:child_process` and connects to its stdio, within the current scope.
 *
 * @since 0.2.0
 * @category constructors
 */
export const stdio = Effect.fn("NodeCodex.stdio")(function*(options: StdioOptions = {}) {
  const command = yield* Stdio.command(options)
  const child = yield* Effect.acquireRelease(spawn(command), (child) => terminate(child, command.killTimeout))
  yield* Effect.annotateCurrentSpan("pid", child.pid)
  const { stdin, stdout, stderr } = child as ChildProcess.ChildProcessWithoutNullStreams
  // A write to a server that has gone fails with EPIPE: the text is dropped, as the transport promises. A pipe
  // that fails otherwise ends like one that closed.
  for (const pipe of [stdin, stdout, stderr]) pipe.on("error", () => {})
  stdout.setEncoding("utf8")
  stderr.setEncoding("utf8")

  const tail = Stdio.stderrTail(options)
  const stderrLines = LineFramer.make(Number.MAX_SAFE_INTEGER)
  const stderrDone = yield* Deferred.make<void>()
  const keep = (frames: ReadonlyArray<LineFramer.Frame>) => {
    for (const frame of frames) if (frame._tag === "Line") tail.push(frame.line)
  }
  stderr.on("data", (chunk: string) => keep(stderrLines.push(chunk)))
  stderr.once("close", () => {
    keep(stderrLines.end())
    Deferred.doneUnsafe(stderrDone, Effect.void)
  })

  const exited = yield* Deferred.make<ExitInfo>()
  const context = yield* Effect.context<never>()
  child.once("exit", (exitCode, signalName) => {
    // A server that fails leaves nothing of its process group behind.
    if (exitCode !== 0 && exitCode !== null) signal(child, "SIGTERM")
    Effect.runForkWith(context)(
      Stdio.reportExit(exited, { exitCode, signal: signalName }, Deferred.await(stderrDone), tail)
    )
  })

  // Runs before the release of the process (finalizers run in reverse order), which then signals the group.
  yield* Effect.addFinalizer(() => Stdio.endAndWait(options, Effect.sync(() => stdin.end()), exited))

  const subscribe = (onChunk: (chunk: string) => void, onEnd: () => void) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        stdout.on("data", onChunk)
        stdout.once("end", onEnd)
      }),
      () =>
        Effect.sync(() => {
          stdout.off("data", onChunk)
          stdout.off("end", onEnd)
        })
    )

  const write = (text: string): Effect.Effect<void> =>
    Effect.callback<void>((resume) => {
      if (!stdin.writable) return resume(Effect.void)
      if (stdin.write(text)) return resume(Effect.void)
      const stop = () => {
        stdin.off("drain", done)
        stdin.off("close", done)
      }
      const done = () => {
        stop()
        resume(Effect.void)
      }
      stdin.on("drain", done)
      stdin.on("close", done)
      return Effect.sync(stop)
    })

  return Transport.of({
    pid: child.pid,
    incoming: Stream.callback<string>((queue) =>
      subscribe((chunk) => Queue.offerUnsafe(queue, chunk), () => Queue.endUnsafe(queue))
    ),
    subscribe,
    write,
    exit: Deferred.await(exited)
  })
})

/**
 * A layer with the Node stdio transport; the child process lives as long as the layer.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: StdioOptions = {}
): Layer.Layer<Transport, AppServerSpawnError | AppServerNotFoundError> => Layer.effect(Transport)(stdio(options))
