/**
 * Exact-length reads and complete writes over stream sockets.
 *
 * TCP is a byte stream: one `read()` may return any part of what the peer
 * sent, and one `write()` may accept any part of what you gave it. The
 * tutorial's `recv_all` and Python's `sendall` exist for that reason, and so
 * do {@linkcode recvAll} and {@linkcode sendAll}. They take Deno's sockets,
 * Web Streams, and Node's streams (a `net.Socket`, on Node, Bun or Deno's
 * `node:net`). This module uses no runtime API, so it runs unchanged on
 * Deno, Node and Bun.
 *
 * @module
 */

import { describe, type Pull, readFull } from "./_common.ts";
import { isReader, isWriter, type Reader, type Writer, writeWriter } from "./_reader.ts";
import { byobPull, isByobReader } from "./_web_streams.ts";
import {
  isNodeReadable,
  isNodeWritable,
  nodePull,
  type NodeReadable,
  type NodeWritable,
  writeNode,
} from "./_node_streams.ts";

export { IncompleteReadError, NoProgressError } from "./_common.ts";
export { type Reader, recvRest, type Writer } from "./_reader.ts";
export type { NodeListener, NodeReadable, NodeWritable } from "./_node_streams.ts";

/** What {@linkcode recvAll} reads from: a {@linkcode Reader}, a byte
 * `ReadableStream` (such as `conn.readable`), its BYOB reader, or a Node
 * `Readable` such as a `net.Socket`. */
export type ByteSource =
  | Reader
  | ReadableStream<Uint8Array>
  | ReadableStreamBYOBReader
  | NodeReadable;

/** What {@linkcode sendAll} writes to: a {@linkcode Writer} or a Node
 * `Writable` such as a `net.Socket`. */
export type ByteSink = Writer | NodeWritable;

/** Options for {@linkcode recvAll}. */
export interface RecvAllOptions {
  /** Read into this buffer instead of allocating one; it must hold at least
   * `length` bytes. It is filled in place, from any source. */
  buffer?: Uint8Array;
  /** Stops waiting when aborted and rejects with `signal.reason`. The
   * source's position is then unknown (close it), except with a Node
   * `Readable`, which gets back the bytes read so far. */
  signal?: AbortSignal;
}

/** Options for {@linkcode sendAll}. */
export interface SendAllOptions {
  /** Stops waiting when aborted and rejects with `signal.reason`. How much
   * was written is then unknown: close the writer. */
  signal?: AbortSignal;
}

/**
 * Reads exactly `length` bytes, looping over partial reads.
 *
 * A read of 0 bytes is not the end of the stream; `null` (or a closed
 * stream) is. The result is one buffer filled in place, so time and memory
 * are O(length) however the bytes arrive.
 *
 * A Node `Readable` (such as a `net.Socket`) is read in paused mode, through
 * its `'readable'` event and `read(n)`, never asking for more than is still
 * missing: bytes beyond `length` stay in the stream for its next reader.
 * Each byte is copied once, from Node's chunk into the result (twice when
 * several small chunks are waiting). Bytes buffered before a reset or a
 * `destroy()` are still delivered; then the stream's error rejects. The
 * listeners are removed when this settles, and the stream is left not
 * flowing, as Node leaves it when its last `'readable'` listener goes.
 *
 * A byte `ReadableStream` is read through its BYOB reader, into a buffer of
 * its own that is copied into the result: a BYOB read transfers the buffer
 * it is given, and the result is filled in place.
 *
 * @param source A {@linkcode Reader} (such as a `Deno.Conn`), a byte
 * `ReadableStream`, a `ReadableStreamBYOBReader`, or a Node `Readable` in
 * byte mode with no other reader (such as a `net.Socket`). A stream's lock
 * is released again when this returns.
 * @param length How many bytes to read: a safe integer, 0 or more.
 * @param options A buffer to fill instead of allocating, and an abort signal.
 * @returns The `length` bytes read.
 * @throws {RangeError} If `length` is negative, fractional or unsafe, or the
 * buffer is too small for it.
 * @throws {IncompleteReadError} If the stream ends (or a Node stream is
 * destroyed without an error) before `length` bytes.
 * @throws {NoProgressError} If 100 reads in a row return 0 bytes.
 * @throws {TypeError} If `source` is none of the above; if a stream is not a
 * byte stream, or is locked; if a Node `Readable` has an encoding, is in
 * object mode, or already has a reader (`'data'` or `'readable'`
 * listeners, or it is flowing).
 * @throws {DOMException} `AbortError` if a stream is cancelled mid-read (its
 * reader's bytes are gone with it).
 * @throws {Error} A Node stream's own error, such as `ECONNRESET`.
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
 *
 * @example Reading from a Node `net.Socket`
 * ```ts
 * import { recvAll, sendAll } from "./recv_all.ts";
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import net from "node:net";
 *
 * const server = net.createServer(async (socket) => {
 *   const message = await recvAll(socket, 16);
 *   await sendAll(socket, new TextEncoder().encode("Farewell, client"));
 *   socket.end();
 *   assert.equal(new TextDecoder().decode(message), "Hi there, server");
 * });
 * server.listen(0, "127.0.0.1");
 * await once(server, "listening");
 * const { port } = server.address() as net.AddressInfo;
 * const socket = net.connect(port, "127.0.0.1");
 * await once(socket, "connect");
 * await sendAll(socket, new TextEncoder().encode("Hi there, server"));
 * const reply = await recvAll(socket, 16);
 * assert.equal(new TextDecoder().decode(reply), "Farewell, client");
 * socket.destroy();
 * server.close();
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
  let from: { pull: Pull; release?(): void };
  try {
    from = pullFrom(source, "recvAll");
  } catch (err) {
    return Promise.reject(err);
  }
  const reading = readFull(from.pull, target, signal);
  return from.release ? reading.finally(from.release) : reading;
}

/**
 * The {@linkcode Pull} for a source `recvAll` takes, and how to give the
 * source back (a stream's lock taken here). Shared with `FrameReader`.
 *
 * @param source The source.
 * @param who Whose reads these are, for the messages (`recvAll`).
 * @returns The pull, and `release` where a lock was taken.
 * @throws {TypeError} If `source` is no {@linkcode ByteSource}, or one that
 * cannot be read (not a byte stream, locked, a Node stream in object mode).
 */
export function pullFrom(
  source: ByteSource,
  who: string,
): { pull: Pull; release?(): void } {
  if (source instanceof ReadableStream) {
    const reader = source.getReader({ mode: "byob" }); // Throws if not bytes, or locked.
    return { pull: byobPull(reader), release: () => reader.releaseLock() };
  }
  if (isByobReader(source)) return { pull: byobPull(source) };
  // Before Reader: a net.Socket has a read() too, of another meaning.
  if (isNodeReadable(source)) return { pull: nodePull(source, who) };
  if (isReader(source)) return { pull: source };
  throw new TypeError(
    `${who} reads from a Reader (read(p) resolving to a byte count or null, as a Deno.Conn), ` +
      "a byte ReadableStream or its BYOB reader, or a Node Readable such as a net.Socket; " +
      `got ${describe(source, "read")}`,
  );
}

/**
 * Writes all of `bytes`, looping over partial writes, as Python's `sendall`.
 *
 * To a Node `Writable` (such as a `net.Socket`) it writes `bytes` once, as
 * they are (no copy), and resolves when Node has written them (the write's
 * callback) and, if the write asked for it (`write()` returned `false`),
 * the stream has drained: so a peer that does not read holds the sender, as
 * on Deno, and `bytes` can be reused once this resolves. A failed write
 * rejects with the stream's error (`EPIPE`, `ECONNRESET`...), once Node has
 * emitted it; the listeners are removed when this settles.
 *
 * @param writer A {@linkcode Writer} (such as a `Deno.Conn`), or a Node
 * `Writable` (such as a `net.Socket`).
 * @param bytes The bytes to write.
 * @param options An abort signal.
 * @returns A promise that resolves once every byte has been written.
 * @throws {NoProgressError} If a write accepts 0 bytes.
 * @throws {TypeError} If `writer` is neither a Writer nor a Node Writable.
 * @throws {Error} A Node stream's own error, such as `EPIPE`.
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
 *
 * @example Writing to a Node stream that pushes back
 * ```ts
 * import { sendAll } from "./recv_all.ts";
 * import assert from "node:assert/strict";
 * import { Writable } from "node:stream";
 *
 * const chunks: Uint8Array[] = [];
 * const slow = new Writable({
 *   highWaterMark: 4,
 *   write(chunk, _encoding, callback) {
 *     chunks.push(chunk);
 *     setTimeout(callback, 5);
 *   },
 * });
 * await sendAll(slow, new TextEncoder().encode("Hi there, server"));
 * assert.equal(slow.writableLength, 0); // Written and drained.
 * assert.equal(new TextDecoder().decode(chunks[0]), "Hi there, server");
 * ```
 */
export function sendAll(
  writer: ByteSink,
  bytes: Uint8Array,
  options: SendAllOptions = {},
): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  // Before Writer: a net.Socket has a write() too, of another meaning.
  if (isNodeWritable(writer)) {
    return bytes.length === 0 ? Promise.resolve() : writeNode(writer, bytes, signal);
  }
  if (isWriter(writer)) return writeWriter(writer, bytes, signal);
  return Promise.reject(
    new TypeError(
      "sendAll writes to a Writer (write(p) resolving to a byte count, as a Deno.Conn) " +
        `or a Node Writable such as a net.Socket; got ${describe(writer, "write")}`,
    ),
  );
}
