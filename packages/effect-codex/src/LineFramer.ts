/**
 * Newline framing of a text stream: partial lines are kept until their end arrives, `\r\n` is accepted,
 * blank lines are skipped, and a line longer than the limit is dropped (reported once) instead of
 * growing memory without bound.
 *
 * @since 0.1.0
 */

/** One framed item: a complete line, or the report of a line that was too long. */
export type Frame =
  | { readonly _tag: "Line"; readonly line: string }
  | { readonly _tag: "Oversized"; readonly start: string; readonly limit: number }

/** A stateful framer: push text chunks, get the complete frames they finish. */
export interface LineFramer {
  readonly push: (chunk: string) => ReadonlyArray<Frame>
}

const nonBlank = /\S/

/** Makes a framer that accepts lines of at most `maxLineLength` characters. */
export const make = (maxLineLength: number): LineFramer => {
  let buffer = ""
  // While skipping the rest of an oversized line, everything up to the next newline is dropped.
  let skipping = false
  return {
    push: (chunk) => {
      const frames: Array<Frame> = []
      buffer += chunk
      let start = 0
      let newline: number
      while ((newline = buffer.indexOf("\n", start)) !== -1) {
        const end = newline > start && buffer.charCodeAt(newline - 1) === 13 ? newline - 1 : newline
        if (skipping) {
          skipping = false
        } else if (end - start > maxLineLength) {
          frames.push({ _tag: "Oversized", start: buffer.slice(start, start + 200), limit: maxLineLength })
        } else if (end > start) {
          const line = buffer.slice(start, end)
          // A JSON message starts with "{": test for blank lines only when it does not.
          if (line.charCodeAt(0) === 123 || nonBlank.test(line)) frames.push({ _tag: "Line", line })
        }
        start = newline + 1
      }
      buffer = start === 0 ? buffer : buffer.slice(start)
      if (!skipping && buffer.length > maxLineLength) {
        frames.push({ _tag: "Oversized", start: buffer.slice(0, 200), limit: maxLineLength })
        skipping = true
      }
      if (skipping) buffer = ""
      return frames
    }
  }
}
