/**
 * Node streams (a `net.Socket`, on Node, Bun or Deno's `node:net`, or any
 * `Readable`/`Writable` in byte mode): reads in paused mode, as a `Pull`,
 * and complete writes with back-pressure. Private: `recv_all.ts` exports what
 * is public.
 *
 * @module
 */

import { hasMethods, type Pull } from "./_common.ts";

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

const NODE_READABLE = ["on", "removeListener", "read", "unshift"] as const;
const NODE_WRITABLE = ["on", "removeListener", "write", "end"] as const;

/** Whether `source` is a Node `Readable`. */
export function isNodeReadable(source: unknown): source is NodeReadable {
  return hasMethods(source, NODE_READABLE) &&
    typeof (source as NodeReadable).readableLength === "number";
}

/** Whether `writer` is a Node `Writable`. */
export function isNodeWritable(writer: unknown): writer is NodeWritable {
  return hasMethods(writer, NODE_WRITABLE);
}

/**
 * Reads a Node `Readable` in paused mode, as a {@linkcode Pull}: through
 * its `'readable'` event and `read(n)`, never asking for more than the
 * caller's buffer holds, so bytes past it stay in the stream. Listeners are
 * added only while a read waits, and removed when it settles; an aborted
 * read takes nothing, and `unread()` puts back what an aborted exact read
 * had taken.
 *
 * @param stream The stream, with no other reader.
 * @param who Whose reads these are, for the messages (`recvAll`).
 * @returns The pull.
 * @throws {TypeError} If the stream gives no bytes or already has a reader.
 */
export function nodePull(stream: NodeReadable, who: string): Pull {
  const problem = nodeReadableProblem(stream);
  if (problem) throw new TypeError(`${who}: ${problem}`);
  const highWaterMark = stream.readableHighWaterMark ?? 0;
  const notBytes = () => new TypeError(`${who}: ${NOT_BYTES}`);

  /** Copies buffered bytes into `p` from `filled` on; the new count, or -1
   * if a read gave no bytes. */
  function take(p: Uint8Array, filled: number): number {
    while (filled < p.length) {
      const available = stream.readableLength;
      if (available === 0) break;
      // At most the high-water mark, so that Node neither raises it nor
      // joins chunks: a read within the first chunk is a view of it.
      const size = Math.min(
        p.length - filled,
        available,
        highWaterMark > 0 ? highWaterMark : available,
      );
      const chunk = stream.read(size);
      if (!(chunk instanceof Uint8Array) || chunk.length === 0) {
        if (chunk === null) break;
        return -1;
      }
      p.set(chunk, filled);
      filled += chunk.length;
    }
    return filled;
  }

  function read(p: Uint8Array, signal?: AbortSignal): Promise<number | null> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    // Bytes already buffered: no listener at all.
    let got = take(p, 0);
    if (got < 0) return Promise.reject(notBytes());
    if (got > 0 && !stream.destroyed) return Promise.resolve(got);

    return new Promise<number | null>((resolve, reject) => {
      let settled = false;
      const settle = (err?: unknown) => {
        if (settled) return;
        settled = true;
        stream.removeListener("readable", pump);
        stream.removeListener("end", pump);
        stream.removeListener("close", pump);
        stream.removeListener("error", onError);
        signal?.removeEventListener("abort", onAbort);
        if (err !== undefined) reject(err);
        else resolve(got > 0 ? got : null);
      };
      function pump(): void {
        if (settled) return;
        if ((got = take(p, got)) < 0) return settle(notBytes());
        // A destroyed stream may still have its error to emit (Node does it
        // on the next tick): settle after that, so the error meets our
        // listener, not none.
        if (stream.destroyed) return queueMicrotask(finish);
        if (got > 0) return settle();
        if (stream.readableEnded) return finish();
        // Nothing buffered: at the end of the stream this makes Node emit
        // 'end'; otherwise it asks the source for more.
        stream.read(0);
      }
      /** Settles at the end of the stream: bytes that came before an error
       * are delivered first, and the error with the next read. */
      function finish(err = stream.errored): void {
        if (settled) return;
        if ((got = take(p, got)) < 0) return settle(notBytes());
        settle(got > 0 ? undefined : err ?? undefined);
      }
      const onError = (err: unknown) => finish(err as Error);
      const onAbort = () => settle(signal!.reason);
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

  return {
    read,
    unread(bytes: Uint8Array): void {
      if (!stream.readableEnded && !stream.destroyed) stream.unshift(bytes);
    },
  };
}

const NOT_BYTES = "the Readable returned something other than bytes: it must not be in " +
  "object mode or have an encoding";

/** Why `stream` cannot be read as a byte source, if it cannot. */
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

/** Writes to a Node `Writable`: one `write()`, its callback, and `'drain'`
 * when the write asked for it. */
export function writeNode(
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
