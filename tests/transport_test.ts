// The transports' seam: serve() over a listener of the caller's, request()
// and load() over a dialer of the caller's, and the built-in Unix domain
// socket transport, over real sockets on every runtime.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Conn,
  connect,
  type Dialer,
  listen,
  type Listener,
  load,
  NetError,
  request,
  serve,
  type Server,
  type ServerEvent,
  type TcpAddr,
} from "../mod.ts";
import { decode, exchange } from "./helpers.ts";

const servers: Server[] = [];
const dir = mkdtempSync(join(tmpdir(), "tcp-sixteen-unix-"));
// A failed test must not leave a server listening, nor its socket file.
after(async () => {
  await Promise.all(servers.map((server) => server.shutdown(0)));
  rmSync(dir, { recursive: true, force: true });
});

/** A listener of the caller's: it hands out the connections of a real one,
 * and counts what it accepted and whether it was closed. */
function counting(inner: Listener<TcpAddr>) {
  const seen = { accepted: 0, closed: false };
  const listener: Listener<TcpAddr> = {
    addr: inner.addr,
    accept: () => inner.accept().then((conn) => (seen.accepted++, conn)),
    close: () => {
      seen.closed = true;
      inner.close();
    },
  };
  return { listener, seen };
}

test("serve({ listener }) serves the caller's listener, and closes it on shutdown", async () => {
  const { listener, seen } = counting(await listen({ hostname: "127.0.0.1", port: 0 }));
  const server = await serve({ listener });
  servers.push(server);
  assert.deepEqual(server.addr, listener.addr);
  assert.equal(await exchange(listener.addr.port), "Farewell, client");
  assert.equal(await exchange(listener.addr.port), "Farewell, client");
  assert.equal(seen.accepted, 2);
  const stats = await server.shutdown();
  assert.equal(stats.served, 2);
  assert.equal(seen.closed, true);
  await assert.rejects(
    connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    (err) => err instanceof NetError && err.code === "ECONNREFUSED",
  );
});

test("serve() refuses a listener given with an address, and a path without unix", async () => {
  const inner = await listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(serve({ listener: inner, port: 0 }), {
      name: "RangeError",
      message: "give a listener, or where to listen, not both",
    });
    await assert.rejects(serve({ path: join(dir, "x.sock") }), {
      name: "RangeError",
      message: `a path is for transport "unix"`,
    });
    await assert.rejects(serve({ transport: "unix" }), {
      name: "RangeError",
      message: "a Unix socket needs a path",
    });
  } finally {
    inner.close();
  }
});

test("request({ connect }) and load({ connect }) open every connection with the caller's dialer", async () => {
  const server = await serve({ port: 0 });
  servers.push(server);
  const signals: AbortSignal[] = [];
  const dial: Dialer = (signal) => {
    signals.push(signal);
    return connect({ hostname: "127.0.0.1", port: server.addr.port, signal });
  };
  const { reply, remoteAddr } = await request({ connect: dial });
  assert.equal(decode(reply), "Farewell, client");
  assert.deepEqual(remoteAddr, server.addr);
  const summary = await load({ connect: dial, count: 20, concurrency: 4 });
  assert.equal(summary.succeeded, 20);
  assert.equal(signals.length, 21);
  assert(signals.every((s) => s instanceof AbortSignal));
  await assert.rejects(request({ connect: dial, port: 1 }), {
    name: "RangeError",
    message: "give a connect function, or where to connect, not both",
  });
});

test("request({ connect }) passes the dialer's failure on, and its deadline aborts the dialer", async () => {
  const refused: Dialer = () => Promise.reject(new NetError("connect", "ECONNREFUSED", undefined));
  await assert.rejects(
    request({ connect: refused }),
    (err) => err instanceof NetError && err.code === "ECONNREFUSED",
  );
  // A dialer that never connects: the exchange's deadline aborts its signal.
  let aborted = false;
  const hanging: Dialer = (signal) =>
    new Promise<Conn>((_, reject) => {
      signal.addEventListener("abort", () => {
        aborted = true;
        reject(signal.reason);
      });
    });
  await assert.rejects(
    request({ connect: hanging, timeout: 50 }),
    (err) => err instanceof NetError && err.code === "ETIMEDOUT",
  );
  assert.equal(aborted, true);
});

test("serve() and request() over a Unix domain socket: the exchange, both addresses, the logs", async () => {
  const path = join(dir, "sixteen.sock");
  const events: ServerEvent[] = [];
  const server = await serve({ transport: "unix", path, onEvent: (e) => events.push(e) });
  servers.push(server);
  assert.deepEqual(server.addr, { transport: "unix", path });
  const { reply, localAddr, remoteAddr } = await request({ transport: "unix", path });
  assert.equal(decode(reply), "Farewell, client");
  assert.deepEqual(remoteAddr, { transport: "unix", path });
  assert.deepEqual(localAddr, { transport: "unix", path: "" });
  const stats = await server.shutdown();
  assert.equal(stats.served, 1);
  // The client's socket is unnamed: logged as Python shows it, ''.
  assert.deepEqual(
    events.filter((e) => e.type === "accepted"),
    [{ type: "accepted", peer: "''", local: path }],
  );
});

test("request() to a Unix socket nobody listens on fails with one NetError naming the path", async () => {
  const path = join(dir, "nobody.sock");
  await assert.rejects(request({ transport: "unix", path }), (err) => {
    assert(err instanceof NetError);
    assert.equal(err.op, "connect");
    assert.deepEqual(err.addr, { transport: "unix", path });
    assert.match(err.message, new RegExp(`^cannot connect to ${path}: `));
    return true;
  });
});
