// --framing line and u32: serve(), request() and load() over real sockets,
// the exact bytes each side puts on the wire, bad peers (a line or frame past
// the limit, end of stream inside a frame), the programs end to end, and a
// real Redis (redis-server from Debian's packages; skipped where it is not
// installed) answering PING to the client's health check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  IncompleteReadError,
  LimitExceededError,
  load,
  recvAll,
  request,
  sendAll,
  serve,
  type ServerEvent,
  UnexpectedReplyError,
} from "../mod.ts";
import { formatEvent } from "../server.ts";
import {
  decode,
  dial,
  encode,
  endProgramsAfterEach,
  Program,
  PYTHON,
  readToEnd,
  recordingServers,
  runCommand,
  runProgram,
  startServer,
  testServer,
  until,
} from "./helpers.ts";

endProgramsAfterEach();

const recorded = recordingServers();

/** Sends `pieces` one write each, a tick apart, then reads to the end. */
async function exchangeInPieces(port: number, pieces: Uint8Array[]): Promise<Uint8Array> {
  const conn = await dial(port);
  try {
    for (const piece of pieces) {
      await sendAll(conn, piece);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await conn.closeWrite();
    return await readToEnd(conn);
  } finally {
    conn.close();
  }
}

const u32 = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
};
const failures = (events: ServerEvent[]) =>
  events.flatMap((e) => e.type === "failed" ? [formatEvent(e, "human")] : []);

test("serve({ framing: 'line' }) reads a line sent in pieces and replies with a line", async () => {
  const { server, events, port } = await recorded({ framing: "line" });
  const reply = await exchangeInPieces(port, ["Hi th", "ere, ser", "ver\r", "\n"].map(encode));
  assert.equal(decode(reply), "Farewell, client\n");
  await until(() => server.stats.served === 1, "the exchange to be counted");
  const message = events.find((e) => e.type === "message");
  assert.equal(message?.type === "message" && decode(message.message), "Hi there, server\r\n");
});

test("serve({ framing: 'u32' }) reads a frame whose prefix is split, and replies with a frame", async () => {
  const { server, port } = await recorded({ framing: "u32", reply: "bye" });
  const wire = concat(u32(16), encode("Hi there, server"));
  const reply = await exchangeInPieces(port, [
    wire.subarray(0, 1),
    wire.subarray(1, 3),
    wire.subarray(3),
  ]);
  assert.deepEqual(reply, concat(u32(3), encode("bye")));
  // A frame of 0 octets is a message too.
  assert.deepEqual(await exchangeInPieces(port, [u32(0)]), concat(u32(3), encode("bye")));
  await until(() => server.stats.served === 2, "both exchanges to be counted");
});

test("serve() closes a peer whose frame or line is past maxMessage, logs one line, and serves on", async () => {
  const { server, events, port } = await recorded({ framing: "u32" });
  // The declared length is refused before a byte of the body is read.
  assert.deepEqual(await exchangeInPieces(port, [u32(0xffff_ffff)]), new Uint8Array());
  await until(() => server.stats.failed === 1, "the frame to be refused");
  const [line] = failures(events);
  assert.match(
    line,
    /^127\.0\.0\.1:\d+: sent a 4294967295-octet frame, more than --max-message 65536; closed$/,
  );
  const failed = events.find((e) => e.type === "failed");
  assert(failed?.type === "failed" && failed.error instanceof LimitExceededError);

  const lines = await recorded({ framing: "line", maxMessage: 8 });
  assert.deepEqual(
    await exchangeInPieces(lines.port, [encode("0123456789abcdef\n")]),
    new Uint8Array(),
  );
  await until(() => lines.server.stats.failed === 1, "the line to be refused");
  assert.match(
    failures(lines.events)[0],
    /^127\.0\.0\.1:\d+: sent more than --max-message 8 octets without a newline; closed$/,
  );
  assert.equal(
    decode(await exchangeInPieces(lines.port, [encode("short\n")])),
    "Farewell, client\n",
  );
});

test("serve() tells a stream that ends inside a frame or a line as the tutorial does", async () => {
  const frames = await recorded({ framing: "u32" });
  await exchangeInPieces(frames.port, [concat(u32(10), encode("abc"))]);
  await until(() => frames.server.stats.failed === 1, "the short frame to be counted");
  assert.match(
    failures(frames.events)[0],
    /^127\.0\.0\.1:\d+: socket closed 3 bytes into a 10-byte message; closed$/,
  );
  const lines = await recorded({ framing: "line" });
  await exchangeInPieces(lines.port, [encode("no newline")]);
  await until(() => lines.server.stats.failed === 1, "the short line to be counted");
  assert.match(
    failures(lines.events)[0],
    /^127\.0\.0\.1:\d+: socket closed 10 bytes into a line, before its newline; closed$/,
  );
});

test("request() and load() frame the message and read a framed reply, on the wire byte for byte", async () => {
  const seen: Uint8Array[] = [];
  const peer = await testServer(async (conn) => {
    const head = await recvAll(conn, 4);
    const n = new DataView(head.buffer).getUint32(0);
    seen.push(concat(head, await recvAll(conn, n)));
    await sendAll(conn, concat(u32(2), encode("ok")));
  });
  try {
    const { reply } = await request({ port: peer.port, framing: "u32", message: "hello" });
    assert.equal(decode(reply), "ok");
    assert.deepEqual(seen[0], concat(u32(5), encode("hello")));
    await assert.rejects(
      request({ port: peer.port, framing: "u32", reply: "no" }),
      (err) => err instanceof UnexpectedReplyError && decode(err.reply) === "ok",
    );
    const summary = await load({
      port: peer.port,
      framing: "u32",
      reply: "ok",
      count: 30,
      concurrency: 3,
    });
    assert.equal(summary.succeeded, 30);
  } finally {
    await peer.close();
  }
});

test("request({ framing: 'line' }) compares the reply with its newline, and refuses one past maxMessage", async () => {
  const { port } = await recorded({ framing: "line", reply: "+PONG\r\n" });
  const { reply } = await request({
    port,
    framing: "line",
    message: "PING\r\n",
    reply: "+PONG\r\n",
  });
  assert.equal(decode(reply), "+PONG\r\n");
  await assert.rejects(request({ port, framing: "line", maxMessage: 4 }), (err) => {
    assert(err instanceof LimitExceededError);
    assert.equal(err.limit, 4);
    return true;
  });
  // A server that closes before the newline: a short reply.
  const cut = await testServer(async (conn) => {
    await recvAll(conn, 17);
    await sendAll(conn, encode("Farewell"));
  });
  try {
    await assert.rejects(
      request({ port: cut.port, framing: "line" }),
      (err) => err instanceof IncompleteReadError && decode(err.partial) === "Farewell",
    );
  } finally {
    await cut.close();
  }
});

test("the programs with --framing line and u32: one exchange, load mode, and the usage errors", async () => {
  for (const framing of ["line", "u32"]) {
    const { server, port } = await startServer(["--framing", framing]);
    try {
      const one = await runProgram("client", ["-p", String(port), "--framing", framing]);
      assert.equal(one.code, 0, one.stderr.join("\n"));
      assert.equal(
        one.stdout.at(-1),
        `The server said 'Farewell, client${framing === "line" ? "\\n" : ""}'`,
      );
      const many = await runProgram("client", [
        "-p",
        String(port),
        "--framing",
        framing,
        "-n",
        "50",
        "-c",
        "4",
        "--json",
      ]);
      assert.equal(many.code, 0, many.stderr.join("\n"));
      assert.equal(JSON.parse(many.stdout[0]).succeeded, 50);
      await server.waitForLine(/^The incoming /);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  }
  const usage = async (program: "server" | "client", args: string[], line: string) => {
    const ran = await runProgram(program, args);
    assert.equal(ran.code, 2);
    assert.equal(ran.stderr[0], `${program}: ${line}`);
  };
  await usage("client", ["--framing", "json"], "--framing takes fixed, line, u32, got 'json'");
  await usage(
    "client",
    ["--framing", "line", "--reply-length", "3"],
    "--reply-length is for --framing fixed: a line or a frame tells its own length",
  );
  await usage("server", ["--max-message", "10"], "--max-message is for --framing line or u32");
  await usage(
    "server",
    ["--framing", "u32", "--message-length", "3"],
    "--message-length is for --framing fixed: a line or a frame tells its own length",
  );
  await usage(
    "client",
    ["--framing", "line", "--message", "a\\nb"],
    "--message holds a newline before its end: with --framing line it is one line",
  );
});

test("the client checks a line service: a reply past --max-message is one line, exit 1", async () => {
  const { server, port } = await startServer(["--framing", "line", "--reply", "0123456789"]);
  try {
    const long = await runProgram("client", [
      "-p",
      String(port),
      "--framing",
      "line",
      "--max-message",
      "4",
    ]);
    assert.equal(long.code, 1);
    assert.deepEqual(long.stderr, [
      `client: reading from 127.0.0.1:${port} failed: it sent more than 4 octets without a newline, more than --max-message 4 — raise --max-message if such replies are right`,
    ]);
  } finally {
    await server.stop();
  }
});

test("the programs' --framing line and u32 interoperate with Python asyncio peers, both ways", async () => {
  const fixture = new URL("fixtures/framed_tutorial.py", import.meta.url).pathname;
  for (const framing of ["line", "u32"]) {
    // Python's asyncio server, our client.
    const py = new Program([PYTHON, "-u", fixture], ["server", framing]);
    try {
      const [, port] = await py.waitForLine(/^port (\d+)$/);
      const ours = await runProgram("client", ["-p", port, "--framing", framing]);
      assert.equal(ours.code, 0, ours.stderr.join("\n"));
      assert.equal(
        ours.stdout.at(-1),
        `The server said 'Farewell, client${framing === "line" ? "\\n" : ""}'`,
      );
      await py.waitForLine(/^got /);
      assert.equal(
        py.stdout.find((l) => l.startsWith("got ")),
        `got b'Hi there, server${framing === "line" ? "\\n" : ""}'`,
      );
    } finally {
      await py.stop();
    }
    // Our server, Python's asyncio client.
    const { server, port } = await startServer(["--framing", framing]);
    try {
      const client = await runCommand([PYTHON, "-u", fixture], ["client", framing, String(port)]);
      assert.equal(client.code, 0, client.stderr.join("\n"));
      assert.deepEqual(client.stdout, [
        `reply b'Farewell, client${framing === "line" ? "\\n" : ""}'`,
      ]);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  }
});

const REDIS = spawnSync("redis-server", ["--version"]).status === 0;

test("client --framing line health-checks a real Redis: PING, PONG, load mode, a wrong reply", {
  skip: !REDIS && "redis-server is not installed (apt-get install redis-server)",
}, async () => {
  // Port 0 is Redis's "no TCP": ask the kernel for a free port first.
  const probe = await serve({ port: 0 });
  const port = probe.addr.port;
  await probe.shutdown(0);
  const redis = new Program(["redis-server"], [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
  ]);
  try {
    await redis.waitForLine(/Ready to accept connections/);
    const ping = ["--framing", "line", "--message", "PING\\r\\n", "--reply", "+PONG\\r\\n"];
    const one = await runProgram("client", [`127.0.0.1:${port}`, ...ping]);
    assert.equal(one.code, 0, one.stderr.join("\n"));
    assert.equal(one.stdout.at(-1), "The server said '+PONG\\r\\n'");
    const many = await runProgram("client", [
      `127.0.0.1:${port}`,
      ...ping,
      "-n",
      "200",
      "-c",
      "4",
      "--json",
    ]);
    assert.equal(many.code, 0, many.stderr.join("\n"));
    assert.equal(JSON.parse(many.stdout[0]).succeeded, 200);
    const wrong = await runProgram("client", [
      `127.0.0.1:${port}`,
      "--framing",
      "line",
      "--message",
      "PING\\r\\n",
      "--reply",
      "+PANG\\r\\n",
    ]);
    assert.equal(wrong.code, 1);
    assert.deepEqual(wrong.stderr, [
      "client: unexpected reply '+PONG\\r\\n' (expected '+PANG\\r\\n')",
    ]);
  } finally {
    await redis.stop("SIGTERM");
  }
});
