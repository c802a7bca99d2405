// The client program end to end, as a subprocess on the runtime under test:
// one exchange (what it prints, its failures, one line each, and exit
// codes), and load mode (its summary, --json, Ctrl-C, EADDRNOTAVAIL,
// progress on a terminal only).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { listen, recvAll, sendAll, serve } from "../mod.ts";
import {
  closedPort,
  encode,
  endProgramsAfterEach,
  faulty,
  hasNetns,
  isolated,
  noErrors,
  Program,
  programCommand,
  PYTHON,
  resettingServer,
  runCommand,
  runProgram,
  shellQuote,
  testServer,
  tutorial,
  until,
} from "./helpers.ts";

endProgramsAfterEach();

const hasScript = spawnSync("script", ["--version"]).status === 0;

/** Runs the client with a pseudo-terminal for its output (util-linux
 * `script`); resolves to everything it wrote there, raw. */
async function clientOnTerminal(args: string[]): Promise<{ code: number | null; output: string }> {
  const command = shellQuote([...programCommand("client"), ...args]);
  const { code, stdout } = await runCommand(["script", "-qefc", command, "/dev/null"], []);
  return { code, output: stdout.join("\n") };
}

test("client counts a server that resets at once as a reset, with one line", async () => {
  // Deno's connect fails with ENOTCONN when the reset comes before it asks
  // for the peer's address; the read fails with ECONNRESET when it comes
  // after. Both are the same failure to a user.
  const server = resettingServer(1);
  try {
    const [, port] = await server.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/);
    const run = await runProgram("client", ["-p", port]);
    assert.equal(run.code, 1);
    assert.equal(run.stderr.length, 1, run.stderr.join("\n"));
    assert.match(run.stderr[0], /^client: .* 127\.0\.0\.1:\d+.*: connection reset by peer$/);
  } finally {
    await server.stop("SIGKILL");
  }
});

test("client against a closed port exits 1 with one line", async () => {
  const port = await closedPort();
  const client = await runProgram("client", ["-p", String(port)]);
  assert.equal(client.code, 1);
  assert.deepEqual(client.stdout, []);
  assert.deepEqual(client.stderr, [
    `client: cannot connect to 127.0.0.1:${port}: connection refused — is the server running?`,
  ]);
});

test("client with an unknown host exits 1 with one line", {
  skip: !hasNetns && "needs unshare -rn: a lookup must not leave the machine",
}, async () => {
  const client = await runCommand(isolated(programCommand("client")), [
    "no-such-host.invalid",
    "-p",
    "1060",
  ]);
  assert.equal(client.code, 1);
  assert.deepEqual(client.stderr, [
    "client: cannot connect to no-such-host.invalid:1060: unknown host — check the name",
  ]);
});

test("client exits 1 when the server closes 5 bytes into its reply, naming it and what to do", async () => {
  // Reads the whole message (an unread byte would turn the close into a
  // reset), replies with 5 bytes and closes: the tutorial's server cut short
  // (the first client), or a server of another protocol (the second).
  const server = await testServer(async (conn, k) => {
    await recvAll(conn, k === 1 ? 16 : 4);
    await sendAll(conn, encode("Farew"));
  });
  const at = `127.0.0.1:${server.port}`;
  try {
    const tutorial = await runProgram("client", ["-p", String(server.port)]);
    const custom = await runProgram("client", ["-p", String(server.port), "--message", "ping"]);
    assert.equal(tutorial.code, 1);
    assert.deepEqual(tutorial.stderr, [
      `client: reading from ${at} failed: socket closed 5 bytes into a 16-byte message — ` +
      "is it a sixteen-octet server?",
    ]);
    assert.equal(custom.code, 1);
    assert.deepEqual(custom.stderr, [
      `client: reading from ${at} failed: socket closed 5 bytes into a 16-byte message — ` +
      "if its replies are 5 bytes, give --reply-length 5 or the --reply to expect",
    ]);
  } finally {
    await server.close();
  }
});

test("client on SIGINT during one exchange says so in one line and exits 130", async () => {
  // A server that accepts and never replies: the client waits for its reply.
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const held = listener.accept();
  const client = new Program(programCommand("client"), ["-p", String(listener.addr.port)]);
  try {
    await client.waitForLine(/^Client has been assigned socket name /);
    const code = await client.stop("SIGINT");
    assert.equal(code, 130, client.stderr.join("\n"));
    assert.deepEqual(client.stderr, [
      `client: SIGINT: stopped before 127.0.0.1:${listener.addr.port} replied`,
    ]);
    assert.equal(client.stdout.length, 1, client.stdout.join("\n"));
  } finally {
    await client.stop("SIGKILL");
    (await held).close();
    listener.close();
  }
});

test("client --timeout exits 1 when the server never replies", async () => {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const held = listener.accept();
  const started = Date.now();
  const client = await runProgram("client", ["-p", String(listener.addr.port), "--timeout", "0.5"]);
  const elapsed = Date.now() - started;
  (await held).close();
  listener.close();
  assert.equal(client.code, 1);
  assert.deepEqual(client.stderr, [
    `client: reading from 127.0.0.1:${listener.addr.port} failed: no reply within 0.5 s — ` +
    "is the server up? raise --timeout if it is slow",
  ]);
  assert(elapsed < 10_000, `took ${elapsed} ms`);
});

test("client --timeout exits 1 when the connection is never accepted", async () => {
  const fixture = new URL("fixtures/full_backlog.py", import.meta.url).pathname;
  const python = new Program([PYTHON, "-u", fixture], []);
  try {
    const [port] = await python.waitForLine(/^\d+$/);
    const started = Date.now();
    const client = await runProgram("client", ["-p", port, "--timeout", "0.5"]);
    const elapsed = Date.now() - started;
    assert.equal(client.code, 1);
    assert.deepEqual(client.stdout, []);
    assert.deepEqual(client.stderr, [
      `client: cannot connect to 127.0.0.1:${port}: no connection within 0.5 s — ` +
      "is the server up? raise --timeout if it is slow",
    ]);
    assert(elapsed < 10_000, `took ${elapsed} ms`);
  } finally {
    await python.stop("SIGKILL");
  }
});

test("our client talks to the tutorial's Python server", async () => {
  const port = await closedPort();
  const python = tutorial("server", port);
  try {
    await python.waitForLine(/^Listening at/);
    const client = await runProgram("client", ["-p", String(port)]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.equal(client.stdout[1], "The server said 'Farewell, client'");
    await python.waitForLine(/^The incoming sixteen-octet message says b'Hi there, server'$/);
  } finally {
    await python.stop("SIGKILL");
  }
});

test("client load mode against a faulty server: --json counts, exit 1", async () => {
  const server = await testServer(faulty);
  try {
    const run = await runProgram("client", [
      "-p",
      String(server.port),
      "--count",
      "70",
      "--concurrency",
      "4",
      "--json",
    ]);
    assert.equal(run.code, 1, run.stderr.join("\n"));
    assert.deepEqual(run.stderr, []);
    assert.equal(run.stdout.length, 1);
    const summary = JSON.parse(run.stdout[0]);
    assert.deepEqual(Object.keys(summary), [
      "exchanges",
      "succeeded",
      "failed",
      "errors",
      "cancelled",
      "interrupted",
      "concurrency",
      "elapsedMs",
      "ratePerSecond",
      "latencyMs",
      "transport",
    ]);
    assert.equal(summary.transport, "tcp");
    assert.deepEqual(summary.errors, { ...noErrors, shortReply: 14, wrongReply: 8 });
    assert.equal(summary.succeeded, 48);
    assert.equal(summary.concurrency, 4);
    assert.deepEqual(Object.keys(summary.latencyMs), ["p50", "p90", "p99", "max", "min", "mean"]);
    for (const value of Object.values(summary.latencyMs)) assert.equal(typeof value, "number");
  } finally {
    await server.close();
  }
});

test("client load mode prints a summary and exits 0 when every exchange succeeds", async () => {
  const server = await serve({ port: 0, events: "problems" });
  try {
    const run = await runProgram("client", ["-p", String(server.addr.port), "-n", "50", "-c", "5"]);
    assert.equal(run.code, 0, run.stderr.join("\n"));
    assert.deepEqual(run.stderr, [], "no progress line when stderr is not a terminal");
    assert.match(
      run.stdout[0],
      new RegExp(`^50 exchanges with 127\\.0\\.0\\.1:${server.addr.port}, 5 at a time, in `),
    );
    assert.equal(run.stdout[1], "  succeeded  50");
    assert.equal(run.stdout[2], "  failed     0");
    assert.match(run.stdout[3], /^ {2}rate {7}\d+ exchanges\/s$/);
    assert.match(run.stdout[4], /^ {2}latency {4}p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms, max/);
  } finally {
    await server.shutdown();
  }
});

test("client load mode names each kind of failure in its summary", async () => {
  const run = await runProgram("client", ["-p", String(await closedPort()), "-n", "3"]);
  assert.equal(run.code, 1);
  assert.equal(run.stdout[2], "  failed     3: 3 refused");
  assert.equal(run.stdout.at(-1), "  latency    none succeeded");
});

test("client load mode on SIGINT prints the summary so far and exits 130", async () => {
  const server = await serve({ port: 0, events: "problems" });
  try {
    const client = new Program(programCommand("client"), [
      "-p",
      String(server.addr.port),
      "--duration",
      "30",
      "-c",
      "2",
    ]);
    await until(() => server.stats.served >= 10, "it to be exchanging", 10_000);
    const code = await client.stop("SIGINT");
    assert.equal(code, 130, client.stderr.join("\n"));
    assert.match(client.stdout[0], /^Interrupted: \d+ exchanges with /);
    assert.equal(client.stdout[2], "  failed     0");
  } finally {
    await server.shutdown();
  }
});

test("client load mode counts EADDRNOTAVAIL when local ports run out", {
  skip: !hasNetns && "needs unshare -rn and ip (a network namespace)",
}, async () => {
  // In a namespace of its own, with 5 local ports, 10 exchanges at once
  // against a listener that never answers: some connect and time out, the
  // rest find no local port.
  const client = shellQuote([
    ...programCommand("client"),
    ...["-p", "50000", "-n", "10", "-c", "10", "--timeout", "0.5", "--json"],
  ]);
  const script = [
    "ip link set lo up",
    "echo '40000 40004' > /proc/sys/net/ipv4/ip_local_port_range",
    `coproc ${PYTHON} -c ` + "'import socket,time; s=socket.socket(); " +
    's.bind(("127.0.0.1",50000)); s.listen(64); print(flush=True); time.sleep(10)\'',
    'read -r _ <&"${COPROC[0]}"',
    client,
    "code=$?",
    'kill "$COPROC_PID"',
    'exit "$code"',
  ].join("\n");
  const ran = await runCommand(["unshare", "-rn", "bash", "-c", script], []);
  const [code, out, err] = [ran.code, ran.stdout.join("\n"), ran.stderr.join("\n")];
  assert.equal(code, 1, out + err);
  const summary = JSON.parse(out.trim().split("\n").at(-1)!);
  assert.equal(summary.exchanges, 10, out + err);
  assert(summary.errors.addrNotAvailable >= 1, out);
  assert(summary.errors.timeout >= 1, out);
  assert.equal(summary.errors.addrNotAvailable + summary.errors.timeout, 10, out);
});

test("client load mode draws a progress line only on a terminal", {
  skip: !hasScript && "needs util-linux script",
}, async () => {
  const server = await serve({ port: 0, events: "problems" });
  try {
    const port = String(server.addr.port);
    const shown = await clientOnTerminal(["-p", port, "--duration", "1", "-c", "2"]);
    assert.equal(shown.code, 0, shown.output);
    // deno-lint-ignore no-control-regex -- the escape that clears the line
    assert.match(shown.output, /\r\d+ exchanges, \d+\/s, 0 failed, [\d.]+\/1 s\x1b\[K/);
    // Cleared before the summary.
    // deno-lint-ignore no-control-regex -- the escape that clears the line
    assert.match(shown.output, /\r\x1b\[K\d+ exchanges with 127\.0\.0\.1:/);

    const hidden = await clientOnTerminal(["-p", port, "-d", "0.6", "--no-progress"]);
    assert.equal(hidden.code, 0, hidden.output);
    assert(!hidden.output.includes("\x1b[K"), JSON.stringify(hidden.output));
    assert.match(hidden.output, /^\d+ exchanges with 127\.0\.0\.1:/);
  } finally {
    await server.shutdown();
  }
});
