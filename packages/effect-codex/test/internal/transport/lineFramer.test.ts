import { describe, expect, it } from "@effect/vitest"
import * as LineFramer from "../../../src/internal/transport/lineFramer.js"

const lines = (frames: ReadonlyArray<LineFramer.Frame>) =>
  frames.map((frame) => frame._tag === "Line" ? frame.line : `<oversized ${frame.start.length}>`)

describe("LineFramer", () => {
  it("joins a line split over many chunks, with CRLF split across two chunks", () => {
    const framer = LineFramer.make(1000)
    expect(framer.push(`{"a":`)).toEqual([])
    expect(framer.push(`1}\r`)).toEqual([])
    expect(lines(framer.push(`\n{"b":2}\n\n   \n{"c"`))).toEqual([`{"a":1}`, `{"b":2}`])
    expect(lines(framer.push(`:3}\n`))).toEqual([`{"c":3}`])
  })

  it("frames a 20 MB line arriving in 64 KiB chunks", () => {
    const framer = LineFramer.make(64 * 1024 * 1024)
    const big = `{"x":"${"y".repeat(20 * 1024 * 1024)}"}`
    const text = `${big}\n{"after":true}\n`
    const frames: Array<LineFramer.Frame> = []
    for (let index = 0; index < text.length; index += 64 * 1024) {
      frames.push(...framer.push(text.slice(index, index + 64 * 1024)))
    }
    expect(frames).toHaveLength(2)
    expect(frames[0]).toEqual({ _tag: "Line", line: big })
    expect(frames[1]).toEqual({ _tag: "Line", line: `{"after":true}` })
  })

  it("reports an oversized line once, drops the rest of it and goes on", () => {
    const framer = LineFramer.make(10)
    const frames = [
      ...framer.push(`{"long":"0123456789`),
      ...framer.push(`0123456789"}\n{"ok":1}\n`),
      ...framer.push(`${"z".repeat(20)}\n{"ok":2}\n`)
    ]
    expect(lines(frames)).toEqual([`<oversized 19>`, `{"ok":1}`, `<oversized 20>`, `{"ok":2}`])
  })

  it("gives the last line at the end of the input even without a newline", () => {
    const framer = LineFramer.make(1000)
    expect(lines(framer.push(`{"a":1}\n{"b":`))).toEqual([`{"a":1}`])
    expect(lines(framer.end())).toEqual([`{"b":`])
    expect(framer.end()).toEqual([])
  })
})
