/**
 * What the offline MockModel answers the web example: a reply made from the prompt, written a few words at a
 * time so the page visibly fills; a prompt that asks to count gets a long answer (400 deltas: a minute at the example's pace), to
 * try the Stop button on. A prompt with a command in backquotes ("run `touch hello.txt`") makes the model run it
 * (codex asks the page first), and "ask me" makes it ask a question; the model then says what came back.
 */
import { MockModel } from "@effect-codex/testing"

interface Message {
  readonly type?: unknown
  readonly output?: unknown
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

/** The output of the tool call that the request answers, when its last input item is one. */
export const toolOutput = (request: MockModel.RecordedRequest): string | undefined => {
  const body = (typeof request.body === "object" && request.body !== null ? request.body : {}) as {
    readonly input?: ReadonlyArray<Message>
  }
  const last = body.input?.at(-1)
  return last?.type === "function_call_output" ? JSON.stringify(last.output) : undefined
}

/** The question the model asks for a prompt with "ask me". */
export const colorQuestion = {
  id: "color",
  header: "Color",
  question: "Which color should it be?",
  options: [{ label: "red", description: "warm" }, { label: "blue", description: "cold" }]
}

/**
 * The MockModel's reply to any request: {@link answerDeltas} of its prompt, one every `intervalMs`; first a command
 * or a question when the prompt asks for one, then what came back.
 */
export const reply = (intervalMs: number): MockModel.Reply =>
  MockModel.dynamic((request) => {
    const output = toolOutput(request)
    if (output !== undefined) return MockModel.text(`The tool answered: ${output}`)
    const prompt = lastPrompt(request)
    const command = /\brun `([^`]+)`/.exec(prompt)?.[1]
    if (command !== undefined) return MockModel.shellCall({ command })
    if (/\bask me\b/i.test(prompt)) {
      return MockModel.functionCall({ name: "request_user_input", arguments: { questions: [colorQuestion] } })
    }
    const deltas = answerDeltas(prompt)
    return MockModel.text(deltas.join(""), { deltas, intervalMs })
  })
