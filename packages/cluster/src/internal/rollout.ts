/**
 * A thread's rollout file under a `CODEX_HOME`: read after a turn (to store it), written before a resume on a runner
 * whose `CODEX_HOME` does not hold it (codex resumes a rollout found at the same relative path, with its history).
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import type { Rollout } from "../ConversationStore.js"

/** `file` relative to `home`, or undefined when it lies outside it. */
const inside = (home: string, file: string): string | undefined => {
  const relative = path.relative(home, path.resolve(home, file))
  return relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? undefined : relative
}

/**
 * The rollout at `absolutePath` (codex's `thread.path`), when it exists under `home`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const read = (home: string, absolutePath: string | null | undefined): Effect.Effect<Rollout | undefined> =>
  Effect.sync(() => {
    if (absolutePath == null || !existsSync(absolutePath)) return undefined
    const relative = inside(home, absolutePath)
    return relative === undefined ? undefined : { path: relative, bytes: readFileSync(absolutePath) }
  })

/**
 * Writes `rollout` under `home` unless the file there already holds exactly these bytes. Returns false when its
 * path would lie outside `home` (nothing is written).
 *
 * @since 0.2.0
 * @category utils
 */
export const restore = (home: string, rollout: Rollout): Effect.Effect<boolean> =>
  Effect.sync(() => {
    const relative = inside(home, rollout.path)
    if (relative === undefined) return false
    const file = path.join(home, relative)
    if (existsSync(file) && Buffer.compare(readFileSync(file), rollout.bytes) === 0) return true
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, rollout.bytes)
    return true
  })
