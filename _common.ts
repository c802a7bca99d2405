/**
 * What the three kinds of source share: the errors an exact read ends
 * with, the abort race, and how a value is told apart and described.
 * Private: `recv_all.ts` exports what is public.
 *
 * @module
 */

/**
 * The stream ended before the whole message arrived.
 *
 * `partial` holds the bytes that did arrive, so "the peer left" (empty) and
 * "the peer was cut off" (non-empty) are told apart without parsing text.
 *
 * @example Telling a clean close from a cut-off message
 * ```ts
 * import { IncompleteReadError, recvAll } from "./recv_all.ts";
 * import assert from "node:assert/strict";
 *
 * const chunks = [new TextEncoder().encode("Hi th")];
 * const reader = {
 *   read(p: Uint8Array) {
 *     const chunk = chunks.shift();
 *     if (!chunk) return Promise.resolve(null);
 *     p.set(chunk);
 *     return Promise.resolve(chunk.length);
 *   },
 * };
 * await assert.rejects(recvAll(reader, 16), (err) => {
 *   assert(err instanceof IncompleteReadError);
 *   assert.equal(err.partial.length, 5);
 *   assert.equal(err.message, "socket closed 5 bytes into a 16-byte message");
 *   return true;
 * });
 * ```
 */
export class IncompleteReadError extends Error {
  /** The bytes received before the end of the stream. */
  readonly partial: Uint8Array;
  /** The number of bytes that were expected. */
  readonly expected: number;

  /**
   * Builds the error from what arrived and what was expected.
   *
   * @param partial The bytes received before the end of the stream.
   * @param expected The number of bytes that were expected.
   */
  constructor(partial: Uint8Array, expected: number) {
    super(
      `socket closed ${partial.length} bytes into a ${expected}-byte message`,
    );
    this.name = "IncompleteReadError";
    this.partial = partial;
    this.expected = expected;
  }
}

/**
 * A reader or writer stopped making progress: a write accepted 0 bytes (as
 * Rust's `WriteZero`), or 100 reads in a row returned 0 bytes (as Go's
 * `io.ErrNoProgress`). Looping on would never end.
 *
 * @example A writer that accepts nothing
 * ```ts
 * import { NoProgressError, sendAll } from "./recv_all.ts";
 * import assert from "node:assert/strict";
 *
 * const stuck = { write: () => Promise.resolve(0) };
 * await assert.rejects(sendAll(stuck, new Uint8Array(4)), NoProgressError);
 * ```
 */
export class NoProgressError extends Error {
  /**
   * Builds the error.
   *
   * @param message What stopped making progress.
   */
  constructor(message: string) {
    super(message);
    this.name = "NoProgressError";
  }
}

/** Go's bufio gives up after this many empty reads in a row. */
export const MAX_EMPTY_READS = 100;

/** Whether `value` has the methods `names` (a constant array: no
 * allocation per call). */
export function hasMethods(value: unknown, names: readonly string[]): boolean {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  for (const name of names) if (typeof record[name] !== "function") return false;
  return true;
}

/** What a value is, for an error message: `null`, `a string`, `a
 * WritableStream`, `an object without read()`. */
export function describe(value: unknown, method: string): string {
  if (value === null) return "null";
  if (typeof value !== "object") return `a ${typeof value}`;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "Object"
    ? `a ${name}`
    : `an object without ${method}()`;
}

/** A promise that rejects when `signal` aborts, and a way to stop listening. */
export function abortPromise(
  signal: AbortSignal,
): { promise: Promise<never>; dispose(): void } {
  let onAbort!: () => void;
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return {
    promise,
    dispose: () => signal.removeEventListener("abort", onAbort),
  };
}
