import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import * as path from "node:path"
import { classify, type Message } from "../../../src/internal/rpc/message.js"

const captures = path.resolve(import.meta.dirname, "../../../../../test/fixtures/captures")
const scenarios = readdirSync(captures)
  .filter((file) => file.endsWith(".client.jsonl"))
  .map((file) => file.slice(0, -".client.jsonl".length))
  .sort()
const linesOf = (file: string) =>
  readFileSync(path.join(captures, file), "utf8").split("\n").filter((line) => line.trim() !== "")

describe("classify", () => {
  it("classifies every line of the captured sessions, each response matching a request the client sent", () => {
    const seen: Record<Message["_tag"], number> = {
      Response: 0,
      ErrorResponse: 0,
      Request: 0,
      Notification: 0,
      Invalid: 0
    }
    expect(scenarios.length).toBeGreaterThan(5)
    for (const scenario of scenarios) {
      const client = linesOf(`${scenario}.client.jsonl`).map((line) => JSON.parse(line) as Record<string, unknown>)
      const requested = new Set(client.filter((m) => typeof m.method === "string" && "id" in m).map((m) => m.id))
      const answered = new Set(client.filter((m) => m.method === undefined).map((m) => m.id))
      for (const line of linesOf(`${scenario}.jsonl`)) {
        const raw = JSON.parse(line) as Record<string, unknown>
        const message = classify(line)
        seen[message._tag]++
        switch (message._tag) {
          case "Response":
            expect(requested.has(message.id), `${scenario}: ${line}`).toBe(true)
            expect(message.result).toEqual(raw.result)
            break
          case "ErrorResponse":
            expect(requested.has(message.id), `${scenario}: ${line}`).toBe(true)
            expect(message.error).toEqual(raw.error)
            expect(message.problem).toBeUndefined()
            break
          case "Request":
            // The capture client answered every server request by its id.
            expect(answered.has(message.request.id), `${scenario}: ${line}`).toBe(true)
            expect(message.request).toEqual({ id: raw.id, method: raw.method, params: raw.params })
            break
          case "Notification":
            expect(message.notification).toEqual({ method: raw.method, params: raw.params, emittedAtMs: raw.emittedAtMs })
            break
          case "Invalid":
            expect.fail(`${scenario}: ${line} classified as invalid: ${message.reason}`)
        }
      }
    }
    expect(seen.Response).toBeGreaterThan(0)
    expect(seen.ErrorResponse).toBeGreaterThan(0)
    expect(seen.Request).toBeGreaterThan(0)
    expect(seen.Notification).toBeGreaterThan(seen.Response)
  })

  it("tells what is wrong with malformed lines", () => {
    const reason = (line: string) => {
      const message = classify(line)
      return message._tag === "Invalid" ? message.reason : `classified as ${message._tag}`
    }
    expect(reason("not json")).toMatch(/^invalid JSON: /)
    expect(reason(`{"id":1,"result":`)).toMatch(/^invalid JSON: /)
    for (const line of [`[1,2]`, `"text"`, `null`, `42`]) expect(reason(line)).toBe("not a JSON object")
    const neither = "neither a request, a response nor a notification"
    // No method, and no usable id with a result or an error.
    for (const line of [`{}`, `{"id":1}`, `{"id":null,"error":{"code":-32700,"message":"parse"}}`, `{"id":true,"result":1}`, `{"method":5,"params":{}}`]) {
      expect(reason(line), line).toBe(neither)
    }
  })

  it("turns a malformed error object into an internal error that names the problem", () => {
    for (const line of [`{"id":4,"error":"boom"}`, `{"id":"a","error":{"code":"x","message":"m"}}`, `{"id":4,"error":null}`]) {
      const message = classify(line)
      expect(message, line).toMatchObject({ _tag: "ErrorResponse", problem: "malformed error object" })
      if (message._tag !== "ErrorResponse") continue
      expect(message.error.code).toBe(-32603)
      expect(message.error.message).toBe(`malformed error response: ${line}`)
    }
  })

  it("keeps what each kind carries: error over result, params absent, emittedAtMs only as a number", () => {
    expect(classify(`{"id":1,"result":1,"error":{"code":7,"message":"m","data":[1]}}`)).toEqual({
      _tag: "ErrorResponse",
      id: 1,
      error: { code: 7, message: "m", data: [1] }
    })
    expect(classify(`{"id":"7","result":null}`)).toEqual({ _tag: "Response", id: "7", result: null })
    expect(classify(`{"id":"s1","method":"item/tool/call"}`)).toEqual({
      _tag: "Request",
      request: { id: "s1", method: "item/tool/call", params: undefined }
    })
    // An id that is not a request id makes no request.
    expect(classify(`{"id":null,"method":"x","params":{}}`)).toEqual({
      _tag: "Notification",
      notification: { method: "x", params: {} }
    })
    expect(classify(`{"method":"x","params":[],"emittedAtMs":"5"}`)).toEqual({
      _tag: "Notification",
      notification: { method: "x", params: [] }
    })
    expect(classify(`{"method":"x","emittedAtMs":5,"extra":true}`)).toEqual({
      _tag: "Notification",
      notification: { method: "x", params: undefined, emittedAtMs: 5 }
    })
  })
})
