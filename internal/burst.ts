/**
 * Something that comes in bursts, logged twice a burst, not once a time: a
 * server held at its connection cap by sustained load, or a storm of peers
 * that reset before they are accepted, logs two lines, not two per
 * connection.
 *
 * @module
 */

/**
 * A burst of hits: `hit()` says whether this one starts the burst; `end`
 * gets the burst's count once `quiet` ms have passed without a hit (and
 * `over()` holds), or at `finish()`.
 *
 * @example A burst of three, ended by a quiet spell
 * ```ts
 * import { Burst } from "./burst.ts";
 * import assert from "node:assert/strict";
 *
 * const ended: number[] = [];
 * const burst = new Burst(20, (count) => ended.push(count));
 * assert.equal(burst.hit(), true);
 * assert.equal(burst.hit(), false);
 * assert.equal(burst.hit(), false);
 * await new Promise((resolve) => setTimeout(resolve, 60));
 * assert.deepEqual(ended, [3]);
 * ```
 */
export class Burst {
  /** Hits in the burst so far; 0 between bursts. */
  count = 0;
  #last = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * No burst yet.
   *
   * @param quiet How long without a hit ends a burst, in ms.
   * @param end Called with the burst's count when it ends.
   * @param over What else must hold for it to end (the cap's burst ends
   * only below the cap).
   */
  constructor(
    readonly quiet: number,
    readonly end: (count: number) => void,
    readonly over: () => boolean = () => true,
  ) {}

  /**
   * Counts one hit.
   *
   * @returns Whether it starts a burst (log it then).
   */
  hit(): boolean {
    this.#last = performance.now();
    if (this.count++ > 0) return false;
    this.#timer = setTimeout(this.#check, this.quiet);
    return true;
  }

  #check = (): void => {
    const left = this.quiet - (performance.now() - this.#last);
    if (left <= 0 && this.over()) this.finish();
    else this.#timer = setTimeout(this.#check, left > 0 ? left : this.quiet);
  };

  /** Ends the burst now, if there is one, and stops the timer. */
  finish(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const count = this.count;
    this.count = 0;
    if (count > 0) this.end(count);
  }
}
