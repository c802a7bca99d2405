// What the two programs share, end to end: the tutorial's exchange between
// them, hosts, usage errors, --help and --version, and Deno's permission.
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { VERSION } from "../mod.ts";
import {
  endProgramsAfterEach,
  hasNetns,
  invokedName,
  isolated,
  onBun,
  onDeno,
  Program,
  programCommand,
  runCommand,
  runProgram,
  startServer,
} from "./helpers.ts";

endProgramsAfterEach();

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

test("usage errors: one line that names the flag, how to get help, exit 2, the same on every runtime", async () => {
  // Every message is checked in process (cli_test); these show the whole
  // output, as a person sees it.
  const cases = [
    ["client", ["--bogus"], "unknown option '--bogus'"],
    [
      "client",
      ["--timeout", "-1"],
      "--timeout takes a number of seconds from 0.001 to 2147483, got '-1'",
    ],
    [
      "server",
      [""],
      "HOST is empty: give an address such as 127.0.0.1, or 0.0.0.0 for every interface",
    ],
  ] as const;
  const runs = await Promise.all(cases.map(([program, args]) => runProgram(program, [...args])));
  for (const [i, [program, args, message]] of cases.entries()) {
    const run = runs[i];
    assert.equal(run.code, 2, `${program} ${args.join(" ")}`);
    assert.deepEqual(run.stdout, []);
    assert.deepEqual(run.stderr, [
      `${program}: ${message}`,
      `try '${invokedName(program)} --help'`,
    ]);
  }
});

test("--help describes the program, by the name it was invoked with; --version names the runtime", async () => {
  for (const program of ["server", "client"] as const) {
    const name = invokedName(program);
    const [help, version] = await Promise.all([
      runProgram(program, ["--help"]),
      runProgram(program, ["-V"]),
    ]);
    assert.equal(help.code, 0);
    assert.match(help.stdout[0], new RegExp(`^${name}: the sixteen-octet TCP ${program} `));
    assert(help.stdout.includes(`usage: ${name} [HOST[:PORT]] [-p PORT] [options]`));
    for (const section of ["examples:", "exit status:"]) assert(help.stdout.includes(section));
    assert(help.stdout.some((line) => line.startsWith(`  ${name} [::1]`)), "examples by name");
    assert(help.stdout.includes("  2    usage error"));
    assert(help.stdout.some((line) => line.startsWith("  130  ")), "130 in the exit statuses");
    assert.equal(version.code, 0);
    assert.deepEqual(version.stdout, [
      `tcp-sixteen ${VERSION} (${onDeno ? "Deno" : onBun ? "Bun" : "Node"} ${
        onDeno ? process.versions.deno : onBun ? process.versions.bun : process.versions.node
      })`,
    ]);
  }
});

test("a HOST named help: one line pointing at --help, exit 1, for both programs", {
  skip: !hasNetns && "needs unshare -rn: the lookup of 'help' must not leave the machine",
}, async () => {
  // `server.ts help` is a host name to look up; when there is no such host,
  // the line says where the help is.
  const [server, client] = await Promise.all([
    runCommand(isolated(programCommand("server")), ["help"]),
    runCommand(isolated(programCommand("client")), ["help"]),
  ]);
  assert.equal(server.code, 1);
  assert.deepEqual(server.stderr, [
    `server: cannot listen on help:1060: unknown host — for the options, try '${
      invokedName("server")
    } --help'`,
  ]);
  assert.equal(client.code, 1);
  assert.deepEqual(client.stderr, [
    `client: cannot connect to help:1060: unknown host — for the options, try '${
      invokedName("client")
    } --help'`,
  ]);
});

test("HOST:PORT is HOST -p PORT, for both programs, IPv6 in brackets", async () => {
  const server = new Program(programCommand("server"), ["[::1]:0"]);
  try {
    const [, port] = await server.waitForLine(/^Listening at \[::1\]:(\d+)$/);
    const client = await runProgram("client", [`[::1]:${port}`]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.equal(client.stdout[1], "The server said 'Farewell, client'");
  } finally {
    await server.stop();
  }
  const { server: v4, port } = await startServer();
  try {
    const client = await runProgram("client", [`127.0.0.1:${port}`]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
  } finally {
    await v4.stop();
  }
});

test("server and client speak another fixed-length protocol with --message, --reply, --message-length", async () => {
  const { server, port } = await startServer([
    "--message-length",
    "4",
    "--reply",
    "pong\\r\\n",
  ]);
  try {
    const client = await runProgram("client", [
      "-p",
      String(port),
      "--message",
      "ping",
      "--reply",
      "pong\\r\\n",
    ]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.equal(client.stdout[1], "The server said 'pong\\r\\n'");
    await server.waitForLine(/^The incoming 4-octet message says 'ping'$/);
    const any = await runProgram("client", [
      "-p",
      String(port),
      "--message",
      "ping",
      "--reply-length",
      "6",
    ]);
    assert.equal(any.code, 0, any.stderr.join("\n"));
    const wrong = await runProgram("client", [
      "-p",
      String(port),
      "--message",
      "ping",
      "--reply",
      "PONG\\r\\n",
    ]);
    assert.equal(wrong.code, 1);
    assert.deepEqual(wrong.stderr, [
      "client: unexpected reply 'pong\\r\\n' (expected 'PONG\\r\\n')",
    ]);
  } finally {
    await server.stop();
  }
});

test("Deno without --allow-net: one line naming the flag", {
  skip: !("Deno" in globalThis) && "Deno permissions only",
}, async () => {
  const deno = process.execPath;
  const script = new URL("../client.ts", import.meta.url).pathname;
  // An explicit permission flag, or Deno's node:child_process grants -A.
  const client = new Program([deno, "run", "--allow-env=NO_COLOR", script], ["-p", "1"]);
  assert.equal(await client.exited, 1);
  assert.deepEqual(client.stderr, [
    "client: cannot connect to 127.0.0.1:1: network access denied — run deno with --allow-net",
  ]);
});

/** Runs the tutorial's Python program on a free port. */
