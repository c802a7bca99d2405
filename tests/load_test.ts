// load() and request() in process: load()'s counts against servers that
// fail on purpose, its bounds (concurrency, duration, its signal), and
// errorKind().
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  errorKind,
  IncompleteReadError,
  load,
  NetError,
  recvAll,
  request,
  sendAll,
  serve,
} from "../mod.ts";
import {
  closedPort,
  encode,
  endProgramsAfterEach,
  faulty,
  noErrors,
  Program,
  PYTHON,
  resettingServer,
  tcp,
  testServer,
} from "./helpers.ts";

endProgramsAfterEach();

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
    PYTHON,
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
    errorKind(new NetError("connect", code, tcp("127.0.0.1", 1060)));
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
