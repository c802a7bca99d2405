// TLS through the library on every runtime: serve({ tls }), request({ tls })
// and load({ tls }) with each other and with foreign peers (openssl s_client
// and s_server, Python's ssl), the certificate failures a client must refuse
// each with its code, and the peers a server must survive. The certificates
// are made by the test with `openssl` into a temporary folder (tests/certs.ts):
// none is checked in.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import {
  connect,
  errorKind,
  listen,
  load,
  NetError,
  request,
  serve,
  type ServeOptions,
  type Server,
  type ServerEvent,
} from "../mod.ts";
import { makeCerts, removeCerts } from "./certs.ts";
import {
  decode,
  endProgramsAfterEach,
  onDeno,
  Program,
  PYTHON,
  runCommand,
  shellQuote,
  until,
  within,
} from "./helpers.ts";

endProgramsAfterEach();

const certs = makeCerts();
const pem = (path: string) => certs.text(path);
const ca = pem(certs.ca.cert);
const servers: Server[] = [];
const programs: Program[] = [];
// A failed test must leave no server listening, no peer running, no files.
after(async () => {
  await Promise.all(servers.map((server) => server.shutdown(0)));
  await Promise.all(programs.map((p) => p.stop("SIGKILL")));
  removeCerts(certs);
});

const TLS_PEERS = new URL("fixtures/tls_peers.py", import.meta.url).pathname;

/** Our server over TLS on a free port, with the leaf for localhost. */
async function tlsServer(options: ServeOptions = {}, pair = certs.leaf) {
  const events: ServerEvent[] = [];
  const server = await serve({
    port: 0,
    tls: { cert: pem(pair.cert), key: pem(pair.key) },
    onEvent: (e) => events.push(e),
    ...options,
  });
  servers.push(server);
  return { server, events, port: server.addr.port };
}

/** Rejects with a NetError of operation `op` and code `code`, and the
 * message `message`. */
function netError(op: string, code: string, message: string) {
  return (err: unknown) => {
    assert(err instanceof NetError, `not a NetError: ${err}`);
    assert.deepEqual([err.op, err.code, err.message], [op, code, message]);
    return true;
  };
}

/** The events of one failed handshake, as the server reports them. */
function handshakeFailures(events: ServerEvent[]) {
  return events.flatMap((e) =>
    e.type === "failed" && e.error instanceof NetError && e.error.op === "handshake"
      ? [e.error.code]
      : []
  );
}

test("serve({ tls }) and request({ tls: { ca } }): the exchange over TLS, and its protocol and cipher once", async () => {
  const { server, events, port } = await tlsServer();
  const { reply, remoteAddr } = await request({ port, tls: { ca } });
  assert.equal(decode(reply), "Farewell, client");
  assert.deepEqual(remoteAddr, server.addr);
  const stats = await server.shutdown();
  assert.equal(stats.served, 1);
  assert.deepEqual(events.map((e) => e.type), ["accepted", "secured", "message", "replied"]);
  const secured = events[1] as Extract<ServerEvent, { type: "secured" }>;
  if (onDeno) {
    // Deno.TlsConn does not tell them.
    assert.deepEqual(secured.tls, { version: null, cipher: null });
  } else {
    assert.equal(secured.tls.version, "TLSv1.3");
    assert.match(
      secured.tls.cipher!,
      /^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$/,
    );
  }
});

test("request({ tls }) checks the name it is given: localhost, 127.0.0.1, ::1, or servername", async () => {
  const { port } = await tlsServer();
  for (const options of [{ hostname: "localhost" }, {}, { tls: { ca, servername: "localhost" } }]) {
    const { reply } = await request({ port, tls: { ca }, ...options });
    assert.equal(decode(reply), "Farewell, client", JSON.stringify(options));
  }
  const six = await tlsServer({ hostname: "::1" });
  const { reply } = await request({ hostname: "::1", port: six.port, tls: { ca } });
  assert.equal(decode(reply), "Farewell, client");
});

test("request({ tls }) refuses a certificate from an unknown CA: ECERTUNTRUSTED, the same message everywhere", async () => {
  const { port, events } = await tlsServer();
  const message = `TLS handshake with 127.0.0.1:${port} failed: certificate not trusted`;
  await assert.rejects(
    request({ port, tls: true }),
    netError("handshake", "ECERTUNTRUSTED", message),
  );
  await assert.rejects(
    request({ port, tls: { ca: pem(certs.otherCa.cert) } }),
    netError("handshake", "ECERTUNTRUSTED", message),
  );
  // The server counts each as a failed handshake, and goes on serving.
  await until(() => handshakeFailures(events).length === 2, () => JSON.stringify(events));
  assert.equal(decode((await request({ port, tls: { ca } })).reply), "Farewell, client");
});

test("request({ tls }) refuses a certificate for another name (ECERTNAME), and takes it for that name", async () => {
  const { port } = await tlsServer({}, certs.wrongName);
  await assert.rejects(
    request({ port, tls: { ca } }),
    netError(
      "handshake",
      "ECERTNAME",
      `TLS handshake with 127.0.0.1:${port} failed: certificate is for another name`,
    ),
  );
  const { reply } = await request({ port, tls: { ca, servername: "example.invalid" } });
  assert.equal(decode(reply), "Farewell, client");
  const right = await tlsServer();
  await assert.rejects(
    request({ port: right.port, tls: { ca, servername: "example.invalid" } }),
    (err) => err instanceof NetError && err.code === "ECERTNAME",
  );
});

test("request({ tls }) refuses an expired certificate: ECERTEXPIRED", async () => {
  const { port } = await tlsServer({}, certs.expired);
  await assert.rejects(
    request({ port, tls: { ca } }),
    netError(
      "handshake",
      "ECERTEXPIRED",
      `TLS handshake with 127.0.0.1:${port} failed: certificate expired or not yet valid`,
    ),
  );
});

test("request({ tls }) to a plain server: ENOTTLS, and load() stops at once with it", async () => {
  const plain = await serve({ port: 0 });
  servers.push(plain);
  const port = plain.addr.port;
  const notTls = netError(
    "handshake",
    "ENOTTLS",
    `TLS handshake with 127.0.0.1:${port} failed: the server did not answer TLS`,
  );
  await assert.rejects(request({ port, tls: { ca } }), notTls);
  await assert.rejects(load({ port, tls: { ca }, count: 50, concurrency: 4 }), notTls);
  // Against the other failures, errorKind says handshake.
  assert.equal(errorKind(new NetError("handshake", "EPIPE", undefined)), "handshake");
  assert.equal(errorKind(new NetError("handshake", "ETIMEDOUT", undefined)), "timeout");
});

test("load({ tls }) counts a server that resets each handshake as kind handshake", async () => {
  // Reads each client's first flight, then resets.
  const rst = new Program([PYTHON, "-u", TLS_PEERS], ["rst-server", "3"]);
  programs.push(rst);
  const [, port] = await rst.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/);
  const summary = await load({ port: Number(port), tls: { ca }, count: 3 });
  assert.equal(summary.failed, 3);
  assert.equal(summary.errors.handshake, 3, JSON.stringify(summary.errors));
});

test("serve({ tls, framing }) and request({ tls, framing }): lines and u32 frames over TLS", async () => {
  for (const framing of ["line", "u32"] as const) {
    const { port } = await tlsServer({ framing });
    const { reply } = await request({ port, tls: { ca }, framing, message: "Hi there" });
    assert.equal(decode(reply), framing === "line" ? "Farewell, client\n" : "Farewell, client");
  }
});

test("load({ tls }) runs many exchanges, each with its own handshake", async () => {
  const { port, server } = await tlsServer({ events: "problems" });
  const summary = await load({ port, tls: { ca }, count: 200, concurrency: 8 });
  assert.equal(summary.succeeded, 200, JSON.stringify(summary.errors));
  assert.equal((await server.shutdown()).served, 200);
});

/** Runs one of tls_peers.py's behaviours against `port`; what it read. */
async function tlsPeer(port: number, behaviour: string): Promise<string> {
  const ran = await runCommand([PYTHON, "-u", TLS_PEERS], [
    "peer",
    String(port),
    behaviour,
    certs.ca.cert,
  ]);
  assert.equal(ran.code, 0, ran.stderr.join("\n"));
  return ran.stdout.join("\n");
}

test("serve({ tls }) fails plain text, a cut handshake and a reset mid-handshake, one event each, and serves on", async () => {
  const { port, server, events } = await tlsServer();
  await tlsPeer(port, "plain_text");
  await tlsPeer(port, "cut_handshake");
  await tlsPeer(port, "reset_in_handshake");
  await until(
    () => server.stats.failed + server.stats.skipped === 3,
    () => JSON.stringify(server.stats),
  );
  assert.equal(await tlsPeer(port, "good"), "b'Farewell, client'");
  const codes = handshakeFailures(events);
  assert.deepEqual(codes.slice(0, 2), ["ENOTTLS", "EPIPE"]);
  // A reset may come before the server asks for the peer: then it is a
  // skipped connection, as a plain one reset that early is.
  assert(
    codes.length === 3 ? codes[2] === "EPIPE" : server.stats.skipped === 1,
    `${JSON.stringify(codes)} ${JSON.stringify(server.stats)}`,
  );
  const failed = events.find((e) => e.type === "failed")!;
  assert.equal(
    (failed as { error: Error }).error.message,
    `TLS handshake with ${(failed as { peer: string }).peer} failed: the client did not speak TLS`,
  );
});

test("serve({ tls }) cuts a handshake never finished at the deadline, and serves others meanwhile", async () => {
  const { port, server, events } = await tlsServer({ timeout: 1500 });
  // A client that connects and sends nothing: its handshake never starts.
  const silent = await connect({ hostname: "127.0.0.1", port });
  try {
    const started = Date.now();
    for (let i = 0; i < 3; i++) {
      assert.equal(decode((await request({ port, tls: { ca } })).reply), "Farewell, client");
    }
    assert(Date.now() - started < 1500, "served while the silent peer held its handshake");
    await until(() => server.stats.timedOut === 1, "the silent peer's deadline", 10_000);
  } finally {
    silent.close();
  }
  const timeout = events.find((e) => e.type === "timeout");
  assert.deepEqual(
    { ...timeout, peer: undefined },
    { type: "timeout", peer: undefined, bytes: 0, expected: 16, timeout: 1500, stage: "handshake" },
  );
});

test("serve({ tls }) with a key that does not match the certificate: EKEYMISMATCH", async () => {
  await assert.rejects(
    serve({ port: 0, tls: { cert: pem(certs.leaf.cert), key: pem(certs.strayKey) } }),
    netError(
      "listen",
      "EKEYMISMATCH",
      "cannot listen on 127.0.0.1:0: the key does not match the certificate",
    ),
  );
});

test("serve() and request() check their TLS options", async () => {
  const tls = { cert: pem(certs.leaf.cert), key: pem(certs.leaf.key) };
  await assert.rejects(serve({ port: 0, tls: { cert: tls.key, key: tls.key } }), {
    name: "RangeError",
    message: "tls.cert is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)",
  });
  await assert.rejects(serve({ port: 0, tls: { cert: tls.cert, key: tls.cert } }), {
    name: "RangeError",
    message: "tls.key is not a PEM private key (no '-----BEGIN PRIVATE KEY-----' line)",
  });
  await assert.rejects(serve({ transport: "unix", path: "/nonexistent/x.sock", tls }), {
    name: "RangeError",
    message: "TLS is served over TCP, not a Unix socket",
  });
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  await assert.rejects(serve({ listener, tls }), {
    name: "RangeError",
    message: "a listener brings its own TLS, if any: leave tls out",
  });
  listener.close();
  await assert.rejects(request({ port: 1, tls: { ca: "ca.pem" } }), {
    name: "RangeError",
    message: "tls.ca is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)",
  });
  await assert.rejects(request({ port: 1, tls: { servername: "" } }), { name: "RangeError" });
  await assert.rejects(request({ transport: "unix", path: "/x.sock", tls: true }), {
    name: "RangeError",
    message: "TLS is over TCP, not a Unix socket",
  });
});

test("openssl s_client and Python's ssl are clients of serve({ tls })", async () => {
  const { port, server } = await tlsServer();
  const sClient = await runCommand(["sh", "-c"], [
    `printf 'Hi there, server' | openssl s_client -connect 127.0.0.1:${port} ` +
    `-CAfile ${shellQuote([certs.ca.cert])} -servername localhost -verify_return_error -quiet; ` +
    // The reply has no newline of its own: the line ends here.
    "status=$?; echo; exit $status",
  ]);
  assert.equal(sClient.code, 0, sClient.stderr.join("\n"));
  assert.equal(sClient.stdout.join("\n"), "Farewell, client");
  const python = await runCommand([PYTHON, "-u", TLS_PEERS], [
    "client",
    String(port),
    certs.ca.cert,
    "localhost",
  ]);
  assert.equal(python.code, 0, python.stderr.join("\n"));
  const { reply, version } = JSON.parse(python.stdout[0]);
  assert.deepEqual({ reply, version }, { reply: "Farewell, client", version: "TLSv1.3" });
  await until(() => server.stats.served === 2, () => JSON.stringify(server.stats));
});

test("request({ tls }) with openssl s_server (-rev) and a Python ssl server", async () => {
  const sServer = new Program(["openssl"], [
    "s_server",
    "-accept",
    "127.0.0.1:0",
    "-cert",
    certs.leaf.cert,
    "-key",
    certs.leaf.key,
    "-rev",
    "-naccept",
    "1",
  ]);
  programs.push(sServer);
  const [, sPort] = await sServer.waitForLine(/^ACCEPT 127\.0\.0\.1:(\d+)$/);
  // -rev sends each line back reversed.
  const reversed = { message: "tneilc ,lleweraF\n", reply: "Farewell, client\n" };
  const { reply } = await request({ port: Number(sPort), tls: { ca }, ...reversed });
  assert.equal(decode(reply), "Farewell, client\n");
  assert.equal(await within(sServer.exited, 10_000), 0);

  const python = new Program([PYTHON, "-u", TLS_PEERS], [
    "server",
    certs.leaf.cert,
    certs.leaf.key,
    "2",
  ]);
  programs.push(python);
  const [, pPort] = await python.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/);
  for (const hostname of ["127.0.0.1", "localhost"]) {
    const got = await request({ hostname, port: Number(pPort), tls: { ca } });
    assert.equal(decode(got.reply), "Farewell, client");
  }
  assert.equal(await within(python.exited, 10_000), 0);
  assert.deepEqual(python.stderr, []);
});

test("request({ tls }) fails with one NetError when the server's reply does not decrypt", async () => {
  const bad = new Program([PYTHON, "-u", TLS_PEERS], [
    "server",
    certs.leaf.cert,
    certs.leaf.key,
    "1",
    "bad",
  ]);
  programs.push(bad);
  const [, port] = await bad.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/);
  await assert.rejects(request({ port: Number(port), tls: { ca } }), (err) => {
    assert(err instanceof NetError, `not a NetError: ${err}`);
    assert.deepEqual([err.op, err.code], ["read", "ETLS"]);
    assert.equal(err.message, `reading from 127.0.0.1:${port} failed: TLS protocol error`);
    return true;
  });
});

test("request({ tls }) gives up at its deadline on a server that never answers the handshake", async () => {
  // Accepts, reads, and never writes: the handshake waits forever.
  const mute = await listen({ hostname: "127.0.0.1", port: 0 });
  const held: unknown[] = [];
  (async () => {
    for (;;) held.push(await mute.accept());
  })().catch(() => {});
  try {
    await assert.rejects(
      request({ port: mute.addr.port, tls: { ca }, timeout: 300 }),
      netError(
        "connect",
        "ETIMEDOUT",
        `cannot connect to 127.0.0.1:${mute.addr.port}: no connection within 0.3 s`,
      ),
    );
  } finally {
    mute.close();
    for (const conn of held) (conn as { close(): void }).close();
  }
});
