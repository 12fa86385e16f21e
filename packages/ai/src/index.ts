/**
 * effect-codex in the `effect/ai` ecosystem.
 *
 * @since 0.2.0
 */

/**
 * Your `effect/ai` `Toolkit` called by codex: served over MCP (HTTP on 127.0.0.1) or as dynamic tools:
 * `CodexTools.layerCodex`, `CodexTools.serve`, `CodexTools.dynamic`.
 *
 * @since 0.2.0
 */
export * as CodexTools from "./CodexTools.js"

/**
 * codex as an `effect/ai` `LanguageModel` (`generateText`, `streamText`, `generateObject` on codex threads):
 * `CodexLanguageModel.layer`, `CodexLanguageModel.Config`, `CodexLanguageModel.withConfigOverride`.
 *
 * @since 0.2.0
 */
export * as CodexLanguageModel from "./CodexLanguageModel.js"
