// What the programs are made of, in process: parsing, formatting, advice,
// and the log that never stops the server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LineLog } from "../cli/log.ts";
import {
  parseAddress,
  parseCommandLine,
  parseCount,
  parsePort,
  parseSeconds,
  parseTarget,
  parseText,
  UsageError,
} from "../cli/args.ts";
import { plural } from "../cli/text.ts";
import { describe, Failure } from "../cli/run.ts";
import { repr } from "../internal/bytes.ts";
import { formatEvent, main as serverMain } from "../server.ts";
import { formatProgress, formatSummary, main as clientMain, shortReply } from "../client.ts";
import { IncompleteReadError, load, NetError, serve } from "../mod.ts";
import { decode, sleep, tcp } from "./helpers.ts";

/** An output whose writes stay pending until `release()`, or fail. */
function stallingOutput() {
  const written: string[] = [];
  let pending: (() => void)[] = [];
  let failure: Error | undefined;
  return {
    written,
    output: (bytes: Uint8Array) =>
      failure ? Promise.reject(failure) : new Promise<void>((resolve) => {
        pending.push(() => {
          written.push(decode(bytes));
          resolve();
        });
      }),
    release() {
      const now = pending;
      pending = [];
      now.forEach((finish) => finish());
    },
    fail(err: Error) {
      failure = err;
    },
  };
}

test("LineLog queues while the output stalls, drops past its bound, and reports the count", async () => {
  const out = stallingOutput();
  const log = new LineLog(out.output, {
    limit: 40,
    dropped: (n) => `${n} dropped`,
    onClosed: () => assert.fail("not closed"),
  });
  log.line("first"); // Written at once: the write stalls.
  for (let i = 0; i < 10; i++) log.line(`line ${i}`); // 7 bytes each, with the newline.
  assert.equal(log.dropped, 5, "5 lines of 7 bytes fit in 40, the rest are dropped");
  out.release(); // "first" is out: output moves again, the queue goes next.
  await sleep(0);
  out.release();
  await log.flush(100);
  assert.deepEqual(out.written, [
    "first\n",
    "line 0\nline 1\nline 2\nline 3\nline 4\n5 dropped\n",
  ]);
  assert.equal(log.dropped, 5, "the total stays for the summary");
});

test("LineLog stops at a closed output, tells onClosed once, and flush() never hangs", async () => {
  const out = stallingOutput();
  const closed: unknown[] = [];
  const log = new LineLog(out.output, {
    limit: 1000,
    dropped: (n) => `${n} dropped`,
    onClosed: (err) => closed.push(err),
  });
  const epipe = Object.assign(new Error("Broken pipe"), { code: "EPIPE" });
  out.fail(epipe);
  log.line("a");
  await log.flush(100);
  log.line("b");
  await log.flush(100);
  assert.deepEqual(closed, [epipe]);
  // A stalled output: flush() gives up after its time.
  const stalled = stallingOutput();
  const slow = new LineLog(stalled.output, { limit: 1000, dropped: String, onClosed: () => {} });
  slow.line("never written");
  const started = Date.now();
  await slow.flush(50);
  assert(Date.now() - started < 1000);
  assert.deepEqual(stalled.written, []);
  stalled.release();
});

test("parseCommandLine() takes flags as getopt does, and names what is wrong", () => {
  const flags = {
    port: { type: "string", short: "p" },
    timeout: { type: "string" },
    json: { type: "boolean" },
    quiet: { type: "boolean", short: "q" },
  } as const;
  assert.deepEqual(parseCommandLine(["h", "-p", "1", "--timeout=-1", "-q", "--json"], flags, 1), {
    values: { port: "1", timeout: "-1", quiet: true, json: true },
    positionals: ["h"],
  });
  // A value is the next argument whatever it is; a flag given twice keeps its last.
  assert.deepEqual(parseCommandLine(["--timeout", "-1", "-p2", "-p", "3"], flags, 0).values, {
    timeout: "-1",
    port: "3",
  });
  assert.deepEqual(parseCommandLine(["--", "-p"], flags, 1).positionals, ["-p"]);
  assert.deepEqual(parseCommandLine(["-qp", "80"], flags, 0).values, { quiet: true, port: "80" });
  assert.deepEqual(parseCommandLine(["-qp80"], flags, 0).values, { quiet: true, port: "80" });
  const fails = (argv: string[], message: string) =>
    assert.throws(() => parseCommandLine(argv, flags, 1), { name: "UsageError", message });
  fails(["--bogus"], "unknown option '--bogus'");
  fails(["--bogus=1"], "unknown option '--bogus'");
  fails(["-x"], "unknown option '-x'");
  fails(["-qx"], "unknown option '-x'");
  fails(["--toString"], "unknown option '--toString'"); // Not Object.prototype's.
  fails(["-qp"], "-p needs a value");
  fails(["--timeout"], "--timeout needs a value");
  fails(["-p"], "-p needs a value");
  fails(["--json=1"], "--json takes no value");
  fails(["a", "b"], "unexpected argument 'b'");
});

test("parseAddress() and parseTarget() take HOST, [IPv6], HOST:PORT and -p, and refuse the rest", () => {
  assert.deepEqual(parseAddress("127.0.0.1", "x", false), {
    hostname: "127.0.0.1",
    port: undefined,
  });
  assert.deepEqual(parseAddress("::1", "x", false), { hostname: "::1", port: undefined });
  assert.deepEqual(parseAddress("[::1]", "x", false), { hostname: "::1", port: undefined });
  assert.deepEqual(parseAddress("[::1]:1060", "x", false), { hostname: "::1", port: 1060 });
  assert.deepEqual(parseAddress("localhost:1060", "x", false), {
    hostname: "localhost",
    port: 1060,
  });
  assert.deepEqual(parseAddress("[fe80::1]:0", "x", true), { hostname: "fe80::1", port: 0 });
  assert.throws(() => parseAddress("", "an address", false), {
    message: "HOST is empty: give an address",
  });
  assert.throws(() => parseAddress("[]:1", "x", false), { message: "HOST is empty: give x" });
  assert.throws(() => parseAddress("h:0", "x", false), {
    message: "the PORT of HOST:PORT takes a port from 1 to 65535, got '0'",
  });
  assert.deepEqual(parseTarget(undefined, undefined, "x", false), tcp("127.0.0.1", 1060));
  assert.deepEqual(parseTarget("[::1]", "7", "x", false), tcp("::1", 7));
  assert.deepEqual(parseTarget("h:7", undefined, "x", false), tcp("h", 7));
  assert.throws(() => parseTarget("h:7", "7", "x", false), {
    message: "the port is given twice, in HOST:PORT and with -p: give it once",
  });
});

test("parseText() reads the escapes the logs show bytes with", () => {
  assert.deepEqual(parseText("m", "Hi"), new Uint8Array([72, 105]));
  assert.deepEqual(
    parseText("m", "a\\r\\n\\t\\\\\\x00\\xff"),
    new Uint8Array([97, 13, 10, 9, 92, 0, 255]),
  );
  assert.deepEqual(parseText("m", "é"), new Uint8Array([0xc3, 0xa9]), "UTF-8");
  assert.throws(() => parseText("message", "\\q"), {
    message: "--message: '\\q' is not an escape; use \\n, \\r, \\t, \\\\ or \\xHH",
  });
  assert.throws(() => parseText("message", "\\x4"), UsageError);
  assert.throws(() => parseText("message", "end\\"), UsageError);
});

test("plural() counts one thing and several", () => {
  assert.equal(plural(1, "open connection"), "1 open connection");
  assert.equal(plural(0, "open connection"), "0 open connections");
  assert.equal(plural(4, "log line"), "4 log lines");
});

test("parsePort(), parseSeconds() and parseCount() take what they say, and refuse the rest", () => {
  assert.equal(parsePort("1060"), 1060);
  assert.equal(parsePort("0"), 0);
  assert.throws(() => parsePort("0", false), {
    name: "UsageError",
    message: "-p takes a port from 1 to 65535, got '0'",
  });
  for (const bad of ["65536", "1.5", "-1", "", "0x10", "１"]) {
    assert.throws(() => parsePort(bad), UsageError, bad);
  }
  assert.equal(parseSeconds("timeout", "0.5"), 500);
  assert.equal(parseSeconds("timeout", "10"), 10_000);
  assert.equal(parseSeconds("linger", "0", true), 0);
  assert.throws(() => parseSeconds("timeout", "0"), {
    message: "--timeout takes a number of seconds from 0.001 to 2147483, got '0'",
  });
  assert.throws(() => parseSeconds("timeout", "1e3"), UsageError);
  assert.throws(() => parseSeconds("timeout", "2147484"), UsageError);
  assert.equal(parseCount("count", "20000"), 20_000);
  assert.throws(() => parseCount("count", "0"), {
    message: "--count takes a whole number of at least 1, got '0'",
  });
  assert.throws(() => parseCount("count", "9007199254740993"), UsageError);
  assert.equal(parseCount("message-length", "0", 0), 0);
});

test("repr() shows peer bytes as Python 2 shows a str: quoted, every unprintable byte escaped", () => {
  const bytes = (...b: number[]) => new Uint8Array(b);
  assert.equal(repr(new TextEncoder().encode("Hi there, server")), "'Hi there, server'");
  assert.equal(repr(bytes(0x1b, 0x5b, 0x32, 0x4a)), "'\\x1b[2J'", "no escape reaches a terminal");
  assert.equal(repr(bytes(0x0a, 0x0d, 0x09, 0x5c, 0xff)), "'\\n\\r\\t\\\\\\xff'");
  assert.equal(repr(new TextEncoder().encode("it's")), `"it's"`, "double quotes around a '");
  assert.equal(repr(new TextEncoder().encode(`it's "x"`)), `'it\\'s "x"'`);
  assert.equal(repr(bytes()), "''");
});

test("formatEvent() writes the tutorial's lines, and one JSON object with time and event first", () => {
  const reset = new NetError("read", "ECONNRESET", tcp("127.0.0.1", 5555));
  assert.equal(
    formatEvent({ type: "accepted", peer: "127.0.0.1:5555", local: "127.0.0.1:1060" }, "human"),
    "We have accepted a connection from 127.0.0.1:5555\nSocket connects 127.0.0.1:1060 and 127.0.0.1:5555",
  );
  const message = new TextEncoder().encode("Hi there, server");
  assert.equal(
    formatEvent({ type: "message", peer: "p", message }, "human"),
    "The incoming sixteen-octet message says 'Hi there, server'",
  );
  assert.equal(
    formatEvent({ type: "failed", peer: "p", bytes: 5, expected: 16, error: reset }, "human"),
    "p: connection reset by peer after 5 of 16 octets; closed",
  );
  const early = new IncompleteReadError(message.subarray(0, 5), 16);
  assert.equal(
    formatEvent({ type: "failed", peer: "p", bytes: 5, expected: 16, error: early }, "human"),
    "p: socket closed 5 bytes into a 16-byte message; closed",
  );
  assert.equal(
    formatEvent({ type: "timeout", peer: "p", bytes: 0, expected: 16, timeout: 300 }, "human"),
    "p sent 0 of 16 octets in 0.3 s; closed",
  );
  assert.equal(
    formatEvent({ type: "accept-skipped-total", count: 57 }, "human"),
    "Skipped 57 connections that failed before they were accepted",
  );
  const stats = { served: 3, failed: 1, timedOut: 0, skipped: 0, open: 0 };
  assert.equal(
    formatEvent({ type: "stopped", ...stats, logLinesDropped: 0, transport: "tcp" }, "human"),
    "Stopped: 3 served, 1 failed, 0 timed out",
  );
  assert.equal(
    formatEvent(
      { type: "stopped", ...stats, skipped: 2, logLinesDropped: 9, transport: "tcp" },
      "human",
    ),
    "Stopped: 3 served, 1 failed, 0 timed out, 2 skipped; 9 log lines dropped",
  );
  const json = JSON.parse(
    formatEvent({ type: "failed", peer: "p", bytes: 5, expected: 16, error: reset }, "json"),
  );
  assert.deepEqual(Object.keys(json), [
    "time",
    "event",
    "peer",
    "bytes",
    "expected",
    "error",
    "code",
  ]);
  assert.equal(json.error, "reading from 127.0.0.1:5555 failed: connection reset by peer");
  assert.equal(json.code, "ECONNRESET");
  const emfile = Object.assign(new Error("Too many open files (os error 24)"), { code: "EMFILE" });
  const accept = JSON.parse(
    formatEvent({ type: "accept-error", error: emfile, retryIn: 5 }, "json"),
  );
  assert.equal(accept.code, "EMFILE", "a runtime's code is logged too");
  // Out of descriptors: the same words whatever the runtime's, and what to do.
  for (const message of ["Too many open files (os error 24)", "accept EMFILE"]) {
    const error = Object.assign(new Error(message), { code: "EMFILE" });
    assert.equal(
      formatEvent({ type: "accept-error", error, retryIn: 5 }, "human"),
      "Accept failed: too many open files; retrying with back-off up to 1 s — " +
        "raise the limit (ulimit -n) or lower --max-connections",
    );
  }
  const odd = Object.assign(new Error("Something else"), { code: "EWHATEVER" });
  assert.equal(
    formatEvent({ type: "accept-error", error: odd, retryIn: 5 }, "human"),
    "Accept failed: Something else; retrying with back-off up to 1 s",
  );
  assert.equal(
    JSON.parse(formatEvent({ type: "message", peer: "p", message }, "json")).message,
    "'Hi there, server'",
  );
});

test("formatSummary() and formatProgress() tell a load run in a few short lines", async () => {
  const server = await serve({ port: 0, events: "problems" });
  const summary = await load({ port: server.addr.port, count: 4, concurrency: 2 });
  await server.shutdown();
  const lines = formatSummary(summary, "127.0.0.1:1060").split("\n");
  assert.match(lines[0], /^4 exchanges with 127\.0\.0\.1:1060, 2 at a time, in \d+\.\d\d s$/);
  assert.deepEqual(lines.slice(1, 3), ["  succeeded  4", "  failed     0"]);
  assert.match(lines[4], /^ {2}latency {4}p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms, max /);
  const failing = {
    ...summary,
    succeeded: 1,
    failed: 3,
    errors: { ...summary.errors, refused: 2, addrNotAvailable: 1 },
    latencyMs: null,
    interrupted: true,
    cancelled: 2,
  };
  const text = formatSummary(failing, "h:1");
  assert.match(text, /^Interrupted: /);
  assert.match(
    text,
    /\n {2}failed {5}3: 2 refused, 1 address not available \(out of local ports\?\)\n/,
  );
  assert.match(text, /\n {2}cancelled {2}2 in flight when stopped\n/);
  assert.match(text, /\n {2}latency {4}none succeeded$/);
  assert.equal(
    formatProgress({ done: 40, total: 100, failed: 1, elapsedMs: 500, ratePerSecond: 78.4 }),
    "40/100 exchanges, 78/s, 1 failed",
  );
  assert.equal(
    formatProgress({ done: 40, failed: 0, elapsedMs: 500, durationMs: 2000, ratePerSecond: 80 }),
    "40 exchanges, 80/s, 0 failed, 0.5/2 s",
  );
});

test("describe() adds what to do to a network failure, where there is something to do", () => {
  const said = (err: Error) => describe(err, "server.ts");
  assert.equal(
    said(new NetError("connect", "ECONNREFUSED", tcp("127.0.0.1", 1060))),
    "cannot connect to 127.0.0.1:1060: connection refused — is the server running?",
  );
  assert.equal(
    said(new NetError("listen", "EACCES", tcp("0.0.0.0", 80))),
    "cannot listen on 0.0.0.0:80: permission denied — choose a port above 1023 with -p",
  );
  assert.equal(
    said(new NetError("read", "ECONNRESET", tcp("127.0.0.1", 1060))),
    "reading from 127.0.0.1:1060 failed: connection reset by peer",
    "nothing to do about a reset",
  );
  assert.equal(
    said(new IncompleteReadError(new Uint8Array(5), 16)),
    "socket closed 5 bytes into a 16-byte message",
  );
  // Listening, the address is not this machine's; connecting, the local
  // ports ran out.
  assert.equal(
    said(new NetError("listen", "EADDRNOTAVAIL", tcp("192.0.2.1", 1060))),
    "cannot listen on 192.0.2.1:1060: address not available — " +
      "listen on an address of this machine: 127.0.0.1, or 0.0.0.0 for every interface",
  );
  assert.equal(
    said(new NetError("connect", "EADDRNOTAVAIL", tcp("127.0.0.1", 1060))),
    "cannot connect to 127.0.0.1:1060: address not available — " +
      "out of local ports? wait a minute for them to free up",
  );
  // A host named help is someone asking for help.
  assert.equal(
    said(new NetError("listen", "ENOTFOUND", tcp("help", 1060))),
    "cannot listen on help:1060: unknown host — for the options, try 'server.ts --help'",
  );
  assert.equal(
    describe(new NetError("connect", "ENOTFOUND", tcp("help", 1060)), "tcp-sixteen-client"),
    "cannot connect to help:1060: unknown host — for the options, try 'tcp-sixteen-client --help'",
  );
  assert.equal(
    said(new NetError("connect", "ENOTFOUND", tcp("helpdesk", 1060))),
    "cannot connect to helpdesk:1060: unknown host — check the name",
  );
  assert.equal(said(new Failure("it broke", "mend it")), "it broke — mend it");
  assert.equal(said(new Failure("it broke")), "it broke");
});

test("shortReply() names the server, how far the reply got, and the flags for another length", () => {
  const cut = (got: number) => new IncompleteReadError(new Uint8Array(got), 16);
  const line = (err: Failure) => describe(err, "client.ts");
  assert.equal(
    line(shortReply(cut(5), "127.0.0.1:1060", false)),
    "reading from 127.0.0.1:1060 failed: socket closed 5 bytes into a 16-byte message — " +
      "is it a sixteen-octet server?",
  );
  assert.equal(
    line(shortReply(cut(6), "[::1]:7", true)),
    "reading from [::1]:7 failed: socket closed 6 bytes into a 16-byte message — " +
      "if its replies are 6 bytes, give --reply-length 6 or the --reply to expect",
  );
  assert.equal(
    line(shortReply(cut(0), "[::1]:7", true)),
    "reading from [::1]:7 failed: socket closed 0 bytes into a 16-byte message — " +
      "does it answer this --message? give the --reply or --reply-length to expect",
  );
  assert(shortReply(cut(5), "h:1", false).cause instanceof IncompleteReadError);
});

test("server and client main() refuse each wrong command line with one exact UsageError", async () => {
  const cases = [
    ["client", ["-p", "notaport"], "-p takes a port from 1 to 65535, got 'notaport'"],
    ["client", ["-p", "65536"], "-p takes a port from 1 to 65535, got '65536'"],
    ["client", ["--bogus"], "unknown option '--bogus'"],
    ["client", ["-x"], "unknown option '-x'"],
    ["client", ["--json=yes", "-n", "1"], "--json takes no value"],
    ["client", ["-p"], "-p needs a value"],
    ["client", ["a", "b"], "unexpected argument 'b'"],
    [
      "client",
      ["--timeout", "0"],
      "--timeout takes a number of seconds from 0.001 to 2147483, got '0'",
    ],
    [
      "client",
      ["--timeout", "-1"],
      "--timeout takes a number of seconds from 0.001 to 2147483, got '-1'",
    ],
    ["client", ["-p", "0"], "-p takes a port from 1 to 65535, got '0'"],
    ["client", ["127.0.0.1:0"], "the PORT of HOST:PORT takes a port from 1 to 65535, got '0'"],
    [
      "client",
      ["127.0.0.1:1060", "-p", "1060"],
      "the port is given twice, in HOST:PORT and with -p: give it once",
    ],
    [
      "client",
      ["--reply", "x", "--reply-length", "1"],
      "--reply and --reply-length: give one (--reply's length is read)",
    ],
    [
      "client",
      ["--message", "\\q"],
      "--message: '\\q' is not an escape; use \\n, \\r, \\t, \\\\ or \\xHH",
    ],
    ["client", [""], "HOST is empty: give the server's address, such as 127.0.0.1"],
    [
      "server",
      ["--timeout", "0.0001"],
      "--timeout takes a number of seconds from 0.001 to 2147483, got '0.0001'",
    ],
    ["server", ["-p", "1.5"], "-p takes a port from 0 to 65535, got '1.5'"],
    [
      "server",
      ["--max-connections", "0"],
      "--max-connections takes a whole number of at least 1, got '0'",
    ],
    ["server", ["--log", "xml"], "--log takes human or json, got 'xml'"],
    [
      "server",
      ["--linger", "1s"],
      "--linger takes a number of seconds from 0 to 2147483, got '1s'",
    ],
    [
      "server",
      [""],
      "HOST is empty: give an address such as 127.0.0.1, or 0.0.0.0 for every interface",
    ],
    [
      "server",
      [":1060"],
      "HOST is empty: give an address such as 127.0.0.1, or 0.0.0.0 for every interface",
    ],
    ["client", ["--concurrency", "4"], "--concurrency needs --count or --duration"],
    ["client", ["--json"], "--json needs --count or --duration"],
    ["client", ["--count", "0"], "--count takes a whole number of at least 1, got '0'"],
    [
      "client",
      ["--duration", "-1"],
      "--duration takes a number of seconds from 0.001 to 2147483, got '-1'",
    ],
    ["client", ["-n", "5", "-p", "0"], "-p takes a port from 1 to 65535, got '0'"],
    [
      "server",
      ["--message-length", "2000000"],
      "--message-length takes a whole number from 0 to 1048576, got '2000000'",
    ],
  ] as const;
  for (const [program, args, message] of cases) {
    await assert.rejects(
      (program === "server" ? serverMain : clientMain)([...args]),
      { name: "UsageError", message },
      `${program} ${args.join(" ")}`,
    );
  }
});
