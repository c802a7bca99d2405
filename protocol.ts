/**
 * The tutorial's protocol, as constants: the port, and the two
 * sixteen-octet messages.
 *
 * @module
 */

/** The tutorial's port. */
export const DEFAULT_PORT = 1060;
/** How many octets each side sends. */
export const MESSAGE_LENGTH = 16;
/** What the client sends. */
export const DEFAULT_MESSAGE = "Hi there, server";
/** What the server replies. */
export const DEFAULT_REPLY = "Farewell, client";

/**
 * Encodes text as UTF-8; bytes pass through as they are.
 *
 * @param message Text or bytes.
 * @returns The bytes.
 *
 * @example Encoding the reply
 * ```ts
 * import { toBytes } from "./protocol.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(toBytes("Farewell, client").length, 16);
 * ```
 */
export function toBytes(message: string | Uint8Array): Uint8Array {
  return typeof message === "string" ? new TextEncoder().encode(message) : message;
}

/** The longest delay a timer takes: 2^31 - 1 ms, about 24.8 days. */
const MAX_DELAY = 2_147_483_647;

/**
 * Checks a duration option: a number of milliseconds a timer can wait.
 *
 * @param name The option's name, for the message.
 * @param ms Its value.
 * @throws {RangeError} If it is not from 1 to 2147483647.
 *
 * @example Rejecting a negative timeout
 * ```ts
 * import { checkDuration } from "./protocol.ts";
 * import assert from "node:assert/strict";
 *
 * checkDuration("timeout", 10_000);
 * assert.throws(() => checkDuration("timeout", -1), RangeError);
 * ```
 */
export function checkDuration(name: string, ms: number): void {
  if (!(ms >= 1 && ms <= MAX_DELAY)) {
    throw new RangeError(`${name} must be from 1 to ${MAX_DELAY} ms, got ${ms}`);
  }
}
