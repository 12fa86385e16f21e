/**
 * The caller's side: `CodexCluster.conversation(key)` sends a conversation's messages to whichever runner owns it.
 * A client needs no codex: `layerClient` joins the cluster as a client only (SQL storage, no shards). Clients and runners
 * share a secret (`secret`): a runner refuses any connection that does not prove it holds it.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { PgClient } from "@effect/sql-pg"
 * import { Config, Effect, Layer, Redacted } from "effect"
 * import { CodexCluster } from "@effect-codex/cluster"
 *
 * const program = Effect.gen(function*() {
 *   const cluster = yield* CodexCluster.CodexCluster
 *   const chat = cluster.conversation("customer-42")
 *   // A retry with the same turn key returns the first answer; no second turn runs.
 *   const result = yield* chat.runTurn("Summarise the last ticket", { turnKey: "ticket-summary-1" })
 *   yield* Effect.log(result.finalResponse)
 * })
 *
 * program.pipe(
 *   Effect.provide(CodexCluster.layerClient({ secret: Redacted.make(process.env.CLUSTER_SECRET!) }).pipe(
 *     Layer.provide(PgClient.layer({ url: Redacted.make("postgres://localhost/codex") }))
 *   )),
 *   NodeRuntime.runMain
 * )
 * ```
 * @since 0.2.0
 */
import type * as ClusterError from "effect/cluster/ClusterError"
import * as Runners from "effect/cluster/Runners"
import * as RunnerStorage from "effect/cluster/RunnerStorage"
import type * as Sharding from "effect/cluster/Sharding"
import type * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { Thread as ThreadInfo } from "@effect-codex/protocol"
import type { Input, Turn } from "effect-codex"
import {
  type AlreadyAnsweredError,
  type InvalidAnswerError,
  NoRunnerError,
  type NoTurnRunningError,
  type OpenError,
  type PendingRequestNotFoundError,
  type RequestError,
  type RolloutMismatchError,
  type StoreError,
  type TurnError
} from "./ClusterErrors.js"
import * as ClusterMetrics from "./ClusterMetrics.js"
import { CodexThread, type OpenMode, type TurnEvent } from "./CodexThread.js"
import * as Settings from "./internal/config.js"
import * as ClusterLayers from "./internal/sharding.js"
import * as PendingRequests from "./PendingRequests.js"

/**
 * The cluster's own failures to deliver a message: no runner took it ({@link NoRunnerError}), mailbox full,
 * persistence, ...
 *
 * @since 0.2.0
 * @category models
 */
export type DeliveryError =
  | NoRunnerError
  | ClusterError.MailboxFull
  | ClusterError.AlreadyProcessingMessage
  | ClusterError.PersistenceError
  | ClusterError.EntityNotAssignedToRunner

/**
 * Options of a turn.
 *
 * @since 0.2.0
 * @category models
 */
export interface TurnOptions {
  /** The turn's key: a message with a key already answered gets that answer. Default: a random UUID. */
  readonly turnKey?: string | undefined
  /** A turn cut by a runner's death: fail with `TurnCutError` (default) or run it again. */
  readonly onCut?: "fail" | "rerun" | undefined
  /**
   * Ask a person: codex's requests during the turn (`true`: of every askable method; or the methods named) are
   * stored and wait for an answer from any client (`respond`), declined after `timeout` (default 5 minutes).
   * Default: not asked (the runner's `Approvals` answer them, declining by default).
   */
  readonly ask?: true | AskOptions | undefined
}

/**
 * What a turn asks a person about, and how long a request waits for an answer.
 *
 * @since 0.2.0
 * @category models
 */
export interface AskOptions {
  /** Default: every askable method. */
  readonly methods?: ReadonlyArray<PendingRequests.AskableMethod> | undefined
  /** Default: 5 minutes. */
  readonly timeout?: Duration.Input | undefined
}

/** The ask policy sent with a turn. */
const policyOf = (ask: TurnOptions["ask"]): PendingRequests.AskPolicy | undefined =>
  ask === undefined
    ? undefined
    : ask === true
    ? {}
    : {
      ...(ask.methods === undefined ? {} : { methods: ask.methods }),
      ...(ask.timeout === undefined ? {} : { timeout: Duration.fromInputUnsafe(ask.timeout) })
    }

/**
 * One conversation's messages.
 *
 * @since 0.2.0
 * @category models
 */
export interface Conversation {
  readonly key: string
  /** Gives the conversation its thread (default: a new one); a conversation that has one keeps it. */
  readonly open: (
    mode?: OpenMode
  ) => Effect.Effect<{ readonly threadId: string; readonly created: boolean }, typeof RequestError.Type | StoreError | OpenError | RolloutMismatchError | DeliveryError>
  /** Runs a turn to its end (a `failed` turn is `TurnFailedError`). */
  readonly runTurn: (input: Input.Input, options?: TurnOptions) => Effect.Effect<Turn.Result, TurnError | DeliveryError>
  /** Runs a turn and streams its events. */
  readonly streamTurn: (
    input: Input.Input,
    options?: Pick<TurnOptions, "turnKey" | "ask">
  ) => Stream.Stream<TurnEvent, TurnError | DeliveryError>
  /** Adds input to the running turn. */
  readonly steer: (input: Input.Input) => Effect.Effect<void, typeof RequestError.Type | NoTurnRunningError | DeliveryError>
  /** Stops the running turn, if any. */
  readonly interrupt: Effect.Effect<void, TurnError | DeliveryError>
  /** The conversation's thread, with its turns. */
  readonly read: Effect.Effect<ThreadInfo, TurnError | DeliveryError>
  /** The requests of the conversation's turns that wait for an answer (turns run with `ask`), oldest first. */
  readonly pending: () => Effect.Effect<ReadonlyArray<PendingRequests.PendingRequest>, StoreError>
  /** Every request of the conversation's turns that asked, with how it ended and who answered it (an audit). */
  readonly requests: () => Effect.Effect<ReadonlyArray<PendingRequests.PendingRequest>, StoreError>
  /**
   * Answers a pending request, from any client process: exactly one answer wins across clients (a later one
   * fails with `AlreadyAnsweredError`). `by` names who answers; it is stored with the time, for audit.
   */
  readonly respond: (
    requestId: string,
    answer: PendingRequests.Answer,
    options: { readonly by: string }
  ) => Effect.Effect<
    PendingRequests.PendingRequest,
    AlreadyAnsweredError | PendingRequestNotFoundError | InvalidAnswerError | StoreError
  >
  /** The address (`host:port`) of the runner that holds the conversation now. */
  readonly runner: Effect.Effect<string, DeliveryError>
}

/**
 * The client of the cluster's conversations.
 *
 * @since 0.2.0
 * @category services
 */
export class CodexCluster extends Context.Service<CodexCluster, {
  readonly conversation: (key: string) => Conversation
}>()("effect-codex/cluster/CodexCluster") {}

/**
 * The Effect Cluster settings runners and clients use unless told otherwise (they must agree). Upstream's defaults
 * lock a shard for 35 s and check runners' health every minute: a runner's death cut its callers' turns after about
 * 34 s. Here a shard lock lasts 10 s, refreshed every 2.5 s; runners ping each other every second and read the
 * shard assignments every second; a runner polls for unprocessed messages every second. A runner killed mid-turn:
 * its caller gets `TurnCutError` and the conversation answers on another runner a few seconds later (see the README
 * for the figures). The cost: a runner whose process stalls (event loop, CPU, network to PostgreSQL) for over 10 s
 * loses its shards and its running turns are cut; and each runner queries PostgreSQL a few times a second.
 *
 * @since 0.2.0
 * @category constants
 */
export const shardingDefaults: Partial<ShardingConfig.ShardingConfig["Service"]> = {
  shardLockExpiration: Duration.seconds(10),
  shardLockRefreshInterval: Duration.millis(2_500),
  runnerHealthCheckInterval: Duration.seconds(1),
  refreshAssignmentsInterval: Duration.seconds(1),
  entityMessagePollInterval: Duration.seconds(1)
}

/**
 * How long a message waits, by default, when no runner answers, before it fails with {@link NoRunnerError}.
 *
 * @since 0.2.0
 * @category constants
 */
export const defaultNoRunnerTimeout: Duration.Duration = Duration.seconds(10)

/**
 * Options of {@link layer}.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * How long a message may wait while no runner registered in the cluster's storage answers a ping, before it fails
   * with {@link NoRunnerError} (default {@link defaultNoRunnerTimeout}). A failover (a runner dies, another takes
   * its shards) does not count: the other runners answer meanwhile.
   */
  readonly noRunnerTimeout?: Duration.Input | undefined
}

/**
 * Watches, while messages wait for their answers, whether any runner registered as healthy answers a ping, and
 * fails a waiting message with `NoRunnerError` once none has for `timeout`.
 */
const makeWatchdog = Effect.fnUntraced(function*(timeout: Duration.Duration) {
  const storage = yield* RunnerStorage.RunnerStorage
  const runners = yield* Runners.Runners
  const timeoutMs = Duration.toMillis(timeout)
  let waiting = 0
  let registered = 0
  let unansweredSince: number | undefined

  const anyAnswers = Effect.gen(function*() {
    const healthy = (yield* storage.getRunners).filter(([, healthy]) => healthy).map(([runner]) => runner)
    registered = healthy.length
    const answers = yield* Effect.forEach(healthy, (runner) =>
      runners.ping(runner.address).pipe(Effect.timeout("2 seconds"), Effect.isSuccess), { concurrency: "unbounded" })
    return answers.some((ok) => ok)
  }).pipe(Effect.catch(() => Effect.succeed(false)))

  const check = Effect.gen(function*() {
    if (waiting === 0) {
      unansweredSince = undefined
      return
    }
    const ok = yield* anyAnswers
    const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    unansweredSince = ok ? undefined : unansweredSince ?? now
  })
  const period = Duration.millis(Math.min(1_000, Math.max(50, timeoutMs / 4)))
  yield* check.pipe(Effect.repeat({ schedule: Schedule.spaced(period) }), Effect.forkScoped)

  /** Fails once no runner has answered for `timeout`; never succeeds. */
  const expired = (conversation: string) =>
    Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(period)
        const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
        if (unansweredSince !== undefined && now - unansweredSince >= timeoutMs) {
          return yield* new NoRunnerError({ conversation, waitedMs: now - unansweredSince, registered })
        }
      }
    })

  const counted = Effect.acquireRelease(
    Effect.andThen(Effect.sync(() => ++waiting), Metric.modify(ClusterMetrics.pendingMessages, 1)),
    () => Effect.andThen(Effect.sync(() => --waiting), Metric.modify(ClusterMetrics.pendingMessages, -1))
  )

  return {
    effect: <A, E, R>(conversation: string, self: Effect.Effect<A, E, R>) =>
      Effect.scoped(Effect.andThen(counted, Effect.raceFirst(self, expired(conversation)))),
    stream: <A, E, R>(conversation: string, self: Stream.Stream<A, E, R>) =>
      Stream.unwrap(Effect.as(counted, Stream.interruptWhen(self, expired(conversation))))
  }
})

/**
 * `CodexCluster` over the `Sharding` in context (a runner's, or a client's from {@link layerClient}), and the
 * `Runners` and `RunnerStorage` under it (to tell when no runner answers), with the `PendingRequests` store for
 * the requests of turns that ask.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  options: Options = {}
): Layer.Layer<CodexCluster, never, Sharding.Sharding | Runners.Runners | RunnerStorage.RunnerStorage | PendingRequests.PendingRequests
> =>
  Layer.effect(CodexCluster)(Effect.gen(function*() {
    const client = yield* CodexThread.client
    const asked = yield* PendingRequests.PendingRequests
    const guard = yield* makeWatchdog(Duration.fromInputUnsafe(options.noRunnerTimeout ?? defaultNoRunnerTimeout))
    return CodexCluster.of({
      conversation: (key) => {
        const entity = client(key)
        return {
          key,
          open: (mode = { _tag: "Start" }) => guard.effect(key, entity.Open({ mode })),
          runTurn: (input, options = {}) =>
            guard.effect(
              key,
              entity.RunTurn({
                input,
                turnKey: options.turnKey ?? crypto.randomUUID(),
                onCut: options.onCut,
                ask: policyOf(options.ask)
              })
            ),
          streamTurn: (input, options = {}) =>
            guard.stream(
              key,
              entity.StreamTurn({ input, turnKey: options.turnKey ?? crypto.randomUUID(), ask: policyOf(options.ask) })
            ),
          steer: (input) => guard.effect(key, entity.Steer({ input })),
          interrupt: guard.effect(key, entity.Interrupt()),
          read: guard.effect(key, entity.Read()),
          runner: guard.effect(key, entity.Locate()),
          pending: () => asked.list(key, { status: "pending" }),
          requests: () => asked.list(key),
          respond: (requestId, answer, options) => asked.respond(key, requestId, answer, options)
        }
      }
    })
  }))

/**
 * Options of {@link layerClient}.
 *
 * @since 0.2.0
 * @category models
 */
export interface ClientOptions extends Options {
  /** The cluster's shared secret (the runners' `secret`). */
  readonly secret: Redacted.Redacted<string>
  /** Effect Cluster settings over {@link shardingDefaults}; the runners and the clients must agree. */
  readonly sharding?: Partial<ShardingConfig.ShardingConfig["Service"]> | undefined
}

/**
 * `CodexCluster` as a client only of the cluster whose storage is the `SqlClient` in context: it finds the runners
 * there and owns no shards. A runner and a client may share a process.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerClient = (options: ClientOptions): Layer.Layer<CodexCluster, StoreError, SqlClient.SqlClient> =>
  layer(options).pipe(
    Layer.provide(ClusterLayers.layerClient({ secret: options.secret, sharding: { ...shardingDefaults, ...options.sharding } })),
    Layer.provide(PendingRequests.layer)
  )

/**
 * Options of {@link layerClientConfig}: {@link ClientOptions} and the PostgreSQL client's.
 *
 * @since 0.2.0
 * @category models
 */
export interface ClientConfigOptions extends ClientOptions {
  readonly database: PgClient.PgPoolConfig
}

/**
 * The settings of {@link layerClientConfig} from the environment: `EFFECT_CODEX_CLUSTER_SECRET` (redacted),
 * `EFFECT_CODEX_DATABASE_URL` (redacted), `EFFECT_CODEX_DATABASE_MAX_MESSAGE_SIZE` (bytes, optional: the largest
 * message PostgreSQL may send; `@effect/sql-pg`'s default is 16 MiB), `EFFECT_CODEX_DATABASE_POOL_SIZE` (optional:
 * connections).
 *
 * @since 0.2.0
 * @category configuration
 */
export const clientConfigFromEnv: {
  readonly secret: Config.Config<Redacted.Redacted<string>>
  readonly database: Config.Wrap<PgClient.PgPoolConfig>
} = {
  secret: Settings.secret,
  database: Settings.database
}

/**
 * {@link layerClient} with its PostgreSQL client, its settings from `Config` (default: {@link clientConfigFromEnv}).
 *
 * @since 0.2.0
 * @category layers
 */
export const layerClientConfig = (
  options: Config.Wrap<ClientConfigOptions> = clientConfigFromEnv
): Layer.Layer<CodexCluster, Config.ConfigError | SqlError | StoreError> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), ({ database, ...client }) =>
    layerClient(client).pipe(Layer.provide(PgClient.layer(database)))))
