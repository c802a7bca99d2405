// FrameReader over real sockets on loopback, each kind of source recvAll
// takes: the library's Conn (Deno.Conn on Deno), a Node net.Socket (on Node,
// Bun, and Deno's node:net), and on Deno a connection's byte stream.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Conn, FrameReader, IncompleteReadError, listen, writeFrame } from "../mod.ts";
import { decode, dial, encode, onDeno, sendSlowly, sleep } from "./helpers.ts";
import { socketPair } from "./sources.ts";

const EVENTS = ["readable", "data", "end", "close", "error"];

/** The bytes of a line, a frame split in its prefix, and an unterminated
 * line: what each source is read for. */
function wire(): Uint8Array {
  return new Uint8Array([
    ...encode("first line\r\nsecond"),
    ...encode(" line\n"),
    0,
    0,
    0,
    5,
    ...encode("frame"),
    ...encode("last"),
  ]);
}

/** Reads wire()'s messages; resolves to what it read. */
async function readWire(reader: FrameReader): Promise<(string | null)[]> {
  const text = (b: Uint8Array | null) => b && decode(b);
  return [
    text(await reader.readLine()),
    text(await reader.readUntil("\n")),
    text(await reader.readFrame()),
    text(await reader.readLine()),
    text(await reader.readLine()),
  ];
}
const WIRE_READ = ["first line\r\n", "second line\n", "frame", "last", null];

/** A connected pair of the library's Conns on 127.0.0.1. */
async function connPair(): Promise<{ client: Conn; server: Conn; close(): void }> {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([dial(listener.addr.port), listener.accept()]);
  listener.close();
  return {
    client,
    server,
    close() {
      for (const conn of [client, server]) {
        try {
          conn.close();
        } catch {
          // Closed already (a byte stream closes its connection at its end).
        }
      }
    },
  };
}

test("FrameReader over a Conn reads messages sent a byte at a time, then the end", async () => {
  const { client, server, close } = await connPair();
  try {
    const reading = readWire(new FrameReader(client));
    await sendSlowly(server, wire(), 1, 1);
    await server.closeWrite();
    assert.deepEqual(await reading, WIRE_READ);
  } finally {
    close();
  }
});

test("FrameReader over a Conn: an abort mid-line loses nothing, and the end comes after the lines before it", async () => {
  const { client, server, close } = await connPair();
  try {
    const reader = new FrameReader(client);
    const controller = new AbortController();
    const pending = reader.readLine({ signal: controller.signal });
    await sendSlowly(server, encode("Hi th"), 5, 0);
    await sleep(50);
    controller.abort(new Error("deadline"));
    await assert.rejects(pending, { message: "deadline" });
    await sendSlowly(server, encode("ere\nand more"), 12, 0);
    assert.equal(decode((await reader.readLine())!), "Hi there\n");
    assert.equal(decode(await reader.readExactly(3)), "and");
    await server.closeWrite();
    await assert.rejects(reader.readUntil("\n"), (err) => {
      assert(err instanceof IncompleteReadError);
      assert.equal(decode(err.partial), " more");
      return true;
    });
    assert.equal(await reader.readLine(), null);
  } finally {
    close();
  }
});

test("FrameReader over a net.Socket reads messages sent in pieces, and leaves no listener behind", async () => {
  const { client, peer, close } = await socketPair();
  try {
    const before = Object.fromEntries(EVENTS.map((e) => [e, client.listenerCount(e)]));
    const reading = readWire(new FrameReader(client));
    const bytes = wire();
    for (let at = 0; at < bytes.length; at += 3) {
      peer.write(bytes.subarray(at, at + 3));
      await sleep(2);
    }
    peer.end();
    assert.deepEqual(await reading, WIRE_READ);
    assert.deepEqual(Object.fromEntries(EVENTS.map((e) => [e, client.listenerCount(e)])), before);
  } finally {
    close();
  }
});

test("FrameReader over a net.Socket: an abort loses nothing, and ECONNRESET comes after the lines before it", async () => {
  const { client, peer, close } = await socketPair();
  try {
    const reader = new FrameReader(client);
    const controller = new AbortController();
    const pending = reader.readFrame({ prefix: 2, signal: controller.signal });
    peer.write(new Uint8Array([0])); // Half the prefix.
    await sleep(50);
    controller.abort(new Error("deadline"));
    await assert.rejects(pending, { message: "deadline" });
    peer.write(new Uint8Array([3, ...encode("abcline\npart")]));
    assert.equal(decode((await reader.readFrame({ prefix: 2 }))!), "abc");
    await sleep(50);
    peer.resetAndDestroy();
    assert.equal(decode((await reader.readLine())!), "line\n");
    await assert.rejects(reader.readLine(), { code: "ECONNRESET" });
    assert.equal(reader.buffered, 4); // "part" is still there.
  } finally {
    close();
  }
});

test("writeFrame() to a net.Socket: a FrameReader on the other end reads it", async () => {
  const { client, peer, close } = await socketPair();
  try {
    const reader = new FrameReader(peer, { limit: 1 << 20 });
    const big = new Uint8Array(100_000).map((_, i) => i % 251);
    await writeFrame(client, encode("small"), { prefix: 1 });
    await writeFrame(client, big);
    client.end();
    assert.equal(decode((await reader.readFrame({ prefix: 1 }))!), "small");
    assert.deepEqual(await reader.readFrame(), big);
    assert.equal(await reader.readFrame(), null);
  } finally {
    close();
  }
});

test("FrameReader over a Deno connection's byte stream (conn.readable)", {
  skip: !onDeno && "Deno only: the library's Conn has no readable on Node and Bun",
}, async () => {
  const { client, server, close } = await connPair();
  try {
    const readable = (client as unknown as { readable: ReadableStream<Uint8Array> }).readable;
    const reading = readWire(new FrameReader(readable));
    await sendSlowly(server, wire(), 4, 1);
    await server.closeWrite();
    assert.deepEqual(await reading, WIRE_READ);
  } finally {
    close();
  }
});
