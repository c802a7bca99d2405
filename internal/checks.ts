/**
 * The library's checks of its options, in one place: each throws a
 * `RangeError` that names the option and says what it takes.
 *
 * @module
 */

/** The longest delay a timer takes: 2^31 - 1 ms, about 24.8 days. */
export const MAX_DELAY = 2_147_483_647;

/**
 * Checks a duration option: a number of milliseconds a timer can wait.
 *
 * @param name The option's name, for the message.
 * @param ms Its value.
 * @param zero Whether 0 (no wait at all) is allowed.
 * @throws {RangeError} If it is not from 1 (or 0) to 2147483647.
 *
 * @example Rejecting a negative timeout
 * ```ts
 * import { checkDuration } from "./checks.ts";
 * import assert from "node:assert/strict";
 *
 * checkDuration("timeout", 10_000);
 * assert.throws(() => checkDuration("timeout", -1), RangeError);
 * ```
 */
export function checkDuration(name: string, ms: number, zero = false): void {
  const lowest = zero ? 0 : 1;
  if (!(ms >= lowest && ms <= MAX_DELAY)) {
    throw new RangeError(`${name} must be from ${lowest} to ${MAX_DELAY} ms, got ${ms}`);
  }
}

/**
 * Checks a whole-number option.
 *
 * @param name The option's name, for the message.
 * @param value Its value.
 * @param lowest The smallest allowed.
 * @param highest The largest allowed.
 * @throws {RangeError} If it is not a safe integer from `lowest` to
 * `highest`.
 *
 * @example Ports
 * ```ts
 * import { checkWhole } from "./checks.ts";
 * import assert from "node:assert/strict";
 *
 * checkWhole("port", 1060, 1, 65535);
 * assert.throws(() => checkWhole("port", 1.5, 1, 65535), RangeError);
 * ```
 */
export function checkWhole(
  name: string,
  value: number,
  lowest: number,
  highest = Number.MAX_SAFE_INTEGER,
): void {
  if (!(Number.isSafeInteger(value) && value >= lowest && value <= highest)) {
    throw new RangeError(`${name} must be a whole number ${range(lowest, highest)}, got ${value}`);
  }
}

/**
 * A range of whole numbers in words, for messages.
 *
 * @param lowest The smallest allowed.
 * @param highest The largest allowed; `Number.MAX_SAFE_INTEGER` for no limit.
 * @returns `at least 1`, or `from 0 to 65535`.
 *
 * @example
 * ```ts
 * import { range } from "./checks.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(range(1, Number.MAX_SAFE_INTEGER), "at least 1");
 * assert.equal(range(1, 65535), "from 1 to 65535");
 * ```
 */
export function range(lowest: number, highest: number): string {
  return highest === Number.MAX_SAFE_INTEGER
    ? `at least ${lowest}`
    : `from ${lowest} to ${highest}`;
}
