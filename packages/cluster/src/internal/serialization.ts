/**
 * How runners and clients encode messages on their sockets. Both ends must agree. Not Effect's default binary
 * encoding: `SchemaBinary` cannot lay out the protocol's large unions (`Turn.Result`'s items: "Binary layout
 * sentinel collision" in effect 4.1), so messages go as newline-delimited JSON.
 *
 * @since 0.2.0
 */
/**
 * The serialization of `NodeClusterSocket.layer`.
 *
 * @since 0.2.0
 * @category constants
 */
export const serialization = "ndjson" as const
