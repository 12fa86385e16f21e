/**
 * The runner socket's admission: every connection to a runner (from a client or another runner) opens with one
 * line, `effect-codex-cluster/1 <proof>`, where the proof is an HMAC-SHA256 of a fixed label under the cluster's
 * shared secret (the secret itself never crosses the wire). A runner reads that line before it hands the connection
 * to Effect Cluster's RPC server; a connection whose first line is missing, late or wrong is closed, and the attempt
 * logged with the peer's address.
 *
 * @since 0.2.0
 * @internal
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Runners from "effect/cluster/Runners"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as RpcClient from "effect/rpc/RpcClient"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"
import { createHmac, timingSafeEqual } from "node:crypto"
import * as Net from "node:net"

const prefix = "effect-codex-cluster/1 "

/** The first line a peer must send: the protocol label and the proof that it holds the secret. */
const greeting = (secret: Redacted.Redacted<string>): Buffer =>
  Buffer.from(
    `${prefix}${createHmac("sha256", Redacted.value(secret)).update("effect-codex/cluster/runner-socket").digest("hex")}\n`
  )

/** The longest first line read before a connection is refused. */
const maxGreetingBytes = 256

/** How long a connection may take to send its first line. */
const greetingTimeout = Duration.seconds(5)

/** Why a connection was refused. */
type Refusal = "no greeting" | "wrong secret" | "closed before its greeting"

/**
 * Reads the first line of `reader`, and the bytes after it. Fails with the refusal when the line is not `expected`.
 */
const readGreeting = (reader: Socket.Reader, expected: Buffer) =>
  Effect.gen(function*() {
    let received = Buffer.alloc(0)
    while (true) {
      const end = received.indexOf(10)
      if (end !== -1) {
        const line = received.subarray(0, end + 1)
        const ok = line.byteLength === expected.byteLength && timingSafeEqual(line, expected)
        if (!ok) return yield* Effect.fail<Refusal>("wrong secret")
        return received.subarray(end + 1)
      }
      if (received.byteLength > maxGreetingBytes) return yield* Effect.fail<Refusal>("no greeting")
      const frames = yield* Effect.mapError(reader.pull, (): Refusal => "closed before its greeting")
      received = Buffer.concat([received, ...frames.map((frame) => typeof frame === "string" ? Buffer.from(frame) : frame)])
    }
  }).pipe(
    Effect.timeoutOrElse({ duration: greetingTimeout, orElse: () => Effect.fail<Refusal>("no greeting") })
  )

/** `reader`, with `rest` (read past the greeting) delivered first. */
const prepend = (reader: Socket.Reader, rest: Uint8Array): Socket.Reader => {
  let first: Uint8Array | undefined = rest.byteLength > 0 ? rest : undefined
  return {
    pull: Effect.suspend(() => {
      if (first === undefined) return reader.pull
      const frame = first
      first = undefined
      return Effect.succeed([frame] as const)
    }),
    upgrade: reader.upgrade
  }
}

/**
 * The `SocketServer` of a runner, admitting only the connections that open with the cluster's greeting.
 *
 * @since 0.2.0
 * @category constructors
 * @internal
 */
export const admitting = (
  server: SocketServer.SocketServer["Service"],
  secret: Redacted.Redacted<string>
): SocketServer.SocketServer["Service"] => {
  const expected = greeting(secret)
  return SocketServer.SocketServer.of({
    address: server.address,
    run: (handler) =>
      server.run((socket) =>
        Effect.scoped(Effect.gen(function*() {
          const reader = yield* socket.reader
          const admitted = yield* Effect.result(readGreeting(reader, expected))
          if (admitted._tag === "Failure") {
            const peer = yield* Effect.serviceOption(NodeSocket.NetSocket)
            return yield* Effect.logWarning("refused a connection to the runner socket").pipe(
              Effect.annotateLogs({
                reason: admitted.failure,
                peer: Option.match(peer, {
                  onNone: () => "unknown",
                  onSome: (conn) => `${conn.remoteAddress}:${conn.remotePort}`
                })
              })
            )
          }
          const rest = admitted.success
          return yield* handler(Socket.make({ reader: Effect.succeed(prepend(reader, rest)), writer: socket.writer }))
        }))
      )
  })
}

/**
 * Effect Cluster's `RpcClientProtocol` over TCP (as `@effect/platform-node`'s `NodeClusterSocket`), each connection
 * opening with the cluster's greeting.
 *
 * @since 0.2.0
 * @category constructors
 * @internal
 */
export const clientProtocol = (secret: Redacted.Redacted<string>) =>
  Effect.gen(function*() {
    const serialization = yield* RpcSerialization.RpcSerialization
    const hello = greeting(secret)
    return Runners.RpcClientProtocol.of({
      codecFor: serialization.codecFor,
      make: Effect.fnUntraced(function*(address) {
        const options = { host: address.host, port: address.port, timeout: 5500 }
        // The greeting is written in the connect callback, before the socket is handed to the RPC client, so it is
        // the first line on every connection (the client reconnects through this same open).
        const open = Effect.callback<Net.Socket, Socket.SocketError>((resume) => {
          const conn = Net.createConnection(options)
          conn.once("connect", () => {
            conn.write(hello)
            resume(Effect.succeed(conn))
          })
          conn.on("error", (cause: Error) =>
            resume(Effect.fail(new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind: "Unknown", cause }) }))))
        })
        const socket = yield* NodeSocket.fromDuplex(
          Effect.acquireRelease(open, (conn) => Effect.sync(() => conn.destroy())),
          { openTimeout: 1000 }
        )
        return yield* RpcClient.makeProtocolSocket().pipe(
          Effect.provideService(Socket.Socket, socket),
          Effect.provideService(RpcSerialization.RpcSerialization, serialization)
        )
      }, Effect.orDie)
    })
  })
