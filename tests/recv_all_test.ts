// recvAll and sendAll over scripted readers and writers: every way TCP can
// split a message, end early, or stall.
import { test } from "node:test";
import assert from "node:assert/strict";
import { IncompleteReadError, NoProgressError, recvAll, sendAll } from "../mod.ts";
import { recvRest } from "../recv_all.ts";
import { MESSAGE, until } from "./helpers.ts";
import { byteStream, scripted } from "./sources.ts";

test("recvAll() reads a message delivered one byte at a time", async () => {
  const reader = scripted(MESSAGE, [1]);
  assert.deepEqual(await recvAll(reader, 16), MESSAGE);
  assert.equal(reader.reads, 16);
});

test("recvAll() reads exactly length bytes whatever the chunk sizes", async () => {
  const data = new Uint8Array(4096).map((_, i) => i * 7);
  for (let round = 0; round < 50; round++) {
    const sizes = Array.from({ length: 8 }, () => 1 + Math.floor(Math.random() * 700));
    const reader = scripted(data, sizes);
    assert.deepEqual(await recvAll(reader, 3000), data.subarray(0, 3000), `sizes ${sizes}`);
  }
});

test("recvAll() treats a read of 0 bytes as no data yet, not EOF", async () => {
  assert.deepEqual(await recvAll(scripted(MESSAGE, [0, 3, 0, 0, 13]), 16), MESSAGE);
});

test("recvAll() throws NoProgressError after 100 empty reads in a row", async () => {
  const reader = scripted(MESSAGE, [0]);
  await assert.rejects(recvAll(reader, 16), NoProgressError);
  assert.equal(reader.reads, 100);
});

test("recvAll() throws IncompleteReadError with the partial bytes on EOF at every position", async () => {
  for (let cut = 0; cut < 16; cut++) {
    const err = await recvAll(scripted(MESSAGE.subarray(0, cut), [3]), 16).then(
      () => assert.fail(`no error for EOF after ${cut} bytes`),
      (e) => e,
    );
    assert(err instanceof IncompleteReadError);
    assert.deepEqual(err.partial, MESSAGE.subarray(0, cut));
    assert.equal(err.expected, 16);
    assert.equal(err.message, `socket closed ${cut} bytes into a 16-byte message`);
  }
});

test("recvAll() resolves an empty array for length 0 without reading", async () => {
  const reader = scripted(MESSAGE, [1]);
  assert.deepEqual(await recvAll(reader, 0), new Uint8Array(0));
  assert.equal(reader.reads, 0);
});

test("recvAll() throws RangeError for negative, fractional or unsafe lengths", async () => {
  for (const length of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
    await assert.rejects(recvAll(scripted(MESSAGE, [1]), length), RangeError, `${length}`);
  }
  await assert.rejects(
    recvAll(scripted(MESSAGE, [1]), 16, { buffer: new Uint8Array(15) }),
    RangeError,
  );
});

test("recvAll() fills the caller's buffer in place", async () => {
  const buffer = new Uint8Array(32);
  const got = await recvAll(scripted(MESSAGE, [5]), 16, { buffer });
  assert.equal(got.buffer, buffer.buffer);
  assert.deepEqual(buffer.subarray(0, 16), MESSAGE);
  assert.deepEqual(buffer.subarray(16), new Uint8Array(16));
});

test("recvAll() rejects with the signal's reason when aborted mid-read", async () => {
  const never = { read: () => new Promise<number | null>(() => {}) };
  const controller = new AbortController();
  const pending = recvAll(never, 16, { signal: controller.signal });
  controller.abort(new Error("stop"));
  await assert.rejects(pending, { message: "stop" });
  await assert.rejects(
    recvAll(scripted(MESSAGE, [1]), 16, { signal: AbortSignal.abort(new Error("before")) }),
    { message: "before" },
  );
});

test("recvAll() reads a byte stream in place and releases its lock", async () => {
  const stream = byteStream([MESSAGE.subarray(0, 3), MESSAGE.subarray(3, 9), MESSAGE.subarray(9)]);
  assert.deepEqual(await recvAll(stream, 10), MESSAGE.subarray(0, 10));
  assert.deepEqual(await recvAll(stream, 6), MESSAGE.subarray(10));
  assert.equal(stream.locked, false);
});

test("recvAll() reads from a BYOB reader into the caller's buffer, in place", async () => {
  const reader = byteStream([MESSAGE.subarray(0, 7), MESSAGE.subarray(7)]).getReader({
    mode: "byob",
  });
  const buffer = new Uint8Array(16);
  const got = await recvAll(reader, 16, { buffer });
  assert.deepEqual(got, MESSAGE);
  // Not transferred (as a BYOB read would): the caller's array holds the bytes.
  assert.equal(got.buffer, buffer.buffer);
  assert.deepEqual(buffer, MESSAGE);
  reader.releaseLock();
});

test("recvAll() throws IncompleteReadError when a byte stream ends early", async () => {
  await assert.rejects(recvAll(byteStream([MESSAGE.subarray(0, 5)]), 16), (err) => {
    assert(err instanceof IncompleteReadError);
    assert.deepEqual(err.partial, MESSAGE.subarray(0, 5));
    assert.equal(err.message, "socket closed 5 bytes into a 16-byte message");
    return true;
  });
});

test("recvAll() takes O(n) reads for a large message, with no concatenation", async () => {
  const data = new Uint8Array(8 << 20).fill(7);
  const reader = scripted(data, [65536]);
  const got = await recvAll(reader, data.length);
  assert.equal(got.length, data.length);
  assert.equal(reader.reads, 128);
  assert.equal(got[data.length - 1], 7);
});

test("sendAll() loops over partial writes until every byte is written", async () => {
  const written: number[] = [];
  let calls = 0;
  const narrow = {
    write(p: Uint8Array) {
      calls++;
      const n = Math.min(3, p.length);
      written.push(...p.subarray(0, n));
      return Promise.resolve(n);
    },
  };
  await sendAll(narrow, MESSAGE);
  assert.deepEqual(new Uint8Array(written), MESSAGE);
  assert.equal(calls, 6);
});

test("sendAll() throws NoProgressError when a write accepts 0 bytes", async () => {
  let calls = 0;
  const stuck = {
    write(p: Uint8Array) {
      return Promise.resolve(calls++ === 0 ? Math.min(4, p.length) : 0);
    },
  };
  await assert.rejects(sendAll(stuck, MESSAGE), (err) => {
    assert(err instanceof NoProgressError);
    assert.match(err.message, /12 of 16 left/);
    return true;
  });
  assert.equal(calls, 2);
});

test("recvAll() rejects (does not throw) for a stream that is not a byte stream or is locked", async () => {
  const plain = new ReadableStream({ start: (c) => c.enqueue(MESSAGE) });
  const pending = recvAll(plain, 16);
  assert(pending instanceof Promise);
  await assert.rejects(pending, TypeError);
  const locked = byteStream([MESSAGE]);
  locked.getReader();
  await assert.rejects(recvAll(locked, 16), TypeError);
});

test("recvAll() rejects with AbortError when its BYOB reader is cancelled mid-read", async () => {
  let pulls = 0;
  const stream = new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (pulls++ === 0) controller.enqueue(MESSAGE.slice(0, 3));
    },
  });
  const reader = stream.getReader({ mode: "byob" });
  const pending = recvAll(reader, 16);
  await until(() => pulls === 2, "recvAll to wait for the rest");
  await reader.cancel();
  await assert.rejects(pending, (err) => {
    assert(err instanceof DOMException && err.name === "AbortError", String(err));
    assert.equal(err.message, "the stream was cancelled 3 bytes into a 16-byte message");
    return true;
  });
});

test("recvAll() rejects with the signal's reason when aborted while reading a stream", async () => {
  const stream = new ReadableStream({ type: "bytes", pull() {} });
  const controller = new AbortController();
  const pending = recvAll(stream, 16, { signal: controller.signal });
  controller.abort(new Error("deadline"));
  await assert.rejects(pending, { message: "deadline" });
  assert.equal(stream.locked, false);
});

test("recvRest finishes what a first plain read began, and tells of the whole buffer", async () => {
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  // Came whole: nothing more is read.
  const whole = scripted(MESSAGE, [16]);
  const target = new Uint8Array(16);
  const first = await whole.read(target);
  assert.equal(await recvRest(whole, target, first), target);
  assert.equal(whole.reads, 1);
  // Came in three pieces: the rest lands after the first five octets.
  const pieces = scripted(MESSAGE, [5, 3, 8]);
  const split = new Uint8Array(16);
  assert.equal(decode(await recvRest(pieces, split, await pieces.read(split))), "Hi there, server");
  // Ended at once, or after some: the error counts from the buffer's start.
  const empty = new Uint8Array(16);
  await assert.rejects(recvRest(scripted(MESSAGE, [1]), empty, null), (err) => {
    assert(err instanceof IncompleteReadError);
    assert.equal(err.partial.length, 0);
    assert.equal(err.expected, 16);
    return true;
  });
  const short = scripted(MESSAGE.subarray(0, 9), [4]);
  const partial = new Uint8Array(16);
  await assert.rejects(recvRest(short, partial, await short.read(partial)), (err) => {
    assert(err instanceof IncompleteReadError);
    assert.equal(decode(err.partial), "Hi there,");
    assert.equal(err.message, "socket closed 9 bytes into a 16-byte message");
    return true;
  });
});
