/**
 * A runner process for the cluster tests: `CodexRunner.layer` on the test's PostgreSQL, with codex pointed at the
 * test's MockModel. Settings from the environment (set by ./cluster.ts); prints `ready` once the runner has joined.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { CodexRunner } from "@effect-codex/cluster"
import { fastSharding } from "./settings.js"

const env = (name: string) => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`runner: ${name} is not set`)
  return value
}

const runner = CodexRunner.layer({
  codexHome: env("CODEX_HOME"),
  host: "127.0.0.1",
  port: Number(env("RUNNER_PORT")),
  pool: { size: 1, config: JSON.parse(env("CODEX_CONFIG")) as Array<string> },
  sharding: fastSharding
}).pipe(Layer.provide(PgClient.layer({ url: Redacted.make(env("DATABASE_URL")) })))

Effect.sync(() => process.stdout.write("ready\n")).pipe(
  Effect.andThen(Effect.never),
  Effect.provide(runner),
  NodeRuntime.runMain
)
