/**
 * Process checks for tests that assert nothing was left running.
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"

/**
 * True while process `pid` exists and is not a zombie. A zombie has exited but not been reaped (in a
 * container whose PID 1 does not reap, it stays one), so it counts as gone. Reads `/proc` on Linux and
 * falls back to signal 0 elsewhere.
 *
 * @example
 * ```ts
 * import { Processes } from "@effect-codex/testing"
 *
 * Processes.isRunning(process.pid) // true
 * ```
 * @since 0.1.0
 * @category guards
 */
export const isRunning = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // The state follows the command name, which is in parentheses and may itself contain spaces.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" && process.platform === "linux") return false
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
}
