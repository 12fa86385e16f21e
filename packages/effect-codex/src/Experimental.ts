/**
 * codex's experimental API, typed: the requests of `codex app-server generate-json-schema --experimental` (about 75
 * methods only it has, such as `thread/search`, `memory/status` or `collaborationMode/list`, and experimental fields
 * of stable methods, such as `dynamicTools` in `thread/start`), generated into `@effect-codex/protocol`'s
 * `Experimental` namespace, never mixed into the stable maps.
 *
 * A connection opts in with `experimentalApi: true` in its options; `server.experimental.request` is then typed over
 * `Experimental.ClientRequests`. Without the opt-in, every experimental request fails with
 * `ExperimentalApiNotEnabledError` before it is sent (codex itself would answer -32600 "… requires experimentalApi
 * capability", which is classified as the same error).
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { AppServer, NodeCodex } from "effect-codex"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* AppServer.AppServer
 *   const { data } = yield* server.experimental.request("collaborationMode/list", {})
 *   yield* Effect.log(data.map((mode) => mode.name))
 * })
 *
 * program.pipe(Effect.provide(NodeCodex.layerAppServer({ experimentalApi: true })), NodeRuntime.runMain)
 * ```
 * @since 0.2.0
 */
import { Experimental as Protocol } from "@effect-codex/protocol"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import type { RequestOptions } from "./AppServer.js"
import {
  ErrorCode,
  excerpt,
  ExperimentalApiNotEnabledError,
  InvalidParamsError,
  ProtocolError,
  type RequestError
} from "./Errors.js"
import { schemaIssue } from "./internal/rpc/schemaIssue.js"
import type * as RpcPeer from "./RpcPeer.js"

/**
 * A method of the experimental protocol (every stable method and the experimental ones).
 *
 * @since 0.2.0
 * @category models
 */
export type ClientRequestMethod = Protocol.ClientRequestMethod

/**
 * The params of an experimental-protocol method, experimental fields included.
 *
 * @since 0.2.0
 * @category models
 */
export type ClientRequestParams<M extends ClientRequestMethod> = Protocol.ClientRequestParams<M>

/**
 * The result of an experimental-protocol method.
 *
 * @since 0.2.0
 * @category models
 */
export type ClientRequestResponse<M extends ClientRequestMethod> = Protocol.ClientRequestResponse<M>

/**
 * Arguments of {@link Api.request}: params may be left out where the protocol allows no params.
 *
 * @since 0.2.0
 * @category models
 */
export type RequestArgs<M extends ClientRequestMethod> = undefined extends ClientRequestParams<M>
  ? [params?: ClientRequestParams<M>, options?: RequestOptions]
  : [params: ClientRequestParams<M>, options?: RequestOptions]

/**
 * The experimental API of one connection (`server.experimental`).
 *
 * @since 0.2.0
 * @category models
 */
export interface Api {
  /** Whether the connection opted in (`experimentalApi: true` in the handshake). */
  readonly enabled: boolean
  /**
   * Sends a request of the experimental protocol. Fails with `ExperimentalApiNotEnabledError` (not sent) when the
   * connection did not opt in; params are checked against the experimental schema (unknown keys included, unless
   * `allowUnknownKeys`) and the result is checked against it.
   */
  readonly request: <M extends ClientRequestMethod>(
    method: M,
    ...args: RequestArgs<M>
  ) => Effect.Effect<ClientRequestResponse<M>, RequestError>
}

interface MethodSchemas {
  readonly params: Schema.Codec<unknown>
  readonly response: Schema.Codec<unknown>
}
const schemas = Protocol.ClientRequests as unknown as Record<string, MethodSchemas>


/**
 * Whether `params` fit `method` in the experimental protocol, unknown keys excluded: params that the stable protocol
 * refuses but this accepts use an experimental field (for error messages).
 *
 * @since 0.2.0
 * @category guards
 */
export const acceptsParams = (method: string, params: unknown): boolean => {
  const entry = schemas[method]
  return entry !== undefined && Exit.isSuccess(Schema.decodeUnknownExit(entry.params, { onExcessProperty: "error" })(params))
}

/**
 * Options of {@link make}.
 *
 * @since 0.2.0
 * @category models
 */
export interface MakeOptions {
  /** Whether the connection opted in (the handshake's `experimentalApi`). Default false: every request is refused. */
  readonly enabled?: boolean | undefined
  /** The connection's default of the request option `allowUnknownKeys`. Default false. */
  readonly allowUnknownKeys?: boolean | undefined
}

/**
 * The `experimental` API over a peer's `request`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (send: RpcPeer.RpcPeer<unknown>["request"], options: MakeOptions = {}): Api => {
  const enabled = options.enabled === true
  const allowUnknownKeys = options.allowUnknownKeys === true
  const request = <M extends ClientRequestMethod>(
    method: M,
    ...[params, options]: RequestArgs<M>
  ): Effect.Effect<ClientRequestResponse<M>, RequestError> =>
    Effect.suspend(() => {
      if (!enabled) {
        return Effect.fail(
          new ExperimentalApiNotEnabledError({
            method,
            code: ErrorCode.InvalidRequest,
            message: `"${method}" is part of codex's experimental API and this connection did not opt in (not sent): ` +
              "set `experimentalApi: true` in the AppServer / Codex layer options"
          })
        )
      }
      const entry = schemas[method]
      if (entry === undefined) return send(method, params, options) as Effect.Effect<ClientRequestResponse<M>, RequestError>
      // Not the hot path: the schema checks the params; they are sent as given.
      const checked = Schema.encodeUnknownExit(entry.params, {
        onExcessProperty: (options?.allowUnknownKeys ?? allowUnknownKeys) ? "ignore" : "error"
      })(params)
      if (Exit.isFailure(checked)) {
        return Effect.fail(
          new InvalidParamsError({
            method,
            code: ErrorCode.InvalidParams,
            message: `params of "${method}" do not match the experimental protocol schema (not sent): ${
              schemaIssue(checked.cause)
            }`
          })
        )
      }
      return send(method, params, options).pipe(
        Effect.flatMap((result) => {
          const decoded = Schema.decodeUnknownExit(entry.response)(result)
          // kept as received (with any fields a newer server adds), as the stable requests do
          return Exit.isSuccess(decoded)
            ? Effect.succeed(result as ClientRequestResponse<M>)
            : Effect.fail(
              new ProtocolError({
                method,
                reason: `result does not match the experimental protocol schema: ${schemaIssue(decoded.cause)}`,
                excerpt: excerpt(JSON.stringify(result) ?? "undefined"),
                cause: Cause.squash(decoded.cause)
              })
            )
        })
      )
    })
  return { enabled, request }
}
