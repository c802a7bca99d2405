// FrameReader and writeFrame against foreign peers: Python's asyncio
// (readline, readuntil, readexactly, struct length prefixes) as server and
// as client, each side writing every message in small pieces; and the
// book's blocks.py (tests/fixtures/blocks.py) both ways.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type Conn,
  FrameReader,
  type LengthPrefix,
  listen,
  type Listener,
  sendAll,
  writeFrame,
} from "../mod.ts";
import { decode, dial, encode, endProgramsAfterEach, Program, PYTHON } from "./helpers.ts";

endProgramsAfterEach();

const fixture = (name: string) => new URL(`fixtures/${name}`, import.meta.url).pathname;

/** framing_peer.py's script: how each message is read, and its bytes. */
const SCRIPT: [string, Uint8Array][] = [
  ["readline", encode("HELLO asyncio\n")],
  ["readline", encode("crlf line\r\n")],
  ["readuntil \\r\\n\\r\\n", encode("a: 1\r\nb: 2\r\n\r\n")],
  ["readexactly 5", encode("exact")],
  ["frame !I", encode("four-byte prefix")],
  ["frame !H", encode("two")],
  ["frame !B", new Uint8Array(0)],
  ["frame !I", new Uint8Array(70000).map((_, i) => i % 251)],
  ["readline", encode("tail")], // Unterminated: the stream ends after it.
  ["readline", new Uint8Array(0)], // The end of the stream.
];
const PREFIX: Record<string, LengthPrefix> = { "!I": 4, "!H": 2, "!B": 1 };
const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const EXPECTED = SCRIPT.map(([how, data]) => [how, hex(data)]);

/** Writes the script (frames with writeFrame, the rest with sendAll),
 * then ends the stream. */
async function writeScript(conn: Conn): Promise<void> {
  for (const [how, data] of SCRIPT) {
    if (how.startsWith("frame ")) await writeFrame(conn, data, { prefix: PREFIX[how.slice(6)] });
    else await sendAll(conn, data);
  }
  await conn.closeWrite();
}

/** Reads the script back from `conn` with the FrameReader method for each
 * message. */
async function readScript(conn: Conn): Promise<string[][]> {
  const reader = new FrameReader(conn, { limit: 1 << 20 });
  const got: string[][] = [];
  for (const [how] of SCRIPT) {
    let data: Uint8Array | null;
    if (how === "readline") data = await reader.readLine() ?? new Uint8Array(0);
    else if (how.startsWith("readuntil")) data = await reader.readUntil("\r\n\r\n");
    else if (how.startsWith("readexactly")) data = await reader.readExactly(Number(how.slice(12)));
    else data = await reader.readFrame({ prefix: PREFIX[how.slice(6)] });
    got.push([how, hex(data!)]);
  }
  return got;
}

/** What the peer read, once it has exited 0; checks that it wrote the
 * script in pieces (2 ms apart: most reach the reader alone). */
async function peerRead(peer: Program): Promise<unknown> {
  const code = await peer.exited;
  assert.equal(code, 0, `the peer exited ${code}: ${peer.stderr.join("\n")}`);
  const line = peer.stdout.find((l) => l.startsWith("{"));
  assert(line, `no result from the peer; stdout: ${peer.stdout.join("\n")}`);
  const { read, pieces } = JSON.parse(line);
  assert(pieces > 2 * SCRIPT.length, `the peer wrote the script in ${pieces} pieces`);
  return read;
}

/** The listener's next connection, or an error if `peer` exits first. */
async function acceptFrom(listener: Listener, peer: Program): Promise<Conn> {
  const gone = peer.exited.then((code) => {
    throw new Error(`the peer exited ${code} before connecting: ${peer.stderr.join("\n")}`);
  });
  return await Promise.race([listener.accept(), gone]);
}

test("FrameReader reads an asyncio server's messages sent in pieces, and asyncio reads writeFrame's", async () => {
  const peer = new Program([PYTHON, "-u", fixture("framing_peer.py")], ["server"]);
  try {
    const [, port] = await peer.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/);
    const conn = await dial(Number(port));
    try {
      await writeScript(conn);
      assert.deepEqual(await readScript(conn), EXPECTED);
    } finally {
      conn.close();
    }
    assert.deepEqual(await peerRead(peer), EXPECTED, "what asyncio read");
  } finally {
    await peer.stop("SIGKILL");
  }
});

test("FrameReader reads an asyncio client's messages sent in pieces, and asyncio reads writeFrame's", async () => {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const peer = new Program([PYTHON, "-u", fixture("framing_peer.py")], [
    "client",
    String(listener.addr.port),
  ]);
  try {
    const conn = await acceptFrom(listener, peer);
    try {
      assert.deepEqual(await readScript(conn), EXPECTED);
      await writeScript(conn);
    } finally {
      conn.close();
    }
    assert.deepEqual(await peerRead(peer), EXPECTED, "what asyncio read");
  } finally {
    listener.close();
    await peer.stop("SIGKILL");
  }
});

const ZEN = [
  "Beautiful is better than ugly.",
  "Explicit is better than implicit.",
  "Simple is better than complex.",
];

test("readFrame() receives the book's blocks from blocks.py's client, up to its empty block", async () => {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const peer = new Program([PYTHON, "-u", fixture("blocks.py")], [
    "-c",
    "-p",
    String(listener.addr.port),
  ]);
  try {
    const conn = await acceptFrom(listener, peer);
    try {
      const reader = new FrameReader(conn);
      const blocks: string[] = [];
      for (let block; (block = await reader.readFrame()) !== null && block.length > 0;) {
        blocks.push(decode(block));
      }
      assert.deepEqual(blocks, ZEN);
      assert.equal(await reader.readFrame(), null); // Nothing after the empty block.
    } finally {
      conn.close();
    }
    assert.equal(await peer.exited, 0, peer.stderr.join("\n"));
  } finally {
    listener.close();
    await peer.stop("SIGKILL");
  }
});

test("writeFrame() sends blocks that blocks.py's server prints, and its empty block ends them", async () => {
  const peer = new Program([PYTHON, "-u", fixture("blocks.py")], ["-p", "0"]);
  try {
    const [, port] = await peer.waitForLine(/^Listening at \('127\.0\.0\.1', (\d+)\)$/);
    const conn = await dial(Number(port));
    try {
      for (const text of ZEN) await writeFrame(conn, encode(text));
      await writeFrame(conn, new Uint8Array(0));
    } finally {
      conn.close();
    }
    assert.equal(await peer.exited, 0, peer.stderr.join("\n"));
    assert.deepEqual(
      peer.stdout.filter((line) => line.startsWith("Block says:")),
      ZEN.map((text) => `Block says: b'${text}'`),
    );
  } finally {
    await peer.stop("SIGKILL");
  }
});
