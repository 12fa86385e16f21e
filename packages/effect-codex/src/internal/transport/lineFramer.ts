/**
 * Newline framing of a text stream: partial lines are kept until their end arrives, `\r\n` is accepted,
 * blank lines are skipped, and a line longer than the limit is dropped (reported once) instead of
 * growing memory without bound. Linear in the input: each chunk is scanned once, and the pieces of a
 * long line are joined once, when its end arrives.
 *
 * @since 0.1.0
 *
 * @internal
 */

/**
 * One framed item: a complete line, or the report of a line that was too long.
 *
 * @since 0.1.0
 * @category models
 */
export type Frame =
  | { readonly _tag: "Line"; readonly line: string }
  | { readonly _tag: "Oversized"; readonly start: string; readonly limit: number }

/**
 * A stateful framer: push text chunks, get the complete frames they finish.
 *
 * @since 0.1.0
 * @category models
 */
export interface LineFramer {
  readonly push: (chunk: string) => ReadonlyArray<Frame>
  /** The input ended: the last line, if it had no newline. */
  readonly end: () => ReadonlyArray<Frame>
}

const nonBlank = /\S/

/**
 * Makes a framer that accepts lines of at most `maxLineLength` characters.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (maxLineLength: number): LineFramer => {
  // The pieces of the line whose end has not arrived yet, and their total length.
  let pieces: Array<string> = []
  let pending = 0
  // While skipping the rest of an oversized line, everything up to the next newline is dropped.
  let skipping = false

  const emit = (frames: Array<Frame>, last: string) => {
    const joined = pieces.length === 0 ? last : pieces.join("") + last
    pieces = []
    pending = 0
    const line = joined.charCodeAt(joined.length - 1) === 13 ? joined.slice(0, -1) : joined
    if (line.length > maxLineLength) {
      frames.push({ _tag: "Oversized", start: line.slice(0, 200), limit: maxLineLength })
    } else if (line.length > 0 && (line.charCodeAt(0) === 123 || nonBlank.test(line))) {
      // A JSON message starts with "{": test for blank lines only when it does not.
      frames.push({ _tag: "Line", line })
    }
  }

  return {
    push: (chunk) => {
      const frames: Array<Frame> = []
      let start = 0
      let newline: number
      while ((newline = chunk.indexOf("\n", start)) !== -1) {
        if (skipping) skipping = false
        else emit(frames, chunk.slice(start, newline))
        start = newline + 1
      }
      if (start < chunk.length && !skipping) {
        const rest = start === 0 ? chunk : chunk.slice(start)
        pieces.push(rest)
        pending += rest.length
        if (pending > maxLineLength) {
          frames.push({ _tag: "Oversized", start: pieces.join("").slice(0, 200), limit: maxLineLength })
          pieces = []
          pending = 0
          skipping = true
        }
      }
      return frames
    },
    end: () => {
      const frames: Array<Frame> = []
      if (pieces.length > 0 && !skipping) emit(frames, "")
      pieces = []
      pending = 0
      skipping = false
      return frames
    }
  }
}
