/**
 * A web backend on effect-codex: an `effect/http` server that starts codex threads, streams each turn to the
 * browser as Server-Sent Events, and serves a page with a prompt box, an answer that fills as codex writes it, and
 * a Stop button that interrupts the turn (see `routes.ts` for the API, `page.ts` for the page).
 *
 * Run: `npm run example:http`, then open http://127.0.0.1:3000 (`PORT` and `HOST` change where it listens).
 * Offline by default: the real pinned codex binary on a local MockModel that answers every prompt a few words at
 * a time ("count to 400" gives a long answer to stop). With `OPENAI_API_KEY` set, or `EFFECT_CODEX_REAL=1` to use
 * an existing Codex login, the real model answers through `NodeCodex.layerFromEnv()` (`CODEX_BIN`, `CODEX_HOME`,
 * `CODEX_MODEL` apply). Ctrl-C stops the server; the codex process ends with it.
 */
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import { HttpRouter, HttpServer } from "effect/http"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import * as Runtime from "../runtime.js"
import { Conversations } from "./Conversations.js"
import { reply } from "./mock.js"
import { routes } from "./routes.js"

/** Where the server listens. */
export interface Listen {
  readonly port: number
  readonly host: string
}

/** The web server on `listen`, for a `Codex` provided from outside (the tests give it the offline one). */
export const serverLayer = (listen: Listen) =>
  HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provide(Conversations.layer),
    Layer.provideMerge(NodeHttpServer.layer(createServer, listen))
  )

/** The options of the offline backend: the MockModel answers every prompt with `mock.ts`'s reply, a delta every `intervalMs`. */
export const mockOptions = (intervalMs = 150) => ({ mock: { defaultReply: reply(intervalMs) } })

const listen = Config.all({
  port: Config.Port("PORT").pipe(Config.withDefault(3000)),
  host: Config.String("HOST").pipe(Config.withDefault("127.0.0.1"))
})

if (import.meta.main) {
  Layer.unwrap(Effect.map(listen, serverLayer)).pipe(
    HttpServer.withLogAddress,
    Layer.provide(Runtime.layer([], {}, mockOptions())),
    Layer.launch,
    NodeRuntime.runMain
  )
}
