/**
 * The page the web example serves at `/`: plain HTML and a little browser JavaScript, no build step, no framework.
 *
 * It starts one thread when first used, posts each prompt to `/threads/:id/turns`, reads the Server-Sent Events of
 * the answer from the response body (`fetch`, since `EventSource` only does GET) and appends every delta to the
 * answer as it comes. Stop posts to `/threads/:id/interrupt`; the stream then ends with the turn's result. The
 * status line's `data-state` (`idle`, `running`, then the turn's status or `error`) and the body's `data-thread-id`
 * are what the browser test reads.
 */
export const page = `<!doctype html>
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
<div id="answer" aria-live="polite"></div>
<script type="module">
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
    const response = await fetch("/threads", { method: "POST" })
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
    const response = await fetch("/threads/" + id + "/turns", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt })
    })
    if (!response.ok) throw new Error(await errorOf(response))
    let ended = false
    await readEvents(response, (name, data) => {
      if (name === "delta") answer.textContent += data
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
  const response = await fetch("/threads/" + threadId + "/interrupt", { method: "POST" })
  if (!response.ok) {
    // Still running (the turn was being started, say): say why, and let the user try again.
    status.textContent = await errorOf(response)
    stop.disabled = false
  }
})
</script>
</body>
</html>
`
