/**
 * Deno-style readers and writers (`read(p)`, `write(p)`, as a `Deno.Conn`).
 * A reader is a `Pull` as it is; writes loop here. Private: `recv_all.ts`
 * exports what is public.
 *
 * @module
 */

import {
  abortPromise,
  hasMethods,
  IncompleteReadError,
  NoProgressError,
  readFull,
} from "./_common.ts";

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

const READER = ["read"] as const;
const WRITER = ["write"] as const;

/** Whether `source` reads as a {@linkcode Reader} does. */
export function isReader(source: unknown): source is Reader {
  // A default (not BYOB) stream reader has read() too, resolving to chunks.
  return hasMethods(source, READER) &&
    !(typeof ReadableStreamDefaultReader !== "undefined" &&
      source instanceof ReadableStreamDefaultReader);
}

/** Whether `writer` has a `write()`. */
export function isWriter(writer: unknown): writer is Writer {
  return hasMethods(writer, WRITER);
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
  return readFull(reader, target, undefined, filled);
}

export async function writeWriter(
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
