/**
 * Messages as bytes: what the options take (text or bytes) and how replies
 * are compared.
 *
 * @module
 */

/**
 * Encodes text as UTF-8; bytes pass through as they are.
 *
 * @param message Text or bytes.
 * @returns The bytes.
 *
 * @example Encoding the reply
 * ```ts
 * import { toBytes } from "./bytes.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(toBytes("Farewell, client").length, 16);
 * ```
 */
export function toBytes(message: string | Uint8Array): Uint8Array {
  return typeof message === "string" ? new TextEncoder().encode(message) : message;
}

/**
 * Whether two byte arrays hold the same bytes.
 *
 * @param a One.
 * @param b The other.
 * @returns `true` if they are equal byte for byte.
 *
 * @example
 * ```ts
 * import { equalBytes, toBytes } from "./bytes.ts";
 * import assert from "node:assert/strict";
 *
 * assert(equalBytes(toBytes("Farewell, client"), toBytes("Farewell, client")));
 * assert(!equalBytes(toBytes("Farewell, client"), toBytes("Farewell, CLIENT")));
 * ```
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
