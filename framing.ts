/**
 * How the programs delimit their one message each way (`--framing`): the
 * tutorial's fixed length, a line, or the book's 4-byte length prefix. One
 * place says what each looks like on the wire and how it is read, for the
 * server ({@linkcode serve}) and the client ({@linkcode request},
 * {@linkcode load}) alike.
 *
 * @module
 */

import type { FrameReader } from "./frame_reader.ts";
import { IncompleteReadError } from "./recv_all.ts";

/**
 * How a message is delimited:
 *
 * - `fixed`: exactly as many octets as agreed (the tutorial's 16).
 * - `line`: up to and including a newline (`\n`, so `\r\n` too), as SMTP,
 *   Redis's inline commands and memcached.
 * - `u32`: a 4-byte big-endian length, then that many octets (the book's
 *   `struct.Struct('!I')` blocks).
 */
export type Framing = "fixed" | "line" | "u32";

/** The framings, in the order the programs' help lists them. */
export const FRAMINGS: readonly Framing[] = ["fixed", "line", "u32"];

/** The longest line or frame a peer may send unless told otherwise, in
 * octets: asyncio's default limit. */
export const DEFAULT_MAX_MESSAGE = 64 * 1024;

/** The largest payload a `u32` frame can declare. */
const MAX_U32 = 0xffff_ffff;

/**
 * The octets that carry `payload` framed so: a line gets `\n` if it does
 * not end with one; a `u32` frame gets its length prefix; `fixed` is the
 * payload as it is.
 *
 * @param framing How the message is delimited.
 * @param payload The message.
 * @returns The bytes to send.
 * @throws {RangeError} If a `u32` payload is longer than 4,294,967,295
 * octets, or a line holds a newline before its end.
 *
 * @example A line and a frame
 * ```ts
 * import { frame } from "./framing.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode("PING");
 * assert.deepEqual(frame("line", bytes), new TextEncoder().encode("PING\n"));
 * assert.deepEqual(frame("u32", bytes), new Uint8Array([0, 0, 0, 4, 80, 73, 78, 71]));
 * ```
 */
export function frame(framing: Framing, payload: Uint8Array): Uint8Array {
  if (framing === "fixed") return payload;
  if (framing === "line") {
    const end = payload.indexOf(0x0a);
    if (end === payload.length - 1) return payload;
    if (end !== -1) throw new RangeError("a line holds no newline before its end");
    const line = new Uint8Array(payload.length + 1);
    line.set(payload);
    line[payload.length] = 0x0a;
    return line;
  }
  if (payload.length > MAX_U32) {
    throw new RangeError(`a u32 frame holds at most ${MAX_U32} octets`);
  }
  const framed = new Uint8Array(4 + payload.length);
  new DataView(framed.buffer).setUint32(0, payload.length);
  framed.set(payload, 4);
  return framed;
}

/**
 * Reads one message framed as a line or a `u32` frame.
 *
 * @param framing `line` or `u32`.
 * @param reader The connection's reader, with its limit.
 * @returns The line, newline included, or the frame's payload.
 * @throws {IncompleteReadError} If the stream ends first, before its first
 * byte too (`partial` is then empty): one message was due.
 * @throws {LimitExceededError} If the line or the declared frame is longer
 * than the reader's limit; nothing of it is kept beyond the buffer.
 *
 * @example A line in two pieces
 * ```ts
 * import { FrameReader } from "./frame_reader.ts";
 * import { readFramed } from "./framing.ts";
 * import assert from "node:assert/strict";
 *
 * const pieces = ["PI", "NG\r\n"].map((s) => new TextEncoder().encode(s));
 * const stream = new ReadableStream({
 *   type: "bytes",
 *   pull(controller) {
 *     const piece = pieces.shift();
 *     if (piece) controller.enqueue(piece);
 *     else controller.close();
 *   },
 * });
 * const line = await readFramed("line", new FrameReader(stream));
 * assert.equal(new TextDecoder().decode(line), "PING\r\n");
 * ```
 */
export async function readFramed(
  framing: "line" | "u32",
  reader: FrameReader,
): Promise<Uint8Array> {
  if (framing === "line") return reader.readUntil("\n");
  const payload = await reader.readFrame({ prefix: 4 });
  if (payload === null) throw new IncompleteReadError(new Uint8Array(0), 4);
  return payload;
}
