/**
 * One runner process of the local cluster (./local.ts starts them): `CodexRunner.layerConfig()`, its settings from
 * the environment as in a deployment (`EFFECT_CODEX_CLUSTER_SECRET`, `EFFECT_CODEX_DATABASE_URL`,
 * `EFFECT_CODEX_RUNNER_PORT`, `CODEX_HOME`, `EFFECT_CODEX_POOL_SIZE`), plus `CODEX_CONFIG`, the `-c` overrides that point codex at the local MockModel.
 * Prints `ready` once it has joined the cluster.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Config from "effect/Config"
import { CodexRunner } from "@effect-codex/cluster"

const config = JSON.parse(process.env["CODEX_CONFIG"] ?? "[]") as Array<string>

Effect.sync(() => process.stdout.write("ready\n")).pipe(
  Effect.andThen(Effect.never),
  Effect.provide(CodexRunner.layerConfig({
    ...CodexRunner.configFromEnv,
    pool: Config.map(Config.Int("EFFECT_CODEX_POOL_SIZE"), (size) => ({ size, config }))
  })),
  NodeRuntime.runMain
)
