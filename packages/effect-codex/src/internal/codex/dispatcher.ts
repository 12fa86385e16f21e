/**
 * One dispatcher per `Codex`, keyed by thread id, for notifications and server requests alike: a single listener
 * on the server looks each notification's thread up in a map of routes, and the server-request handler looks the
 * request's thread up in the same map (for the per-turn approval handlers). The cost per message is one map
 * lookup, whatever the number of running turns. Notifications that name no thread reach only the server's own
 * subscribers (`server.subscribe`, `server.notifications`), which see every notification as before.
 *
 * @since 0.1.0
 *
 * @internal
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as AppServer from "../../AppServer.js"
import * as Approvals from "../../Approvals.js"
import type { AppServerExitedError, RpcErrorObject } from "../../Errors.js"
import * as Deadlines from "../rpc/deadlines.js"

/**
 * What follows a thread for a while (a turn): its notifications, the end of the connection, its approvals.
 *
 * @since 0.2.0
 * @category models
 */
export interface Route {
  /** The thread's notifications of one chunk, in order. Runs in the server's reader: must not throw, block or wait. */
  readonly onNotifications: (notifications: ReadonlyArray<AppServer.Notification>) => void
  /** The connection ended; called once, after the last notification. */
  readonly onClose: (error: AppServerExitedError) => void
  /** The client starts answering a server request of the thread (a turn waiting on the client is not silent). */
  readonly onAnswering: () => void
  /** The client has answered that request (the answer is activity of its turn); once per `onAnswering`. */
  readonly onAnswered: () => void
  /** Handlers for the thread's server requests while the route is registered, over the Codex-wide approvals. */
  readonly approvals?: Approvals.Handlers | undefined
}

/**
 * The dispatcher of one server.
 *
 * @since 0.2.0
 * @category models
 */
export interface Dispatcher {
  /** The server it routes. */
  readonly server: AppServer.AppServer
  /**
   * Routes thread `threadId`'s notifications and server requests to `route` until the scope closes. Routes of one
   * thread all receive its notifications; its server requests go to the approvals of the route registered last
   * that has some (else to the Codex-wide approvals). A route registered after the connection ended is told so.
   */
  readonly register: (threadId: string, route: Route) => Effect.Effect<void, never, Scope.Scope>
  /**
   * {@link Dispatcher.register} without a scope, for the per-turn path: routes until the returned function is
   * called (once or more). The route's approvals run with `context`.
   */
  readonly attach: (threadId: string, route: Route, context: Context.Context<never>) => () => void
  /**
   * Timers of this server's turns (watchdogs) on one timer fiber: `set(key, timeout)` calls `key` once `timeout` has
   * passed, unless it was `delete`d first. A timer is a map entry, not a fiber per turn.
   */
  readonly timers: Deadlines.Deadlines<() => void>
}

/**
 * The thread a notification or a server request belongs to: `threadId`, or `conversationId` in legacy requests.
 *
 * @since 0.2.0
 * @category utils
 */
export const threadOf = (params: unknown): string | undefined => {
  if (typeof params !== "object" || params === null) return undefined
  const named = params as { readonly threadId?: unknown; readonly conversationId?: unknown }
  const id = named.threadId ?? named.conversationId
  return typeof id === "string" ? id : undefined
}

interface Entry {
  readonly route: Route
  /** The route's approvals over the base ones, running with the context of whoever registered the route. */
  readonly approvals: Approvals.Approvals | undefined
}

/** The routes of one thread (copied on change: a snapshot can be iterated while routes come and go). */
interface ThreadRoutes {
  entries: ReadonlyArray<Entry>
  /** This chunk's notifications of the thread, while a chunk is being routed. */
  pending: Array<AppServer.Notification> | undefined
}

/**
 * Builds the dispatcher of `server`, answering server requests with `approvals` unless a route overrides them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function*(server: AppServer.AppServer, approvals: Approvals.Approvals) {
  const threads = new Map<string, ThreadRoutes>()
  let closedWith: AppServerExitedError | undefined
  // The threads touched by the chunk being routed (reused: routing is synchronous and does not nest).
  const touched: Array<ThreadRoutes> = []

  const routesOf = (notification: AppServer.Notification): ThreadRoutes | undefined => {
    const threadId = threadOf(notification.params)
    return threadId === undefined ? undefined : threads.get(threadId)
  }

  const onNotifications = (notifications: ReadonlyArray<AppServer.Notification>) => {
    // The common chunk, one line: handed on as it is.
    if (notifications.length === 1) {
      for (const entry of routesOf(notifications[0]!)?.entries ?? []) entry.route.onNotifications(notifications)
      return
    }
    for (const notification of notifications) {
      const routes = routesOf(notification)
      if (routes === undefined) continue
      if (routes.pending === undefined) {
        routes.pending = []
        touched.push(routes)
      }
      routes.pending.push(notification)
    }
    for (const routes of touched) {
      const batch = routes.pending!
      routes.pending = undefined
      for (const entry of routes.entries) entry.route.onNotifications(batch)
    }
    touched.length = 0
  }

  const onClose = (error: AppServerExitedError) => {
    closedWith = error
    for (const routes of threads.values()) {
      for (const entry of routes.entries) entry.route.onClose(error)
    }
  }

  const handle = (request: AppServer.KnownServerRequest): Effect.Effect<unknown, RpcErrorObject> => {
    const threadId = threadOf(request.params)
    const routes = threadId === undefined ? undefined : threads.get(threadId)
    if (routes === undefined) return approvals.handle(request)
    // The routes of the moment the request arrived hear of its answer (each exactly once).
    const entries = routes.entries
    const service = entries.findLast((entry) => entry.approvals !== undefined)?.approvals ?? approvals
    return Effect.suspend(() => {
      for (const entry of entries) entry.route.onAnswering()
      return service.handle(request)
    }).pipe(Effect.ensuring(Effect.sync(() => {
      for (const entry of entries) entry.route.onAnswered()
    })))
  }

  const attach = (threadId: string, route: Route, context: Context.Context<never>) => {
    let routes = threads.get(threadId)
    if (routes === undefined) {
      routes = { entries: [], pending: undefined }
      threads.set(threadId, routes)
    }
    const entry: Entry = {
      route,
      approvals: route.approvals === undefined ? undefined : contextual(
        Approvals.make(route.approvals, approvals.handle),
        context
      )
    }
    routes.entries = [...routes.entries, entry]
    if (closedWith !== undefined) route.onClose(closedWith)
    let attached = true
    return () => {
      if (!attached) return
      attached = false
      routes.entries = routes.entries.filter((candidate) => candidate !== entry)
      if (routes.entries.length === 0 && threads.get(threadId) === routes) threads.delete(threadId)
    }
  }

  const register = (threadId: string, route: Route) =>
    Effect.acquireRelease(
      Effect.map(Effect.context<never>(), (context) => attach(threadId, route, context)),
      (detach) => Effect.sync(detach)
    ).pipe(Effect.asVoid)

  const timers = yield* Deadlines.make((expired: () => void) => expired())
  yield* server.listen({ onNotifications, onClose })
  yield* server.setRequestHandler(handle)
  return { server, register, attach, timers } satisfies Dispatcher
})

/** The service with its handlers running in `context` (the Console, Logger, span, ... of who set them). */
const contextual = (service: Approvals.Approvals, context: Context.Context<never>): Approvals.Approvals => ({
  handle: (request) => Effect.provideContext(service.handle(request), context)
})
