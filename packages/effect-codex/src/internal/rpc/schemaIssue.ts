/**
 * The message of a failed schema check, on one line, for error messages.
 *
 * @since 0.1.0
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Schema from "effect/Schema"

/**
 * The schema error of `cause` as one line.
 *
 * @since 0.2.0
 * @category utils
 */
export const schemaIssue = (cause: Cause.Cause<Schema.SchemaError>): string =>
  (Cause.squash(cause) as Error).message.replace(/\s+/g, " ")
