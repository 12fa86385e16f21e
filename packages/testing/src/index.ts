/**
 * Testing kit for effect-codex.
 *
 * @since 0.1.0
 */

/**
 * A scripted local OpenAI Responses API server for fully offline
 * `codex app-server` runs: `MockModel.layer`, `MockModel.MockModel`,
 * `MockModel.text(...)`, `MockModel.shellCall(...)`, ...
 *
 * @since 0.1.0
 */
export * as MockModel from "./MockModel.js"

/**
 * The real codex binary wired to a `MockModel` with a temporary `CODEX_HOME`: `CodexTest.layer()`.
 *
 * @since 0.1.0
 */
export * as CodexTest from "./CodexTest.js"

/**
 * An in-memory fake `codex app-server` for fault injection: canned replies and JSON-RPC errors,
 * delays, garbage lines, notifications, server→client requests, crashes mid-turn, and a record of
 * every client message: `FakeAppServer.layer()`, `FakeAppServer.layerCodex()`, `FakeAppServer.FakeAppServer`.
 *
 * @since 0.1.0
 */
export * as FakeAppServer from "./FakeAppServer.js"

/**
 * An in-memory connection for tests: the client end is a `Transport.Transport`, the server end is
 * scripted by the test (`send`, `received`, `close`): `InMemoryTransport.make`.
 *
 * @since 0.2.0
 */
export * as InMemoryTransport from "./InMemoryTransport.js"

/**
 * Process checks for "nothing left running" assertions: `Processes.isRunning(pid)`.
 *
 * @since 0.1.0
 */
export * as Processes from "./Processes.js"

/**
 * A throwaway PostgreSQL server (initdb into a temporary folder, a free port on 127.0.0.1, removed at the end):
 * `Postgres.layer()`, `Postgres.Postgres`, `Postgres.make`.
 *
 * @since 0.2.0
 */
export * as Postgres from "./Postgres.js"
