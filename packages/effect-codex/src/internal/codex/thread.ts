/**
 * The thread handle a `Codex` (or a `CodexPool` member) makes for a thread id: its turns pass the thread's gate
 * and run through `turn.ts`. Internal: it takes the `Codex`'s dispatcher and gate.
 *
 * @internal
 */
import * as OpenAiStructuredOutput from "effect/ai/OpenAiStructuredOutput"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as AppServer from "../../AppServer.js"
import { StructuredOutputError } from "../../Errors.js"
import * as Input from "../../Input.js"
import type { Thread, TurnOptions } from "../../Thread.js"
import type * as Turn from "../../Turn.js"
import type * as Dispatcher from "./dispatcher.js"
import * as Spans from "./spans.js"
import * as TurnShell from "./turn.js"
import type * as TurnGate from "./turnGate.js"

/**
 * What a thread handle needs from its `Codex`: the server, its dispatcher (routes by thread), the watchdog defaults
 * and the gate its turns pass (the `Codex`'s thread locks).
 *
 * @since 0.2.0
 * @category models
 */
export interface Dependencies {
  readonly server: AppServer.AppServer
  readonly dispatcher: Dispatcher.Dispatcher
  readonly watch: Turn.WatchOptions
  readonly gate: TurnGate.Gate
}

/**
 * Makes the function that makes a thread's handle. The turn functions are made here, once per `Codex`, and take the
 * thread id: a handle is then a few closures over its id (the bench makes one per turn: `codex.thread(id).stream`).
 *
 * @since 0.2.0
 * @category constructors
 */
export const maker = (dependencies: Dependencies): (id: string) => Thread => {
  const { server } = dependencies
  // Spans only with an installed tracer (internal/spans).
  const turn = Effect.fnUntraced(function*(id: string, input: Input.Input, options: TurnOptions = {}) {
    const { approvals, idleTimeout, interruptGrace, whenBusy, ...params } = options
    // The thread's place is held from before `turn/start` until the turn settles (or the caller's scope closes,
    // after the turn was stopped there: the place was taken first, so it is released last).
    const context = yield* Effect.context<Scope.Scope>()
    const place = Scope.forkUnsafe(Context.get(context, Scope.Scope))
    const release = () => Scope.close(place, Exit.void)
    const slot = yield* Scope.provide(dependencies.gate(id, whenBusy), place).pipe(Effect.onError(release))
    // Released when the turn settles, from the turn's own settling (no fiber waiting on its result); a turn that
    // settled before its id was recorded is released here, after.
    let settled = false
    let onSettled = () => {
      settled = true
    }
    const handle = yield* TurnShell.start(dependencies.dispatcher, { ...params, threadId: id, input: Input.toItems(input) }, {
      idleTimeout: idleTimeout ?? dependencies.watch.idleTimeout,
      interruptGrace: interruptGrace ?? dependencies.watch.interruptGrace,
      approvals
    }, () => onSettled()).pipe(Effect.onError(release))
    slot.running(handle.id)
    if (settled) yield* release()
    else {
      onSettled = () => {
        Effect.runForkWith(context)(release())
      }
    }
    return handle
  }, Spans.traced("Thread.turn"))

  const run = Effect.fnUntraced(function*(id: string, input: Input.Input, options?: TurnOptions) {
    return yield* Effect.scoped(Effect.flatMap(turn(id, input, options), (handle) => handle.run))
  }, Spans.traced("Thread.run"))

  const runStructured = <A, I>(id: string, schema: Schema.Codec<A, I>, input: Input.Input, options: TurnOptions = {}) =>
    Effect.gen(function*() {
      const { codec, jsonSchema } = yield* Effect.try({
        try: () => OpenAiStructuredOutput.toCodecOpenAI(schema),
        catch: (error) =>
          new StructuredOutputError({ threadId: id, response: null, reason: `unsupported schema: ${String(error)}` })
      })
      const result = yield* run(id, input, { ...options, outputSchema: jsonSchema })
      const fail = (reason: string) =>
        new StructuredOutputError({ threadId: id, turnId: result.id, response: result.finalResponse, reason })
      if (result.finalResponse === null) return yield* fail("the turn produced no final response")
      const json = yield* Effect.try({
        try: () => JSON.parse(result.finalResponse!) as unknown,
        catch: (error) => fail(`not JSON: ${(error as Error).message}`)
      })
      const value = yield* Schema.decodeUnknownEffect(codec)(json).pipe(
        Effect.mapError((error) => fail(`does not match the schema: ${error.message}`))
      )
      return { value, result }
    }).pipe(Effect.withSpan("Thread.runStructured", { attributes: { threadId: id } }))

  return (id) => ({
    id,
    turn: (input, options) => turn(id, input, options),
    run: (input, options) => run(id, input, options),
    stream: (input, options) => Stream.unwrap(Effect.map(turn(id, input, options), (handle) => handle.stream)),
    runStructured: (schema, input, options) => runStructured(id, schema, input, options),
    read: (options = {}) =>
      server.request("thread/read", { threadId: id, includeTurns: options.includeTurns ?? true }).pipe(
        Effect.map((response) => response.thread),
        Effect.withSpan("Thread.read", { attributes: { threadId: id } })
      ),
    setName: (name) =>
      server.request("thread/name/set", { threadId: id, name }).pipe(
        Effect.asVoid,
        Effect.withSpan("Thread.setName", { attributes: { threadId: id } })
      ),
    // Built when run, not with the handle (a span captures its call site when made).
    compact: Effect.suspend(() =>
      server.request("thread/compact/start", { threadId: id }).pipe(
        Effect.asVoid,
        Effect.withSpan("Thread.compact", { attributes: { threadId: id } })
      )
    )
  })
}
