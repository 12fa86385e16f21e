/**
 * The parts of `Transport.remote` that are plain functions: the `--listen` URL a user gives mapped to what the
 * WebSocket client dials, and socket failures turned into `AppServerConnectError` or the `ExitInfo` of a dropped
 * connection. codex serves both `ws://` and `unix://` as WebSocket (over TCP, or over the unix socket with the
 * same HTTP upgrade), one JSON-RPC message per text frame.
 *
 * @since 0.2.0
 *
 * @internal
 */
import * as Config from "effect/Config"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Socket from "effect/socket/Socket"
import { AppServerConnectError } from "../../Errors.js"

/**
 * `options` completed from the environment, as a `Config`: `CODEX_APP_SERVER_URL` (required unless `url` is given)
 * and `CODEX_APP_SERVER_TOKEN` (optional, kept redacted; `token` wins).
 *
 * @since 0.2.0
 * @category utils
 */
export const environmentConfig = <
  O extends { readonly url?: string | undefined; readonly token?: Redacted.Redacted<string> | undefined }
>(options: O): Config.Config<O & { readonly url: string }> =>
  Config.all({
    url: options.url === undefined ? Config.String("CODEX_APP_SERVER_URL") : Config.succeed(options.url),
    token: Config.option(Config.Redacted("CODEX_APP_SERVER_TOKEN"))
  }).pipe(Config.map(({ token, url }) => ({ ...options, url, token: options.token ?? Option.getOrUndefined(token) })))

/**
 * Where to dial: `url` for the WebSocket client (`ws+unix://PATH` for a unix socket, as the `ws` package spells
 * it), `address` as the user gave it, for messages.
 *
 * @since 0.2.0
 * @category models
 */
export interface Target {
  readonly url: string
  readonly address: string
}

/**
 * The target of a `--listen` URL: `ws://IP:PORT`, `wss://...`, or `unix://PATH` with an absolute path.
 *
 * @since 0.2.0
 * @category constructors
 */
export const target = (address: string): Target | AppServerConnectError => {
  const invalid = (reason: string) => new AppServerConnectError({ address, kind: "InvalidAddress", reason })
  if (address.startsWith("unix://")) {
    const path = address.slice("unix://".length)
    return path.startsWith("/")
      ? { url: `ws+unix://${path}`, address }
      : invalid("a unix socket address needs an absolute path: unix:///path/to/socket")
  }
  if (!URL.canParse(address)) return invalid("not a URL: expected ws://IP:PORT or unix:///path/to/socket")
  const protocol = new URL(address).protocol
  return protocol === "ws:" || protocol === "wss:"
    ? { url: address, address }
    : invalid(`unsupported scheme "${protocol}": expected ws://, wss:// or unix://`)
}

const unexpectedStatus = /Unexpected server response: (\d+)/

/**
 * The platform's error under a socket failure: the `ws` client's error event carries it (connect refused, an
 * unexpected HTTP status) as `error`; a timeout is an `Error` itself. Only such an `Error` is kept as a cause,
 * never the event: that points at the socket and its request, whose headers hold the token.
 */
const platformError = (error: Socket.SocketError): Error | undefined => {
  const cause: unknown = "cause" in error.reason ? error.reason.cause : undefined
  const inner: unknown = typeof cause === "object" && cause !== null && "error" in cause ? cause.error : cause
  return inner instanceof Error ? inner : undefined
}

const describe = (error: Error | undefined): string => error?.message ?? "the WebSocket client gave no reason"

/**
 * The connect failure of `target`, classified.
 *
 * @since 0.2.0
 * @category constructors
 */
export const connectError = (
  target: Target,
  error: Socket.SocketError,
  options: { readonly withToken: boolean; readonly timeoutMillis: number }
): AppServerConnectError => {
  const address = target.address
  if (error.reason._tag === "SocketOpenError" && error.reason.kind === "Timeout") {
    return new AppServerConnectError({
      address,
      kind: "Timeout",
      reason: `the connection did not open within ${options.timeoutMillis} ms`,
      cause: error
    })
  }
  const cause = platformError(error)
  const text = describe(cause)
  const status = unexpectedStatus.exec(text)
  if (status !== null) {
    const code = Number(status[1])
    return code === 401 || code === 403
      ? new AppServerConnectError({
        address,
        kind: "Unauthorized",
        reason: options.withToken
          ? `the server refused the token (HTTP ${code}): pass the capability token the server reads from ` +
            "`--ws-token-file`"
          : `the server requires a token (HTTP ${code}): pass \`token\``,
        cause
      })
      : new AppServerConnectError({
        address,
        kind: "Rejected",
        reason: `the server answered the WebSocket upgrade with HTTP ${code}`,
        cause
      })
  }
  return new AppServerConnectError({ address, kind: "Unreachable", reason: `nothing answered (${text})`, cause })
}

/**
 * How a connection that was open ended, as the transport reports it to `RpcPeer`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const closedReason = (target: Target, error: Socket.SocketError): string =>
  error.reason._tag === "SocketCloseError"
    ? `the connection to ${target.address} closed (${error.reason.message})`
    : `the connection to ${target.address} failed (${describe(platformError(error))})`
