// listen() and connect(): the socket shape the library is written against
// behaves the same on every runtime (Deno's sockets, the node:net adapter):
// errors, queued connections, EOF, reset and backpressure.
import { test } from "node:test";
import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";
import {
  acceptErrorKind,
  type Conn,
  connect,
  errorCode,
  listen,
  type Listener,
  NetError,
  recvAll,
  sendAll,
  type TcpAddr,
} from "../mod.ts";
import { rawCode } from "../net.ts";
import {
  decode,
  encode,
  endProgramsAfterEach,
  onBun,
  onDeno,
  Program,
  PYTHON,
  sleep,
  tcp,
  within,
} from "./helpers.ts";
import { AcceptQueue, QueuedConn } from "../runtime/queues.ts";

endProgramsAfterEach();

/** A Python peer (argument: the port) that connects, waits for one octet,
 * sends five, and resets (SO_LINGER 0). */
const SEND_AND_RESET = "import socket, struct, sys\n" +
  "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n" +
  "s.recv(1)\n" +
  "s.sendall(b'Hi th')\n" +
  "s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n" +
  "s.close()\n";

/** A Python peer that listens on a free port, prints it, accepts one
 * connection, reads one octet and resets it (SO_LINGER 0). */
const RESET_ON_FIRST_OCTET = "import socket, struct\n" +
  "listener = socket.create_server(('127.0.0.1', 0))\n" +
  "print(listener.getsockname()[1], flush=True)\n" +
  "s, _ = listener.accept()\n" +
  "s.recv(1)\n" +
  "s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n" +
  "s.close()\n";

/** A listener on a free loopback port, and one connection to it from each end. */
async function pair(): Promise<{
  listener: Listener<TcpAddr>;
  client: Conn<TcpAddr>;
  server: Conn<TcpAddr>;
}> {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const client = await connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  return { listener, client, server };
}

function closeAll(...closables: { close(): void }[]): void {
  for (const c of closables) {
    try {
      c.close();
    } catch {
      // Already closed by the test.
    }
  }
}

test("connect() rejects with NetError ECONNREFUSED when nothing listens", async () => {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(connect({ hostname: "127.0.0.1", port }), (err) => {
    assert(err instanceof NetError);
    assert.equal(err.code, "ECONNREFUSED");
    assert.equal(
      err.message,
      `cannot connect to 127.0.0.1:${port}: connection refused`,
    );
    return true;
  });
});

test("connect() rejects with NetError ENOTFOUND for an unknown host", async () => {
  await assert.rejects(connect({ hostname: "no-such-host.invalid", port: 1060 }), (err) => {
    assert(err instanceof NetError);
    assert.equal(err.code, "ENOTFOUND");
    assert.equal(
      err.message,
      "cannot connect to no-such-host.invalid:1060: unknown host",
    );
    return true;
  });
});

test("connect() rejects with the signal's reason when aborted", async () => {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const reason = new Error("given up");
    await assert.rejects(
      connect({
        hostname: "127.0.0.1",
        port: listener.addr.port,
        signal: AbortSignal.abort(reason),
      }),
      (err) => err === reason,
    );
  } finally {
    listener.close();
  }
});

test("listen() rejects with NetError EADDRINUSE when the port is taken", async () => {
  const taken = await listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(listen({ hostname: "127.0.0.1", port: taken.addr.port }), (err) => {
      assert(err instanceof NetError);
      assert.equal(err.code, "EADDRINUSE");
      assert.equal(err.op, "listen");
      return true;
    });
  } finally {
    taken.close();
  }
});

test("addresses read before close() stay known after it; unread ones are unknown", async () => {
  const { listener, client, server } = await pair();
  const remote = server.remoteAddr;
  const local = client.localAddr;
  closeAll(client, server, listener);
  assert.deepEqual(server.remoteAddr, remote);
  assert.deepEqual(client.localAddr, local);
  assert.equal(remote?.port, local?.port);
  if (!onDeno) {
    // Node and Bun can no longer ask the kernel; Deno knew them all along.
    assert.equal(server.localAddr, undefined);
  }
});

test("listen() reports the real port, and both ends agree on the addresses", async () => {
  const { listener, client, server } = await pair();
  try {
    assert.equal(listener.addr.transport, "tcp");
    assert.equal(listener.addr.hostname, "127.0.0.1");
    assert(listener.addr.port > 0);
    assert.deepEqual(client.remoteAddr, listener.addr);
    assert.deepEqual(server.localAddr, listener.addr);
    assert.deepEqual(server.remoteAddr, client.localAddr);
    assert.equal(server.remoteAddr?.transport, "tcp");
  } finally {
    closeAll(client, server, listener);
  }
});

test("a listener keeps connections that arrive while nobody awaits accept()", async () => {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const clients: Conn[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const conn = await connect({ hostname: "127.0.0.1", port: listener.addr.port });
      await sendAll(conn, encode(`client ${i}`));
      clients.push(conn);
    }
    await sleep(100); // Nobody accepts meanwhile.
    const seen = [];
    for (let i = 0; i < 5; i++) {
      const conn = await listener.accept();
      seen.push(decode(await recvAll(conn, 8)));
      conn.close();
    }
    assert.deepEqual(seen.sort(), [0, 1, 2, 3, 4].map((i) => `client ${i}`));
  } finally {
    closeAll(...clients, listener);
  }
});

test("accept() rejects once the listener is closed, a pending one included", async () => {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const pending = listener.accept();
  listener.close();
  await assert.rejects(pending);
  await assert.rejects(listener.accept());
  assert.throws(() => listener.close());
  await assert.rejects(
    connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    (err) => errorCode(err) === "ECONNREFUSED",
  );
});

test("read() resolves null at EOF, and the side that read it can still write", async () => {
  const { listener, client, server } = await pair();
  try {
    await sendAll(client, encode("Hi there, server"));
    await client.closeWrite();
    assert.equal(decode(await recvAll(server, 16)), "Hi there, server");
    assert.equal(await server.read(new Uint8Array(16)), null);
    assert.equal(await server.read(new Uint8Array(16)), null);
    await sendAll(server, encode("Farewell, client"));
    server.close();
    assert.equal(decode(await recvAll(client, 16)), "Farewell, client");
    assert.equal(await client.read(new Uint8Array(16)), null);
    await assert.rejects(client.write(encode("more")), (err) => errorCode(err) === "EPIPE");
  } finally {
    closeAll(client, server, listener);
  }
});

test("read() returns what has arrived, across the peer's writes, in order", async () => {
  const { listener, client, server } = await pair();
  try {
    for (const piece of ["Hi ", "there, ", "server"]) await sendAll(client, encode(piece));
    await sleep(50);
    const p = new Uint8Array(64);
    const n = await server.read(p);
    assert.equal(decode(p.subarray(0, n!)), "Hi there, server");
    await sendAll(client, encode("abcdefghij"));
    const small = new Uint8Array(4);
    let text = "";
    while (text.length < 10) {
      const got = await server.read(small);
      assert(got !== null && got <= 4);
      text += decode(small.subarray(0, got));
    }
    assert.equal(text, "abcdefghij");
    assert.equal(await server.read(new Uint8Array(0)), 0);
  } finally {
    closeAll(client, server, listener);
  }
});

test("read() resolves null when the peer closes with our bytes unread, and writing then fails with EPIPE", async () => {
  const { listener, client, server } = await pair();
  try {
    await sendAll(client, new Uint8Array(100));
    await sleep(50);
    server.close(); // With 100 unread bytes: the kernel sends a reset.
    await sleep(50);
    assert.equal(await client.read(new Uint8Array(16)), null);
    await assert.rejects(client.write(encode("more")), (err) => errorCode(err) === "EPIPE");
  } finally {
    closeAll(client, listener);
  }
});

test("read() rejects with ECONNRESET after the bytes that came before a reset", async () => {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const python = new Program([PYTHON, "-c", SEND_AND_RESET], [String(listener.addr.port)]);
  try {
    const server = await listener.accept();
    await sendAll(server, encode("!")); // Accepted: the peer may go on.
    assert.equal(await python.exited, 0, python.stderr.join("\n"));
    const p = new Uint8Array(16);
    assert.equal(await server.read(p), 5);
    assert.equal(decode(p.subarray(0, 5)), "Hi th");
    // Node's libuv reads a hang-up (POLLHUP) that comes with the data as
    // end of stream, without asking for the error (libuv/libuv#2319,
    // reworked in #4997, after Node 20's libuv): there, null is all it can
    // say. Deno and Bun read the reset.
    const onNode = !onDeno && !("Bun" in globalThis);
    const outcome = await server.read(p).then((n) => n, errorCode);
    assert(outcome === "ECONNRESET" || (onNode && outcome === null), `read gave ${outcome}`);
    await assert.rejects(
      server.write(encode("x")),
      (err) => errorCode(err) === "EPIPE" || errorCode(err) === "ECONNRESET",
    );
    server.close();
  } finally {
    listener.close();
  }
});

test("after the peer's reset the first read or write fails with ECONNRESET, later writes with EPIPE, later reads end", async () => {
  // As the kernel tells Deno: a reset is reported once, to whichever call
  // meets it first. Node and Bun read it in the background; their writes
  // must still say it, once.
  for (const first of ["read", "write"] as const) {
    const python = new Program([PYTHON, "-c", RESET_ON_FIRST_OCTET], []);
    const [, port] = await python.waitForLine(/^(\d+)$/);
    const conn = await connect({ hostname: "127.0.0.1", port: Number(port) });
    try {
      await sendAll(conn, encode("x"));
      assert.equal(await python.exited, 0, python.stderr.join("\n")); // The reset is sent.
      let failure: unknown;
      if (first === "read") failure = await conn.read(new Uint8Array(16)).catch((err) => err);
      else {
        // A write before the reset arrives succeeds; the one after it fails.
        const deadline = Date.now() + 10_000;
        for (let writes = 1; !failure; writes++) {
          failure = await conn.write(encode("x")).then(() => undefined, (err) => err);
          assert(failure || (Date.now() < deadline && writes < 1000), `${writes} writes went`);
          if (!failure) await sleep(10);
        }
      }
      assert.equal(errorCode(failure), "ECONNRESET", `${first} gave ${failure}`);
      for (let i = 0; i < 2; i++) {
        await assert.rejects(conn.write(encode("x")), (err) => errorCode(err) === "EPIPE");
        assert.equal(await conn.read(new Uint8Array(16)), null);
      }
    } finally {
      closeAll(conn);
    }
  }
});

test("write() waits while the peer does not read, and every byte arrives", async () => {
  const { listener, client, server } = await pair();
  try {
    const size = 32 << 20; // Far more than the kernel's buffers on loopback.
    const data = new Uint8Array(size).map((_, i) => i % 251);
    let sent = false;
    const sending = sendAll(client, data).then(() => (sent = true));
    await sleep(300);
    assert.equal(sent, false, "sendAll finished though the peer read nothing");
    const got = await recvAll(server, size);
    await sending;
    assert(sent);
    assert.equal(got.length, size);
    for (let i = 0; i < size; i += 4093) assert.equal(got[i], i % 251, `byte ${i}`);
  } finally {
    closeAll(client, server, listener);
  }
});

test("close() during a write the peer does not read fails that write and frees the socket", async () => {
  const { listener, client, server } = await pair();
  try {
    const sending = sendAll(client, new Uint8Array(64 << 20)).then(() => "sent", (err) => err);
    await sleep(200);
    client.close();
    const outcome = await within(sending, 3000);
    assert(outcome instanceof Error, `the write ended as ${outcome}, not as an error`);
    // The socket is gone: the peer reads what reached it, then the end.
    const buffer = new Uint8Array(1 << 20);
    const deadline = Date.now() + 3000;
    while ((await server.read(buffer).catch(() => null)) !== null) {
      assert(Date.now() < deadline, "the closed socket still delivers after 3 s");
    }
  } finally {
    closeAll(client, server, listener);
  }
});

test("a write the peer does not read fails when the peer closes with our bytes unread", async () => {
  const { listener, client, server } = await pair();
  try {
    await sendAll(client, encode("x")); // Unread by the server: its close resets.
    await sleep(50);
    const sending = sendAll(client, new Uint8Array(64 << 20)).then(() => "sent", (err) => err);
    await sleep(200);
    server.close();
    const outcome = await within(sending, 3000);
    assert(outcome instanceof Error, `the write ended as ${outcome}, not as an error`);
    assert(["EPIPE", "ECONNRESET"].includes(errorCode(outcome)), String(outcome));
  } finally {
    closeAll(client, listener);
  }
});

test("close() ends a pending read, and closing twice throws", async () => {
  const { listener, client, server } = await pair();
  try {
    const pending = server.read(new Uint8Array(16));
    server.close();
    await assert.rejects(pending);
    assert.throws(() => server.close());
    await assert.rejects(server.read(new Uint8Array(16)));
    await assert.rejects(server.write(encode("x")));
    assert.equal(await client.read(new Uint8Array(16)), null);
  } finally {
    closeAll(client, listener);
  }
});

test("acceptErrorKind() tells the listener's failure from one connection's, after accept(2)", () => {
  const withCode = (code: string) => Object.assign(new Error(code), { code });
  for (const code of ["EBADF", "ENOTSOCK", "EINVAL"]) {
    assert.equal(acceptErrorKind(withCode(code)), "listener", code);
  }
  const closed = Object.assign(new Error("Listener has been closed"), { name: "BadResource" });
  assert.equal(acceptErrorKind(closed), "listener");
  for (
    const code of ["ENOTCONN", "ECONNABORTED", "ECONNRESET", "EPROTO", "ENETDOWN", "EHOSTUNREACH"]
  ) {
    assert.equal(acceptErrorKind(withCode(code)), "connection", code);
  }
  for (const code of ["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]) {
    assert.equal(acceptErrorKind(withCode(code)), "resources", code);
  }
  assert.equal(acceptErrorKind(withCode("EWHATEVER")), "unknown");
  assert.equal(acceptErrorKind(new Error("no code")), "unknown");
});

test("errorCode() reads Deno's ENOTCONN and ECONNABORTED as a reset", () => {
  for (const code of ["ENOTCONN", "ECONNABORTED", "ECONNRESET"]) {
    assert.equal(errorCode(Object.assign(new Error(code), { code })), "ECONNRESET", code);
  }
});

test("closeWrite() sends FIN at once, and read() goes on until the peer's EOF (lingering close)", async () => {
  const { listener, client, server } = await pair();
  try {
    await sendAll(client, encode("Hi there, server!")); // One octet too many.
    assert.equal(decode(await recvAll(server, 16)), "Hi there, server");
    await sendAll(server, encode("Farewell, client"));
    await server.closeWrite();
    await server.closeWrite(); // Again: nothing more to do.
    await assert.rejects(server.write(encode("x")), (err) => errorCode(err) === "EPIPE");
    assert.equal(decode(await recvAll(client, 16)), "Farewell, client");
    assert.equal(await client.read(new Uint8Array(16)), null);
    // The server still reads what the client sends after the reply.
    assert.equal(decode(await recvAll(server, 1)), "!");
    await sendAll(client, encode("more"));
    assert.equal(decode(await recvAll(server, 4)), "more");
    client.close();
    assert.equal(await server.read(new Uint8Array(16)), null);
  } finally {
    closeAll(client, server, listener);
  }
});

test("a connection reset before it was accepted: Deno's accept rejects (ENOTCONN), Node's and Bun's hands it out nameless and failing; accept goes on", async () => {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  try {
    // execFileSync holds this thread, so not even Node or Bun (which accept
    // as connections come) can accept before the peer resets: the
    // connection waits in the kernel's backlog, reset.
    execFileSync(PYTHON, [
      "-c",
      "import socket, struct, sys\n" +
      "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n" +
      "s.sendall(b'Hi there, server')\n" +
      "s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n" +
      "s.close()\n",
      String(listener.addr.port),
    ]);
    if (onDeno) {
      await assert.rejects(listener.accept(), (err) => {
        assert.equal((err as { code?: unknown }).code, "ENOTCONN");
        return true;
      });
    } else {
      // The adapters ask for the peer only when it is read (a system call
      // a connection saved): by then it is gone.
      // Its reads end in the reset, after the message if the kernel kept it.
      const reset = await listener.accept();
      assert.equal(reset.remoteAddr, undefined);
      const read = async () => {
        for (let reads = 0, got = 0; reads < 3; reads++) {
          const n = await reset.read(new Uint8Array(16));
          if (n === null) return `end of stream after ${got} bytes`;
          got += n;
        }
        return "no end";
      };
      if (onBun) await assert.rejects(read(), (err) => errorCode(err) === "ECONNRESET");
      else {
        // Node reads a reset that comes with the last data as end of stream
        // (libuv/libuv#2319; the README lists it).
        const ended = await read().catch((err) => errorCode(err));
        assert.match(String(ended), /^(ECONNRESET|end of stream after (0|16) bytes)$/);
      }
      reset.close();
    }
    const client = await connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const server = await listener.accept();
    assert.deepEqual(server.remoteAddr, client.localAddr);
    closeAll(client, server);
  } finally {
    listener.close();
  }
});

test("AcceptQueue holds at most maxWaiting connections; each one past it is closed and rejects one accept() (ECONNABORTED)", async () => {
  /** A connection over a socket that only records what is done to it. */
  class Recorded extends QueuedConn {
    released = false;
    paused = false;
    constructor() {
      const socket = {
        pause: () => (this.paused = true),
        resume: () => (this.paused = false),
      };
      super(socket);
    }
    write = () => Promise.resolve(0);
    protected sendFin() {}
    protected release() {
      this.released = true;
    }
  }
  let stopped = false;
  const queue = new AcceptQueue(tcp("127.0.0.1", 1), () => (stopped = true), 2);
  const conns = Array.from({ length: 5 }, () => new Recorded());
  for (const conn of conns) queue.push(conn);
  // Two wait, paused; three were closed as they came.
  assert.deepEqual(conns.map((c) => [c.released, c.paused]), [
    [false, true],
    [false, true],
    [true, false],
    [true, false],
    [true, false],
  ]);
  // Whoever accepts hears of the three first, then gets the two, started.
  for (let i = 0; i < 3; i++) {
    await assert.rejects(queue.accept(), (err) => {
      assert.equal(rawCode(err), "ECONNABORTED");
      assert.equal(acceptErrorKind(err), "connection");
      assert.equal(
        (err as Error).message,
        "closed at once: 2 connections were already waiting to be accepted",
      );
      return true;
    });
  }
  assert.equal(await queue.accept(), conns[0]);
  assert.equal(await queue.accept(), conns[1]);
  assert(!conns[0].paused && !conns[1].paused);
  // Room again: the next one waits instead of being closed.
  const later = new Recorded();
  queue.push(later);
  assert(!later.released);
  assert.equal(await queue.accept(), later);
  queue.close();
  assert(stopped);
});
