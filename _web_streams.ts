/**
 * Web Streams: a byte `ReadableStream`, or its BYOB reader, as a
 * {@linkcode Pull}. Private: `recv_all.ts` exports what is public.
 *
 * @module
 */

import type { Pull } from "./_common.ts";

/** The most a BYOB read asks for at once: the size of Deno's socket reads. */
const MAX_READ = 64 * 1024;

/** Whether `source` is a BYOB reader (where the runtime has them). */
export function isByobReader(source: unknown): source is ReadableStreamBYOBReader {
  return typeof ReadableStreamBYOBReader !== "undefined" &&
    source instanceof ReadableStreamBYOBReader;
}

/**
 * Reads a byte stream through its BYOB reader. A BYOB read transfers the
 * buffer it is given, so the reads go into one of our own, which is
 * followed from read to read, and the bytes are copied into the caller's:
 * the caller's buffer stays in place, and bytes already handed out from it
 * stay valid. A cancelled stream's read comes back without its buffer (and
 * the bytes that were in it): then `read()` resolves `null` and `cancelled`
 * is set.
 *
 * @param reader The stream's BYOB reader.
 * @returns The pull.
 */
export function byobPull(reader: ReadableStreamBYOBReader): Pull {
  let own = new ArrayBuffer(0);
  const pull = {
    cancelled: false,
    async read(p: Uint8Array): Promise<number | null> {
      const size = Math.min(p.length, MAX_READ);
      if (own.byteLength < size) own = new ArrayBuffer(size);
      const { value, done } = await reader.read(new Uint8Array(own, 0, size));
      if (!value) {
        pull.cancelled = true;
        return null;
      }
      own = value.buffer as ArrayBuffer;
      if (done) return null;
      p.set(value);
      return value.length;
    },
  };
  return pull;
}
