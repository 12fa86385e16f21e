/**
 * The page the web example serves at `/`: plain HTML and a little browser JavaScript, no build step, no framework.
 * Each page carries a secret of its own (`secret`), sent with every `POST` (see `Guard.ts`).
 *
 * It starts one thread when first used, posts each prompt to `/threads/:id/turns`, reads the Server-Sent Events of
 * the answer from the response body (`fetch`, since `EventSource` only does GET) and appends every delta to the
 * answer as it comes. Stop posts to `/threads/:id/interrupt`; the stream then ends with the turn's result. The
 * status line's `data-state` (`idle`, `running`, then the turn's status or `error`) and the body's `data-thread-id`
 * are what the browser test reads.
 *
 * When codex asks, the request appears under "Waiting for you" as it arrives: a command with its working directory
 * and reason, a file change as its diff, questions with their options and a free-text answer, an MCP elicitation as
 * a form made from its schema; Approve / Decline / Send answer it over HTTP as the name in "You are". Each request's
 * `data-state` is `pending`, then how it was settled (`answered`, `timedOut`, `cancelled`, `resolved`), and its
 * last line says by whom and when.
 */
export const page = (secret: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>effect-codex web example</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  textarea { width: 100%; box-sizing: border-box; font: inherit; }
  #answer { white-space: pre-wrap; border: 1px solid #ccc; border-radius: 4px; padding: .75rem; min-height: 6rem; }
  #status { color: #555; }
  .request { border: 2px solid #c60; border-radius: 4px; padding: .5rem .75rem; margin: .75rem 0; }
  .request[data-state="answered"] { border-color: #393; }
  .request:not([data-state="pending"]) button, .request:not([data-state="pending"]) input { display: none; }
  .request pre { background: #f4f4f4; padding: .5rem; overflow-x: auto; white-space: pre-wrap; }
  .outcome { color: #555; font-style: italic; }
</style>
</head>
<body>
<h1>codex, streamed</h1>
<form id="ask">
  <textarea id="prompt" rows="3" placeholder="Ask codex something (try: count to 400)"></textarea>
  <p>
    <button id="send" type="submit">Send</button>
    <button id="stop" type="button" disabled>Stop</button>
    <span id="status" data-state="idle">idle</span>
  </p>
</form>
<p><label>You are <input id="who" value="browser user" size="20"></label>
  <label>· wait for your answers up to <input id="wait" type="number" min="0" step="any" size="5" placeholder="10"> minutes</label></p>
<section id="requests" aria-live="polite"></section>
<div id="answer" aria-live="polite"></div>
<script type="module">
const secret = ${JSON.stringify(secret)}
const post = (path, body) => fetch(path, {
  method: "POST",
  headers: { "content-type": "application/json", "x-page-secret": secret },
  body: body === undefined ? undefined : JSON.stringify(body)
})
const $ = (id) => document.getElementById(id)
const answer = $("answer"), status = $("status"), send = $("send"), stop = $("stop")
let threadId

const setState = (state, text) => {
  status.dataset.state = state
  status.textContent = text ?? state
  const running = state === "running"
  send.disabled = running
  stop.disabled = !running
}

const errorOf = async (response) => {
  const body = await response.json().catch(() => ({}))
  return body.error ?? response.status + " " + response.statusText
}

const thread = async () => {
  if (threadId === undefined) {
    const response = await post("/threads")
    if (!response.ok) throw new Error(await errorOf(response))
    threadId = (await response.json()).threadId
    document.body.dataset.threadId = threadId
  }
  return threadId
}

/** Calls \`onEvent(name, data)\` for each Server-Sent Event of the response body, as it arrives. */
const readEvents = async (response, onEvent) => {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    buffer += value.replaceAll("\\r\\n", "\\n")
    let end
    while ((end = buffer.indexOf("\\n\\n")) >= 0) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      let name = "message", data = []
      for (const line of block.split("\\n")) {
        const colon = line.indexOf(":")
        const field = colon < 0 ? line : line.slice(0, colon)
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
        if (field === "event") name = text
        else if (field === "data") data.push(text)
      }
      if (data.length > 0) onEvent(name, JSON.parse(data.join("\\n")))
    }
  }
}

$("ask").addEventListener("submit", async (event) => {
  event.preventDefault()
  const prompt = $("prompt").value.trim()
  if (prompt === "") return
  answer.textContent = ""
  setState("running")
  try {
    const id = await thread()
    const minutes = Number($("wait").value)
    const response = await post("/threads/" + id + "/turns", minutes > 0 ? { prompt, askTimeoutMs: Math.round(minutes * 60_000) } : { prompt })
    if (!response.ok) throw new Error(await errorOf(response))
    let ended = false
    await readEvents(response, (name, data) => {
      if (name === "delta") answer.textContent += data
      else if (name === "request") showRequest(id, data)
      else if (name === "settled") showSettled(data)
      else if (name === "result") {
        ended = true
        if (answer.textContent === "" && data.finalResponse) answer.textContent = data.finalResponse
        setState(data.status, "turn " + data.status + (data.error ? ": " + data.error : ""))
      } else if (name === "error") {
        ended = true
        setState("error", data.message)
      }
    })
    if (!ended) setState("error", "the stream ended without a result")
  } catch (error) {
    setState("error", String(error.message ?? error))
  }
})

stop.addEventListener("click", async () => {
  if (threadId === undefined) return
  stop.disabled = true
  const response = await post("/threads/" + threadId + "/interrupt")
  if (!response.ok) {
    // Still running (the turn was being started, say): say why, and let the user try again.
    status.textContent = await errorOf(response)
    stop.disabled = false
  }
})

/** An element with text. */
const el = (tag, text, attributes = {}) => {
  const node = document.createElement(tag)
  if (text !== undefined) node.textContent = text
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value)
  return node
}

/** Shows a request codex waits on, with the controls that answer it. */
const showRequest = (threadId, request) => {
  const box = el("div", undefined, { class: "request", "data-request-id": request.requestId, "data-method": request.method, "data-state": "pending" })
  const p = request.params
  const send = async (answer) => {
    for (const button of box.querySelectorAll("button")) button.disabled = true
    const response = await post("/threads/" + threadId + "/requests/" + encodeURIComponent(request.requestId), { answer, by: $("who").value || "anonymous" })
    if (!response.ok) {
      box.append(el("p", await errorOf(response), { class: "refused" }))
      for (const button of box.querySelectorAll("button")) button.disabled = false
    }
  }
  const button = (label, answer, cls) => {
    const node = el("button", label, { type: "button", class: cls })
    node.addEventListener("click", () => send(typeof answer === "function" ? answer() : answer))
    return node
  }
  switch (request.method) {
    case "item/commandExecution/requestApproval":
      box.append(el("strong", "Run this command?"), el("pre", p.command ?? "(command not given)", { class: "command" }),
        el("p", "in " + (p.cwd ?? "the thread's directory")))
      if (p.reason) box.append(el("p", "Reason: " + p.reason))
      box.append(button("Approve", { decision: "accept" }, "approve"), button("Decline", { decision: "decline" }, "decline"))
      break
    case "item/fileChange/requestApproval":
      box.append(el("strong", "Apply this change?"))
      if (p.reason) box.append(el("p", "Reason: " + p.reason))
      for (const change of request.changes ?? []) box.append(el("p", change.path), el("pre", change.diff, { class: "diff" }))
      box.append(button("Approve", { decision: "accept" }, "approve"), button("Decline", { decision: "decline" }, "decline"))
      break
    case "execCommandApproval":
    case "applyPatchApproval":
      box.append(el("strong", request.method), el("pre", JSON.stringify(p, null, 2)))
      box.append(button("Approve", { decision: "approved" }, "approve"), button("Decline", { decision: "denied" }, "decline"))
      break
    case "item/tool/requestUserInput": {
      const readers = []
      for (const question of p.questions) {
        const field = el("fieldset", undefined, { class: "question", "data-question-id": question.id })
        field.append(el("legend", question.header), el("p", question.question))
        const name = request.requestId + "/" + question.id
        for (const option of question.options ?? []) {
          const label = el("label")
          label.append(el("input", undefined, { type: "radio", name, value: option.label }), " " + option.label + (option.description ? " (" + option.description + ")" : ""))
          field.append(label, el("br"))
        }
        const text = el("input", undefined, { type: question.isSecret ? "password" : "text", class: "free-text", placeholder: "or your own answer" })
        if (question.isOther !== false || (question.options ?? []).length === 0) field.append(text)
        box.append(field)
        readers.push(() => {
          const chosen = field.querySelector("input[type=radio]:checked")
          const answer = text.value.trim() !== "" ? text.value.trim() : chosen?.value
          return [question.id, { answers: answer === undefined ? [] : [answer] }]
        })
      }
      box.append(button("Send", () => ({ answers: Object.fromEntries(readers.map((read) => read())) }), "send"),
        button("Decline", { answers: {} }, "decline"))
      break
    }
    case "mcpServer/elicitation/request": {
      box.append(el("strong", p.serverName + " asks"), el("p", p.message))
      if (p.mode === "url") {
        box.append(el("a", p.url, { href: p.url, target: "_blank", rel: "noopener noreferrer" }))
        box.append(button("Done", { action: "accept" }, "approve"), button("Decline", { action: "decline" }, "decline"))
        break
      }
      const form = el("form", undefined, { class: "elicitation" })
      const readers = []
      for (const [key, schema] of Object.entries(p.requestedSchema.properties ?? {})) {
        const label = el("label", (schema.title ?? key) + " ")
        let input
        if (Array.isArray(schema.enum) || Array.isArray(schema.oneOf)) {
          input = el("select", undefined, { name: key })
          const values = schema.enum ?? schema.oneOf.map((option) => option.const)
          for (const value of values) input.append(el("option", String(value), { value: String(value) }))
          readers.push(() => [key, input.value])
        } else if (schema.type === "boolean") {
          input = el("input", undefined, { type: "checkbox", name: key })
          readers.push(() => [key, input.checked])
        } else if (schema.type === "number" || schema.type === "integer") {
          input = el("input", undefined, { type: "number", name: key })
          readers.push(() => [key, Number(input.value)])
        } else {
          input = el("input", undefined, { type: "text", name: key })
          readers.push(() => [key, input.value])
        }
        label.append(input)
        if (schema.description) label.append(" " + schema.description)
        form.append(label, el("br"))
      }
      box.append(form, button("Send", () => ({ action: "accept", content: Object.fromEntries(readers.map((read) => read())) }), "send"),
        button("Decline", { action: "decline" }, "decline"))
      break
    }
    default:
      box.append(el("strong", request.method), el("pre", JSON.stringify(p, null, 2)))
      box.append(button("Decline", undefined, "decline"))
  }
  $("requests").append(box)
}

const outcomes = { answered: "answered", timedOut: "nobody answered in time: declined", cancelled: "the turn ended: declined", resolved: "resolved by codex" }

/** Marks a request settled: how, by whom, when. */
const showSettled = (settled) => {
  const box = document.querySelector('.request[data-request-id="' + CSS.escape(settled.requestId) + '"]')
  if (box === null) return
  box.dataset.state = settled.outcome
  box.append(el("p", outcomes[settled.outcome] + (settled.by ? " by " + settled.by : "") + " at " + new Date(settled.settledAt).toLocaleTimeString(), { class: "outcome" }))
}
</script>
</body>
</html>
`
