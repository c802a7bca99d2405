/**
 * Deadlines of one length on one timer: the server's read deadlines and the
 * client's exchange timeouts.
 *
 * When every deadline is `timeout` after the moment it was set, the order
 * they were set in is the order they expire in, so one timer, armed for the
 * oldest, serves them all: 10,000 idle connections cost one timer, not
 * 10,000 (and no call into the runtime per exchange to set and clear one).
 * The entries form a linked list through themselves, so adding and removing
 * one allocates nothing: a `Set` here grew the server's heap under load
 * (60 MB committed against 20 MB). The clock is `performance.now()`: a
 * wall-clock step must not suspend the deadlines.
 *
 * @module
 */

/** What a {@linkcode DeadlineQueue} holds: any object with these fields. */
export interface Timed {
  /** When it expires, on `performance.now()`'s clock; set by `add()`. */
  deadline: number;
  /** Its neighbours while it is queued. */
  prev?: Timed;
  /** Its neighbours while it is queued. */
  next?: Timed;
  /** The queue it is in, if any: one at a time. */
  queue?: { delete(entry: Timed): void };
}

/**
 * Entries that expire `timeout` ms after they are added, oldest first, on
 * one timer.
 *
 * @typeParam T The entries' type.
 *
 * @example Two deadlines, one timer
 * ```ts
 * import { DeadlineQueue } from "./deadline_queue.ts";
 * import assert from "node:assert/strict";
 *
 * const expired: string[] = [];
 * const queue = new DeadlineQueue<{ name: string; deadline: number }>(
 *   10,
 *   (entry) => expired.push(entry.name),
 * );
 * const a = { name: "a", deadline: 0 };
 * const b = { name: "b", deadline: 0 };
 * queue.add(a);
 * queue.add(b);
 * queue.delete(a);
 * await new Promise((resolve) => setTimeout(resolve, 50));
 * assert.deepEqual(expired, ["b"]);
 * queue.close();
 * ```
 */
export class DeadlineQueue<T extends Timed> {
  /** The oldest entry: the next to expire. */
  first?: T;
  #last?: T;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * An empty queue.
   *
   * @param timeout How long after `add()` each entry expires, in ms.
   * @param expire Called with each entry as it expires, once it has been
   * taken out of the queue.
   */
  constructor(readonly timeout: number, readonly expire: (entry: T) => void) {}

  /**
   * Queues `entry` to expire `timeout` ms from now, taking it out of the
   * queue it was in, this one or another: an entry linked into two lists
   * would corrupt both.
   *
   * @param entry The entry; its `deadline` is set here.
   */
  add(entry: T): void {
    entry.queue?.delete(entry);
    entry.deadline = performance.now() + this.timeout;
    entry.queue = this;
    entry.prev = this.#last;
    entry.next = undefined;
    if (this.#last) this.#last.next = entry;
    else this.first = entry;
    this.#last = entry;
    if (this.#timer === undefined) this.#arm(this.timeout);
  }

  /**
   * Takes `entry` out of the queue, if it is in it (an entry in another
   * queue stays there, untouched). The timer is left
   * armed: clearing and setting it again around every exchange of a server
   * answering one client at a time cost it 1.2x CPU per exchange. Once it
   * fires on an empty queue it stops; `close()` stops it at once.
   *
   * @param entry The entry.
   */
  delete(entry: T): void {
    if (entry.queue !== this) return;
    entry.queue = undefined;
    if (entry.prev) entry.prev.next = entry.next;
    else this.first = entry.next as T | undefined;
    if (entry.next) entry.next.prev = entry.prev;
    else this.#last = entry.prev as T | undefined;
    entry.prev = entry.next = undefined;
  }

  /** Stops the timer, so that it keeps no process alive; the entries stay
   * queued, and the next `add()` starts it again. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#sweep(), Math.max(0, ms));
  }

  #sweep(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (let entry = this.first; entry; entry = this.first) {
      if (entry.deadline > now) {
        // expire() may have added an entry, and with it a timer.
        if (this.#timer === undefined) this.#arm(entry.deadline - now);
        return;
      }
      this.delete(entry);
      this.expire(entry);
    }
  }
}
