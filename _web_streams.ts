/**
 * Web Streams: exact reads from a byte `ReadableStream` through its BYOB
 * reader. Private: `recv_all.ts` exports what is public.
 *
 * @module
 */

import { abortPromise, IncompleteReadError } from "./_common.ts";

export function isByobReader(source: unknown): source is ReadableStreamBYOBReader {
  return typeof ReadableStreamBYOBReader !== "undefined" &&
    source instanceof ReadableStreamBYOBReader;
}

export async function readStream(
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
