/**
 * A thread's rollout file under a `CODEX_HOME`, as the cluster stores it: after a turn, the bytes codex wrote since
 * the stored end (or the whole file when codex rewrote it); before a resume on a runner whose `CODEX_HOME` does not
 * hold it, the stored pieces written back and checked (codex resumes a rollout found at the same relative path, with
 * its history). All file IO is asynchronous and goes in pieces of at most `ConversationStore.pieceBytes`.
 *
 * Codex (0.169.0) appends to a thread's rollout (turns, `thread/compact/start`, a resume); `thread/name/set` leaves it
 * as it is; `thread/revert` writes a new, shorter rollout at a new path. A rollout is appended to when its path is the
 * stored one, it is no shorter than the stored length, and the last bytes stored are still there; otherwise it is
 * stored whole.
 *
 * @since 0.2.0
 * @internal
 */
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { createHash, type Hash } from "node:crypto"
import * as path from "node:path"
import { RolloutMismatchError, StoreError } from "../ClusterErrors.js"
import { pieceBytes, type RolloutWrite, type StoredRollout } from "../ConversationStore.js"

/** How many of the last stored bytes are compared with the file before an append. */
const tailBytes = 4096

/**
 * Where the stored copy of a conversation's rollout ends, as the runner holding the conversation knows it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Position {
  /** Relative to `CODEX_HOME`. */
  readonly path: string
  readonly length: number
  /** The sha256 of the first `length` bytes, to be continued (copy it before updating). */
  readonly digest: Hash
  /** The last (at most 4 KiB) of those bytes. */
  readonly tail: Uint8Array
}

/**
 * A write for the store, and the position after it once it is stored.
 *
 * @since 0.2.0
 * @category models
 */
export interface Update {
  readonly write: RolloutWrite
  readonly after: Effect.Effect<Position>
}

/** `file` relative to `home`, or undefined when it lies outside it. */
const inside = (home: string, file: string): string | undefined => {
  const relative = path.relative(home, path.resolve(home, file))
  return relative === "" || relative.startsWith("..") || path.isAbsolute(relative) ? undefined : relative
}

const ioError = (operation: string) => (cause: unknown) => new StoreError({ operation, cause })

/** Follows the bytes that go by: their sha256 (continuing `digest`), count and last {@link tailBytes}. */
const follower = (digest: Hash, length: number, tail: Uint8Array) => {
  let total = length
  let last = tail
  return {
    see: (bytes: Uint8Array) => {
      digest.update(bytes)
      total += bytes.byteLength
      last = bytes.byteLength >= tailBytes
        ? bytes.slice(bytes.byteLength - tailBytes)
        : Buffer.concat([last, bytes]).subarray(-tailBytes)
    },
    length: () => total,
    sha256: () => digest.copy().digest("hex"),
    position: (relative: string): Position => ({ path: relative, length: total, digest, tail: last })
  }
}

/** The end of the last complete line of `file` in `[from, size)` (`from` when there is none). */
const lastLineEnd = Effect.fnUntraced(function*(file: FileSystem.File, from: number, size: number) {
  let end = size
  while (end > from) {
    const start = Math.max(from, end - 64 * 1024)
    const block = yield* file.readAlloc(end - start, { position: BigInt(start) })
    const bytes = Option.getOrElse(block, () => new Uint8Array(0))
    const newline = bytes.lastIndexOf(0x0a)
    if (newline !== -1) return start + newline + 1
    end = start
  }
  return from
})

/** Whether `file` still holds `position.tail` just before `position.length`. */
const tailKept = Effect.fnUntraced(function*(file: FileSystem.File, position: Position) {
  const start = position.length - position.tail.byteLength
  const bytes = yield* file.readAlloc(position.tail.byteLength, { position: BigInt(start) })
  return Option.isSome(bytes) && Buffer.compare(bytes.value, position.tail) === 0
})

/** The file at `file`, if any, to compare with the stored bytes as they are written (in the current scope). */
const localCopy = (fs: FileSystem.FileSystem, file: string) =>
  Effect.gen(function*() {
    if (!(yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false)))) return undefined
    const handle = yield* fs.open(file, { flag: "r" })
    const size = Number((yield* handle.stat).size)
    /** Whether the file's bytes from `offset` are not the first bytes of `piece` (as far as the file goes). */
    const differsAt = (offset: number, piece: Uint8Array) => {
      const length = Math.min(piece.byteLength, size - offset)
      return length <= 0 ? Effect.succeed(false) : handle.readAlloc(length, { position: BigInt(offset) }).pipe(
        Effect.map((bytes) => Buffer.compare(Option.getOrElse(bytes, () => new Uint8Array(0)), piece.subarray(0, length)) !== 0),
        Effect.mapError(ioError(`read ${file}`))
      )
    }
    return { size, differsAt }
  }).pipe(Effect.mapError(ioError(`read ${file}`)))

/**
 * What to store of the rollout at `absolutePath` (codex's `thread.path`) after `position` (undefined when nothing is
 * stored): the complete lines written since, or the whole file when codex rewrote it. None when the file does not
 * exist or lies outside `home`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const since = Effect.fnUntraced(function*(
  home: string,
  absolutePath: string | null | undefined,
  position: Position | undefined
) {
  if (absolutePath == null) return Option.none<Update>()
  const relative = inside(home, absolutePath)
  if (relative === undefined) return Option.none<Update>()
  const fs = yield* FileSystem.FileSystem
  if (!(yield* fs.exists(absolutePath).pipe(Effect.orElseSucceed(() => false)))) return Option.none<Update>()
  return yield* Effect.scoped(Effect.gen(function*() {
    const file = yield* fs.open(absolutePath, { flag: "r" })
    const size = Number((yield* file.stat).size)
    const appends = position !== undefined && position.path === relative && size >= position.length &&
      (yield* tailKept(file, position))
    if (position !== undefined && !appends) {
      yield* Effect.logInfo("codex rewrote a rollout: storing it whole").pipe(
        Effect.annotateLogs({ path: relative, storedPath: position.path, storedLength: position.length, size })
      )
    }
    const from = appends ? position.length : 0
    const end = yield* lastLineEnd(file, from, size)
    const follow = appends
      ? follower(position.digest.copy(), position.length, position.tail)
      : follower(createHash("sha256"), 0, new Uint8Array(0))
    const write: RolloutWrite = {
      path: relative,
      storedLength: position?.length ?? 0,
      replace: !appends,
      pieces: fs.stream(absolutePath, { offset: from, bytesToRead: end - from, chunkSize: pieceBytes }).pipe(
        Stream.tap((bytes) => Effect.sync(() => follow.see(bytes))),
        Stream.mapError(ioError(`read the rollout ${relative}`))
      ),
      sha256: Effect.sync(follow.sha256)
    }
    return Option.some<Update>({ write, after: Effect.sync(() => follow.position(relative)) })
  }))
}, Effect.mapError(ioError("read a rollout file")))

/**
 * Writes the stored rollout `bytes` under `home` (through a file beside it, renamed into place once it checks: its
 * length and sha256 must be `stored`'s). Returns the position at its end; none when its path would lie outside
 * `home` (nothing is written).
 *
 * When the file already there holds bytes the stored rollout does not (longer, or other bytes where both have some:
 * a turn this runner's codex wrote and the store never got, e.g. cut by the runner's end), `diverged` runs before the
 * rename: codex (0.169.0) keeps a projection of each rollout it has read (`thread_history_*.sqlite` under its home,
 * what `thread/read` lists turns from), continued from the byte offset it reached, so that copy must be dropped.
 *
 * @since 0.2.0
 * @category utils
 */
export const restore = Effect.fnUntraced(function*(
  home: string,
  conversation: string,
  stored: StoredRollout,
  bytes: Stream.Stream<Uint8Array, StoreError>,
  diverged: Effect.Effect<void> = Effect.void
) {
  const relative = inside(home, stored.path)
  if (relative === undefined) return Option.none<Position>()
  const fs = yield* FileSystem.FileSystem
  const file = path.join(home, relative)
  const partial = `${file}.restoring-${crypto.randomUUID()}`
  yield* fs.makeDirectory(path.dirname(file), { recursive: true }).pipe(Effect.mapError(ioError(`create ${file}`)))
  const follow = follower(createHash("sha256"), 0, new Uint8Array(0))
  const differs = yield* Effect.scoped(Effect.gen(function*() {
    const handle = yield* fs.open(partial, { flag: "w" }).pipe(Effect.mapError(ioError(`write ${partial}`)))
    const local = yield* localCopy(fs, file)
    let differs = false
    yield* Stream.runForEach(bytes, (piece) =>
      Effect.gen(function*() {
        if (local !== undefined && !differs) differs = yield* local.differsAt(follow.length(), piece)
        follow.see(piece)
        yield* handle.writeAll(piece).pipe(Effect.mapError(ioError(`write ${partial}`)))
      }))
    return local !== undefined && (differs || local.size > follow.length())
  })).pipe(Effect.onError(() => Effect.ignore(fs.remove(partial, { force: true }))))
  const actual = { length: follow.length(), sha256: follow.sha256() }
  if (actual.length !== stored.length || actual.sha256 !== stored.sha256) {
    yield* Effect.ignore(fs.remove(partial, { force: true }))
    return yield* new RolloutMismatchError({
      conversation,
      path: stored.path,
      expectedLength: stored.length,
      expectedSha256: stored.sha256,
      actualLength: actual.length,
      actualSha256: actual.sha256
    })
  }
  if (differs) {
    yield* Effect.logInfo("the rollout here holds bytes the store does not: codex's copy is dropped").pipe(
      Effect.annotateLogs({ conversation, path: relative, storedLength: stored.length })
    )
    yield* diverged
  }
  yield* fs.rename(partial, file).pipe(Effect.mapError(ioError(`rename ${partial} to ${file}`)))
  return Option.some(follow.position(relative))
})
