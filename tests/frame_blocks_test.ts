// examples/blocks.ts, the book's blocks on tcp-sixteen, as a program:
// against the book's blocks.py (tests/fixtures/blocks.py) in both
// directions, the exact bytes it sends, what a peer sees of its server, and
// its exit statuses. Deno only: the example is a Deno script, not part of
// the npm package (the library it uses is tested against blocks.py on every
// runtime in frame_interop_test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { listen, sendAll, writeFrame } from "../mod.ts";
import {
  closedPort,
  dial,
  encode,
  endProgramsAfterEach,
  onDeno,
  Program,
  PYTHON,
  readToEnd,
  runCommand,
} from "./helpers.ts";

endProgramsAfterEach();

const skip = !onDeno && "the example is a Deno script, not in the npm package";
const EXAMPLE = [
  process.execPath,
  "run",
  "--allow-net",
  new URL("../examples/blocks.ts", import.meta.url).pathname,
];
const BOOK = [PYTHON, "-u", new URL("fixtures/blocks.py", import.meta.url).pathname];
const ZEN = [
  "Beautiful is better than ugly.",
  "Explicit is better than implicit.",
  "Simple is better than complex.",
];

test(
  "examples/blocks.ts server prints the blocks of the book's client, and exits 0",
  { skip },
  async () => {
    const server = new Program(EXAMPLE, ["server", "-p", "0"]);
    try {
      const [, port] = await server.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/);
      const client = await runCommand(BOOK, ["-c", "-p", port]);
      assert.equal(client.code, 0, client.stderr.join("\n"));
      assert.equal(await server.exited, 0, server.stderr.join("\n"));
      assert.match(server.stdout[1], /^Accepted connection from 127\.0\.0\.1:\d+$/);
      assert.deepEqual(
        server.stdout.slice(2).filter(Boolean),
        ZEN.map((t) => `Block says: "${t}"`),
      );
      assert.deepEqual(server.stderr.filter(Boolean), []);
    } finally {
      await server.stop("SIGKILL");
    }
  },
);

test(
  "examples/blocks.ts client sends blocks the book's server prints, and exits 0",
  { skip },
  async () => {
    const server = new Program(BOOK, ["-p", "0"]);
    try {
      const [, port] = await server.waitForLine(/^Listening at \('127\.0\.0\.1', (\d+)\)$/);
      const client = await runCommand(EXAMPLE, ["client", "-p", port]);
      assert.equal(client.code, 0, client.stderr.join("\n"));
      assert.equal(await server.exited, 0, server.stderr.join("\n"));
      assert.deepEqual(
        server.stdout.filter((line) => line.startsWith("Block says:")),
        ZEN.map((text) => `Block says: b'${text}'`),
      );
    } finally {
      await server.stop("SIGKILL");
    }
  },
);

test(
  "examples/blocks.ts client's bytes on the wire are the book's: !I lengths, then an empty block",
  { skip },
  async () => {
    const listener = await listen({ hostname: "127.0.0.1", port: 0 });
    const client = new Program(EXAMPLE, ["client", "-p", String(listener.addr.port)]);
    try {
      const conn = await listener.accept();
      const got = await readToEnd(conn, 4096);
      conn.close();
      const expected: number[] = [];
      for (const text of ZEN) expected.push(0, 0, 0, text.length, ...encode(text));
      expected.push(0, 0, 0, 0);
      assert.deepEqual([...got], expected);
      assert.equal(await client.exited, 0);
    } finally {
      listener.close();
      await client.stop("SIGKILL");
    }
  },
);

test(
  "examples/blocks.ts server: a peer reads the end at once, and one that leaves early gets exit 1",
  { skip },
  async () => {
    const server = new Program(EXAMPLE, ["server", "-p", "0"]);
    try {
      const [, port] = await server.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/);
      const conn = await dial(Number(port));
      // The server only listens: its side is shut at once (the book's SHUT_WR).
      assert.deepEqual(await readToEnd(conn), new Uint8Array(0));
      await writeFrame(conn, encode("only one"));
      await sendAll(conn, new Uint8Array([0, 0])); // Half a prefix, then gone.
      conn.close();
      assert.equal(await server.exited, 1);
      assert.deepEqual(server.stdout.at(-1), 'Block says: "only one"');
      assert.deepEqual(server.stderr.filter(Boolean), [
        "blocks: socket closed 2 bytes into a 4-byte message",
      ]);
    } finally {
      await server.stop("SIGKILL");
    }
  },
);

test("examples/blocks.ts: a usage error exits 2, a refused connection 1, each with one line", {
  skip,
}, async () => {
  const usage = await runCommand(EXAMPLE, ["serve"]);
  assert.equal(usage.code, 2);
  assert.deepEqual(usage.stderr.filter(Boolean), [
    "blocks: the first argument is server or client, got 'serve'",
    "usage: blocks.ts server|client [HOST] [-p PORT]",
  ]);
  const port = await runCommand(EXAMPLE, ["client", "-p", "65536"]);
  assert.equal(port.code, 2);
  assert.equal(port.stderr[0], "blocks: -p takes a port from 0 to 65535, got '65536'");
  const refused = await runCommand(EXAMPLE, ["client", "-p", String(await closedPort())]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr.filter(Boolean).join("\n"), /^blocks: .*refused/);
});
