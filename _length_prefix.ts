/**
 * Length prefixes as the book's `struct.Struct('!I')` writes them: an
 * unsigned big-endian integer (network order) of 1, 2 or 4 bytes before a
 * frame. What `FrameReader.readFrame()` and `writeFrame()` share. Private:
 * `frame_reader.ts` and `write_frame.ts` export what is public.
 *
 * @module
 */

/** The size of a frame's length prefix in bytes: 1, 2 or 4 (Python's
 * `!B`, `!H`, `!I`). */
export type LengthPrefix = 1 | 2 | 4;

/**
 * The largest length a prefix of this size holds.
 *
 * @param prefix The prefix's size.
 * @returns 255, 65,535 or 4,294,967,295.
 * @throws {RangeError} If `prefix` is not 1, 2 or 4.
 */
export function maxLength(prefix: LengthPrefix): number {
  if (prefix !== 1 && prefix !== 2 && prefix !== 4) {
    throw new RangeError(`a length prefix is 1, 2 or 4 bytes, got ${prefix}`);
  }
  return 2 ** (8 * prefix) - 1;
}

/**
 * Reads a length prefix.
 *
 * @param bytes Where it is.
 * @param at Its first byte.
 * @param prefix Its size.
 * @returns The length it holds.
 */
export function decodeLength(bytes: Uint8Array, at: number, prefix: LengthPrefix): number {
  if (prefix === 1) return bytes[at];
  if (prefix === 2) return (bytes[at] << 8) | bytes[at + 1];
  return bytes[at] * 0x1000000 + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
}

/**
 * Writes a length prefix.
 *
 * @param bytes Where to write it.
 * @param prefix Its size.
 * @param length The length, which fits it.
 */
export function encodeLength(bytes: Uint8Array, prefix: LengthPrefix, length: number): void {
  for (let i = prefix - 1; i >= 0; i--) {
    bytes[i] = length & 0xff;
    length = Math.floor(length / 256);
  }
}
