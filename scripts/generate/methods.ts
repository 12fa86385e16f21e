/**
 * Method → response mapping rules.
 *
 * `ClientRequest.json` / `ServerRequest.json` only name the params type of each method. Responses follow the
 * convention `FooParams` → `FooResponse`; the methods below break it (their params are `null` or the response
 * is named differently). Source of truth: the `client_request_definitions!` macro in
 * codex-rs/app-server-protocol/src/protocol/common.rs (`params:` / `response:` per method).
 *
 * The generator fails if an entry here is unnecessary (the convention already finds a response), names a
 * method that does not exist, or names a response definition that does not exist.
 */
import { GUARD_MAP_NAMES } from "./guards.js"

export const CLIENT_RESPONSE_EXCEPTIONS: Readonly<Record<string, string>> = {
  "account/gatewayOAuth/cancel": "GatewayOAuthCancelResponse",
  "account/logout": "LogoutAccountResponse",
  "account/securitySetup/read": "GetAccountSecuritySetupResponse",
  "account/workspaceMessages/read": "GetWorkspaceMessagesResponse",
  "config/batchWrite": "ConfigWriteResponse",
  "config/mcpServer/reload": "McpServerRefreshResponse",
  "config/value/write": "ConfigWriteResponse",
  "configRequirements/read": "ConfigRequirementsReadResponse",
  "externalAgentConfig/import/readHistories": "ExternalAgentConfigImportHistoriesReadResponse",
  "windowsSandbox/readiness": "WindowsSandboxReadinessResponse"
}

/**
 * Same for the methods that only the experimental protocol (`generate-json-schema --experimental`) has; merged with
 * the table above for the experimental model.
 */
export const EXPERIMENTAL_CLIENT_RESPONSE_EXCEPTIONS: Readonly<Record<string, string>> = {
  "accountSession/list": "AccountSessionsResponse",
  "memory/reset": "MemoryResetResponse",
  "remoteControl/status/read": "RemoteControlStatusReadResponse",
  "rollout/compress": "RolloutCompressResponse"
}

/** Same for server → client requests (currently none needed). */
export const SERVER_RESPONSE_EXCEPTIONS: Readonly<Record<string, string>> = {}

/** Names exported by methods.ts / guards.ts / index.ts; a schema definition with one of these names is an error. */
export const RESERVED_NAMES = new Set([
  "Schema",
  "S",
  "CODEX_VERSION",
  "NoParams",
  "ClientRequests",
  "ClientRequestMethod",
  "ClientRequestParams",
  "ClientRequestResponse",
  "ClientRequestMethodWithOptionalParams",
  "ClientNotifications",
  "ClientNotificationMethod",
  "ClientNotificationParams",
  "ServerNotifications",
  "ServerNotificationMethod",
  "ServerNotificationParams",
  "ServerNotification",
  "ServerRequests",
  "ServerRequestMethod",
  "ServerRequestParams",
  "ServerRequestResponse",
  "ServerRequest",
  "ClientRequest",
  "ClientNotification",
  "SchemaTransformation",
  "UnknownValue",
  "UnknownVariant",
  "Experimental",
  ...GUARD_MAP_NAMES
])
