/**
 * Messages as bytes: what the options take (text or bytes), how replies
 * are compared, and how peer bytes are shown to a person.
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
 * @example Comparing replies
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

/**
 * Shows bytes as Python 2 shows a `str`: quoted, with every byte that is not
 * printable ASCII escaped, so a peer cannot write control characters to the
 * operator's terminal.
 *
 * @param bytes The bytes.
 * @returns The quoted text, e.g. `'Hi there, server'`.
 *
 * @example A terminal escape, shown harmless
 * ```ts
 * import { repr } from "./bytes.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(repr(new Uint8Array([0x1b, 0x5b, 0x32, 0x4a])), "'\\x1b[2J'");
 * ```
 */
export function repr(bytes: Uint8Array): string {
  const quote = bytes.includes(0x27) && !bytes.includes(0x22) ? '"' : "'";
  let out = quote;
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (c === quote || c === "\\") out += "\\" + c;
    else if (c === "\n") out += "\\n";
    else if (c === "\r") out += "\\r";
    else if (c === "\t") out += "\\t";
    else if (b < 0x20 || b > 0x7e) out += "\\x" + b.toString(16).padStart(2, "0");
    else out += c;
  }
  return out + quote;
}
