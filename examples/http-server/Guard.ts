/**
 * Who may act through the web example: only the page it served. An answer to codex's request is a command to run
 * code on this machine, so every `POST` must come from this server's own origin (a browser sends `Origin`; one from
 * another site is refused) and carry the secret of a page this server served (`x-page-secret`): a form or `fetch`
 * from another site cannot read a page's secret, and cannot set the header without a CORS preflight, which this
 * server never allows.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { HttpServerRequest } from "effect/http"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { randomBytes } from "node:crypto"

/** The request did not come from a page this server served. */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", { reason: Schema.String }) {
  override get message() {
    return `refused: ${this.reason}`
  }
}

/** The header that carries a page's secret. */
export const secretHeader = "x-page-secret"

/** How many page secrets are kept (the oldest are forgotten: reload such a page). */
const kept = 1000

const make = Effect.sync(() => {
  const secrets = new Set<string>()

  /** A new secret for a page being served. */
  const issue = Effect.sync(() => {
    const secret = randomBytes(24).toString("base64url")
    secrets.add(secret)
    if (secrets.size > kept) secrets.delete(secrets.values().next().value!)
    return secret
  })

  /** Fails with `Forbidden` unless the current request comes from this server's origin with a page's secret. */
  const check = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const origin = request.headers["origin"]
    const host = request.headers["host"]
    if (origin !== undefined && origin !== `http://${host}`) {
      return yield* new Forbidden({ reason: `a request from another origin (${origin})` })
    }
    const fetchSite = request.headers["sec-fetch-site"]
    if (fetchSite !== undefined && fetchSite !== "same-origin" && fetchSite !== "none") {
      return yield* new Forbidden({ reason: `a ${fetchSite} request` })
    }
    const secret = request.headers[secretHeader]
    if (secret === undefined || !secrets.has(secret)) {
      return yield* new Forbidden({ reason: `a missing or wrong ${secretHeader}` })
    }
  })

  return { issue, check }
})

/** The page secrets of the web server, and the check of each `POST`. */
export class Guard extends Context.Service<Guard, Effect.Success<typeof make>>()("examples/http-server/Guard") {
  static readonly layer = Layer.effect(Guard)(make)
}
