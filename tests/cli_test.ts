// The command-line programs end to end, as subprocesses: what they print,
// what a peer sees on the wire, and their exit codes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { listen, recvAll, sendAll } from "../mod.ts";
import { parseCommandLine, UsageError } from "../cli.ts";
import {
  closedPort,
  decode,
  dial,
  encode,
  exchange,
  Program,
  programCommand,
  readToEnd,
  runProgram,
  sendSlowly,
  startServer,
} from "./helpers.ts";

test("server and client CLIs do the tutorial's exchange and tell its story", async () => {
  const { server, port } = await startServer();
  try {
    const client = await runProgram("client", ["-p", String(port)]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.match(client.stdout[0], /^Client has been assigned socket name 127\.0\.0\.1:(\d+)$/);
    assert.equal(client.stdout[1], "The server said 'Farewell, client'");
    assert.equal(client.stdout.length, 2);
    assert.deepEqual(client.stderr, []);
    const clientPort = client.stdout[0].split(":")[1];
    await server.waitForLine(/^Reply sent, socket closed$/);
    assert.deepEqual(server.stdout.slice(1, 5), [
      `We have accepted a connection from 127.0.0.1:${clientPort}`,
      `Socket connects 127.0.0.1:${port} and 127.0.0.1:${clientPort}`,
      "The incoming sixteen-octet message says 'Hi there, server'",
      "Reply sent, socket closed",
    ]);
  } finally {
    assert.equal(await server.stop(), 0);
  }
  assert.match(server.stdout.at(-1)!, /^Stopped: 1 served, 0 failed, 0 timed out$/);
});

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

test("client against a closed port exits 1 with one line", async () => {
  const port = await closedPort();
  const client = await runProgram("client", ["-p", String(port)]);
  assert.equal(client.code, 1);
  assert.deepEqual(client.stdout, []);
  assert.deepEqual(client.stderr, [
    `client: cannot connect to 127.0.0.1:${port}: connection refused — is the server running?`,
  ]);
});

test("client with an unknown host exits 1 with one line", async () => {
  const client = await runProgram("client", ["no-such-host.invalid", "-p", "1060"]);
  assert.equal(client.code, 1);
  assert.deepEqual(client.stderr, [
    "client: cannot connect to no-such-host.invalid:1060: unknown host — check the name",
  ]);
});

test("client exits 1 when the server closes 5 bytes into its reply", async () => {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    await recvAll(conn, 16);
    await sendAll(conn, encode("Farew"));
    conn.close();
  })();
  const client = await runProgram("client", ["-p", String(listener.addr.port)]);
  await served;
  listener.close();
  assert.equal(client.code, 1);
  assert.deepEqual(client.stderr, ["client: socket closed 5 bytes into a 16-byte message"]);
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
  const python = new Program(["python3", "-u", fixture], []);
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

test("parseCommandLine() takes long, long=value, short and grouped flags, and refuses unknown ones", () => {
  const flags = {
    port: { type: "string", short: "p" },
    timeout: { type: "string" },
    quiet: { type: "boolean", short: "q" },
    version: { type: "boolean", short: "V" },
  } as const;
  const parse = (argv: string[]) => parseCommandLine(argv, flags, 1);
  assert.deepEqual(parse(["::1", "-p", "80", "--timeout=1.5", "-q"]), {
    values: { port: "80", timeout: "1.5", quiet: true },
    positionals: ["::1"],
  });
  assert.deepEqual(parse(["-p80", "--timeout", "-1"]).values, { port: "80", timeout: "-1" });
  assert.deepEqual(parse(["-qVp", "1", "-p", "2"]).values, {
    quiet: true,
    version: true,
    port: "2",
  });
  assert.deepEqual(parse(["--", "-q"]), { values: {}, positionals: ["-q"] });
  for (
    const [argv, message] of [
      [["--bogus"], "Unknown option '--bogus'"],
      [["-x"], "Unknown option '-x'"],
      [["--port"], "Option '--port' needs a value"],
      [["-qp"], "Option '-p, --port' needs a value"],
      [["--quiet=yes"], "Option '--quiet' takes no value"],
      [["--toString"], "Unknown option '--toString'"],
      [["a", "b"], "unexpected argument 'b'"],
    ] as const
  ) {
    assert.throws(
      () => parse([...argv]),
      (err) => err instanceof UsageError && err.message === message,
    );
  }
});

test("usage errors exit 2 with the usage on stderr", async () => {
  for (
    const [program, args, message] of [
      ["client", ["-p", "notaport"], "-p takes a port from 1 to 65535, got 'notaport'"],
      ["client", ["-p", "65536"], "-p takes a port from 1 to 65535, got '65536'"],
      ["client", ["--bogus"], "Unknown option '--bogus'"],
      ["client", ["a", "b"], "unexpected argument 'b'"],
      [
        "client",
        ["--timeout", "0"],
        "--timeout takes a number of seconds from 0.001 to 2147483, got '0'",
      ],
      ["client", ["-p", "0"], "-p takes a port from 1 to 65535, got '0'"],
      ["server", ["--timeout", "0.0001"], "--timeout takes a number of seconds from 0.001"],
      ["server", ["-p", "1.5"], "-p takes a port from 0 to 65535, got '1.5'"],
      ["server", ["--max-connections", "0"], "--max-connections takes a whole number"],
      ["server", ["--log", "xml"], "--log takes human or json, got 'xml'"],
    ] as const
  ) {
    const run = await runProgram(program, [...args]);
    assert.equal(run.code, 2, `${program} ${args.join(" ")}`);
    assert.deepEqual(run.stdout, []);
    assert(run.stderr[0].startsWith(`${program}: `), run.stderr[0]);
    assert(run.stderr[0].includes(message), `${run.stderr[0]} lacks ${message}`);
    assert.match(run.stderr[1], new RegExp(`^usage: ${program} `));
  }
});

test("--help and --version exit 0", async () => {
  for (const program of ["server", "client"] as const) {
    const help = await runProgram(program, ["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout[0], new RegExp(`^usage: ${program} `));
    const version = await runProgram(program, ["-V"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout[0], /^\d+\.\d+\.\d+$/);
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

test("Deno without --allow-net: one line naming the flag", {
  skip: !("Deno" in globalThis) && "Deno permissions only",
}, async () => {
  const deno = process.execPath;
  const script = new URL("../client.ts", import.meta.url).pathname;
  // An explicit permission flag, or Deno's node:child_process grants -A.
  const child = spawn(deno, ["run", "--allow-env=NO_COLOR", script, "-p", "1"], {
    stdio: "pipe",
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const code = await new Promise((resolve) => child.on("close", resolve));
  assert.equal(code, 1);
  assert.equal(
    stderr,
    "client: cannot connect to 127.0.0.1:1: network access denied — run deno with --allow-net\n",
  );
});

/** Runs the tutorial's Python program on a free port. */
function tutorial(role: "server" | "client", port: number): Program {
  return new Program(["python3", "-u", new URL("fixtures/tutorial.py", import.meta.url).pathname], [
    role,
    "127.0.0.1",
  ], { env: { PORT: String(port) } });
}

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
