/**
 * What one line from the server is: `classify` turns JSON text into a tagged message, with no effects and
 * no state. The peer routes the result (`RpcPeer.make`); what a response settles depends on its pending
 * table, not on the line.
 *
 * @since 0.1.0
 *
 * @internal
 */
import { ErrorCode, excerpt, type RpcErrorObject } from "../../Errors.js"
import type { IncomingNotification, IncomingRequest, RequestId } from "../../RpcPeer.js"

/**
 * One line from the server, classified.
 *
 * @since 0.2.0
 * @category models
 */
export type Message =
  | { readonly _tag: "Response"; readonly id: RequestId; readonly result: unknown }
  | {
    readonly _tag: "ErrorResponse"
    readonly id: RequestId
    /** The error the call fails with. */
    readonly error: RpcErrorObject
    /** Set when the error object was malformed (`error` then says so): also a protocol problem. */
    readonly problem?: string
  }
  | { readonly _tag: "Request"; readonly request: IncomingRequest }
  | { readonly _tag: "Notification"; readonly notification: IncomingNotification }
  | { readonly _tag: "Invalid"; readonly reason: string }

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const isRequestId = (value: unknown): value is RequestId => typeof value === "string" || typeof value === "number"

const isRpcErrorObject = (value: unknown): value is RpcErrorObject =>
  isObject(value) && typeof value.code === "number" && typeof value.message === "string"

/**
 * Classifies one line: a message with a method is a server request when it has an id and a notification
 * otherwise; one with an id and a `result` or an `error` is a response (`error` wins when both are there);
 * anything else is `Invalid`, with the reason.
 *
 * @since 0.2.0
 * @category utils
 */
export const classify = (line: string): Message => {
  let message: unknown
  try {
    message = JSON.parse(line)
  } catch (error) {
    return { _tag: "Invalid", reason: `invalid JSON: ${(error as Error).message}` }
  }
  if (!isObject(message)) return { _tag: "Invalid", reason: "not a JSON object" }
  const { id, method } = message
  if (typeof method === "string") {
    return isRequestId(id)
      ? { _tag: "Request", request: { id, method, params: message.params } }
      : {
        _tag: "Notification",
        notification: typeof message.emittedAtMs === "number"
          ? { method, params: message.params, emittedAtMs: message.emittedAtMs }
          : { method, params: message.params }
      }
  }
  if (isRequestId(id)) {
    if ("error" in message) {
      return isRpcErrorObject(message.error)
        ? { _tag: "ErrorResponse", id, error: message.error }
        : {
          _tag: "ErrorResponse",
          id,
          error: { code: ErrorCode.InternalError, message: `malformed error response: ${excerpt(line)}` },
          problem: "malformed error object"
        }
    }
    if ("result" in message) return { _tag: "Response", id, result: message.result }
  }
  return { _tag: "Invalid", reason: "neither a request, a response nor a notification" }
}
