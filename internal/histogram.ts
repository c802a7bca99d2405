/**
 * Latencies in constant memory: a log-linear histogram, as HdrHistogram's.
 *
 * @module
 */

// Log-linear buckets over whole microseconds, as HdrHistogram's: exact below
// 128 µs, then 64 buckets per power of two, so a bucket is at most 1/64 of
// its value wide. 1,664 buckets reach 2^31 µs (35 minutes).
const EXACT = 128;
const SUB_BITS = 6;
const SUB = 1 << SUB_BITS;
const TOP = 2 ** 31 - 1;
const BUCKETS = EXACT + (31 - 7) * SUB;

function bucketOf(us: number): number {
  if (us < EXACT) return us;
  const exp = 31 - Math.clz32(us);
  return EXACT + (exp - 7) * SUB + ((us >>> (exp - SUB_BITS)) - SUB);
}

function highestIn(bucket: number): number {
  if (bucket < EXACT) return bucket;
  const exp = 7 + Math.floor((bucket - EXACT) / SUB);
  const sub = SUB + (bucket - EXACT) % SUB;
  return (sub + 1) * 2 ** (exp - SUB_BITS) - 1;
}

/**
 * Latencies in a fixed set of log-linear buckets: constant memory however
 * many are recorded. Values are whole microseconds, exact below 128 µs and
 * within 1/64 (1.6 %) above; a percentile is its bucket's highest value, so
 * it errs high, never above the exact maximum.
 *
 * @example Percentiles of a hundred latencies
 * ```ts
 * import { Histogram } from "./histogram.ts";
 * import assert from "node:assert/strict";
 *
 * const h = new Histogram();
 * for (let ms = 1; ms <= 100; ms++) h.record(ms);
 * assert.equal(h.count, 100);
 * assert.equal(h.max, 100);
 * assert(Math.abs(h.percentile(50) - 50) <= 50 / 64);
 * ```
 */
export class Histogram {
  /** How many latencies were recorded. */
  count: number = 0;
  /** The largest, in milliseconds, exact. */
  max: number = 0;
  /** The smallest, in milliseconds, exact. */
  min: number = Infinity;
  /** The sum, in milliseconds, for the mean. */
  sum: number = 0;
  readonly #counts = new Float64Array(BUCKETS);

  /**
   * Records one latency.
   *
   * @param ms The latency in milliseconds.
   */
  record(ms: number): void {
    const us = Math.min(TOP, Math.max(0, Math.round(ms * 1000)));
    this.#counts[bucketOf(us)]++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
    if (ms < this.min) this.min = ms;
  }

  /**
   * The latency that `p` percent of the recorded ones are at or below.
   *
   * @param p The percentile, above 0 and at most 100.
   * @returns Milliseconds, or `NaN` when nothing was recorded.
   */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.#counts[b];
      if (seen >= rank) return Math.min(highestIn(b) / 1000, this.max);
    }
    return this.max;
  }
}
