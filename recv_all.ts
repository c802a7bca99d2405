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

/** A listener for a Node stream event. */
export type NodeListener = (...args: never[]) => void;

/**
 * The parts of a Node `stream.Readable` that {@linkcode recvAll} uses: a
 * `net.Socket` has them on Node, Bun and Deno, as has any `Readable` in
 * byte mode. Declared here, not imported from `node:stream`, so this module
 * (and its types) need no Node.
 */
export interface NodeReadable {
  /** Takes up to `size` buffered bytes: Node's `readable.read(size)`. */
  read(size?: number): unknown;
  /** Puts bytes back at the front of the buffer. */
  unshift(chunk: Uint8Array): void;
  /** Bytes buffered, ready for `read()`. */
  readonly readableLength: number;
  /** Adds an event listener. */
  on(event: string, listener: NodeListener): unknown;
  /** Removes an event listener. */
  removeListener(event: string, listener: NodeListener): unknown;
  /** How many listeners an event has. */
  listenerCount?(event: string): number;
  /** `true` while the stream emits `'data'` events. */
  readonly readableFlowing?: boolean | null;
  /** `true` once `'end'` was emitted. */
  readonly readableEnded?: boolean;
  /** Reads return strings when this is set. */
  readonly readableEncoding?: string | null;
  /** Reads return objects, not bytes, when this is `true`. */
  readonly readableObjectMode?: boolean;
  /** The buffer size the stream aims at. */
  readonly readableHighWaterMark?: number;
  /** Leaves paused mode (after an explicit `pause()`). */
  resume?(): unknown;
  /** `true` once the stream is destroyed. */
  readonly destroyed?: boolean;
  /** The error the stream was destroyed with. */
  readonly errored?: Error | null;
}

/**
 * The parts of a Node `stream.Writable` that {@linkcode sendAll} uses: a
 * `net.Socket` has them on Node, Bun and Deno.
 */
export interface NodeWritable {
  /** Queues `chunk`; calls `callback` once it is written or failed, and
   * returns `false` when the caller should wait for `'drain'`. */
  write(chunk: Uint8Array, callback: (err?: Error | null) => void): boolean;
  /** Ends the stream. (Only looked for, to tell a Node stream.) */
  end(): unknown;
  /** Adds an event listener. */
  on(event: string, listener: NodeListener): unknown;
  /** Removes an event listener. */
  removeListener(event: string, listener: NodeListener): unknown;
  /** `true` while the stream's buffer is over its high-water mark. */
  readonly writableNeedDrain?: boolean;
  /** `true` once the stream is destroyed. */
  readonly destroyed?: boolean;
  /** The error the stream was destroyed with. */
  readonly errored?: Error | null;
}

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
   * `length` bytes. With a stream source its `ArrayBuffer` is transferred
   * (the BYOB rule), so use the returned array, not this one. */
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
 * A Node `Readable` (such as a `net.Socket`) is read in paused mode, through
 * its `'readable'` event and `read(n)`, never asking for more than is still
 * missing: bytes beyond `length` stay in the stream for its next reader.
 * Each byte is copied once, from Node's chunk into the result (twice when
 * several small chunks are waiting). Bytes buffered before a reset or a
 * `destroy()` are still delivered; then the stream's error rejects. The
 * listeners are removed when this settles, and the stream is left not
 * flowing, as Node leaves it when its last `'readable'` listener goes.
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
  // Before Reader: a net.Socket has a read() too, of another meaning.
  if (isNodeReadable(source)) return readNode(source, target, signal);
  if (isReader(source)) return readReader(source, target, signal);
  return Promise.reject(
    new TypeError(
      "recvAll reads from a Reader (read(p) resolving to a byte count or null, as a Deno.Conn), " +
        "a byte ReadableStream or its BYOB reader, or a Node Readable such as a net.Socket; " +
        `got ${describe(source, "read")}`,
    ),
  );
}

function isByobReader(source: unknown): source is ReadableStreamBYOBReader {
  return typeof ReadableStreamBYOBReader !== "undefined" &&
    source instanceof ReadableStreamBYOBReader;
}

/** Whether `value` has the methods `names` (a constant array: no
 * allocation per call). */
function hasMethods(value: unknown, names: readonly string[]): boolean {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  for (const name of names) if (typeof record[name] !== "function") return false;
  return true;
}

const NODE_READABLE = ["on", "removeListener", "read", "unshift"] as const;
const NODE_WRITABLE = ["on", "removeListener", "write", "end"] as const;
const READER = ["read"] as const;
const WRITER = ["write"] as const;

function isNodeReadable(source: unknown): source is NodeReadable {
  return hasMethods(source, NODE_READABLE) &&
    typeof (source as NodeReadable).readableLength === "number";
}

function isReader(source: unknown): source is Reader {
  // A default (not BYOB) stream reader has read() too, resolving to chunks.
  return hasMethods(source, READER) &&
    !(typeof ReadableStreamDefaultReader !== "undefined" &&
      source instanceof ReadableStreamDefaultReader);
}

/** What a value is, for an error message: `null`, `a string`, `a
 * WritableStream`, `an object without read()`. */
function describe(value: unknown, method: string): string {
  if (value === null) return "null";
  if (typeof value !== "object") return `a ${typeof value}`;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "Object"
    ? `a ${name}`
    : `an object without ${method}()`;
}

/**
 * Finishes what one plain `read(target)` began, for callers that try that
 * first (a server's message and a client's reply nearly always come in one
 * segment, and an async call per connection costs): `filled` is what that
 * read returned. An {@linkcode IncompleteReadError} tells of the whole of
 * `target`.
 *
 * @param reader The reader the first read came from.
 * @param target The buffer to fill.
 * @param filled What the first read returned: a count, or null at end of
 * stream.
 * @returns `target`, full.
 */
export function recvRest(
  reader: Reader,
  target: Uint8Array,
  filled: number | null,
): Promise<Uint8Array> {
  if (filled === null) {
    return Promise.reject(new IncompleteReadError(target.slice(0, 0), target.length));
  }
  if (filled === target.length) return Promise.resolve(target);
  return readReader(reader, target, undefined, filled);
}

async function readReader(
  reader: Reader,
  target: Uint8Array,
  signal: AbortSignal | undefined,
  filled = 0,
): Promise<Uint8Array> {
  const aborted = signal && abortPromise(signal);
  try {
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

/** Reads a Node `Readable` in paused mode, with `read(n)` of at most what
 * is missing, so bytes past the message stay in the stream. */
function readNode(
  stream: NodeReadable,
  target: Uint8Array,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  const problem = nodeReadableProblem(stream);
  if (problem) return Promise.reject(new TypeError(`recvAll: ${problem}`));
  const { length } = target;
  const highWaterMark = stream.readableHighWaterMark ?? 0;
  let filled = 0;

  /** Copies buffered bytes into `target`; false if a read gave no bytes. */
  function take(): boolean {
    while (filled < length) {
      const available = stream.readableLength;
      if (available === 0) return true;
      // At most the high-water mark, so that Node neither raises it nor
      // joins chunks: a read within the first chunk is a view of it.
      const size = Math.min(
        length - filled,
        available,
        highWaterMark > 0 ? highWaterMark : available,
      );
      const chunk = stream.read(size);
      if (!(chunk instanceof Uint8Array) || chunk.length === 0) return chunk === null;
      target.set(chunk, filled);
      filled += chunk.length;
    }
    return true;
  }

  // The whole message may be buffered already: then no listener at all.
  if (!take()) return Promise.reject(new TypeError(`recvAll: ${NOT_BYTES}`));
  if (filled === length) return Promise.resolve(target);

  return new Promise<Uint8Array>((resolve, reject) => {
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      stream.removeListener("readable", pump);
      stream.removeListener("end", pump);
      stream.removeListener("close", pump);
      stream.removeListener("error", onError);
      signal?.removeEventListener("abort", onAbort);
      if (err === undefined) resolve(target);
      else reject(err);
    };
    function pump(): void {
      if (settled) return;
      if (!take()) return settle(new TypeError(`recvAll: ${NOT_BYTES}`));
      // A destroyed stream may still have its error to emit (Node does it
      // on the next tick): settle after that, so the error meets our
      // listener, not none.
      if (stream.destroyed) return queueMicrotask(finish);
      if (filled === length) return settle();
      if (stream.readableEnded) return finish();
      // Nothing buffered: at the end of the stream this makes Node emit
      // 'end'; otherwise it asks the source for more.
      stream.read(0);
    }
    /** Settles at the end of the stream: bytes that came before an error
     * are delivered first. */
    function finish(err = stream.errored): void {
      if (!take()) return settle(new TypeError(`recvAll: ${NOT_BYTES}`));
      if (filled === length) settle();
      else settle(err ?? new IncompleteReadError(target.slice(0, filled), length));
    }
    const onError = (err: unknown) => finish(err as Error);
    // The stream is left as it was: the bytes read so far go back.
    const onAbort = () => {
      const back = filled > 0 && !stream.readableEnded && !stream.destroyed
        ? target.slice(0, filled)
        : undefined;
      settle(signal!.reason);
      if (back) stream.unshift(back);
    };
    const paused = stream.readableFlowing === false;
    stream.on("readable", pump);
    stream.on("end", pump);
    stream.on("close", pump);
    stream.on("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
    // The 'readable' listener keeps the stream in paused mode (no 'data'
    // events); resume() lifts an explicit pause(), after which Deno's
    // node:net reads nothing from the socket. Node resets both when the
    // listener goes: the stream ends neither flowing nor paused.
    if (paused) stream.resume?.();
    pump();
  });
}

const NOT_BYTES = "the Readable returned something other than bytes: it must not be in " +
  "object mode or have an encoding";

/** Why recvAll cannot read `stream`, if it cannot. */
function nodeReadableProblem(stream: NodeReadable): string | undefined {
  if (stream.readableObjectMode) return "the Readable is in object mode; it must give bytes";
  if (stream.readableEncoding) {
    return `the Readable decodes to strings (setEncoding('${stream.readableEncoding}')); ` +
      "it must give bytes";
  }
  const listeners = (event: string) => stream.listenerCount?.(event) ?? 0;
  if (stream.readableFlowing || listeners("data") > 0 || listeners("readable") > 0) {
    return "the Readable already has a reader ('data' or 'readable' listeners, or it is " +
      "flowing): bytes would go to both; remove them and pause() it first";
  }
  return undefined;
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
  if (hasMethods(writer, WRITER)) return writeWriter(writer as Writer, bytes, signal);
  return Promise.reject(
    new TypeError(
      "sendAll writes to a Writer (write(p) resolving to a byte count, as a Deno.Conn) " +
        `or a Node Writable such as a net.Socket; got ${describe(writer, "write")}`,
    ),
  );
}

function isNodeWritable(writer: unknown): writer is NodeWritable {
  return hasMethods(writer, NODE_WRITABLE);
}

async function writeWriter(
  writer: Writer,
  bytes: Uint8Array,
  signal: AbortSignal | undefined,
): Promise<void> {
  const aborted = signal && abortPromise(signal);
  try {
    let sent = 0;
    while (sent < bytes.length) {
      const write = writer.write(sent ? bytes.subarray(sent) : bytes);
      const n = aborted ? await Promise.race([write, aborted.promise]) : await write;
      if (!(n > 0)) {
        throw new NoProgressError(
          `writer accepted 0 bytes with ${bytes.length - sent} of ${bytes.length} left to send`,
        );
      }
      sent += n;
    }
  } finally {
    aborted?.dispose();
  }
}

/** Writes to a Node `Writable`: one `write()`, its callback, and `'drain'`
 * when the write asked for it. */
function writeNode(
  stream: NodeWritable,
  bytes: Uint8Array,
  signal: AbortSignal | undefined,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let written = false;
    let mustDrain = false;
    let failed: unknown;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      stream.removeListener("drain", onDrain);
      stream.removeListener("error", onError);
      stream.removeListener("close", onClose);
      signal?.removeEventListener("abort", onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onDrain = () => {
      if (written) settle();
    };
    // Once our bytes are written, a later error is not this write's.
    const onError = (err: unknown) => settle(written ? undefined : stream.errored ?? err);
    const onClose = () =>
      settle(written ? undefined : stream.errored ?? failed ?? prematureClose());
    const onAbort = () => settle(signal!.reason);
    stream.on("drain", onDrain);
    stream.on("error", onError);
    stream.on("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      mustDrain = !stream.write(bytes, (err) => {
        if (err) failed = err;
        else written = true;
        // Node calls back before it emits the stream's error, on the next
        // tick: settle after that, so the error meets our listener, not none.
        if (err || stream.destroyed) {
          queueMicrotask(() => settle(written ? undefined : stream.errored ?? failed));
        } else if (!mustDrain || !stream.writableNeedDrain) settle();
      });
    } catch (err) {
      settle(err); // A stream that throws instead of calling back.
    }
  });
}

function prematureClose(): Error {
  return Object.assign(new Error("the stream closed before all bytes were written"), {
    code: "ERR_STREAM_PREMATURE_CLOSE",
  });
}
