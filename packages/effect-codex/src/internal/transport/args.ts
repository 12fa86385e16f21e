/**
 * The command line of `codex app-server`: the offline overrides, `-c` entries, feature flags and extra
 * arguments. Kept apart from `Transport.ts` so the stdio transports need no value from it.
 *
 * @since 0.2.0
 * @internal
 */
import type { StdioOptions } from "../../Transport.js"

/**
 * @since 0.2.0
 * @category constants
 * @internal
 */
export const offlineConfig: ReadonlyArray<string> = [
  "features.plugins=false",
  "features.remote_plugin=false",
  "features.apps=false",
  "analytics.enabled=false",
  "check_for_update_on_startup=false"
]

/**
 * @since 0.1.0
 * @category utils
 * @internal
 */
export const configEntries = (config: StdioOptions["config"]): ReadonlyArray<string> =>
  config === undefined
    ? []
    : Array.isArray(config)
    ? config
    : Object.entries(config).map(([key, value]) => `${key}=${value}`)

/**
 * @since 0.1.0
 * @category utils
 * @internal
 */
export const appServerArgs = (options: StdioOptions): Array<string> => [
  "app-server",
  ...[...(options.offline === true ? offlineConfig : []), ...configEntries(options.config)]
    .flatMap((entry) => ["-c", entry]),
  ...(options.enable ?? []).flatMap((feature) => ["--enable", feature]),
  ...(options.disable ?? []).flatMap((feature) => ["--disable", feature]),
  ...(options.args ?? [])
]
