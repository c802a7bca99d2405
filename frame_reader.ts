/**
 * Framing: whole messages out of a byte stream. TCP delivers bytes in
 * pieces of any size, so a message may arrive split across reads and a read
 * may hold the start of the next one. {@linkcode FrameReader} keeps those
 * bytes in one buffer and cuts messages from it three ways, as Python's
 * `asyncio.StreamReader` and Go's `bufio.Reader` do: an exact length
 * (`readExactly`), up to a delimiter (`readUntil`, `readLine`), or a length
 * prefix (`readFrame`, the book's `struct.Struct('!I')` blocks).
 *
 * It reads from every source `recvAll` takes, uses no runtime API, and runs
 * unchanged on Deno, Node and Bun.
 *
 * @module
 */

import {
  abortPromise,
  emptyReads,
  IncompleteReadError,
  MAX_EMPTY_READS,
  type Pull,
} from "./_common.ts";
import { decodeLength, type LengthPrefix, maxLength } from "./_length_prefix.ts";
import { type ByteSource, pullFrom, type Reader } from "./recv_all.ts";

export type { LengthPrefix } from "./_length_prefix.ts";

/** The default {@linkcode FrameReaderOptions.limit}: asyncio's. */
const DEFAULT_LIMIT = 64 * 1024;
/** The first read's size; it doubles while reads fill what they are given. */
const FIRST_READ = 4 * 1024;
/** The most a read asks for (the size of Deno's own socket reads). */
const MAX_READ = 64 * 1024;
const NEWLINE = new Uint8Array([0x0a]);
const encoder = new TextEncoder();

/** Options for {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** The longest message `readUntil()` and `readLine()` return (not counting
   * the delimiter) and the longest frame `readFrame()` accepts, in bytes:
   * a whole number from 1. Default 65,536, as asyncio's. */
  limit?: number;
}

/** Options for every read of a {@linkcode FrameReader}. */
export interface ReadOptions {
  /** Stops waiting when aborted and rejects with `signal.reason`. Nothing
   * is lost: the bytes read so far stay buffered, for the next call. */
  signal?: AbortSignal;
}

/** Options for {@linkcode FrameReader.readFrame}. */
export interface ReadFrameOptions extends ReadOptions {
  /** The length prefix's size in bytes: 1, 2 or 4 (Python's `!B`, `!H`,
   * `!I`). Default 4, as the book's blocks. */
  prefix?: LengthPrefix;
}

/**
 * A message is longer than the reader's `limit`: no delimiter within it
 * (`readUntil`, `readLine`), or a length prefix that declares more
 * (`readFrame`). Nothing is taken from the buffer, as asyncio's
 * `LimitOverrunError` leaves it: read the bytes another way
 * (`readExactly`, `read`), or close the connection.
 *
 * @example A line longer than the limit
 * ```ts
 * import { FrameReader, LimitExceededError } from "./frame_reader.ts";
 * import assert from "node:assert/strict";
 *
 * const stream = new ReadableStream({
 *   type: "bytes",
 *   start(controller) {
 *     controller.enqueue(new TextEncoder().encode("0123456789\n"));
 *     controller.close();
 *   },
 * });
 * const reader = new FrameReader(stream, { limit: 8 });
 * await assert.rejects(reader.readLine(), (err) => {
 *   assert(err instanceof LimitExceededError);
 *   assert.equal(err.consumed, 10); // The newline is byte 10: past 8.
 *   return true;
 * });
 * assert.equal(reader.buffered, 11); // Still there.
 * ```
 */
export class LimitExceededError extends Error {
  /** The reader's limit. */
  readonly limit: number;
  /** `readUntil`, `readLine`: how many bytes of the message are buffered
   * with no delimiter among them (asyncio's `consumed`), more than `limit`.
   * `readFrame`: 0. */
  readonly consumed: number;
  /** `readFrame`: the length the prefix declared. Otherwise `null`. */
  readonly declared: number | null;

  /**
   * Builds the error.
   *
   * @param limit The reader's limit.
   * @param consumed Bytes buffered with no delimiter among them.
   * @param declared A frame's declared length, or `null`.
   */
  constructor(limit: number, consumed: number, declared: number | null = null) {
    super(
      declared === null
        ? `message longer than the limit of ${limit} bytes: no delimiter in its first ${consumed}`
        : `frame of ${declared} bytes declared, longer than the limit of ${limit} bytes`,
    );
    this.name = "LimitExceededError";
    this.limit = limit;
    this.consumed = consumed;
    this.declared = declared;
  }
}

/**
 * Reads whole messages from a byte stream: exact lengths, delimited
 * messages and lines, and length-prefixed frames, from one buffer. The
 * methods and their errors are asyncio's `StreamReader`'s
 * (`readexactly`, `readuntil`, `readline`).
 *
 * **What a message is.** Every method resolves to a `Uint8Array` that is
 * a view into the reader's buffer, and the reader never writes those bytes
 * again: the message is the caller's to keep, and stays valid after later
 * reads. When its buffer is used up, the reader reads into a new one
 * instead of reusing it (as Node's `Buffer` pool hands out slices of a
 * shared slab). So a message's `byteOffset` need not be 0 and its `buffer`
 * is shared with other messages: use the view, and `slice()` a small
 * message you keep for long, so that it does not keep a whole buffer
 * alive. Of the alternatives, a fresh copy per message runs several times
 * slower on Deno, where every new `Uint8Array` is expensive, and Go's
 * `ReadSlice` view, valid only until the next read, saves one new buffer
 * per 64 KiB read (about 2 % of a line's cost or less) and is easy to misuse
 * (figures in docs/framing.md).
 *
 * **The buffer.** Bytes past a message stay buffered for the next call.
 * Reads start at 4 KiB and grow to 64 KiB while they fill what they are
 * given; a delimiter search resumes where the last one stopped, and a
 * buffer outgrown by a message is replaced by one at least twice as big,
 * so no byte is scanned or copied more than a constant number of times.
 * The buffer holds at most the message being read (at most `limit` bytes,
 * except for `readExactly(n)`, which holds `n`) and one read, and shrinks
 * back when that message has been taken.
 *
 * **Aborts and errors.** Every method takes a `signal`. An abort rejects
 * with the signal's reason and loses nothing: bytes read so far stay
 * buffered, and a read still in flight lands in the buffer for the next
 * call. An error from the source (such as `ECONNRESET`) rejects the call
 * that waits for it, after the bytes that came before it have been served.
 * One call at a time: a second call while one waits rejects.
 *
 * **The source** is held for the reader's life: a stream stays locked, a
 * Node `Readable` is read in paused mode, and its listeners are there only
 * while a read waits (its `'error'` between reads is for you to listen to,
 * as on any Node stream).
 *
 * @example Lines, then a length-prefixed frame, from one stream
 * ```ts
 * import { FrameReader } from "./frame_reader.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new Uint8Array([
 *   ...new TextEncoder().encode("HELLO\r\nlast"),
 * ]);
 * const stream = new ReadableStream({
 *   type: "bytes",
 *   start(controller) {
 *     controller.enqueue(new Uint8Array([0, 0, 0, 2, 0x68, 0x69])); // A frame: "hi".
 *     controller.enqueue(bytes);
 *     controller.close();
 *   },
 * });
 * const reader = new FrameReader(stream);
 * const decode = (b: Uint8Array | null) => b && new TextDecoder().decode(b);
 * assert.equal(decode(await reader.readFrame({ prefix: 4 })), "hi");
 * assert.equal(decode(await reader.readLine()), "HELLO\r\n");
 * assert.equal(decode(await reader.readLine()), "last"); // Unterminated, at the end.
 * assert.equal(await reader.readLine(), null); // The end.
 * ```
 */
export class FrameReader implements Reader {
  /** The longest delimited message or frame, in bytes. */
  readonly limit: number;
  readonly #pull: Pull;
  /** Unread bytes are `#buf[#start, #end)`; a read in flight fills after
   * `#end`. */
  #buf = new Uint8Array(0);
  #start = 0;
  #end = 0;
  /** Bytes of `#buf` were handed out: it is never written before `#end`
   * again, so a need for room means a new buffer. */
  #lent = false;
  #readSize = FIRST_READ;
  /** The read in flight, which outlives an aborted call; it applies its own
   * result (`#end`, `#eof`, `#failure`). */
  #pending: Promise<void> | undefined;
  #eof = false;
  /** What the source failed with, for the next call that waits. */
  #failure: unknown;
  #emptyReads = 0;
  #busy = false;

  /**
   * Wraps a source.
   *
   * @param source A {@linkcode Reader} (such as a `Deno.Conn` or the
   * library's `Conn`), a byte `ReadableStream` (`conn.readable`), its BYOB
   * reader, or a Node `Readable` in byte mode with no other reader (a
   * `net.Socket`): whatever `recvAll` takes.
   * @param options The limit.
   * @throws {RangeError} If `limit` is not a whole number from 1.
   * @throws {TypeError} If the source is none of those, or cannot be read
   * (not a byte stream, locked, a Node stream with an encoding or a reader).
   */
  constructor(source: ByteSource, options: FrameReaderOptions = {}) {
    const limit = options.limit ?? DEFAULT_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new RangeError(`limit must be a whole number >= 1, got ${limit}`);
    }
    this.limit = limit;
    this.#pull = pullFrom(source, "FrameReader").pull;
  }

  /** How many bytes are buffered: read from the source, not yet returned. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Reads exactly `n` bytes (asyncio's `readexactly`, Go's `io.ReadFull`).
   * Not bound by `limit`: the caller chose `n`.
   *
   * @param n How many bytes: a whole number, 0 or more.
   * @param options An abort signal.
   * @returns The `n` bytes, a view the reader never writes again.
   * @throws {IncompleteReadError} If the stream ends first: `partial` holds
   * the bytes that came (taken from the buffer), `expected` is `n`.
   * @throws {RangeError} If `n` is negative, fractional or unsafe.
   *
   * @example A fixed-size header, then its body
   * ```ts
   * import { FrameReader } from "./frame_reader.ts";
   * import assert from "node:assert/strict";
   *
   * const data = new TextEncoder().encode("0005hello");
   * let at = 0;
   * const trickle = { // One byte a read.
   *   read(p: Uint8Array) {
   *     if (at === data.length) return Promise.resolve(null);
   *     p[0] = data[at++];
   *     return Promise.resolve(1);
   *   },
   * };
   * const reader = new FrameReader(trickle);
   * const size = Number(new TextDecoder().decode(await reader.readExactly(4)));
   * assert.equal(new TextDecoder().decode(await reader.readExactly(size)), "hello");
   * ```
   */
  readExactly(n: number, options?: ReadOptions): Promise<Uint8Array> {
    if (!Number.isSafeInteger(n) || n < 0) {
      return Promise.reject(new RangeError(`n must be a whole number >= 0, got ${n}`));
    }
    const refused = this.#refuse(options?.signal);
    if (refused) return refused;
    if (this.#end - this.#start >= n) return Promise.resolve(this.#take(n));
    return this.#wait(() => this.#exactly(n, options?.signal));
  }

  /**
   * Reads up to and including `delimiter` (asyncio's `readuntil`, Go's
   * `ReadSlice`/`ReadBytes`).
   *
   * @param delimiter The bytes that end a message, or a string (UTF-8).
   * @param options An abort signal.
   * @returns The message and its delimiter, a view the reader never writes
   * again.
   * @throws {IncompleteReadError} If the stream ends before a delimiter:
   * `partial` holds every byte that was buffered (the buffer is then
   * empty), `expected` is `null`.
   * @throws {LimitExceededError} If more than `limit` bytes come before a
   * delimiter; the bytes stay buffered.
   * @throws {RangeError} If the delimiter is empty.
   *
   * @example A CRLF-terminated reply
   * ```ts
   * import { FrameReader } from "./frame_reader.ts";
   * import assert from "node:assert/strict";
   *
   * const stream = new ReadableStream({
   *   type: "bytes",
   *   start(controller) {
   *     controller.enqueue(new TextEncoder().encode("+PO"));
   *     controller.enqueue(new TextEncoder().encode("NG\r\n+OK\r"));
   *     controller.close();
   *   },
   * });
   * const reader = new FrameReader(stream);
   * const reply = await reader.readUntil("\r\n");
   * assert.equal(new TextDecoder().decode(reply), "+PONG\r\n");
   * assert.equal(reader.buffered, 4); // "+OK\r": the next reply's start.
   * ```
   */
  readUntil(delimiter: Uint8Array | string, options?: ReadOptions): Promise<Uint8Array> {
    const delim = typeof delimiter === "string" ? encoder.encode(delimiter) : delimiter;
    if (delim.length === 0) return Promise.reject(new RangeError("the delimiter is empty"));
    const refused = this.#refuse(options?.signal);
    if (refused) return refused;
    const at = this.#find(delim, this.#start);
    if (at >= 0 && at - this.#start <= this.limit) {
      return Promise.resolve(this.#take(at + delim.length - this.#start));
    }
    return this.#wait(() => this.#until(delim, false, options?.signal)) as Promise<Uint8Array>;
  }

  /**
   * Reads a line: up to and including `\n` (so a `\r\n` line ends in both),
   * as asyncio's `readline`. At the end of the stream it returns the last
   * line without its `\n`, if there is one, then `null`.
   *
   * Past `limit`, it differs from asyncio's `readline`, which drops the
   * long line (or all that is buffered) and raises `ValueError`: this one
   * throws {@linkcode LimitExceededError} and keeps the bytes, as
   * `readUntil` does.
   *
   * @param options An abort signal.
   * @returns The line, a view the reader never writes again; `null` at the
   * end of the stream.
   * @throws {LimitExceededError} If more than `limit` bytes come before a
   * `\n`; the bytes stay buffered.
   *
   * @example Lines, the last one unterminated
   * ```ts
   * import { FrameReader } from "./frame_reader.ts";
   * import assert from "node:assert/strict";
   *
   * const stream = new ReadableStream({
   *   type: "bytes",
   *   start(controller) {
   *     controller.enqueue(new TextEncoder().encode("one\ntw"));
   *     controller.enqueue(new TextEncoder().encode("o\r\nthree"));
   *     controller.close();
   *   },
   * });
   * const reader = new FrameReader(stream);
   * const lines: string[] = [];
   * for (let line; (line = await reader.readLine()) !== null;) {
   *   lines.push(new TextDecoder().decode(line));
   * }
   * assert.deepEqual(lines, ["one\n", "two\r\n", "three"]);
   * ```
   */
  readLine(options?: ReadOptions): Promise<Uint8Array | null> {
    const refused = this.#refuse(options?.signal);
    if (refused) return refused;
    const at = this.#find(NEWLINE, this.#start);
    if (at >= 0 && at - this.#start <= this.limit) {
      return Promise.resolve(this.#take(at + 1 - this.#start));
    }
    return this.#wait(() => this.#until(NEWLINE, true, options?.signal));
  }

  /**
   * Reads a length-prefixed frame: an unsigned big-endian length of
   * `prefix` bytes (network order, Python's `struct` `!B`, `!H`, `!I`), then
   * that many bytes. The length is checked against `limit` before any byte
   * of the frame's body is read.
   *
   * @param options The prefix's size (default 4) and an abort signal.
   * @returns The frame's body (without its prefix; empty for a length of
   * 0), a view the reader never writes again; `null` if the stream ends
   * cleanly before a frame.
   * @throws {IncompleteReadError} If the stream ends inside a frame: within
   * the prefix (`partial` is the prefix's bytes, `expected` its size), or
   * within the body (`partial` is the body's bytes, `expected` the declared
   * length). The bytes are taken from the buffer.
   * @throws {LimitExceededError} If the declared length is over `limit`
   * (`declared` holds it); the prefix stays buffered.
   * @throws {RangeError} If `prefix` is not 1, 2 or 4.
   *
   * @example The book's blocks: frames until an empty one
   * ```ts
   * import { FrameReader, writeFrame } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const sent: number[] = [];
   * const sink = {
   *   write(p: Uint8Array) {
   *     sent.push(...p);
   *     return Promise.resolve(p.length);
   *   },
   * };
   * for (const text of ["Beautiful is better than ugly.", ""]) {
   *   await writeFrame(sink, new TextEncoder().encode(text));
   * }
   * const stream = new ReadableStream({
   *   type: "bytes",
   *   start(controller) {
   *     controller.enqueue(new Uint8Array(sent));
   *     controller.close();
   *   },
   * });
   * const reader = new FrameReader(stream);
   * const block = await reader.readFrame();
   * assert.equal(new TextDecoder().decode(block!), "Beautiful is better than ugly.");
   * assert.equal((await reader.readFrame())?.length, 0); // The empty block.
   * assert.equal(await reader.readFrame(), null); // The end.
   * ```
   */
  readFrame(options: ReadFrameOptions = {}): Promise<Uint8Array | null> {
    const prefix = options.prefix ?? 4;
    try {
      maxLength(prefix);
    } catch (err) {
      return Promise.reject(err);
    }
    const refused = this.#refuse(options.signal);
    if (refused) return refused;
    if (this.#end - this.#start >= prefix) {
      const length = decodeLength(this.#buf, this.#start, prefix);
      if (length <= this.limit && this.#end - this.#start >= prefix + length) {
        this.#start += prefix;
        return Promise.resolve(this.#take(length));
      }
    }
    return this.#wait(() => this.#frame(prefix, options.signal));
  }

  /**
   * Reads up to `p.length` bytes into `p`, buffered ones first: so a
   * `FrameReader` is itself a {@linkcode Reader}, and `recvAll` reads from
   * it (past whatever it has buffered).
   *
   * @param p Where to put the bytes.
   * @param options An abort signal.
   * @returns How many bytes were read (0 only for an empty `p`), or `null`
   * at the end of the stream.
   *
   * @example The rest of the stream after a header line
   * ```ts
   * import { FrameReader, recvAll } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const stream = new ReadableStream({
   *   type: "bytes",
   *   start(controller) {
   *     controller.enqueue(new TextEncoder().encode("SIZE 5\nhel"));
   *     controller.enqueue(new TextEncoder().encode("lo"));
   *     controller.close();
   *   },
   * });
   * const reader = new FrameReader(stream);
   * const header = new TextDecoder().decode((await reader.readLine())!);
   * const size = Number(header.split(" ")[1]);
   * const body = await recvAll(reader, size);
   * assert.equal(new TextDecoder().decode(body), "hello");
   * ```
   */
  read(p: Uint8Array, options?: ReadOptions): Promise<number | null> {
    const refused = this.#refuse(options?.signal);
    if (refused) return refused;
    if (p.length === 0) return Promise.resolve(0);
    if (this.#end > this.#start) return Promise.resolve(this.#copyOut(p));
    return this.#wait(async () => {
      while (this.#end === this.#start) {
        if (this.#eof) return null;
        await this.#fill(1, 1, options?.signal);
      }
      return this.#copyOut(p);
    });
  }

  /** Why a call cannot start now, as a rejected promise. */
  #refuse(signal: AbortSignal | undefined): Promise<never> | undefined {
    if (this.#busy) {
      return Promise.reject(
        new Error("FrameReader: another read is waiting; await it before the next one"),
      );
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return undefined;
  }

  /** Runs a call that has to wait for the source, one at a time. */
  async #wait<T>(run: () => Promise<T>): Promise<T> {
    this.#busy = true;
    try {
      return await run();
    } finally {
      this.#busy = false;
    }
  }

  async #exactly(n: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    while (this.#end - this.#start < n) {
      if (this.#eof) throw new IncompleteReadError(this.#take(this.#end - this.#start), n);
      await this.#fill(n, n, signal);
    }
    return this.#take(n);
  }

  /** `readUntil` (or, with `line`, `readLine`) once nothing is buffered. */
  async #until(
    delim: Uint8Array,
    line: boolean,
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array | null> {
    // Bytes from #start known to hold no delimiter's first byte: each
    // search resumes there.
    let searched = 0;
    while (true) {
      const kept = this.#end - this.#start;
      if (kept - searched >= delim.length) {
        const at = this.#find(delim, this.#start + searched);
        if (at >= 0) {
          const length = at - this.#start;
          if (length > this.limit) throw new LimitExceededError(this.limit, length);
          return this.#take(length + delim.length);
        }
        searched = kept + 1 - delim.length;
        if (searched > this.limit) throw new LimitExceededError(this.limit, searched);
      }
      if (this.#eof) {
        if (line && kept === 0) return null;
        const partial = this.#take(kept);
        if (line) return partial;
        throw new IncompleteReadError(partial, null);
      }
      await this.#fill(kept + 1, this.limit + delim.length, signal);
    }
  }

  async #frame(prefix: LengthPrefix, signal: AbortSignal | undefined): Promise<Uint8Array | null> {
    while (true) {
      const kept = this.#end - this.#start;
      let want = prefix;
      if (kept >= prefix) {
        const length = decodeLength(this.#buf, this.#start, prefix);
        if (length > this.limit) throw new LimitExceededError(this.limit, 0, length);
        if (kept >= prefix + length) {
          this.#start += prefix;
          return this.#take(length);
        }
        want = prefix + length;
      }
      if (this.#eof) {
        if (kept === 0) return null;
        if (kept < prefix) throw new IncompleteReadError(this.#take(kept), prefix);
        this.#start += prefix;
        throw new IncompleteReadError(this.#take(kept - prefix), want - prefix);
      }
      await this.#fill(want, want, signal);
    }
  }

  /** Where `delim` starts in the unread bytes from `from` on, or -1. */
  #find(delim: Uint8Array, from: number): number {
    const buf = this.#buf;
    const first = delim[0];
    const last = this.#end - delim.length;
    if (delim.length === 1) {
      for (let i = from; i <= last; i++) if (buf[i] === first) return i;
      return -1;
    }
    for (let i = from; i <= last; i++) {
      if (buf[i] !== first) continue;
      let k = 1;
      while (k < delim.length && buf[i + k] === delim[k]) k++;
      if (k === delim.length) return i;
    }
    return -1;
  }

  /** Hands out the next `n` buffered bytes. (A view made with the
   * constructor: `subarray()` costs half as much again on Node.) */
  #take(n: number): Uint8Array {
    const view = new Uint8Array(this.#buf.buffer, this.#start, n);
    this.#start += n;
    this.#lent = true;
    return view;
  }

  /** Copies buffered bytes into `p` (nothing is lent). */
  #copyOut(p: Uint8Array): number {
    const n = Math.min(p.length, this.#end - this.#start);
    p.set(this.#buf.subarray(this.#start, this.#start + n));
    this.#start += n;
    return n;
  }

  /**
   * Waits for one read from the source, starting it unless one is in
   * flight already (an aborted call's). `need` is how many unread bytes
   * the caller's message needs at least, `most` how many it can need at
   * most: a buffer is made big enough for the message once (exact length),
   * or doubled as it grows (delimited), never past `most` and one read.
   */
  async #fill(need: number, most: number, signal: AbortSignal | undefined): Promise<void> {
    if (!this.#pending && this.#failure === undefined) {
      this.#room(need, most);
      this.#pending = this.#readInto(this.#buf.subarray(this.#end));
    }
    if (this.#pending) {
      if (signal) {
        const aborted = abortPromise(signal);
        try {
          await Promise.race([this.#pending, aborted.promise]);
        } finally {
          aborted.dispose();
        }
      } else await this.#pending;
    }
    const failure = this.#failure;
    if (failure !== undefined) {
      this.#failure = undefined;
      throw failure;
    }
  }

  /** One read into `region` (just past `#end`), which applies its result
   * itself: it may land after the call that started it was aborted. */
  #readInto(region: Uint8Array): Promise<void> {
    return this.#pull.read(region).then((n) => {
      this.#pending = undefined;
      if (n === null) {
        this.#eof = true;
        if (this.#pull.cancelled) {
          this.#failure = new DOMException("the stream was cancelled", "AbortError");
        }
      } else if (n === 0) {
        if (++this.#emptyReads === MAX_EMPTY_READS) {
          this.#emptyReads = 0;
          this.#failure = emptyReads();
        }
      } else {
        this.#emptyReads = 0;
        this.#end += n;
        if (n === region.length && this.#readSize < MAX_READ) this.#readSize *= 2;
      }
    }, (err) => {
      this.#pending = undefined;
      this.#failure = err ?? new Error("the source failed");
    });
  }

  /** Makes room for a read after `#end` (half a read's worth at least)
   * and for `need` unread bytes in all (see `#fill`): in place if no byte
   * of the buffer was handed out, else in a new buffer. */
  #room(need: number, most: number): void {
    const buf = this.#buf;
    if (buf.length - this.#end >= this.#readSize / 2 && buf.length - this.#start >= need) return;
    const kept = this.#end - this.#start;
    const size = Math.max(need, kept + this.#readSize, Math.min(2 * kept, most));
    if (!this.#lent && buf.length >= size && buf.length < 2 * size) {
      buf.copyWithin(0, this.#start, this.#end);
    } else {
      const next = new Uint8Array(size);
      next.set(buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#lent = false;
    }
    this.#start = 0;
    this.#end = kept;
  }
}
