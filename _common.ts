/**
 * What the three kinds of source share: the {@linkcode Pull} each becomes,
 * the exact-read loop over any of them ({@linkcode readFull}), the errors it
 * ends with, the abort race, and how a value is told apart and described.
 * Private: `recv_all.ts` exports what is public.
 *
 * @module
 */

/**
 * The stream ended before the whole message arrived.
 *
 * `partial` holds the bytes that did arrive, so "the peer left" (empty) and
 * "the peer was cut off" (non-empty) are told apart without parsing text.
 * `expected` is the length that was asked for, or `null` for a message
 * that ends at a delimiter (Python's `readuntil()` says `None`).
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
  /** The number of bytes that were expected, or `null` if the message
   * was to end at a delimiter. */
  readonly expected: number | null;

  /**
   * Builds the error from what arrived and what was expected.
   *
   * @param partial The bytes received before the end of the stream.
   * @param expected The number of bytes that were expected, or `null` if
   * the message was to end at a delimiter.
   */
  constructor(partial: Uint8Array, expected: number | null) {
    super(
      expected === null
        ? `socket closed ${partial.length} bytes into a message, before its delimiter`
        : `socket closed ${partial.length} bytes into a ${expected}-byte message`,
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

/** The error for {@linkcode MAX_EMPTY_READS} empty reads in a row. */
export function emptyReads(): NoProgressError {
  return new NoProgressError(`reader returned 0 bytes ${MAX_EMPTY_READS} times in a row`);
}

/**
 * One kind of source as `recvAll` and `FrameReader` read it: bytes pulled
 * into a buffer of the caller's, one read at a time. A Deno-style reader is
 * one as it is; `_web_streams.ts` and `_node_streams.ts` make one of a
 * stream.
 */
export interface Pull {
  /** Reads up to `p.length` bytes into `p` (which stays the caller's, and
   * in place): how many (0: none yet), or `null` at the end of the stream.
   * A Node stream stops waiting when `signal` aborts, and keeps its bytes;
   * the others go on reading (callers race the signal themselves). */
  read(p: Uint8Array, signal?: AbortSignal): Promise<number | null>;
  /** `true` once a Web stream's `read()` came back cancelled (its bytes
   * gone with it) rather than at its end. */
  readonly cancelled?: boolean;
  /** Puts bytes back at the front of the source (a Node stream can), so
   * that an aborted read leaves it as it was. */
  unread?(bytes: Uint8Array): void;
}

/**
 * Reads until `target` is full, looping over partial reads: the loop
 * `recvAll` runs over every kind of source.
 *
 * @param pull Where the bytes come from.
 * @param target The buffer to fill.
 * @param signal Stops waiting when aborted; what was read then goes back
 * to a source that can take it.
 * @param filled How much of `target` an earlier read filled already.
 * @returns `target`, full.
 */
export async function readFull(
  pull: Pull,
  target: Uint8Array,
  signal: AbortSignal | undefined,
  filled = 0,
): Promise<Uint8Array> {
  const aborted = signal && abortPromise(signal);
  try {
    let empty = 0;
    while (filled < target.length) {
      const read = pull.read(filled ? target.subarray(filled) : target, signal);
      const n = aborted ? await Promise.race([read, aborted.promise]) : await read;
      if (n === null) {
        if (pull.cancelled) {
          throw new DOMException(
            `the stream was cancelled ${filled} bytes into a ${target.length}-byte message`,
            "AbortError",
          );
        }
        throw new IncompleteReadError(target.slice(0, filled), target.length);
      }
      if (n === 0 && ++empty === MAX_EMPTY_READS) throw emptyReads();
      if (n > 0) empty = 0;
      filled += n;
    }
    return target;
  } catch (err) {
    if (signal?.aborted && filled > 0) pull.unread?.(target.slice(0, filled));
    throw err;
  } finally {
    aborted?.dispose();
  }
}

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
