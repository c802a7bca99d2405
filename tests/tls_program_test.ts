// The programs over TLS, as subprocesses on the runtime under test: the
// server's --tls-cert/--tls-key and the client's --tls, --tls-ca and
// --tls-servername, the JSON log's protocol and cipher, each failure as one
// line with what to do and its exit status, Deno's --allow-read, and the
// example of docs/transports.md run as written. The certificates are made
// by the test with `openssl` into a temporary folder (tests/certs.ts).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { recvAll, sendAll, serve, type Server } from "../mod.ts";
import { makeCerts, removeCerts } from "./certs.ts";
import {
  endProgramsAfterEach,
  onDeno,
  Program,
  programCommand,
  runCommand,
  testServer,
} from "./helpers.ts";

endProgramsAfterEach();

const certs = makeCerts();
const running: Program[] = [];
const servers: Server[] = [];
// Every program a test starts ends with it, pass or fail.
after(async () => {
  await Promise.all(running.map((p) => p.stop("SIGKILL")));
  await Promise.all(servers.map((s) => s.shutdown(0)));
  removeCerts(certs);
});

/** The program's command on this runtime, allowed to read `paths` on Deno. */
function command(program: "server" | "client", paths: string[]): string[] {
  return programCommand(program, paths.length ? [`--allow-read=${paths.join(",")}`] : []);
}

/** Runs the client to its end, allowed to read `paths` on Deno. */
function client(args: string[], paths: string[] = []) {
  return runCommand(command("client", paths), args);
}

/** Starts the server over TLS with `pair`, JSON logs; its port. */
async function tlsServer(pair = certs.leaf, extra: string[] = []) {
  const server = new Program(command("server", [pair.cert, pair.key]), [
    "-p",
    "0",
    "--tls-cert",
    pair.cert,
    "--tls-key",
    pair.key,
    ...extra,
  ]);
  running.push(server);
  const listening = await server.waitForLine(/^\{.*"event":"listening"|^Listening at/);
  const port = /127\.0\.0\.1:(\d+)/.exec(listening.input!)![1];
  return { server, port };
}

test("server --tls-cert/--tls-key and client --tls-ca: an exchange, load mode, and the JSON log's protocol and cipher", async () => {
  const { server, port } = await tlsServer(certs.leaf, ["--log", "json"]);
  const one = await client(["-p", port, "--tls-ca", certs.ca.cert], [certs.ca.cert]);
  assert.equal(one.code, 0, one.stderr.join("\n"));
  assert.equal(one.stdout[1], "The server said 'Farewell, client'");
  const many = await client(
    ["-p", port, "--tls-ca", certs.ca.cert, "-n", "40", "-c", "4", "--json"],
    [certs.ca.cert],
  );
  assert.equal(many.code, 0, many.stderr.join("\n"));
  assert.equal(JSON.parse(many.stdout[0]).succeeded, 40);
  const secured = JSON.parse((await server.waitForLine(/"event":"secured"/)).input!);
  assert.deepEqual(Object.keys(secured), ["time", "event", "peer", "tls"]);
  if (onDeno) assert.deepEqual(secured.tls, { version: null, cipher: null });
  else {
    assert.equal(secured.tls.version, "TLSv1.3");
    assert.match(secured.tls.cipher, /^TLS_/);
  }
  assert.equal(await server.stop(), 0);
  const stopped = JSON.parse(server.stdout.at(-1)!);
  assert.equal(stopped.served, 41);
  assert.equal(server.stdout.filter((line) => line.includes('"event":"secured"')).length, 41);
});

test("client: a refused handshake is one line saying what to do, exit 1", async () => {
  const { port } = await tlsServer();
  const where = `TLS handshake with 127.0.0.1:${port} failed`;
  const cases: [string[], string][] = [
    [
      ["--tls"],
      `${where}: certificate not trusted — pass --tls-ca FILE (the CA that signed it, or the certificate itself)`,
    ],
    [
      ["--tls-ca", certs.otherCa.cert, "-n", "5"],
      `${where}: certificate not trusted — pass --tls-ca FILE (the CA that signed it, or the certificate itself)`,
    ],
    [
      ["--tls-ca", certs.ca.cert, "--tls-servername", "example.invalid"],
      `${where}: certificate is for another name — pass --tls-servername NAME with a name the certificate is for`,
    ],
  ];
  for (const [flags, line] of cases) {
    const run = await client(["-p", port, ...flags], [certs.ca.cert, certs.otherCa.cert]);
    assert.deepEqual(
      [run.code, run.stdout, run.stderr],
      [1, [], [`client: ${line}`]],
      flags.join(" "),
    );
  }
  const expired = await tlsServer(certs.expired);
  const run = await client(["-p", expired.port, "--tls-ca", certs.ca.cert], [certs.ca.cert]);
  assert.deepEqual(run.stderr, [
    `client: TLS handshake with 127.0.0.1:${expired.port} failed: certificate expired or not ` +
    "yet valid — renew the server's certificate, or check this machine's clock",
  ]);
});

test("client --tls against a plain server: 'the server did not answer TLS — drop --tls?', exit 1", async () => {
  const plain = await serve({ port: 0, events: "problems" });
  servers.push(plain);
  const port = String(plain.addr.port);
  for (const flags of [["--tls-ca", certs.ca.cert], ["--tls-ca", certs.ca.cert, "-d", "1"]]) {
    const run = await client(["-p", port, ...flags], [certs.ca.cert]);
    assert.deepEqual([run.code, run.stdout, run.stderr], [1, [], [
      `client: TLS handshake with 127.0.0.1:${port} failed: the server did not answer TLS — drop --tls?`,
    ]], flags.join(" "));
  }
});

test("client without --tls against a server that answers with a TLS alert: 'add --tls', exit 1", async () => {
  // What a TLS server (openssl s_server, Deno's, Bun's) sends to a client
  // that speaks plain text: an alert record (type 21, TLS 1.2, fatal
  // protocol_version), then it closes.
  const alert = new Uint8Array([21, 3, 3, 0, 2, 2, 70]);
  const peer = await testServer(async (conn) => {
    await recvAll(conn, 16);
    await sendAll(conn, alert);
  });
  try {
    const run = await client(["-p", String(peer.port)]);
    assert.deepEqual([run.code, run.stderr], [1, [
      `client: reading from 127.0.0.1:${peer.port} failed: socket closed 7 bytes into a 16-byte message — it answered with a TLS alert: add --tls (or --tls-ca FILE)`,
    ]]);
  } finally {
    await peer.close();
  }
});

test("server: --tls-cert without --tls-key is a usage error; a key of another certificate, one line and exit 1", async () => {
  const alone = await runCommand(command("server", [certs.leaf.cert]), [
    "-p",
    "0",
    "--tls-cert",
    certs.leaf.cert,
  ]);
  assert.equal(alone.code, 2);
  assert.equal(
    alone.stderr[0],
    "server: --tls-cert and --tls-key go together: give both, or neither",
  );
  const paths = [certs.leaf.cert, certs.strayKey];
  const mismatch = await runCommand(command("server", paths), [
    "-p",
    "0",
    "--tls-cert",
    certs.leaf.cert,
    "--tls-key",
    certs.strayKey,
  ]);
  assert.deepEqual([mismatch.code, mismatch.stdout, mismatch.stderr], [1, [], [
    "server: cannot listen on 127.0.0.1:0: the key does not match the certificate — " +
    "give --tls-key the key of --tls-cert's certificate",
  ]]);
});

test("server and client: a TLS file missing or not PEM is one line naming the flag (exit 1); TLS without TCP, a usage error", async () => {
  const missing = join(certs.dir, "missing.pem");
  const server = await runCommand(command("server", [certs.leaf.cert, missing]), [
    "-p",
    "0",
    "--tls-cert",
    certs.leaf.cert,
    "--tls-key",
    missing,
  ]);
  assert.deepEqual([server.code, server.stderr], [1, [
    `server: cannot read --tls-key ${missing}: no such file`,
  ]]);
  const swapped = await runCommand(command("server", [certs.leaf.cert, certs.leaf.key]), [
    "-p",
    "0",
    "--tls-cert",
    certs.leaf.key,
    "--tls-key",
    certs.leaf.cert,
  ]);
  assert.deepEqual([swapped.code, swapped.stderr], [1, [
    `server: --tls-cert ${certs.leaf.key} is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)`,
  ]]);
  const ca = await client(["-p", "1", "--tls-ca", certs.leaf.key], [certs.leaf.key]);
  assert.deepEqual([ca.code, ca.stderr], [1, [
    `client: --tls-ca ${certs.leaf.key} is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)`,
  ]]);
  const name = await client(["-p", "1", "--tls-servername", "localhost"]);
  assert.equal(name.code, 2);
  assert.equal(name.stderr[0], "client: --tls-servername needs --tls or --tls-ca");
  const unix = join(certs.dir, "x.sock");
  const overUnix = await client(["--unix", unix, "--tls"]);
  assert.deepEqual([overUnix.code, overUnix.stderr[0]], [
    2,
    "client: TLS is served over TCP: give HOST and -p, not --unix",
  ]);
  const serverUnix = await runCommand(command("server", [certs.leaf.cert, certs.leaf.key]), [
    "--unix",
    unix,
    "--tls-cert",
    certs.leaf.cert,
    "--tls-key",
    certs.leaf.key,
  ]);
  assert.deepEqual([serverUnix.code, serverUnix.stderr[0]], [
    2,
    "server: TLS is served over TCP: give HOST and -p, not --unix",
  ]);
});

test("Deno without --allow-read for the TLS files: one line naming the flag", {
  skip: !onDeno && "Deno's permissions only",
}, async () => {
  const { cert, key } = certs.leaf;
  const server = await runCommand(programCommand("server"), [
    "-p",
    "0",
    "--tls-cert",
    cert,
    "--tls-key",
    key,
  ]);
  assert.deepEqual([server.code, server.stderr], [1, [
    `server: reading --tls-cert ${cert} is not allowed — run deno with --allow-read=${cert},${key}`,
  ]]);
  const ca = await client(["-p", "1", "--tls-ca", certs.ca.cert]);
  assert.deepEqual([ca.code, ca.stderr], [1, [
    `client: reading --tls-ca ${certs.ca.cert} is not allowed — run deno with --allow-read=${certs.ca.cert}`,
  ]]);
});

/** The certificate command of docs/transports.md, word for word (checked
 * against the page where the sources are). */
const MAKE_CERT = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 " +
  "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1 " +
  "-addext basicConstraints=critical,CA:FALSE -keyout key.pem -out cert.pem";

test("docs/transports.md's example: a self-signed certificate from openssl, both programs over TLS", async () => {
  const doc = new URL("../docs/transports.md", import.meta.url);
  if (existsSync(doc)) {
    const text = readFileSync(doc, "utf8").replaceAll("\\\n", "").replace(/ +/g, " ");
    assert(text.includes(MAKE_CERT), "docs/transports.md makes the certificate as this test does");
  }
  const made = await runCommand(["sh", "-c"], [`cd '${certs.dir}' && ${MAKE_CERT}`]);
  assert.equal(made.code, 0, made.stderr.join("\n"));
  const self = { cert: join(certs.dir, "cert.pem"), key: join(certs.dir, "key.pem") };
  const { server, port } = await tlsServer(self);
  for (const host of ["127.0.0.1", "localhost"]) {
    const run = await client([host, "-p", port, "--tls-ca", self.cert], [self.cert]);
    assert.equal(run.code, 0, `${host}: ${run.stderr.join("\n")}`);
    assert.equal(run.stdout[1], "The server said 'Farewell, client'");
  }
  assert.equal(await server.stop(), 0);
});
