/**
 * What the offline MockModel answers the web example: a reply made from the prompt, written a few words at a
 * time so the page visibly fills; a prompt that asks to count gets a long answer (400 deltas: a minute at the example's pace), to
 * try the Stop button on.
 */
import { MockModel } from "@effect-codex/testing"

interface Message {
  readonly type?: unknown
  readonly role?: unknown
  readonly content?: ReadonlyArray<{ readonly type?: unknown; readonly text?: unknown }>
}

/** The text of the last user message of a Responses API request (codex puts the turn's prompt last). */
export const lastPrompt = (request: MockModel.RecordedRequest): string => {
  const body = (typeof request.body === "object" && request.body !== null ? request.body : {}) as {
    readonly input?: ReadonlyArray<Message>
  }
  const message = (body.input ?? []).findLast((item) => item.type === "message" && item.role === "user")
  const part = (message?.content ?? []).findLast((content) => content.type === "input_text")
  return typeof part?.text === "string" ? part.text : ""
}

/** The answer to `prompt`, as the deltas the mock writes one by one. */
export const answerDeltas = (prompt: string): ReadonlyArray<string> =>
  /\bcount\b/i.test(prompt)
    ? Array.from({ length: 400 }, (_, i) => `${i + 1} `)
    : `Mock answer to "${prompt.trim()}": this reply is written a few words at a time, so you can watch it arrive.`
      .split(/(?<= )/)

/** The MockModel's reply to any request: {@link answerDeltas} of its prompt, one every `intervalMs`. */
export const reply = (intervalMs: number): MockModel.Reply =>
  MockModel.dynamic((request) => {
    const deltas = answerDeltas(lastPrompt(request))
    return MockModel.text(deltas.join(""), { deltas, intervalMs })
  })
