/**
 * Settings shared by the runner's and the client's `layerConfig`.
 *
 * @since 0.2.0
 * @internal
 */
import type * as PgClient from "@effect/sql-pg/PgClient"
import * as Config from "effect/Config"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"

/**
 * `config`, or undefined when it is not set.
 *
 * @since 0.2.0
 * @category configuration
 * @internal
 */
export const optional = <A>(config: Config.Config<A>): Config.Config<A | undefined> =>
  Config.map(Config.option(config), Option.getOrUndefined)

/**
 * The cluster's shared secret from the environment: `EFFECT_CODEX_CLUSTER_SECRET` (redacted).
 *
 * @since 0.2.0
 * @category configuration
 * @internal
 */
export const secret: Config.Config<Redacted.Redacted<string>> = Config.Redacted("EFFECT_CODEX_CLUSTER_SECRET")

/**
 * The PostgreSQL client's settings from the environment: `EFFECT_CODEX_DATABASE_URL` (redacted),
 * `EFFECT_CODEX_DATABASE_MAX_MESSAGE_SIZE` (bytes: the largest message the server may send; `@effect/sql-pg`'s
 * default is 16 MiB), `EFFECT_CODEX_DATABASE_POOL_SIZE` (connections).
 *
 * @since 0.2.0
 * @category configuration
 * @internal
 */
export const database: Config.Wrap<PgClient.PgPoolConfig> = {
  url: Config.Redacted("EFFECT_CODEX_DATABASE_URL"),
  maxMessageSize: optional(Config.Int("EFFECT_CODEX_DATABASE_MAX_MESSAGE_SIZE")),
  maxConnections: optional(Config.Int("EFFECT_CODEX_DATABASE_POOL_SIZE"))
}
