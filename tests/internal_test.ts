// The library's internal parts, on their own: the deadline queue, bursts,
// the latency histogram, option checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Histogram } from "../internal/histogram.ts";
import { DeadlineQueue } from "../internal/deadline_queue.ts";
import { Burst } from "../internal/burst.ts";
import { checkDuration, checkWhole } from "../internal/checks.ts";
import { sleep, until } from "./helpers.ts";

interface Entry {
  name: string;
  deadline: number;
}
const entry = (name: string): Entry => ({ name, deadline: 0 });

test("Histogram percentiles are within 1/64 of the exact ones, never above the max", () => {
  const h = new Histogram();
  const values: number[] = [];
  let seed = 42;
  for (let i = 0; i < 10_000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const ms = Math.round((seed / 2 ** 31) ** 3 * 5000 * 1000) / 1000; // 0 to 5 s, skewed low
    values.push(ms);
    h.record(ms);
  }
  values.sort((a, b) => a - b);
  for (const p of [1, 50, 90, 99, 99.9, 100]) {
    const exact = values[Math.ceil((p / 100) * values.length) - 1];
    const got = h.percentile(p);
    assert(got >= exact && got <= exact + Math.max(0.001, exact / 64), `p${p}: ${got} vs ${exact}`);
  }
  assert.equal(h.max, values.at(-1));
  assert.equal(h.min, values[0]);
  assert(Number.isNaN(new Histogram().percentile(50)));
});

test("DeadlineQueue expires entries in the order they were added, each after its timeout", async () => {
  const expired: [string, number][] = [];
  const started = performance.now();
  const queue = new DeadlineQueue<Entry>(50, (e) => expired.push([e.name, performance.now()]));
  const [a, b, c] = [entry("a"), entry("b"), entry("c")];
  queue.add(a);
  await sleep(20);
  queue.add(b);
  queue.add(c);
  queue.delete(b); // Taken out before it expires: never expires.
  await until(() => expired.length === 2, "two expiries");
  assert.deepEqual(expired.map(([name]) => name), ["a", "c"]);
  assert(expired[0][1] - started >= 49, `a expired after ${expired[0][1] - started} ms`);
  assert(expired[1][1] - started >= 69, `c expired after ${expired[1][1] - started} ms`);
  assert.equal(queue.first, undefined);
  queue.close();
});

test("DeadlineQueue takes entries out and back in, and close() stops its timer", async () => {
  const expired: string[] = [];
  const queue = new DeadlineQueue<Entry>(20, (e) => expired.push(e.name));
  const a = entry("a");
  queue.add(a);
  queue.delete(a);
  queue.delete(a); // Twice: nothing happens.
  queue.add(a); // Back in, with a new deadline.
  assert.equal(queue.first, a);
  queue.close();
  await sleep(60);
  assert.deepEqual(expired, [], "closed: nothing expires");
  queue.add(entry("b")); // A new add() starts the timer again.
  await until(() => expired.length === 2, "both to expire");
  assert.deepEqual(expired, ["a", "b"]);
  queue.close();
});

test("DeadlineQueue: an entry is in one queue at a time; delete() from another leaves it", () => {
  // The server moves a replied-to connection from its read deadlines to its
  // lingering ones, and shutdown takes each out of both: taking it out of
  // the one it is not in used to unlink it from the wrong list (shutdown
  // then looped forever on the lingering ones).
  const live = new DeadlineQueue<Entry>(10_000, () => {});
  const lingering = new DeadlineQueue<Entry>(10_000, () => {});
  const [a, b, c] = [entry("a"), entry("b"), entry("c")];
  live.add(a);
  lingering.add(b);
  lingering.add(c);
  live.delete(b);
  assert.equal(live.first, a);
  assert.equal(lingering.first, b);
  lingering.delete(b);
  assert.equal(lingering.first, c);
  live.delete(a);
  assert.equal(live.first, undefined);
  lingering.delete(c);
  assert.equal(lingering.first, undefined);
  // add() takes an entry out of the queue it is in first: moved, not in two.
  live.add(a);
  live.add(b);
  lingering.add(a);
  assert.equal(live.first, b);
  assert.equal(lingering.first, a);
  live.add(b); // Again in the same queue: a new deadline, still one entry.
  live.delete(b);
  assert.equal(live.first, undefined);
  live.close();
  lingering.close();
});

test("Burst reports one start and one end a burst, the end only once over() holds", async () => {
  const ended: number[] = [];
  let over = false;
  const burst = new Burst(20, (count) => ended.push(count), () => over);
  assert.equal(burst.hit(), true);
  assert.equal(burst.hit(), false);
  await sleep(50);
  assert.deepEqual(ended, [], "quiet, but not over yet");
  over = true;
  await until(() => ended.length === 1, "the burst's end");
  assert.deepEqual(ended, [2]);
  assert.equal(burst.hit(), true, "a new burst");
  burst.finish(); // Ends it at once, with its count.
  assert.deepEqual(ended, [2, 1]);
  burst.finish(); // No burst: nothing.
  assert.deepEqual(ended, [2, 1]);
});

test("checkDuration() and checkWhole() take what a timer and a count can be, and name the option", () => {
  checkDuration("timeout", 1);
  checkDuration("timeout", 2_147_483_647);
  checkDuration("linger", 0, true);
  assert.throws(() => checkDuration("timeout", 0), {
    name: "RangeError",
    message: "timeout must be from 1 to 2147483647 ms, got 0",
  });
  assert.throws(() => checkDuration("timeout", 2_147_483_648), RangeError);
  assert.throws(() => checkDuration("timeout", NaN), RangeError);
  checkWhole("maxConnections", 1, 1);
  assert.throws(() => checkWhole("maxConnections", 0, 1), {
    message: "maxConnections must be a whole number at least 1, got 0",
  });
  assert.throws(() => checkWhole("port", 65536, 1, 65535), {
    message: "port must be a whole number from 1 to 65535, got 65536",
  });
  assert.throws(() => checkWhole("count", 1.5, 1), RangeError);
  assert.throws(() => checkWhole("count", 2 ** 53, 1), RangeError);
});
