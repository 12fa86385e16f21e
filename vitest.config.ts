import { defaultServerConditions } from "vite"
import { defineConfig } from "vitest/config"

/**
 * Our packages resolve to their TypeScript source in the workspace: the "@effect-codex/source" export condition
 * first, then node's defaults as vitest sets them (vitest leaves out "module"). Vite ≥ 6 reads the server-side
 * conditions from `ssr.resolve`; vitest also passes them to the forked workers as `--conditions`.
 */
const conditions = ["@effect-codex/source", ...defaultServerConditions.filter((condition) => condition !== "module")]

export default defineConfig({
  ssr: { resolve: { conditions } },
  test: {
    include: ["test/**/*.test.ts", "packages/*/test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks"
  }
})
