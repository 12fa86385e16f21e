/**
 * Your `effect/ai` tools, called by codex. A `Toolkit` whose handlers run with your own services reaches codex in
 * one of two ways:
 *
 * - **MCP over HTTP** ({@link serve}, {@link layerCodex}): `effect/ai`'s `McpServer` serves the toolkit on
 *   127.0.0.1 (a free port, a random bearer token), for the life of the scope, and codex is configured to reach it
 *   with `-c mcp_servers.<name>.url=...` (the token travels in the app-server's environment, named by
 *   `bearer_token_env_var`, never in argv). Works on every connection. codex asks for approval of an MCP tool call
 *   with `mcpServer/elicitation/request`, answered by `Approvals` (declined by default).
 * - **Dynamic tools** ({@link dynamic}): on a connection opened with `experimentalApi: true`, the tools are
 *   declared in `thread/start` (`dynamicTools`) and codex sends each call to the client as an `item/tool/call`
 *   request, answered in-process: no HTTP hop, no MCP handshake.
 *
 * Either way a tool's failure (a declared failure, invalid parameters, or a defect) is a tool error the model
 * sees, never the end of the turn.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer, Schema } from "effect"
 * import { Tool, Toolkit } from "effect/ai"
 * import { Codex } from "effect-codex"
 * import { CodexTools } from "@effect-codex/ai"
 *
 * const Weather = Tool.make("weather", {
 *   description: "Today's weather in a city",
 *   parameters: Schema.Struct({ city: Schema.String }),
 *   success: Schema.String
 * })
 * const tools = Toolkit.make(Weather)
 * const handlers = tools.toLayer({ weather: ({ city }) => Effect.succeed(`Sunny in ${city}`) })
 *
 * const program = Effect.gen(function*() {
 *   const codex = yield* Codex.Codex
 *   const thread = yield* codex.threadStart()
 *   const result = yield* thread.run("What is the weather in Paris?")
 *   yield* Effect.log(result.finalResponse)
 * })
 *
 * program.pipe(
 *   Effect.provide(CodexTools.layerCodex(tools).pipe(Layer.provide(handlers))),
 *   NodeRuntime.runMain
 * )
 * ```
 * @since 0.2.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type { DynamicToolCallResponse, ServerRequestParams } from "@effect-codex/protocol"
import type { Experimental } from "@effect-codex/protocol"
import * as McpProtocol from "effect/ai/McpProtocol"
import * as McpServer from "effect/ai/McpServer"
import * as Tool from "effect/ai/Tool"
import type * as Toolkit from "effect/ai/Toolkit"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as HttpRouter from "effect/http/HttpRouter"
import type * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { type Approvals, Codex, type Errors, NodeCodex, Transport } from "effect-codex"
import { randomBytes, timingSafeEqual } from "node:crypto"
import * as Http from "node:http"

/**
 * A running MCP endpoint serving a toolkit, and what codex needs to reach it.
 *
 * @since 0.2.0
 * @category models
 */
export interface McpEndpoint {
  /** The server's name in codex's config (`mcp_servers.<name>`); codex offers its tools as `mcp__<name>__<tool>`. */
  readonly name: string
  /** `http://127.0.0.1:<port>/mcp` */
  readonly url: string
  /** The bearer token every request must carry. */
  readonly token: Redacted.Redacted<string>
  /** The `-c` overrides that configure the server into codex (no secret in them). */
  readonly config: ReadonlyArray<string>
  /** The environment variable that carries the token to codex (`bearer_token_env_var`). */
  readonly env: Readonly<Record<string, string>>
}

/**
 * Options of {@link serve}.
 *
 * @since 0.2.0
 * @category models
 */
export interface ServeOptions {
  /** The server's name in codex's config; letters, digits, `_` and `-`. Default `"effect"`. */
  readonly name?: string | undefined
  /** Extra `mcp_servers.<name>.*` settings, as TOML values (e.g. `{ tool_timeout_sec: "30" }`). */
  readonly settings?: Readonly<Record<string, string>> | undefined
}

const McpName = /^[A-Za-z0-9_-]+$/

/** Compares a request's `Authorization` header with the expected one in constant time. */
const authorized = (header: string | undefined, expected: Buffer): boolean => {
  if (header === undefined) return false
  const given = Buffer.from(header)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/**
 * Serves `toolkit` with `effect/ai`'s `McpServer` (Streamable HTTP) on 127.0.0.1, on a free port, behind a random
 * bearer token, until the scope closes. The handlers run with the context the toolkit's handler layer was built in
 * (your services). Pass the endpoint to {@link withEndpoint} to configure it into a codex you start.
 *
 * @since 0.2.0
 * @category constructors
 */
export const serve = <Tools extends Record<string, Tool.Any>>(
  toolkit: Toolkit.Toolkit<Tools>,
  options: ServeOptions = {}
): Effect.Effect<McpEndpoint, HttpServerError.ServeError, Scope.Scope | Tool.HandlersFor<Tools>> =>
  // The handlers take their services from the handler layer (`toolkit.toLayer`); request-level tool dependencies
  // (`Tool.addDependency`), which MCP middleware would provide, are not supported here, hence the cast.
  Effect.gen(function*() {
    const name = options.name ?? "effect"
    if (!McpName.test(name)) {
      return yield* Effect.die(new Error(`CodexTools.serve: the name "${name}" must match ${McpName}`))
    }
    const token = randomBytes(32).toString("base64url")
    const expected = Buffer.from(`Bearer ${token}`)
    const app = McpServer.layerHttp({
      name,
      version: "0.2.0",
      path: "/mcp",
      protocols: [McpProtocol.v2025_11_25, McpProtocol.v2025_06_18, McpProtocol.v2025_03_26],
      registrations: McpServer.toolkit(toolkit)
    })
    // The toolkit's registration fails only on a schema MCP cannot express: a defect of the caller's toolkit.
    const handler = yield* Effect.orDie(HttpRouter.toHttpEffect(app))
    const nodeServer = Http.createServer()
    // No graceful wait for open connections (an MCP client keeps streams open; a request could hang half-sent):
    // the finalizer below cuts them before the server's own close, which runs last. The endpoint ends with its scope.
    const server = yield* NodeHttpServer.make(() => nodeServer, {
      port: 0,
      host: "127.0.0.1",
      disablePreemptiveShutdown: true
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))
    yield* server.serve(
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        return authorized(request.headers["authorization"], expected)
          ? yield* handler
          : HttpServerResponse.empty({ status: 401 })
      })
    )
    const address = server.address
    if (address._tag !== "InetAddressV4") return yield* Effect.die(new Error("CodexTools.serve: not a TCP address"))
    const url = `http://127.0.0.1:${address.port}/mcp`
    const envName = `EFFECT_CODEX_MCP_TOKEN_${name.replace(/-/g, "_").toUpperCase()}`
    return {
      name,
      url,
      token: Redacted.make(token),
      config: [
        `mcp_servers.${name}.url=${JSON.stringify(url)}`,
        `mcp_servers.${name}.bearer_token_env_var=${JSON.stringify(envName)}`,
        ...Object.entries(options.settings ?? {}).map(([key, value]) => `mcp_servers.${name}.${key}=${value}`)
      ],
      env: { [envName]: token }
    } satisfies McpEndpoint
  }) as Effect.Effect<McpEndpoint, HttpServerError.ServeError, Scope.Scope | Tool.HandlersFor<Tools>>

/**
 * The app-server options with `endpoint` configured in (its `-c` overrides after yours, its token in `env`).
 *
 * @since 0.2.0
 * @category utils
 */
export const withEndpoint = <O extends Transport.StdioOptions>(options: O, endpoint: McpEndpoint): O => ({
  ...options,
  config: [...Transport.configEntries(options.config), ...endpoint.config],
  env: { ...options.env, ...endpoint.env }
})

/**
 * `NodeCodex.layer` with `toolkit` served to it over MCP ({@link serve}): the MCP server starts before codex and
 * stops after it. Provide the toolkit's handlers (`toolkit.toLayer(...)`) to this layer.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerCodex = <Tools extends Record<string, Tool.Any>>(
  toolkit: Toolkit.Toolkit<Tools>,
  options: Codex.Options & ServeOptions = {}
): Layer.Layer<
  Codex.Codex,
  Errors.StartError | HttpServerError.ServeError,
  Tool.HandlersFor<Tools>
> =>
  Layer.unwrap(Effect.map(serve(toolkit, options), (endpoint) => NodeCodex.layer(withEndpoint(options, endpoint))))

/**
 * Approval handlers that let codex run the tools of the MCP server `name` (the default policy declines every MCP
 * tool call): answers `mcpServer/elicitation/request` for a tool call of that server with `accept` when `allow`
 * says so (default: every tool), `decline` otherwise, and declines every other elicitation. Spread them into
 * `Approvals.layer({...})` or a turn's `approvals`.
 *
 * @example
 * ```ts
 * import { Approvals } from "effect-codex"
 * import { CodexTools } from "@effect-codex/ai"
 *
 * const approvals = Approvals.layer({ ...CodexTools.approveToolCalls("effect", (tool) => tool !== "deleteAll") })
 * ```
 * @since 0.2.0
 * @category approvals
 */
export const approveToolCalls = (
  name: string,
  allow: (tool: string, params: unknown) => boolean = () => true
): Approvals.Handlers => ({
  "mcpServer/elicitation/request": (received) => {
    // Read leniently: a mode this protocol version does not know still names its server and kind.
    const params = received as { readonly serverName?: unknown; readonly _meta?: unknown }
    const meta = (typeof params._meta === "object" && params._meta !== null ? params._meta : {}) as {
      readonly codex_approval_kind?: unknown
      readonly tool_name?: unknown
      readonly tool_params?: unknown
    }
    const accepted = params.serverName === name && meta.codex_approval_kind === "mcp_tool_call" &&
      typeof meta.tool_name === "string" && allow(meta.tool_name, meta.tool_params)
    return Effect.succeed({ action: accepted ? "accept" : "decline", content: null })
  }
})

// ---------------------------------------------------------------------------
// Dynamic tools
// ---------------------------------------------------------------------------

/**
 * A toolkit as codex dynamic tools: the specs to declare in `thread/start` and the handler of `item/tool/call`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Dynamic {
  /** The tools as `dynamicTools` of `thread/start` (experimental API). */
  readonly specs: ReadonlyArray<Experimental.DynamicToolSpec>
  /** Answers `item/tool/call` by running the tool (put it in `Approvals.layer` or a turn's `approvals`). */
  readonly approvals: Approvals.Handlers
  /**
   * Starts a thread with these tools declared, on a `Codex` opened with `experimentalApi: true`; its turns run the
   * tools through {@link approvals} (provide them Codex-wide or per turn).
   */
  readonly threadStart: (
    params?: Omit<Experimental.ThreadStartParams, "dynamicTools">
  ) => Effect.Effect<Codex.OpenedThread, Errors.RequestError, Codex.Codex>
}

const toolError = (text: string): DynamicToolCallResponse => ({
  success: false,
  contentItems: [{ type: "inputText", text }]
})

const errorText = (error: unknown): string => {
  if (error instanceof Error && error.message !== "") return error.message
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return String(error)
  }
}

/**
 * The answer to one dynamic tool call: the tool's encoded result as text, or a tool error (`success: false`) the
 * model reads. A defect is logged and answered as an internal error, without its details.
 */
const answerCall = <Tools extends Record<string, Tool.Any>>(
  built: Toolkit.WithHandler<Tools>,
  params: ServerRequestParams<"item/tool/call">
): Effect.Effect<DynamicToolCallResponse> => {
  if (!Object.hasOwn(built.tools, params.tool)) return Effect.succeed(toolError(`unknown tool "${params.tool}"`))
  return built.handle(params.tool as keyof Tools, params.arguments as never, params.callId).pipe(
    Stream.unwrap,
    Stream.runLast,
    Effect.map(Option.match({
      onNone: () => toolError(`the tool "${params.tool}" returned nothing`),
      onSome: (result): DynamicToolCallResponse =>
        result.isFailure ? toolError(errorText(result.encodedResult)) : {
          success: true,
          contentItems: [{
            type: "inputText",
            text: typeof result.encodedResult === "string" ? result.encodedResult : JSON.stringify(result.encodedResult)
          }]
        }
    })),
    Effect.catchCause((cause) => {
      const failure = Cause.findErrorOption(cause)
      return Option.isSome(failure) && !Cause.hasDies(cause)
        ? Effect.succeed(toolError(errorText(failure.value)))
        : Effect.logError(`effect-codex: the tool "${params.tool}" died`, cause).pipe(
          Effect.as(toolError(`the tool "${params.tool}" failed with an internal error`))
        )
    })
  ) as Effect.Effect<DynamicToolCallResponse>
}

/**
 * The toolkit as codex dynamic tools ({@link Dynamic}). The handlers run with the context the toolkit's handler
 * layer was built in.
 *
 * @since 0.2.0
 * @category constructors
 */
export const dynamic = <Tools extends Record<string, Tool.Any>>(
  toolkit: Toolkit.Toolkit<Tools>
): Effect.Effect<Dynamic, never, Tool.HandlersFor<Tools>> =>
  Effect.map(toolkit as Effect.Effect<Toolkit.WithHandler<Tools>, never, Tool.HandlersFor<Tools>>, (built) => {
    const specs = Object.values(built.tools).map((tool): Experimental.DynamicToolSpec => ({
      type: "function",
      name: tool.name,
      description: Tool.getDescription(tool) ?? tool.name,
      inputSchema: Tool.getJsonSchema(tool)
    }))
    const approvals: Approvals.Handlers = {
      "item/tool/call": (params) => answerCall(built, params)
    }
    return {
      specs,
      approvals,
      threadStart: (params = {}) =>
        Effect.gen(function*() {
          const codex = yield* Codex.Codex
          const response = yield* codex.server.experimental.request("thread/start", {
            ...params,
            dynamicTools: specs
          })
          return {
            ...codex.thread(response.thread.id),
            info: response.thread,
            response
          } as unknown as Codex.OpenedThread
        })
    }
  })
