/**
 * effect-codex: an Effect 4 SDK for OpenAI's `codex app-server`.
 *
 * @since 0.1.0
 */
export * as CodexBinary from "./CodexBinary.js"
export * as CodexVersion from "./CodexVersion.js"
export * as Errors from "./Errors.js"
export * as RpcPeer from "./RpcPeer.js"
export * as Transport from "./Transport.js"
export * as Retry from "./Retry.js"
export * as AppServer from "./AppServer.js"
export * as Experimental from "./Experimental.js"
export * as Approvals from "./Approvals.js"
export * as PendingRequest from "./PendingRequest.js"
export * as Input from "./Input.js"
export * as Turn from "./Turn.js"
export * as Thread from "./Thread.js"
export * as Codex from "./Codex.js"
export * as CodexPool from "./CodexPool.js"
export * as NodeCodex from "./NodeCodex.js"
