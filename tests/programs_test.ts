// What the two programs share, end to end: the tutorial's exchange between
// them, hosts, usage errors, --help and --version, and Deno's permission.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { Program, programCommand, runProgram, startServer } from "./helpers.ts";

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

test("server and client take a bracketed IPv6 host, as the server prints it", async () => {
  const server = new Program(programCommand("server"), ["[::1]", "-p", "0"]);
  try {
    const [, port] = await server.waitForLine(/^Listening at \[::1\]:(\d+)$/);
    const client = await runProgram("client", ["[::1]", "-p", port]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.equal(client.stdout[1], "The server said 'Farewell, client'");
  } finally {
    await server.stop();
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
      ["server", ["--linger", "1s"], "--linger takes a number of seconds from 0 to 2147483"],
      [
        "server",
        [""],
        "HOST is empty: give an address such as 127.0.0.1, or 0.0.0.0 for every interface",
      ],
      ["client", [""], "HOST is empty: give the server's address, such as 127.0.0.1"],
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
