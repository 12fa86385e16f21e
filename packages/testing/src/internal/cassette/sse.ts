/**
 * Server-Sent Events read as they arrive, for the cassette recorder: text in any chunking, events out.
 *
 * @since 0.2.0
 *
 * @internal
 */

/**
 * One event: its `event:` name (or the `type` of its data) and its `data:` (parsed JSON, else the text).
 *
 * @since 0.2.0
 * @category models
 * @internal
 */
export interface ParsedEvent {
  readonly event: string
  readonly data: unknown
}

const parseBlock = (block: string): ParsedEvent | undefined => {
  let event: string | undefined
  const data: Array<string> = []
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith("event:")) event = line.slice(6).trim()
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""))
  }
  if (event === undefined && data.length === 0) return undefined
  const text = data.join("\n")
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: kept as text
  }
  const type = typeof parsed === "object" && parsed !== null ? (parsed as { type?: unknown }).type : undefined
  return { event: event ?? (typeof type === "string" ? type : "message"), data: parsed }
}

/**
 * A parser fed chunk by chunk; `push` returns the events completed by the chunk, `end` the last one.
 *
 * @since 0.2.0
 * @category constructors
 * @internal
 */
export const makeParser = () => {
  let buffer = ""
  const drain = (final: boolean): Array<ParsedEvent> => {
    const blocks = buffer.split(/\r?\n\r?\n/)
    buffer = final ? "" : blocks.pop() ?? ""
    return blocks.flatMap((block) => {
      const event = parseBlock(block)
      return event === undefined ? [] : [event]
    })
  }
  return {
    push: (chunk: string): Array<ParsedEvent> => {
      buffer += chunk
      return drain(false)
    },
    end: (): Array<ParsedEvent> => drain(true)
  }
}
