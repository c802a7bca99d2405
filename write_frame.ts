/**
 * Writing length-prefixed frames, the other half of
 * `FrameReader.readFrame()`: an unsigned big-endian length, then the
 * payload, as the book's blocks (`struct.Struct('!I')`) and Go's
 * `binary.BigEndian` + `io.ReadFull` frame them.
 *
 * @module
 */

import { encodeLength, type LengthPrefix, maxLength } from "./_length_prefix.ts";
import { type ByteSink, sendAll } from "./recv_all.ts";

/** Up to this payload size the prefix and the payload go in one write (a
 * copy); past it, in two (copying would cost more than the write). */
const JOIN_UP_TO = 64 * 1024;

/** Options for {@linkcode writeFrame}. */
export interface WriteFrameOptions {
  /** The length prefix's size in bytes: 1, 2 or 4 (Python's `!B`, `!H`,
   * `!I`). Default 4, as the book's blocks. */
  prefix?: LengthPrefix;
  /** Stops waiting when aborted and rejects with `signal.reason`. How much
   * was written is then unknown: close the writer. */
  signal?: AbortSignal;
}

/**
 * Writes one length-prefixed frame: the payload's length as an unsigned
 * big-endian integer of `prefix` bytes, then the payload, with
 * {@linkcode sendAll} (so every byte is written, over partial writes). Up
 * to 64 KiB of payload the two go in one write; a larger payload is
 * written after its prefix, uncopied. An empty payload is a frame of
 * length 0 (the book's blocks end with one).
 *
 * @param sink A {@linkcode Writer} (such as a `Deno.Conn`) or a Node
 * `Writable` (such as a `net.Socket`): whatever `sendAll` takes.
 * @param payload The frame's bytes.
 * @param options The prefix's size (default 4) and an abort signal.
 * @returns A promise that resolves once every byte has been written.
 * @throws {RangeError} If `prefix` is not 1, 2 or 4, or the payload is too
 * long for it (more than 255 bytes for 1, 65,535 for 2, 4,294,967,295 for
 * 4).
 * @throws {NoProgressError} If a write accepts 0 bytes.
 * @throws {TypeError} If `sink` is neither a Writer nor a Node Writable.
 *
 * @example The bytes of a frame
 * ```ts
 * import { writeFrame } from "./write_frame.ts";
 * import assert from "node:assert/strict";
 *
 * const written: number[] = [];
 * const sink = {
 *   write(p: Uint8Array) {
 *     written.push(...p);
 *     return Promise.resolve(p.length);
 *   },
 * };
 * await writeFrame(sink, new TextEncoder().encode("hi"));
 * assert.deepEqual(written, [0, 0, 0, 2, 0x68, 0x69]);
 * written.length = 0;
 * await writeFrame(sink, new TextEncoder().encode("hi"), { prefix: 2 });
 * assert.deepEqual(written, [0, 2, 0x68, 0x69]);
 * ```
 */
export async function writeFrame(
  sink: ByteSink,
  payload: Uint8Array,
  options: WriteFrameOptions = {},
): Promise<void> {
  const { prefix = 4, signal } = options;
  const max = maxLength(prefix);
  if (payload.length > max) {
    throw new RangeError(
      `a payload of ${payload.length} bytes does not fit a ${prefix}-byte length prefix ` +
        `(at most ${max})`,
    );
  }
  if (payload.length <= JOIN_UP_TO) {
    const frame = new Uint8Array(prefix + payload.length);
    encodeLength(frame, prefix, payload.length);
    frame.set(payload, prefix);
    return sendAll(sink, frame, { signal });
  }
  const header = new Uint8Array(prefix);
  encodeLength(header, prefix, payload.length);
  await sendAll(sink, header, { signal });
  await sendAll(sink, payload, { signal });
}
