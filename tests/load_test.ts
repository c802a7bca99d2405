// Load mode: load()'s counts against servers that fail on purpose, its
// bounds (concurrency, duration, Ctrl-C), the histogram's precision, and the
// client's load command line (summary, --json, exit codes, progress on a
// TTY only).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import process from "node:process";
import {
  type Conn,
  ERROR_KINDS,
  errorKind,
  IncompleteReadError,
  listen,
  load,
  NetError,
  recvAll,
  request,
  sendAll,
  serve,
} from "../mod.ts";
import { Histogram } from "../internal/histogram.ts";
import {
  closedPort,
  encode,
  Program,
  programCommand,
  resettingServer,
  runProgram,
} from "./helpers.ts";

/** A test server: `handle` serves the k-th connection (from 1); the
 * connection is closed after it. Counts connections open at once. */
async function testServer(
  handle: (conn: Conn, k: number, released: Promise<void>) => Promise<void>,
) {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const stats = { accepted: 0, open: 0, maxOpen: 0 };
  const conns = new Set<Conn>();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const serving = (async () => {
    while (true) {
      let conn: Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // Closed.
      }
      const k = ++stats.accepted;
      stats.maxOpen = Math.max(stats.maxOpen, ++stats.open);
      conns.add(conn);
      handle(conn, k, released).catch(() => {}).finally(() => {
        stats.open--;
        conns.delete(conn);
        try {
          conn.close();
        } catch {
          // Closed by close() below.
        }
      });
    }
  })();
  return {
    port: listener.addr.port,
    stats,
    async close() {
      listener.close();
      release();
      for (const conn of conns) conn.close();
      await serving;
    },
  };
}

/** Every 5th connection gets 5 bytes of its reply, every 7th (not 5th) a
 * wrong one, the rest the right one. Of 70: 14 short, 8 wrong, 48 good. */
function faulty(conn: Conn, k: number): Promise<void> {
  return (async () => {
    await recvAll(conn, 16);
    if (k % 5 === 0) await sendAll(conn, encode("Farew"));
    else if (k % 7 === 0) await sendAll(conn, encode("Farewell, CLIENT"));
    else await sendAll(conn, encode("Farewell, client"));
  })();
}

const noErrors = Object.fromEntries(ERROR_KINDS.map((k) => [k, 0]));

test("load() counts each failure by kind against a server that fails on purpose", async () => {
  const server = await testServer(faulty);
  try {
    const summary = await load({ port: server.port, count: 70, concurrency: 4 });
    assert.equal(summary.exchanges, 70);
    assert.equal(summary.succeeded, 48);
    assert.equal(summary.failed, 22);
    assert.deepEqual(summary.errors, { ...noErrors, shortReply: 14, wrongReply: 8 });
    assert.equal(summary.cancelled, 0);
    assert.equal(summary.interrupted, false);
    assert.equal(server.stats.accepted, 70);
    assert(summary.latencyMs !== null);
    assert(summary.latencyMs.p50 <= summary.latencyMs.p90);
    assert(summary.latencyMs.p90 <= summary.latencyMs.p99);
    assert(summary.latencyMs.p99 <= summary.latencyMs.max);
  } finally {
    await server.close();
  }
});

test("load() counts refused connections and has no latency when none succeed", async () => {
  const summary = await load({ port: await closedPort(), count: 10, concurrency: 3 });
  assert.deepEqual(summary.errors, { ...noErrors, refused: 10 });
  assert.equal(summary.succeeded, 0);
  assert.equal(summary.latencyMs, null);
  assert.equal(summary.ratePerSecond, 0);
});

test("load() counts resets against a server that aborts every other connection", async () => {
  // Deno's close() sends FIN even with unread input, so the resetting
  // server is Python's, with SO_LINGER 0.
  const server = new Program([
    "python3",
    "-c",
    `
import socket, struct
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print("Listening at 127.0.0.1:%d" % s.getsockname()[1], flush=True)
for k in range(1, 9):
    c, _ = s.accept()
    c.recv(16)
    if k % 2 == 0:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    else:
        c.sendall(b"Farewell, client")
    c.close()
`,
  ], []);
  try {
    const [, port] = await server.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/);
    const summary = await load({ port: Number(port), count: 8, timeout: 5000 });
    assert.deepEqual(summary.errors, { ...noErrors, reset: 4 }, JSON.stringify(summary));
    assert.equal(summary.succeeded, 4);
  } finally {
    await server.stop("SIGKILL");
  }
});

test("load() counts exchanges past their timeout as timeouts", async () => {
  const server = await testServer(async (conn, _k, released) => {
    await recvAll(conn, 16);
    await released;
  });
  try {
    const started = Date.now();
    const summary = await load({ port: server.port, count: 4, concurrency: 4, timeout: 200 });
    assert.deepEqual(summary.errors, { ...noErrors, timeout: 4 });
    assert(Date.now() - started < 5000);
  } finally {
    await server.close();
  }
});

test("load() times out exactly the exchanges that pass their own deadline", async () => {
  // Every other connection gets no reply. Exchanges start at different
  // times and share request()'s deadline timer; two runs with different
  // timeouts go at once, then one more after all timers are gone.
  const server = await testServer(async (conn, k, released) => {
    await recvAll(conn, 16);
    if (k % 2 === 0) await released;
    else await sendAll(conn, encode("Farewell, client"));
  });
  try {
    const started = Date.now();
    const [a, b] = await Promise.all([
      load({ port: server.port, count: 20, concurrency: 3, timeout: 400 }),
      load({ port: server.port, count: 10, concurrency: 2, timeout: 600 }),
    ]);
    assert.equal(a.exchanges + b.exchanges, 30);
    assert.equal(a.errors.timeout + b.errors.timeout, 15);
    assert.equal(a.succeeded + b.succeeded, 15);
    assert(Date.now() - started < 8000, `${Date.now() - started} ms`);
    const c = await load({ port: server.port, count: 4, timeout: 400 });
    assert.deepEqual([c.succeeded, c.errors.timeout], [2, 2]);
  } finally {
    await server.close();
  }
});

test("load() never has more than `concurrency` exchanges in flight", async () => {
  const server = await testServer(async (conn) => {
    await recvAll(conn, 16);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await sendAll(conn, encode("Farewell, client"));
  });
  try {
    const summary = await load({ port: server.port, count: 30, concurrency: 3 });
    assert.equal(summary.succeeded, 30);
    assert.equal(server.stats.maxOpen, 3);
  } finally {
    await server.close();
  }
});

test("load() with a duration stops starting exchanges when it is up", async () => {
  const server = await serve({ port: 0, events: "problems" });
  try {
    const summary = await load({ port: server.addr.port, duration: 300, concurrency: 2 });
    assert(summary.succeeded > 0);
    assert.equal(summary.failed, 0);
    // Node's timers count whole milliseconds: one may fire a fraction early.
    assert(summary.elapsedMs >= 299 && summary.elapsedMs < 3000, `${summary.elapsedMs} ms`);
    assert.equal(server.stats.served, summary.succeeded);
  } finally {
    await server.shutdown();
  }
});

test("load() stopped by its signal cancels what does not finish in the grace", async () => {
  const server = await testServer(async (conn, _k, released) => {
    await recvAll(conn, 16);
    await released;
  });
  try {
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 200);
    const progress: number[] = [];
    const summary = await load({
      port: server.port,
      duration: 20_000,
      concurrency: 2,
      signal: stop.signal,
      grace: 100,
      onProgress: (p) => progress.push(p.done),
      progressInterval: 50,
    });
    assert.equal(summary.interrupted, true);
    assert.equal(summary.cancelled, 2);
    assert.equal(summary.exchanges, 0);
    assert(summary.elapsedMs < 2000, `${summary.elapsedMs} ms`);
    assert(progress.length >= 2, `${progress.length} progress calls`);
  } finally {
    await server.close();
  }
});

test("load() rejects with NetError ENOTFOUND for an unknown host, at once", async () => {
  await assert.rejects(
    load({ hostname: "no-such-host.invalid", count: 1000, concurrency: 2 }),
    (err) => err instanceof NetError && err.code === "ENOTFOUND",
  );
});

test("load() requires a count or a duration", async () => {
  await assert.rejects(load({ port: 1 }), RangeError);
  await assert.rejects(load({ port: 1, count: 1, concurrency: 0 }), RangeError);
  await assert.rejects(load({ port: 65536, count: 1 }), RangeError);
});

test("errorKind() names failures by class and code", () => {
  const at = (code: ConstructorParameters<typeof NetError>[1]) =>
    errorKind(new NetError("connect", code, "127.0.0.1", 1060));
  assert.equal(at("ECONNREFUSED"), "refused");
  assert.equal(at("ECONNRESET"), "reset");
  assert.equal(at("EPIPE"), "reset");
  assert.equal(at("ETIMEDOUT"), "timeout");
  assert.equal(at("EADDRNOTAVAIL"), "addrNotAvailable");
  assert.equal(at("EHOSTUNREACH"), "other");
  assert.equal(errorKind(new IncompleteReadError(new Uint8Array(5), 16)), "shortReply");
  assert.equal(errorKind(new TypeError("bug")), "other");
  // How runtimes report a reset besides ECONNRESET: Deno's ENOTCONN (a
  // connect whose peer reset before Deno asked for its address), ECONNABORTED.
  for (const code of ["ENOTCONN", "ECONNABORTED"]) {
    assert.equal(errorKind(Object.assign(new Error(code), { code })), "reset", code);
  }
});

test("load() counts a server that resets every connection at once as resets, never other", async () => {
  const server = resettingServer(100);
  try {
    const [, port] = await server.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/);
    const summary = await load({ port: Number(port), count: 100, concurrency: 4, timeout: 5000 });
    assert.deepEqual(summary.errors, { ...noErrors, reset: 100 }, JSON.stringify(summary));
  } finally {
    await server.stop("SIGKILL");
  }
});

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

// The command line.

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
    ]);
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
    // Wait until it is exchanging, then Ctrl-C.
    const deadline = Date.now() + 10_000;
    while (server.stats.served < 10 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const code = await client.stop("SIGINT");
    assert.equal(code, 130, client.stderr.join("\n"));
    assert.match(client.stdout[0], /^Interrupted: \d+ exchanges with /);
    assert.equal(client.stdout[2], "  failed     0");
  } finally {
    await server.shutdown();
  }
});

test("client load flags without --count or --duration are usage errors", async () => {
  for (
    const [args, message] of [
      [["--concurrency", "4"], "--concurrency needs --count or --duration"],
      [["--json"], "--json needs --count or --duration"],
      [["--count", "0"], "--count takes a whole number of at least 1, got '0'"],
      [["--duration", "-1"], "--duration"],
      [["-n", "5", "-p", "0"], "-p takes a port from 1 to 65535, got '0'"],
    ] as const
  ) {
    const run = await runProgram("client", [...args]);
    assert.equal(run.code, 2, args.join(" "));
    assert(run.stderr[0].includes(message), `${run.stderr[0]} lacks ${message}`);
  }
});

/** The client's command line, quoted for a shell. */
function clientShellCommand(args: string[]): string {
  return [...programCommand("client"), ...args].map((s) => `'${s.replaceAll("'", `'\\''`)}'`)
    .join(" ");
}

/** Runs a command to its end (at most 20 s); resolves to its exit status
 * and its raw stdout and stderr. */
function runRaw(command: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(command[0], command.slice(1), {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    })
  );
}

/** Whether this user may make a network namespace (to shrink its range of
 * local ports without touching the machine's). */
const hasNetns = spawnSync("unshare", ["-rn", "ip", "link", "set", "lo", "up"]).status === 0;

test("client load mode counts EADDRNOTAVAIL when local ports run out", {
  skip: !hasNetns && "needs unshare -rn and ip (a network namespace)",
}, async () => {
  // In a namespace of its own, with 5 local ports, 10 exchanges at once
  // against a listener that never answers: some connect and time out, the
  // rest find no local port.
  const client = clientShellCommand(
    ["-p", "50000", "-n", "10", "-c", "10", "--timeout", "0.5", "--json"],
  );
  const script = [
    "ip link set lo up",
    "echo '40000 40004' > /proc/sys/net/ipv4/ip_local_port_range",
    "coproc python3 -c 'import socket,time; s=socket.socket(); " +
    's.bind(("127.0.0.1",50000)); s.listen(64); print(flush=True); time.sleep(10)\'',
    'read -r _ <&"${COPROC[0]}"',
    client,
    "code=$?",
    'kill "$COPROC_PID"',
    'exit "$code"',
  ].join("\n");
  const { code, out, err } = await runRaw(["unshare", "-rn", "bash", "-c", script]);
  assert.equal(code, 1, out + err);
  const summary = JSON.parse(out.trim().split("\n").at(-1)!);
  assert.equal(summary.exchanges, 10, out + err);
  assert(summary.errors.addrNotAvailable >= 1, out);
  assert(summary.errors.timeout >= 1, out);
  assert.equal(summary.errors.addrNotAvailable + summary.errors.timeout, 10, out);
});

const hasScript = spawnSync("script", ["--version"]).status === 0;

/** Runs the client with a pseudo-terminal for its output (util-linux
 * `script`); resolves to everything it wrote there, raw. */
async function clientOnTerminal(args: string[]): Promise<{ code: number | null; output: string }> {
  const { code, out } = await runRaw(["script", "-qefc", clientShellCommand(args), "/dev/null"]);
  return { code, output: out };
}

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

test("load() and request() reject timeouts a timer cannot wait, before any exchange", async () => {
  for (const timeout of [0, -1, NaN, 3e9]) {
    await assert.rejects(load({ port: 1, count: 1, timeout }), RangeError, `load ${timeout}`);
    await assert.rejects(request({ port: 1, timeout }), RangeError, `request ${timeout}`);
  }
  await assert.rejects(
    load({ port: 1, duration: 3e9 }),
    /duration must be from 1 to 2147483647 ms/,
  );
});
