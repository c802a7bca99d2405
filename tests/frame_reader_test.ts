// FrameReader over in-memory sources: every method against a source that
// delivers the same bytes in pieces of every size from 1 byte up, ending at
// every offset; limits; aborts mid-message; what a returned message is.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  FrameReader,
  IncompleteReadError,
  LimitExceededError,
  NoProgressError,
  recvAll,
  writeFrame,
} from "../mod.ts";
import { decode, encode } from "./helpers.ts";
import { byteStream, fed, scripted } from "./sources.ts";

/** What a read ended with, for comparing whole runs. */
type Outcome = string | null | { error: string; partial: string; expected: number | null };

/** Runs `step` until it returns null or throws; the outcomes in order. */
async function drain(step: () => Promise<Uint8Array | null>, max = 1000): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (let i = 0; i < max; i++) {
    try {
      const got = await step();
      out.push(got === null ? null : decode(got));
      if (got === null) return out;
    } catch (err) {
      if (!(err instanceof IncompleteReadError)) throw err;
      out.push({ error: err.name, partial: decode(err.partial), expected: err.expected });
      return out;
    }
  }
  throw new Error(`no end after ${max} reads: ${JSON.stringify(out)}`);
}

/** Every way to deliver `data`: in pieces of every size from 1 to its
 * length, cut (EOF) at every offset. */
function* deliveries(data: Uint8Array): Generator<[number, number]> {
  for (let piece = 1; piece <= data.length; piece++) {
    for (let cut = 0; cut <= data.length; cut++) yield [piece, cut];
  }
}

test("FrameReader.readLine() returns asyncio's lines whatever the pieces, and the last one unterminated", async () => {
  const text = "one\n\ntwo\r\nthree four\n" + "x".repeat(9) + "\nlast";
  const data = encode(text);
  for (const [piece, cut] of deliveries(data)) {
    const reader = new FrameReader(scripted(data.subarray(0, cut), [piece]));
    // asyncio's readline: each line with its \n, the unterminated rest, then b"".
    const expected: Outcome[] = text.slice(0, cut).match(/[^\n]*\n|[^\n]+$/g) ?? [];
    assert.deepEqual(await drain(() => reader.readLine()), [...expected, null], `${piece}/${cut}`);
  }
});

test("FrameReader.readUntil() finds a delimiter split across reads, and at EOF throws with what came", async () => {
  const text = "+OK\r\n-ERR no\r\n\r\n:1\r\n$3\r\nfoo\r\n";
  const data = encode(text);
  for (const [piece, cut] of deliveries(data)) {
    const reader = new FrameReader(scripted(data.subarray(0, cut), [piece]));
    const got = text.slice(0, cut);
    const whole = got.match(/[^]*?\r\n/g) ?? [];
    const rest = got.slice(whole.join("").length);
    assert.deepEqual(
      await drain(() => reader.readUntil("\r\n")),
      [...whole, { error: "IncompleteReadError", partial: rest, expected: null }],
      `${piece}/${cut}`,
    );
    assert.equal(reader.buffered, 0);
  }
});

test("FrameReader.readExactly() reads every length whatever the pieces, with the partial bytes at EOF", async () => {
  const sizes = [3, 0, 5, 1, 7, 2];
  const text = "abcdefghijklmnopqr";
  const data = encode(text);
  for (const [piece, cut] of deliveries(data)) {
    const reader = new FrameReader(scripted(data.subarray(0, cut), [piece]));
    const expected: Outcome[] = [];
    let at = 0;
    for (const n of sizes) {
      if (at + n > cut) {
        expected.push({ error: "IncompleteReadError", partial: text.slice(at, cut), expected: n });
        break;
      }
      expected.push(text.slice(at, at += n));
    }
    let i = 0;
    const got = await drain(() =>
      i < sizes.length ? reader.readExactly(sizes[i++]) : Promise.resolve(null)
    );
    if (got.at(-1) === null) got.pop();
    assert.deepEqual(got, expected, `${piece}/${cut}`);
  }
});

for (const prefix of [1, 2, 4] as const) {
  test(`FrameReader.readFrame({ prefix: ${prefix} }) reads frames of 0 bytes up, split anywhere, and tells a clean end from a cut frame`, async () => {
    const payloads = [
      "",
      "a",
      "hello, frames",
      "",
      prefix === 1 ? "z".repeat(255) : "y".repeat(300),
    ];
    const frames: number[] = [];
    const sink = {
      write(p: Uint8Array) {
        frames.push(...p);
        return Promise.resolve(p.length);
      },
    };
    for (const p of payloads) await writeFrame(sink, encode(p), { prefix });
    const data = new Uint8Array(frames);
    // Every piece size would be 10^5 runs for the long frame: every size to
    // 40, then a few, each with EOF at every offset.
    const pieces = [...Array.from({ length: 40 }, (_, i) => i + 1), 97, 256, data.length];
    for (const piece of pieces) {
      for (let cut = 0; cut <= data.length; cut++) {
        const reader = new FrameReader(scripted(data.subarray(0, cut), [piece]));
        const expected: Outcome[] = [];
        let at = 0;
        for (const p of payloads) {
          if (at === cut) {
            expected.push(null);
            break;
          }
          if (cut - at < prefix) {
            const partial = String.fromCharCode(...data.subarray(at, cut));
            expected.push({ error: "IncompleteReadError", partial, expected: prefix });
            break;
          }
          if (cut - at < prefix + p.length) {
            const partial = p.slice(0, cut - at - prefix);
            expected.push({ error: "IncompleteReadError", partial, expected: p.length });
            break;
          }
          expected.push(p);
          at += prefix + p.length;
        }
        if (at === data.length) expected.push(null);
        assert.deepEqual(
          await drain(() => reader.readFrame({ prefix })),
          expected,
          `${piece}/${cut}`,
        );
      }
    }
  });
}

test("FrameReader methods mixed on one stream take each message from where the last ended", async () => {
  const head = encode("LINE one\r\nTAG:");
  const frame = new Uint8Array([0, 3, 0x61, 0x62, 0x63]);
  const data = new Uint8Array([...head, ...encode("1234;"), ...frame, ...encode("rest")]);
  for (let piece = 1; piece <= data.length; piece++) {
    const reader = new FrameReader(scripted(data, [piece]));
    assert.equal(decode((await reader.readLine())!), "LINE one\r\n");
    assert.equal(decode(await reader.readExactly(4)), "TAG:");
    assert.equal(decode(await reader.readUntil(encode(";"))), "1234;");
    assert.equal(decode((await reader.readFrame({ prefix: 2 }))!), "abc");
    assert.equal(decode(await recvAll(reader, 4)), "rest");
    assert.equal(await reader.read(new Uint8Array(8)), null);
  }
});

test("FrameReader.read() serves buffered bytes first, then reads the source", async () => {
  const reader = new FrameReader(scripted(encode("ab\ncdefgh"), [5, 100]));
  assert.equal(decode((await reader.readLine())!), "ab\n");
  assert.equal(reader.buffered, 2);
  const p = new Uint8Array(4);
  assert.equal(await reader.read(p), 2);
  assert.equal(decode(p.subarray(0, 2)), "cd");
  assert.equal(await reader.read(p), 4);
  assert.equal(decode(p), "efgh");
  assert.equal(await reader.read(new Uint8Array(0)), 0);
  assert.equal(await reader.read(p), null);
});

test("FrameReader.readUntil() throws LimitExceededError past the limit, as asyncio, leaving the bytes buffered", async () => {
  // Exactly `limit` bytes before the delimiter is fine.
  const ok = new FrameReader(scripted(encode("12345678\n"), [3]), { limit: 8 });
  assert.equal(decode((await ok.readLine())!), "12345678\n");

  for (const piece of [1, 4, 100]) {
    // No delimiter yet: asyncio's consumed is the bytes scanned, one more
    // than the limit at the first read past it.
    const long = new FrameReader(scripted(encode("123456789abc\nnext\n"), [piece]), { limit: 8 });
    const err = await long.readLine().then(() => assert.fail("no error"), (e) => e);
    assert(err instanceof LimitExceededError, String(err));
    assert.equal(err.limit, 8);
    assert.equal(err.declared, null);
    assert(err.consumed > 8 && err.consumed <= 12, `consumed ${err.consumed} (piece ${piece})`);
    assert.equal(
      err.message,
      `message longer than the limit of 8 bytes: no delimiter in its first ${err.consumed}`,
    );
    // Nothing was taken: the caller decides, here to skip the long line.
    const kept = long.buffered;
    assert(kept >= err.consumed, `${kept} buffered`);
    assert.equal(decode(await long.readExactly(13)), "123456789abc\n");
    assert.equal(decode((await long.readLine())!), "next\n");
  }

  // A multi-byte delimiter: the limit counts the bytes before it.
  const crlf = new FrameReader(scripted(encode("123456789\r\n"), [11]), { limit: 8 });
  await assert.rejects(crlf.readUntil("\r\n"), (err) => {
    assert(err instanceof LimitExceededError);
    assert.equal(err.consumed, 9); // Found at 9: past 8.
    return true;
  });
  assert.equal(crlf.buffered, 11);
});

test("FrameReader.readFrame() refuses a declared length past the limit before reading its body", async () => {
  const frame = new Uint8Array([0, 0, 0x01, 0x00, ...new Uint8Array(256)]); // 256 bytes.
  const source = scripted(frame, [4]);
  const reader = new FrameReader(source, { limit: 255 });
  await assert.rejects(reader.readFrame(), (err) => {
    assert(err instanceof LimitExceededError);
    assert.equal(err.declared, 256);
    assert.equal(err.consumed, 0);
    assert.equal(err.message, "frame of 256 bytes declared, longer than the limit of 255 bytes");
    return true;
  });
  assert.equal(source.reads, 1); // The prefix only: no byte of the body.
  assert.equal(reader.buffered, 4); // And it stays, as the prefix of a frame.
  assert.equal((await reader.readExactly(4 + 256)).length, 260);
});

test("FrameReader's messages stay valid after later reads: the reader never writes them again", async () => {
  // Enough lines, in odd pieces, for many buffers to be used up, compacted
  // or replaced, with read() (which lends nothing) mixed in.
  const lines = Array.from({ length: 3000 }, (_, i) => `line ${i} ${"#".repeat(i % 97)}\n`);
  const data = encode(lines.join(""));
  const source = scripted(data, [1, 4093, 7, 65536, 300]);
  const reader = new FrameReader(source);
  const kept: Uint8Array[] = [];
  const copies: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (i % 500 === 250) {
      const p = new Uint8Array(lines[i].length);
      assert.equal((await recvAll(reader, p.length, { buffer: p })).buffer, p.buffer);
      kept.push(p);
    } else kept.push((await reader.readLine())!);
    copies.push(decode(kept[i]));
  }
  assert.equal(await reader.readLine(), null);
  assert.deepEqual(copies, lines);
  assert.deepEqual(kept.map(decode), lines, "a message changed after it was returned");
  assert(new Set(source.buffers).size > 3, "the test never used more than a few buffers");
});

test("FrameReader's buffer holds at most the message and one read, and shrinks back", async () => {
  const limit = 1 << 20;
  const data = encode("short\n" + "L".repeat(limit) + "\n" + "short\n".repeat(10_000));
  const source = scripted(data, [1000]);
  const reader = new FrameReader(source, { limit });
  assert.equal(decode((await reader.readLine())!), "short\n");
  const before = source.reads;
  assert.equal((await reader.readLine())!.length, limit + 1);
  const during = source.buffers.slice(before, source.reads);
  while ((await reader.readLine()) !== null);
  const after = source.buffers.slice(source.reads - 20);
  const max = (buffers: ArrayBufferLike[]) => Math.max(...buffers.map((b) => b.byteLength));
  assert(max(during) <= limit + 1 + 64 * 1024, `buffer of ${max(during)} bytes`);
  assert(max(after) <= 64 * 1024 + 1024, `still ${max(after)} bytes after the long line`);
  // Grown by doubling, not a read's worth at a time: the 1 MiB line's 1,050
  // reads went into a handful of buffers, so its bytes were copied a
  // handful of times, not once per read.
  assert(new Set(during).size <= 12, `${new Set(during).size} buffers for one line`);
});

test("FrameReader: an abort rejects with the reason, and the bytes read so far stay readable", async () => {
  const cases: [string, (r: FrameReader, s: AbortSignal) => Promise<unknown>, string][] = [
    ["readLine", (r, signal) => r.readLine({ signal }), "Hi there\n"],
    ["readUntil", (r, signal) => r.readUntil("\r\n", { signal }), "Hi there\r\n"],
    ["readExactly", (r, signal) => r.readExactly(9, { signal }), "Hi there!"],
    ["readFrame", (r, signal) => r.readFrame({ signal, prefix: 1 }), "\x08Hi there"],
  ];
  for (const [name, call, message] of cases) {
    const source = fed();
    const reader = new FrameReader(source);
    const controller = new AbortController();
    const pending = call(reader, controller.signal);
    source.push(encode(message.slice(0, 5)));
    await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new Error("deadline"));
    await assert.rejects(pending, { message: "deadline" }, name);
    assert.equal(reader.buffered, 5, name);
    // A read was in flight when the call gave up: what it brings is kept.
    assert.equal(source.pending, 1, name);
    source.push(encode(message.slice(5, 7)));
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(reader.buffered, 7, name);
    source.push(encode(message.slice(7)));
    const got = await call(reader, new AbortController().signal) as Uint8Array;
    const body = name === "readFrame" ? message.slice(1) : message;
    assert.equal(decode(got), body, name);
  }
  // Aborted before the call: rejects at once, reads nothing.
  const source = scripted(encode("x\n"), [1]);
  const reader = new FrameReader(source);
  await assert.rejects(reader.readLine({ signal: AbortSignal.abort(new Error("before")) }), {
    message: "before",
  });
  assert.equal(source.reads, 0);
});

test("FrameReader: one call at a time; a second while one waits rejects", async () => {
  const source = fed();
  const reader = new FrameReader(source);
  const first = reader.readLine();
  await assert.rejects(reader.readExactly(1), { message: /another read is waiting/ });
  source.push(encode("ok\n"));
  assert.equal(decode((await first)!), "ok\n");
});

test("FrameReader: a source's error rejects the call that waits, after the bytes before it", async () => {
  const source = fed();
  const reader = new FrameReader(source);
  source.push(encode("a\nb"));
  source.fail(Object.assign(new Error("reset"), { code: "ECONNRESET" }));
  assert.equal(decode((await reader.readLine())!), "a\n");
  await assert.rejects(reader.readLine(), { code: "ECONNRESET" });
  assert.equal(reader.buffered, 1); // "b" is still there.
});

test("FrameReader: 100 empty reads in a row are NoProgressError, as recvAll", async () => {
  const source = scripted(encode("abc"), [0]);
  await assert.rejects(new FrameReader(source).readLine(), NoProgressError);
  assert.equal(source.reads, 100);
  // Empty reads between real ones are no problem.
  const some = new FrameReader(scripted(encode("a\nb\n"), [0, 0, 1, 0, 3]));
  assert.equal(decode((await some.readLine())!), "a\n");
  assert.equal(decode((await some.readLine())!), "b\n");
});

test("FrameReader reads a byte ReadableStream and its BYOB reader", async () => {
  const chunks = () => [encode("fi"), encode("rst\nsec"), encode("ond\n")];
  const stream = byteStream(chunks());
  const reader = new FrameReader(stream);
  assert.equal(stream.locked, true);
  assert.equal(decode((await reader.readLine())!), "first\n");
  assert.equal(decode((await reader.readLine())!), "second\n");
  assert.equal(await reader.readLine(), null);
  const byob = new FrameReader(byteStream(chunks()).getReader({ mode: "byob" }));
  assert.equal(decode(await byob.readUntil("sec")), "first\nsec");
});

test("FrameReader rejects what it cannot read from, and bad arguments, with errors that say so", async () => {
  // deno-lint-ignore no-explicit-any
  assert.throws(() => new FrameReader({} as any), {
    name: "TypeError",
    message: /^FrameReader reads from a Reader .*; got an object without read\(\)$/,
  });
  assert.throws(() => new FrameReader(new ReadableStream()), TypeError); // Not a byte stream.
  for (const limit of [0, -1, 1.5, NaN]) {
    assert.throws(() => new FrameReader(scripted(encode("x"), [1]), { limit }), RangeError);
  }
  const reader = new FrameReader(scripted(encode("x"), [1]));
  await assert.rejects(reader.readExactly(-1), RangeError);
  await assert.rejects(reader.readUntil(""), {
    name: "RangeError",
    message: "the delimiter is empty",
  });
  // deno-lint-ignore no-explicit-any
  await assert.rejects(reader.readFrame({ prefix: 3 as any }), {
    name: "RangeError",
    message: "a length prefix is 1, 2 or 4 bytes, got 3",
  });
});

test("writeFrame() writes the prefix and payload in one write up to 64 KiB, and refuses what its prefix cannot hold", async () => {
  const writes: Uint8Array[] = [];
  const sink = {
    write(p: Uint8Array) {
      writes.push(p.slice());
      return Promise.resolve(p.length);
    },
  };
  await writeFrame(sink, new Uint8Array(65536).fill(1));
  assert.equal(writes.length, 1);
  assert.deepEqual([...writes[0].subarray(0, 5)], [0, 1, 0, 0, 1]);
  writes.length = 0;
  await writeFrame(sink, new Uint8Array(65537).fill(2));
  assert.deepEqual(writes.map((w) => w.length), [4, 65537]);
  assert.deepEqual([...writes[0]], [0, 1, 0, 1]);
  writes.length = 0;
  await writeFrame(sink, new Uint8Array(0), { prefix: 1 });
  assert.deepEqual(writes.map((w) => [...w]), [[0]]);
  await assert.rejects(writeFrame(sink, new Uint8Array(256), { prefix: 1 }), {
    name: "RangeError",
    message: "a payload of 256 bytes does not fit a 1-byte length prefix (at most 255)",
  });
  await assert.rejects(writeFrame(sink, new Uint8Array(65536), { prefix: 2 }), RangeError);
  // deno-lint-ignore no-explicit-any
  await assert.rejects(writeFrame(sink, new Uint8Array(1), { prefix: 8 as any }), RangeError);
  // A 4-byte prefix holds 2^32 - 1: check its encoding without the payload.
  const big = { length: 2 ** 32 - 1 } as Uint8Array;
  const header: Uint8Array[] = [];
  await writeFrame({
    write(p: Uint8Array) {
      header.push(p.slice());
      throw new Error("stop");
    },
  }, big).catch(() => {});
  assert.deepEqual([...header[0]], [0xff, 0xff, 0xff, 0xff]);
});
