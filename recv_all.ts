/**
 * Exact-length reads and complete writes over stream sockets.
 *
 * TCP is a byte stream: one `read()` may return any part of what the peer
 * sent, and one `write()` may accept any part of what you gave it. The
 * tutorial's `recv_all` and Python's `sendall` exist for that reason, and so
 * do {@linkcode recvAll} and {@linkcode sendAll}. This module uses no runtime
 * API, so it runs unchanged on Deno, Node and Bun.
 *
 * @module
 */

/** Anything that reads into a buffer, as a `Deno.Conn` does: resolves to the
 * number of bytes read, or `null` at end of stream. */
export interface Reader {
  /** Reads up to `p.byteLength` bytes into `p`. */
  read(p: Uint8Array): Promise<number | null>;
}

/** Anything that writes from a buffer, as a `Deno.Conn` does: resolves to the
 * number of bytes written, which may be fewer than `p.byteLength`. */
export interface Writer {
  /** Writes up to `p.byteLength` bytes from `p`. */
  write(p: Uint8Array): Promise<number>;
}

/** What {@linkcode recvAll} reads from: a {@linkcode Reader}, a byte
 * `ReadableStream` (such as `conn.readable`), or its BYOB reader. */
export type ByteSource =
  | Reader
  | ReadableStream<Uint8Array>
  | ReadableStreamBYOBReader;

/** Options for {@linkcode recvAll}. */
export interface RecvAllOptions {
  /** Read into this buffer instead of allocating one; it must hold at least
   * `length` bytes. With a stream source its `ArrayBuffer` is transferred
   * (the BYOB rule), so use the returned array, not this one. */
  buffer?: Uint8Array;
  /** Stops waiting when aborted and rejects with `signal.reason`. The
   * source's position is then unknown: close it. */
  signal?: AbortSignal;
}

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
const MAX_EMPTY_READS = 100;

/**
 * Reads exactly `length` bytes, looping over partial reads.
 *
 * A read of 0 bytes is not the end of the stream; `null` (or a closed
 * stream) is. The result is one buffer filled in place, so time and memory
 * are O(length) however the bytes arrive.
 *
 * @param source A {@linkcode Reader} (such as a `Deno.Conn`), a byte
 * `ReadableStream`, or a `ReadableStreamBYOBReader`. A stream's lock is
 * released again when this returns.
 * @param length How many bytes to read: a safe integer, 0 or more.
 * @param options A buffer to fill instead of allocating, and an abort signal.
 * @returns The `length` bytes read.
 * @throws {RangeError} If `length` is negative, fractional or unsafe, or the
 * buffer is too small for it.
 * @throws {IncompleteReadError} If the stream ends before `length` bytes.
 * @throws {NoProgressError} If 100 reads in a row return 0 bytes.
 * @throws {TypeError} If a stream is not a byte stream, or is locked.
 * @throws {DOMException} `AbortError` if a stream is cancelled mid-read (its
 * reader's bytes are gone with it).
 *
 * @example Reading a message that arrives one byte at a time
 * ```ts
 * import { recvAll } from "./recv_all.ts";
 * import assert from "node:assert/strict";
 *
 * const message = new TextEncoder().encode("Hi there, server");
 * let at = 0;
 * const trickle = {
 *   read(p: Uint8Array) {
 *     if (at === message.length) return Promise.resolve(null);
 *     p[0] = message[at++];
 *     return Promise.resolve(1);
 *   },
 * };
 * const bytes = await recvAll(trickle, 16);
 * assert.equal(new TextDecoder().decode(bytes), "Hi there, server");
 * ```
 *
 * @example Reading from a byte stream such as `conn.readable`
 * ```ts
 * import { recvAll } from "./recv_all.ts";
 * import assert from "node:assert/strict";
 *
 * const stream = new ReadableStream({
 *   type: "bytes",
 *   start(controller) {
 *     controller.enqueue(new TextEncoder().encode("Farewell, client"));
 *     controller.close();
 *   },
 * });
 * const bytes = await recvAll(stream, 8);
 * assert.equal(new TextDecoder().decode(bytes), "Farewell");
 * ```
 */
export function recvAll(
  source: ByteSource,
  length: number,
  options: RecvAllOptions = {},
): Promise<Uint8Array> {
  if (!Number.isSafeInteger(length) || length < 0) {
    return Promise.reject(
      new RangeError(`length must be a whole number >= 0, got ${length}`),
    );
  }
  const { buffer, signal } = options;
  if (buffer && buffer.length < length) {
    return Promise.reject(
      new RangeError(
        `buffer holds ${buffer.length} bytes, fewer than the ${length} to read`,
      ),
    );
  }
  if (signal?.aborted) return Promise.reject(signal.reason);
  const target = buffer ? buffer.subarray(0, length) : new Uint8Array(length);
  if (length === 0) return Promise.resolve(target);
  if (source instanceof ReadableStream) {
    let reader;
    try {
      reader = source.getReader({ mode: "byob" });
    } catch (err) {
      return Promise.reject(err); // Not a byte stream, or locked.
    }
    return readStream(reader, target, signal, true);
  }
  if (isByobReader(source)) return readStream(source, target, signal, false);
  return readReader(source, target, signal);
}

function isByobReader(source: ByteSource): source is ReadableStreamBYOBReader {
  return typeof ReadableStreamBYOBReader !== "undefined" &&
    source instanceof ReadableStreamBYOBReader;
}

async function readReader(
  reader: Reader,
  target: Uint8Array,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  const aborted = signal && abortPromise(signal);
  try {
    let filled = 0;
    let empty = 0;
    while (filled < target.length) {
      const read = reader.read(filled ? target.subarray(filled) : target);
      const n = aborted ? await Promise.race([read, aborted.promise]) : await read;
      if (n === null) {
        throw new IncompleteReadError(target.slice(0, filled), target.length);
      }
      if (n === 0 && ++empty === MAX_EMPTY_READS) {
        throw new NoProgressError(
          `reader returned 0 bytes ${MAX_EMPTY_READS} times in a row`,
        );
      }
      if (n > 0) empty = 0;
      filled += n;
    }
    return target;
  } finally {
    aborted?.dispose();
  }
}

async function readStream(
  reader: ReadableStreamBYOBReader,
  target: Uint8Array,
  signal: AbortSignal | undefined,
  release: boolean,
): Promise<Uint8Array> {
  const aborted = signal && abortPromise(signal);
  const { length, byteOffset } = target;
  let buffer = target.buffer as ArrayBuffer;
  try {
    let filled = 0;
    while (filled < length) {
      const read = reader.read(
        new Uint8Array(buffer, byteOffset + filled, length - filled),
      );
      const { value, done } = aborted ? await Promise.race([read, aborted.promise]) : await read;
      // BYOB reads transfer the buffer: keep following it. A cancelled
      // stream resolves without it, and the bytes went with it.
      if (!value) {
        throw new DOMException(
          `the stream was cancelled ${filled} bytes into a ${length}-byte message`,
          "AbortError",
        );
      }
      buffer = value.buffer as ArrayBuffer;
      if (done) {
        throw new IncompleteReadError(
          new Uint8Array(buffer, byteOffset, filled).slice(),
          length,
        );
      }
      filled += value.byteLength;
    }
    return new Uint8Array(buffer, byteOffset, length);
  } finally {
    aborted?.dispose();
    if (release) reader.releaseLock();
  }
}

/** A promise that rejects when `signal` aborts, and a way to stop listening. */
function abortPromise(
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

/**
 * Writes all of `bytes`, looping over partial writes, as Python's `sendall`.
 *
 * @param writer A {@linkcode Writer}, such as a `Deno.Conn`.
 * @param bytes The bytes to write.
 * @returns A promise that resolves once every byte has been written.
 * @throws {NoProgressError} If a write accepts 0 bytes.
 *
 * @example Writing through a writer that takes 3 bytes at a time
 * ```ts
 * import { sendAll } from "./recv_all.ts";
 * import assert from "node:assert/strict";
 *
 * const seen: number[] = [];
 * const narrow = {
 *   write(p: Uint8Array) {
 *     const n = Math.min(3, p.length);
 *     seen.push(...p.subarray(0, n));
 *     return Promise.resolve(n);
 *   },
 * };
 * await sendAll(narrow, new TextEncoder().encode("Hi there, server"));
 * assert.equal(new TextDecoder().decode(new Uint8Array(seen)), "Hi there, server");
 * ```
 */
export async function sendAll(writer: Writer, bytes: Uint8Array): Promise<void> {
  let sent = 0;
  while (sent < bytes.length) {
    const n = await writer.write(sent ? bytes.subarray(sent) : bytes);
    if (!(n > 0)) {
      throw new NoProgressError(
        `writer accepted 0 bytes with ${bytes.length - sent} of ${bytes.length} left to send`,
      );
    }
    sent += n;
  }
}
