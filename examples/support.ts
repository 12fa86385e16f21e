/**
 * Small helpers the examples share: a one-line description of an event, and a tiny PNG made in
 * memory (so the image examples need no file from anywhere).
 */
import type { Turn } from "effect-codex"
import { crc32, deflateSync } from "node:zlib"

/** One short line about an event: its method and what matters in it. */
export const describeEvent = (event: Turn.Event): string => {
  if (event._tag === "UnknownNotification") return `${event.method} (not in the pinned protocol)`
  switch (event.method) {
    case "turn/started":
      return `turn/started        turn ${event.params.turn.id}`
    case "item/started":
      return `item/started        ${event.params.item.type}`
    case "item/agentMessage/delta":
      return `agentMessage/delta  ${JSON.stringify(event.params.delta)}`
    case "item/completed":
      return `item/completed      ${event.params.item.type}${
        event.params.item.type === "agentMessage" ? ` ${JSON.stringify(event.params.item.text)}` : ""
      }`
    case "thread/tokenUsage/updated":
      return `tokenUsage/updated  ${event.params.tokenUsage.total.totalTokens} tokens in all`
    case "thread/status/changed":
      return `status/changed      ${event.params.status.type}`
    case "turn/completed":
      return `turn/completed      ${event.params.turn.status}`
    case "warning":
      return `warning             ${event.params.message}`
    default:
      return event.method
  }
}

const chunk = (type: string, data: Uint8Array): Buffer => {
  const body = Buffer.concat([Buffer.from(type, "ascii"), data])
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([length, body, crc])
}

/** A `size`×`size` PNG: a red disc on a white background. */
export const redDiscPng = (size = 64): Uint8Array => {
  const header = Buffer.alloc(13)
  header.writeUInt32BE(size, 0)
  header.writeUInt32BE(size, 4)
  header.set([8, 2, 0, 0, 0], 8) // 8 bits per channel, RGB, default compression/filter/interlace
  const rows = Buffer.alloc(size * (1 + size * 3), 255)
  const center = (size - 1) / 2
  for (let y = 0; y < size; y++) {
    const row = y * (1 + size * 3)
    rows[row] = 0 // filter: none
    for (let x = 0; x < size; x++) {
      if (Math.hypot(x - center, y - center) <= size * 0.35) rows.set([220, 30, 30], row + 1 + x * 3)
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows)),
    chunk("IEND", new Uint8Array())
  ])
}

