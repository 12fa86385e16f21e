/**
 * What a turn is given: text, images (by URL or local path), skills and mentions. A plain string is
 * text; an array mixes items.
 *
 * @example
 * ```ts
 * import { Input } from "effect-codex"
 *
 * const input: Input.Input = ["Describe this screenshot", Input.localImage("./screen.png")]
 * ```
 * @since 0.1.0
 */
import type { UserInput } from "@effect-codex/protocol"

/**
 * One input item of the protocol (`UserInput`).
 *
 * @since 0.1.0
 * @category models
 */
export type Item = UserInput

/**
 * Turn input: a string, one item, or several.
 *
 * @since 0.1.0
 * @category models
 */
export type Input = string | Item | ReadonlyArray<string | Item>

/**
 * A text item.
 *
 * @since 0.1.0
 * @category constructors
 */
export const text = (value: string): Item => ({ type: "text", text: value })

/**
 * An image by URL. codex 0.169.0 accepts `data:` URLs and rejects remote http(s) URLs at `turn/start`
 * (an `InvalidRequestError`); use {@link imageData} or {@link localImage} for image bytes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const image = (url: string): Item => ({ type: "image", url })

/**
 * An image from its bytes, sent inline as a `data:` URL.
 *
 * @since 0.1.0
 * @category constructors
 */
export const imageData = (bytes: Uint8Array, mimeType: string): Item =>
  image(`data:${mimeType};base64,${Buffer.from(bytes).toString("base64")}`)

/**
 * An image read by codex from a local path.
 *
 * @since 0.1.0
 * @category constructors
 */
export const localImage = (path: string): Item => ({ type: "localImage", path })

/**
 * A skill to use, by name and path of its SKILL.md.
 *
 * @since 0.1.0
 * @category constructors
 */
export const skill = (name: string, path: string): Item => ({ type: "skill", name, path })

/**
 * A mention of a file or resource, by name and path.
 *
 * @since 0.1.0
 * @category constructors
 */
export const mention = (name: string, path: string): Item => ({ type: "mention", name, path })

/**
 * Normalizes any input to the protocol's list of items.
 *
 * @since 0.1.0
 * @category utils
 */
export const toItems = (input: Input): Array<Item> =>
  (typeof input === "string" || !Array.isArray(input) ? [input as string | Item] : [...input]).map((item) =>
    typeof item === "string" ? text(item) : item
  )
