/**
 * What to provide to answer a server request the default policy declined, by method: the line the decline log
 * ends with. `Approvals.acceptAll` answers command and file-change approvals only; MCP elicitations, dynamic tool
 * calls, permission requests and questions each have their own opt-in.
 *
 * @since 0.2.0
 *
 * @internal
 */

/** A handler of `method` in `Approvals.layer` (or a turn's `approvals`). */
const handler = (method: string, what = "a handler") =>
  `${what} in Approvals.layer({ "${method}": ... }) or in a turn's approvals`

/**
 * The opt-in that answers requests of `method`, as a sentence to end a log line with.
 *
 * @since 0.2.0
 * @category utils
 */
export const optInFor = (method: string): string => {
  switch (method) {
    case "item/commandExecution/requestApproval":
    case "item/fileChange/requestApproval":
    case "execCommandApproval":
    case "applyPatchApproval":
      return `Provide Approvals.acceptAll, or ${handler(method)}, to decide otherwise.`
    case "item/permissions/requestApproval":
      return `Provide ${handler(method)} to grant permissions (Approvals.acceptAll never does).`
    case "mcpServer/elicitation/request":
      return `For MCP tool calls provide CodexTools.approveToolCalls(serverName) from @effect-codex/ai; for other ` +
        `elicitations ${handler(method)} (Approvals.acceptAll does not answer elicitations).`
    case "item/tool/call":
      return `Provide the toolkit's CodexTools.dynamic(toolkit).approvals from @effect-codex/ai, or ` +
        `${handler(method)}, to run dynamic tools (Approvals.acceptAll does not run them).`
    case "item/tool/requestUserInput":
      return `Provide ${handler(method, "a handler that answers the questions")} (Approvals.acceptAll does not).`
    case "account/chatgptAuthTokens/refresh":
      return `Provide Approvals.chatgptTokenRefresh(...) in Approvals.layer({...}) to refresh ChatGPT tokens.`
    default:
      return `Provide ${handler(method)} to answer it.`
  }
}
