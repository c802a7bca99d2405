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
 * @example
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
