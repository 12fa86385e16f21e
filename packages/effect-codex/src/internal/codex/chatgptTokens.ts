/**
 * ChatGPT auth tokens supplied by the host application, and their wire form (shared by `Codex.loginChatgptTokens`
 * and `Approvals.chatgptTokenRefresh`, apart from both so that neither imports the other).
 *
 * @since 0.2.0
 *
 * @internal
 */
import * as Redacted from "effect/Redacted"

/**
 * ChatGPT auth tokens the host application holds. The access token never appears in spans or logs.
 *
 * @since 0.2.0
 * @category models
 */
export interface ChatgptTokens {
  /** The access token (a JWT). */
  readonly accessToken: Redacted.Redacted<string>
  /** The ChatGPT workspace/account id. */
  readonly chatgptAccountId: string
  /** The plan type; when left out codex derives it from the token's claims. */
  readonly chatgptPlanType?: string | null | undefined
}

/**
 * The tokens as sent: `account/login/start` params (with `type`) and the `account/chatgptAuthTokens/refresh` answer.
 *
 * @since 0.2.0
 * @category utils
 */
export const toWire = (tokens: ChatgptTokens) => ({
  accessToken: Redacted.value(tokens.accessToken),
  chatgptAccountId: tokens.chatgptAccountId,
  ...(tokens.chatgptPlanType === undefined ? {} : { chatgptPlanType: tokens.chatgptPlanType })
})
