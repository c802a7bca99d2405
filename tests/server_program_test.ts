// The server program end to end, as a subprocess on the runtime under test:
// what it prints, what a peer sees on the wire, signals, a low descriptor
// limit, its stdout closed or stalled, and its exit codes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Conn, listen, load, sendAll } from "../mod.ts";
import {
  decode,
  dial,
  encode,
  endProgramsAfterEach,
  exchange,
  finishHalves,
  halfSent,
  MESSAGE,
  onDeno,
  peers,
  Program,
  programCommand,
  readToEnd,
  runProgram,
  sendSlowly,
  shellQuote,
  sleep,
  startServer,
  tutorial,
  until,
  untilRefused,
} from "./helpers.ts";

endProgramsAfterEach();

/** How many connections the server has logged as accepted. */
function accepted(server: Program): number {
  return server.stdout.filter((line) => line.startsWith("We have accepted")).length;
}

test("server answers a peer that sends its message one byte at a time", async () => {
  const { server, port } = await startServer();
  try {
    const conn = await dial(port);
    await sendSlowly(conn, encode("Hi there, server"));
    assert.equal(decode(await readToEnd(conn)), "Farewell, client");
    conn.close();
  } finally {
    await server.stop();
  }
});

test("server logs a peer that leaves after 5 bytes, then serves the next client", async () => {
  const { server, port } = await startServer();
  try {
    const quitter = await dial(port);
    await sendAll(quitter, encode("Hi th"));
    quitter.close();
    const line = await server.waitForLine(/^127\.0\.0\.1:\d+: .*; closed$/);
    assert.match(line.input!, /socket closed 5 bytes into a 16-byte message; closed$/);
    assert.equal(await exchange(port), "Farewell, client");
  } finally {
    assert.equal(await server.stop(), 0);
  }
  assert.deepEqual(server.stderr, []);
  assert.match(server.stdout.at(-1)!, /^Stopped: 1 served, 1 failed, 0 timed out$/);
});

test("server shows peer bytes escaped, so a peer cannot write control characters", async () => {
  const { server, port } = await startServer();
  try {
    assert.equal(await exchange(port, encode("Hi\x1b[2J\n'\\\x00\xff!!!!")), "Farewell, client");
    const { input } = await server.waitForLine(/^The incoming sixteen-octet message says /);
    assert.equal(
      input,
      `The incoming sixteen-octet message says "Hi\\x1b[2J\\n'\\\\\\x00\\xc3\\xbf!!!!"`,
    );
  } finally {
    await server.stop();
  }
});

test("server -q prints only the Listening line for good exchanges", async () => {
  const { server, port } = await startServer(["-q"]);
  try {
    assert.equal(await exchange(port), "Farewell, client");
    assert.equal(await exchange(port), "Farewell, client");
  } finally {
    assert.equal(await server.stop(), 0);
  }
  assert.equal(server.stdout[0], `Listening at 127.0.0.1:${port}`);
  assert.match(server.stdout.at(-1)!, /^Stopped: 2 served/);
  assert(!server.stdout.some((l) => l.startsWith("We have accepted")), server.stdout.join("\n"));
});

test("server listens on IPv6 and prints [::1]:PORT", async () => {
  const server = new Program(programCommand("server"), ["::1", "-p", "0"]);
  try {
    const [, port] = await server.waitForLine(/^Listening at \[::1\]:(\d+)$/);
    const client = await runProgram("client", ["::1", "-p", port]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.match(client.stdout[0], /^Client has been assigned socket name \[::1\]:\d+$/);
  } finally {
    await server.stop();
  }
});

test("server that cannot listen exits 1 with one line", async () => {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  try {
    const run = await runProgram("server", ["-p", String(port)]);
    assert.equal(run.code, 1);
    assert.deepEqual(run.stderr, [
      `server: cannot listen on 127.0.0.1:${port}: address already in use — ` +
      "stop the other server or choose another port with -p",
    ]);
  } finally {
    listener.close();
  }
});

test("server asked to listen on an address this machine does not have exits 1 with one line", async () => {
  // A documentation address (TEST-NET-2): binding it fails at once, and
  // sends nothing.
  const run = await runProgram("server", ["198.51.100.1", "-p", "1060"]);
  assert.equal(run.code, 1);
  assert.deepEqual(run.stdout, []);
  assert.deepEqual(run.stderr, [
    "server: cannot listen on 198.51.100.1:1060: address not available — " +
    "listen on an address of this machine: 127.0.0.1, or 0.0.0.0 for every interface",
  ]);
});

test("server on SIGTERM answers every half-sent exchange, refuses newcomers, exits 0", async () => {
  const { server, port } = await startServer(["--grace", "5"]);
  const halves = await halfSent(port, 4);
  await until(() => accepted(server) === 4, "the four to be accepted");
  server.signal("SIGTERM");
  await server.waitForLine(/^SIGTERM: shutting down; 4 open connections have 5 s to finish$/);
  await untilRefused(port, 1000);
  assert.deepEqual(await finishHalves(halves), Array(4).fill("Farewell, client"));
  assert.equal(await server.exited, 0);
  assert.equal(server.stdout.at(-1), "Stopped: 4 served, 0 failed, 0 timed out");
  assert.deepEqual(server.stderr, []);
});

test("server on SIGINT closes a replied-to client still lingering once the grace runs out, exits 0", async () => {
  const { server, port } = await startServer(["--grace", "0.3"]);
  const client = await dial(port);
  await sendAll(client, MESSAGE);
  // The reply and the server's FIN; the client stays open, so the server
  // lingers (2 s by default, longer than the grace).
  assert.equal(decode(await readToEnd(client)), "Farewell, client");
  server.signal("SIGINT");
  const exited = await Promise.race([server.exited, sleep(10_000).then(() => "hung")]);
  assert.equal(exited, 0);
  assert.equal(server.stdout.at(-1), "Stopped: 1 served, 0 failed, 0 timed out");
  client.close();
});

test("server exits 130 at once on a second signal during shutdown", async () => {
  const { server, port } = await startServer(["--grace", "30"]);
  const stuck = await dial(port);
  await sendAll(stuck, MESSAGE.subarray(0, 3));
  await server.waitForLine(/^The incoming|^We have accepted/);
  server.signal("SIGINT");
  await server.waitForLine(/^SIGINT: shutting down; 1 open connection has 30 s/);
  const started = Date.now();
  server.signal("SIGINT");
  assert.equal(await server.exited, 130);
  assert(Date.now() - started < 5000, "did not wait for the grace period");
  assert.deepEqual(server.stderr, [
    "server: SIGINT again: exited at once; 1 open connection cut short",
  ]);
  stuck.close();
});

test("server --log json prints one JSON object per line with time, event, peer, bytes, error", async () => {
  const { server, port } = await (async () => {
    const server = new Program(programCommand("server"), ["-p", "0", "--log", "json"]);
    const match = await server.waitForLine(/"event":"listening"/);
    return { server, port: Number(JSON.parse(match.input!).addr.split(":")[1]) };
  })();
  const quitter = await dial(port);
  await sendAll(quitter, MESSAGE.subarray(0, 5));
  quitter.close();
  await server.waitForLine(/"event":"failed"/);
  assert.equal(await exchange(port), "Farewell, client");
  await server.waitForLine(/"event":"replied"/);
  assert.equal(await server.stop(), 0);
  const events = server.stdout.map((line) => JSON.parse(line));
  for (const e of events) assert.match(e.time, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(events.map((e) => e.event), [
    "listening",
    "accepted",
    "failed",
    "accepted",
    "message",
    "replied",
    "shutdown",
    "stopped",
  ]);
  const failed = events[2];
  assert.equal(failed.bytes, 5);
  assert.equal(failed.expected, 16);
  assert.equal(failed.error, "socket closed 5 bytes into a 16-byte message");
  assert.match(failed.peer, /^127\.0\.0\.1:\d+$/);
  assert.equal(events[4].message, "'Hi there, server'", "peer bytes as repr, lossless");
  assert.deepEqual(events.at(-1), { ...events.at(-1), served: 1, failed: 1, timedOut: 0 });
});

test("server survives EMFILE, and peers reset in the backlog, under a low fd limit", async () => {
  const quoted = shellQuote([...programCommand("server"), "-p", "0", "-q"]);
  // A limit the runtime can start under, that a few dozen sockets exhaust.
  const server = new Program(["sh", "-c", `ulimit -n 64 && exec ${quoted}`], []);
  const held: Conn[] = [];
  try {
    const [, port] = await server.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/);
    for (let i = 0; i < 80; i++) held.push(await dial(Number(port)));
    if (onDeno) {
      // Deno reports EMFILE: one line an episode, then back-off. Node's
      // libuv never reports it: it sheds the waiting connections itself;
      // Bun's leaves them waiting.
      const { input } = await server.waitForLine(/^Accept failed: /);
      assert.equal(
        input,
        "Accept failed: too many open files; retrying with back-off up to 1 s — " +
          "raise the limit (ulimit -n) or lower --max-connections",
      );
      await sleep(300); // Time for more lines, were each retry logged.
      assert.equal(
        server.stdout.filter((l) => l.startsWith("Accept failed")).length,
        1,
        "one line per episode, not one per retry",
      );
    }
    // Peers that connect and reset while the server is out of descriptors:
    // they wait in the backlog, and accept meets them once it can.
    assert.deepEqual(await peers(["rst", port, "20"]), ["reset 20"]);
    for (const conn of held.splice(0)) conn.close();
    // Until the server has seen those closes it may still be out of
    // descriptors (Node sheds such connections with a reset): retry briefly.
    let reply = "";
    for (let tries = 0; tries < 30 && reply !== "Farewell, client"; tries++) {
      reply = await exchange(Number(port)).catch(async (err) => {
        await sleep(100);
        return String(err);
      });
    }
    assert.equal(reply, "Farewell, client");
    assert.equal(await server.stop(), 0);
    assert.deepEqual(server.stderr, []);
  } finally {
    for (const conn of held) conn.close();
    await server.stop("SIGKILL");
  }
});

test("server --timeout closes an idle peer with one line saying how far it got", async () => {
  const { server, port } = await startServer(["-q", "--timeout", "0.3"]);
  const slow = await dial(port);
  await sendAll(slow, MESSAGE.subarray(0, 5));
  assert.equal((await readToEnd(slow)).length, 0);
  slow.close();
  const { input } = await server.waitForLine(/ octets in 0\.3 s; closed$/);
  assert.match(input!, /^127\.0\.0\.1:\d+ sent 5 of 16 octets in 0\.3 s; closed$/);
  assert.equal(await server.stop(), 0);
  assert.equal(server.stdout.at(-1), "Stopped: 0 served, 0 failed, 1 timed out");
});

test("server on SIGHUP (its terminal closed) shuts down gracefully and exits 0", async () => {
  const { server, port } = await startServer();
  assert.equal(await exchange(port), "Farewell, client");
  assert.equal(await server.stop("SIGHUP"), 0);
  assert(
    server.stdout.some((line) =>
      /^SIGHUP: shutting down; (1 open connection has|\d open connections have) 5 s/.test(line)
    ),
    server.stdout.join("\n"),
  );
  assert.equal(server.stdout.at(-1), "Stopped: 1 served, 0 failed, 0 timed out");
  assert.deepEqual(server.stderr, []);
});

test("server whose stdout is closed says so once on stderr and keeps serving", async () => {
  const { server, port } = await startServer();
  server.child.stdout!.destroy(); // The reader goes away, as `| head -1` does.
  // The pipe is closed at once on Deno and Node, a tick later on Bun: the
  // server learns of it at its first log line after that. Each exchange
  // logs one: exchange until it says so.
  const deadline = Date.now() + 10_000;
  for (let i = 0; server.stderr.length === 0 && Date.now() < deadline && i < 1000; i++) {
    assert.equal(await exchange(port), "Farewell, client");
  }
  await server.waitForLine(/stdout is closed/, 10_000, "stderr");
  assert.equal(await exchange(port), "Farewell, client");
  assert.equal(await server.stop(), 0);
  assert.equal(server.stderr.length, 1, server.stderr.join("\n"));
  assert.match(
    server.stderr[0],
    /^server: stdout is closed \(.+\); logging stopped, still running$/,
  );
});

test("server whose stdout stalls keeps serving, drops and counts log lines, and says so", async () => {
  const { server, port } = await startServer();
  server.child.stdout!.pause(); // Nobody reads: the pipe fills.
  // 3,000 exchanges log about 800 KB: more than the pipe and the log's
  // 256 KiB bound hold.
  const summary = await load({ port, count: 3000, concurrency: 8 });
  assert.equal(summary.succeeded, 3000, JSON.stringify(summary.errors));
  server.child.stdout!.resume();
  const { input } = await server.waitForLine(/^\d+ log lines dropped: stdout was not being read$/);
  const dropped = Number(input!.split(" ")[0]);
  assert(dropped > 0);
  assert.equal(await server.stop(), 0);
  assert.deepEqual(server.stderr, []);
  const [, served, total] = server.stdout.at(-1)!.match(
    /^Stopped: (\d+) served, 0 failed, 0 timed out; (\d+) log lines dropped$/,
  ) ?? [];
  assert.equal(served, "3000");
  assert(Number(total) >= dropped, `${total} dropped in all, ${dropped} reported before`);
});

test("server --linger 0 closes at once: a client's unread extra byte turns the close into a reset", async () => {
  // What lingering close prevents (the library's tests show the reply
  // arriving with it on): with it off, the reset comes (POLLERR, POLLHUP).
  const { server, port } = await startServer(["-q", "--linger", "0"]);
  const [line] = await peers(["extra", String(port)]);
  assert.match(line, /^poll \['POLLIN', 'POLLERR', 'POLLHUP'\] /);
  assert.equal(await server.stop(), 0);
});

test("the tutorial's Python client talks to our server", async () => {
  const { server, port } = await startServer();
  try {
    const python = tutorial("client", port);
    assert.equal(await python.exited, 0, python.stderr.join("\n"));
    assert.equal(python.stdout[1], "The server said b'Farewell, client'");
    await server.waitForLine(/^The incoming sixteen-octet message says 'Hi there, server'$/);
  } finally {
    await server.stop();
  }
});
