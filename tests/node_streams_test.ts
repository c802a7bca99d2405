// recvAll and sendAll over Node streams: real node:net sockets on loopback
// (on Node, Bun, and Deno's node:net), and in-memory streams where a case
// needs exact control (object mode, a slow writer, a write after end).
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { PassThrough, Readable, Writable } from "node:stream";
import { IncompleteReadError, recvAll, sendAll } from "../mod.ts";
import { decode, encode, sleep, until, within } from "./helpers.ts";
import { socketPair } from "./sources.ts";

const EVENTS = ["readable", "data", "end", "close", "error", "drain"];

/** `size` bytes where byte i is i % 251 (a prime: no chunk size lines up with
 * it), made by doubling copies. */
function pattern(size: number): Uint8Array {
  const data = new Uint8Array(size);
  let filled = Math.min(251, size);
  for (let i = 0; i < filled; i++) data[i] = i;
  for (; filled < size; filled *= 2) data.copyWithin(filled, 0, Math.min(filled, size - filled));
  return data;
}

/** How many listeners each event has: to check that none is left behind. */
function listeners(emitter: { listenerCount(event: string): number }): Record<string, number> {
  return Object.fromEntries(EVENTS.map((event) => [event, emitter.listenerCount(event)]));
}

test("recvAll() reads a message from a net.Socket that arrives in pieces", async () => {
  const { client, peer, close } = await socketPair();
  try {
    const before = listeners(client);
    const reading = recvAll(client, 16);
    for (const piece of ["Hi ", "there, ", "server"]) {
      peer.write(piece);
      await sleep(20);
    }
    assert.equal(decode(await reading), "Hi there, server");
    assert.deepEqual(listeners(client), before);
  } finally {
    close();
  }
});

test("recvAll() leaves the bytes beyond length in the net.Socket for its next reader", async () => {
  const { client, peer, close } = await socketPair();
  try {
    peer.write("Hi there, serverAND MORE");
    assert.equal(decode(await recvAll(client, 16)), "Hi there, server");
    assert.equal(decode(await recvAll(client, 3)), "AND");
    // A reader of another kind gets the rest, with nothing lost.
    const rest: Uint8Array[] = [];
    client.on("data", (chunk: Uint8Array) => rest.push(chunk));
    peer.end();
    await once(client, "end");
    assert.equal(rest.map(decode).join(""), " MORE");
  } finally {
    close();
  }
});

test("recvAll() takes a message already buffered without adding a listener", async () => {
  const { client, peer, close } = await socketPair();
  try {
    peer.write("Farewell, client");
    // Node reads them into the socket's buffer, with no reader.
    await until(
      () => client.readableLength === 16,
      () => `${client.readableLength} bytes buffered`,
    );
    const added: string[] = [];
    client.on("newListener", (event: string) => added.push(event));
    assert.equal(decode(await recvAll(client, 16)), "Farewell, client");
    assert.deepEqual(added, []);
  } finally {
    close();
  }
});

test("recvAll() reads a large message from a net.Socket, every byte in place", async () => {
  const { client, peer, close } = await socketPair();
  try {
    const size = 8 << 20;
    const data = pattern(size);
    peer.write(data);
    const buffer = new Uint8Array(size);
    const got = await recvAll(client, size, { buffer });
    assert.equal(got.buffer, buffer.buffer);
    for (let i = 0; i < size; i += 4093) assert.equal(got[i], i % 251, `byte ${i}`);
    assert.equal(got[size - 1], (size - 1) % 251);
  } finally {
    close();
  }
});

test("recvAll() throws IncompleteReadError with the partial bytes when a net.Socket ends", async () => {
  const { client, peer, close } = await socketPair();
  try {
    const before = listeners(client);
    const reading = recvAll(client, 16);
    peer.end("Hi th");
    await assert.rejects(reading, (err) => {
      assert(err instanceof IncompleteReadError, String(err));
      assert.equal(decode(err.partial), "Hi th");
      assert.equal(err.message, "socket closed 5 bytes into a 16-byte message");
      return true;
    });
    assert.deepEqual(listeners(client), before);
    // Called again at the end of the stream: at once, with no bytes.
    await assert.rejects(recvAll(client, 16), (err) => {
      assert(err instanceof IncompleteReadError, String(err));
      assert.equal(err.partial.length, 0);
      return true;
    });
  } finally {
    close();
  }
});

test("recvAll() rejects with ECONNRESET when the peer resets a net.Socket", async () => {
  const { client, peer, close } = await socketPair();
  try {
    const before = listeners(client);
    const reading = recvAll(client, 16);
    peer.write("Hi th");
    // Read before the reset comes: with it, Node's libuv would read the
    // hang-up as end of stream (libuv/libuv#2319).
    await until(() => client.bytesRead === 5, () => `${client.bytesRead} bytes read`);
    peer.resetAndDestroy();
    await assert.rejects(reading, { code: "ECONNRESET" });
    assert.deepEqual(listeners(client), before);
  } finally {
    close();
  }
});

test("recvAll() rejects with the stream's error, after taking the bytes buffered before it", async () => {
  const broken = new PassThrough();
  broken.write("Hi there, ");
  const reading = recvAll(broken, 16);
  await sleep(10);
  broken.destroy(Object.assign(new Error("broken"), { code: "EBROKEN" }));
  await assert.rejects(reading, { code: "EBROKEN" });

  const whole = new PassThrough();
  whole.on("error", () => {});
  whole.write("Hi there, server");
  whole.destroy(new Error("after the message"));
  assert.equal(decode(await recvAll(whole, 16)), "Hi there, server");
});

test("recvAll() on a net.Socket rejects with the signal's reason, and puts back what it read", async () => {
  const { client, peer, close } = await socketPair();
  try {
    const before = listeners(client);
    const controller = new AbortController();
    const reading = recvAll(client, 16, { signal: controller.signal });
    peer.write("Hi th");
    await until(() => client.bytesRead === 5, () => `${client.bytesRead} bytes read`);
    controller.abort(new Error("deadline"));
    await assert.rejects(reading, { message: "deadline" });
    assert.deepEqual(listeners(client), before);
    peer.write("ere, server");
    assert.equal(decode(await recvAll(client, 16)), "Hi there, server");
  } finally {
    close();
  }
});

test("recvAll() rejects a Node Readable that gives no bytes or already has a reader", async () => {
  const objects = new Readable({ objectMode: true, read() {} });
  await assert.rejects(recvAll(objects, 16), {
    name: "TypeError",
    message: "recvAll: the Readable is in object mode; it must give bytes",
  });
  const text = new PassThrough().setEncoding("utf8");
  await assert.rejects(recvAll(text, 16), {
    name: "TypeError",
    message: /^recvAll: the Readable decodes to strings \(setEncoding\('utf8'\)\)/,
  });
  const flowing = new PassThrough();
  flowing.on("data", () => {});
  await assert.rejects(recvAll(flowing, 16), {
    name: "TypeError",
    message: /^recvAll: the Readable already has a reader \('data' or 'readable' listeners/,
  });
});

test("recvAll() and sendAll() reject what they cannot use with a TypeError saying what they take", async () => {
  const readers = /^recvAll reads from a Reader .* or a Node Readable such as a net\.Socket; got /;
  for (
    const [source, got] of [
      [null, "null"],
      ["Hi there, server", "a string"],
      [{}, "an object without read()"],
      [new WritableStream(), "a WritableStream"],
      [new Writable(), "a Writable"],
      [new ReadableStream().getReader(), "a ReadableStreamDefaultReader"],
    ] as const
  ) {
    // deno-lint-ignore no-explicit-any
    await assert.rejects(recvAll(source as any, 16), (err) => {
      assert(err instanceof TypeError, String(err));
      assert.match(err.message, readers);
      assert(err.message.endsWith(`; got ${got}`), err.message);
      return true;
    });
  }
  const writers = /^sendAll writes to a Writer .* or a Node Writable such as a net\.Socket; got /;
  for (
    const [sink, got] of [
      [undefined, "a undefined"],
      [{}, "an object without write()"],
      [new WritableStream(), "a WritableStream"],
      [new Readable({ read() {} }), "a Readable"],
    ] as const
  ) {
    // deno-lint-ignore no-explicit-any
    await assert.rejects(sendAll(sink as any, encode("x")), (err) => {
      assert(err instanceof TypeError, String(err));
      assert.match(err.message, writers);
      assert(err.message.endsWith(`; got ${got}`), err.message);
      return true;
    });
  }
});

test("sendAll() to a net.Socket waits while the peer does not read, and every byte arrives", async () => {
  const { client, peer, close } = await socketPair();
  try {
    const before = listeners(client);
    const size = 32 << 20; // Far more than the kernel's buffers on loopback.
    const data = pattern(size);
    peer.pause();
    let sent = false;
    const sending = sendAll(client, data).then(() => (sent = true));
    await sleep(100);
    assert.equal(sent, false, "sendAll finished though the peer read nothing");
    const got = await recvAll(peer, size);
    await sending;
    assert.equal(client.writableLength, 0);
    assert.deepEqual(listeners(client), before);
    for (let i = 0; i < size; i += 4093) assert.equal(got[i], i % 251, `byte ${i}`);
  } finally {
    close();
  }
});

test("sendAll() waits for 'drain' when write() returns false", async () => {
  const events: string[] = [];
  const slow = new Writable({
    highWaterMark: 4,
    write(_chunk, _encoding, callback) {
      setTimeout(callback, 20);
    },
  });
  slow.on("drain", () => events.push("drain"));
  const sending = sendAll(slow, encode("Hi there, server")).then(() => events.push("sendAll"));
  // Queued behind ours: our bytes are written before it, the buffer is
  // empty (and 'drain' emitted) only after it.
  slow.write(encode("later"), () => events.push("later written"));
  await sending;
  assert.deepEqual(events, ["drain", "later written", "sendAll"]);
  assert.equal(slow.writableNeedDrain, false);
  assert.equal(slow.listenerCount("drain"), 1);
  assert.equal(slow.listenerCount("error"), 0);
});

test("sendAll() to a net.Socket the peer reset rejects with EPIPE or ECONNRESET, not an uncaught error", async () => {
  const { client, peer, close } = await socketPair();
  try {
    peer.resetAndDestroy();
    await once(client, "end").catch(() => {});
    await sleep(50);
    const before = listeners(client);
    const outcome = await within(
      (async () => {
        for (let i = 0; i < 50; i++) await sendAll(client, new Uint8Array(1 << 16));
        return "sent";
      })().catch((err) => err),
      5000,
    );
    assert(outcome instanceof Error, `sendAll ended as ${outcome}, not as an error`);
    assert.match(
      String((outcome as { code?: string }).code),
      /^(EPIPE|ECONNRESET|ERR_STREAM_\w+)$/,
    );
    await sleep(20); // An 'error' left without a listener would fail the test run here.
    assert.deepEqual(listeners(client), before);
  } finally {
    close();
  }
});

test("sendAll() after end() rejects with the stream's error, and nothing is uncaught", async () => {
  const ending = new PassThrough().resume(); // Its 'error' comes after the write's callback.
  ending.end();
  await assert.rejects(sendAll(ending, encode("late")), { code: "ERR_STREAM_WRITE_AFTER_END" });
  const closed = new PassThrough().resume(); // Destroyed and closed: no 'error' comes.
  closed.end();
  await once(closed, "close");
  await assert.rejects(sendAll(closed, encode("late")), { code: "ERR_STREAM_WRITE_AFTER_END" });
  await sleep(10); // An 'error' left without a listener would fail the test run here.
  for (const stream of [ending, closed]) assert.deepEqual(listeners(stream), listeners(stream));
  assert.equal(ending.listenerCount("error") + closed.listenerCount("error"), 0);
});

test("sendAll() to a Node Writable rejects with the signal's reason", async () => {
  const stuck = new Writable({ highWaterMark: 1, write() {} }); // Never calls back.
  const controller = new AbortController();
  const sending = sendAll(stuck, encode("Hi there, server"), { signal: controller.signal });
  controller.abort(new Error("deadline"));
  await assert.rejects(sending, { message: "deadline" });
  assert.deepEqual(listeners(stuck), { ...listeners(stuck), drain: 0, error: 0, close: 0 });
  await assert.rejects(
    sendAll(stuck, encode("x"), { signal: AbortSignal.abort(new Error("before")) }),
    { message: "before" },
  );
});

test("sendAll() and recvAll() carry the tutorial's exchange over net.Socket on both ends", async () => {
  const server = net.createServer(async (socket) => {
    try {
      const message = await recvAll(socket, 16);
      await sendAll(
        socket,
        encode(decode(message) === "Hi there, server" ? "Farewell, client" : "?"),
      );
    } finally {
      socket.end();
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  try {
    await once(client, "connect");
    await sendAll(client, encode("Hi there, server"));
    assert.equal(decode(await recvAll(client, 16)), "Farewell, client");
    await assert.rejects(recvAll(client, 1), IncompleteReadError); // Then the server's FIN.
  } finally {
    client.destroy();
    server.close();
  }
});
