/**
 * The client program: `deno run --allow-net client.ts [HOST] [-p PORT]`
 * does one exchange ({@linkcode request}) and tells it as the tutorial
 * does; with `--count` or `--duration` it is a load generator
 * ({@linkcode load}) that prints a summary. The npm package's
 * `tcp-sixteen-client` runs it too.
 *
 * @module
 */

import { expectedReply, request } from "./request.ts";
import { IncompleteReadError } from "./recv_all.ts";
import { LimitExceededError } from "./frame_reader.ts";
import type { Framing } from "./framing.ts";
import { ERROR_KINDS, type ErrorKind, load, type LoadProgress, type LoadSummary } from "./load.ts";
import { formatAddr, peerName } from "./net.ts";
import { args, stderrIsTerminal, writeStderr } from "./runtime/deno.ts";
import {
  parseCommandLine,
  parseCount,
  parseFramedText,
  parseFraming,
  parseSeconds,
  parseWhere,
  UsageError,
} from "./cli/args.ts";
import { EXIT, Failure, Interrupted, onStopSignals, run, versionLine } from "./cli/run.ts";
import { plural } from "./cli/text.ts";
import { repr } from "./internal/bytes.ts";
import { CLIENT_TLS_FLAGS, clientTls } from "./cli/tls.ts";

// What shortReply() returns, and main() throws for a reply cut short.
export { Failure } from "./cli/run.ts";

/**
 * The client's `--help`, naming the program as it was invoked.
 *
 * @param name The program's name: `client.ts`, `tcp-sixteen-client`...
 * @returns The text.
 */
export function help(name: string): string {
  return `${name}: the sixteen-octet TCP client of the networking tutorial.
It connects, sends 'Hi there, server', reads the 16-octet reply and checks
that it is 'Farewell, client'. With --count or --duration it is a load
generator: many exchanges, --concurrency at a time, then a summary of errors
by kind, the rate and latency percentiles.

usage: ${name} [HOST[:PORT]] [-p PORT] [options]
       ${name} [HOST[:PORT]] [-p PORT] --count N | --duration SECONDS [options]
       ${name} --unix PATH [options]

  HOST                 the server (default 127.0.0.1; IPv6 as ::1 or [::1])
  -p, --port PORT      its port (default 1060); HOST:PORT gives both
  --unix PATH          connect to the Unix domain socket PATH instead (Deno
                       needs --allow-read and --allow-write for it)
  --timeout SECONDS    give up on one exchange after this (default 10)
  --message TEXT       what to send (default 'Hi there, server')
  --reply TEXT         the reply to expect (default 'Farewell, client'); its
                       length is how much is read
  --reply-length N     take any reply of N octets instead
                       (in TEXT, \\n, \\r, \\t, \\\\ and \\xHH are escapes)
  --framing fixed|line|u32
                       how the message and reply are delimited: fixed
                       length (default), a line (a newline is added to
                       --message and --reply if they have none), or a
                       4-byte big-endian length first
  --max-message N      with line or u32, the longest reply taken (default
                       65536)
  --tls                over TLS, verifying the server against the runtime's
                       roots (no option turns verification off)
  --tls-ca FILE        over TLS, trusting this CA or self-signed certificate
                       (PEM; implies --tls; Deno: --allow-read=FILE)
  --tls-servername NAME
                       the name to verify and send in SNI (default: HOST)
  -h, --help           show this help
  -V, --version        show the version and the runtime

load mode: many exchanges, then a summary; Ctrl-C prints the summary so far
  -n, --count N        this many exchanges
  -d, --duration SECONDS
                       for this long (with --count, whichever ends first)
  -c, --concurrency C  exchanges in flight at once (default 1)
  --json               print the summary as one JSON object
  --no-progress        no progress line on stderr (there is none unless
                       stderr is a terminal)

examples:
  ${name}                          one exchange with 127.0.0.1:1060
  ${name} [::1]:1060 --timeout 2   over IPv6, giving up after 2 s
  ${name} --unix /tmp/sixteen.sock over a Unix domain socket
  ${name} -n 20000 -c 16           20,000 exchanges, 16 at a time
  ${name} -d 10 -c 64 --json       for 10 s, a JSON summary
  ${name} 127.0.0.1:6379 --framing line --message 'PING\\r\\n' --reply '+PONG\\r\\n'
                                   health-check a Redis server
  ${name} --tls-ca ca.pem          over TLS, trusting ca.pem

exit status:
  0    the exchange completed (load mode: every exchange did)
  1    refused, unknown host, no socket file, timeout, reset, a short or
       unexpected reply, a failed TLS handshake (certificate not trusted,
       for another name or expired, a server that does not speak TLS), a
       --tls-ca file that cannot be read
       (load mode: any exchange failed; the summary says which and why)
  2    usage error
  130  Ctrl-C (or SIGTERM, SIGHUP): in load mode after the summary so far;
       a second one exits at once`;
}

const KIND_LABELS: Record<ErrorKind, string> = {
  refused: "refused",
  handshake: "TLS handshake failed",
  reset: "reset",
  timeout: "timeout",
  shortReply: "short reply",
  wrongReply: "wrong reply",
  addrNotAvailable: "address not available (out of local ports?)",
  other: "other",
};

/**
 * A reply cut short, as the client's one line: the server, how far its
 * reply got, and what to do. A server of another protocol may reply with
 * fewer octets than expected: the flags that set the length say so.
 *
 * @param err The short read.
 * @param server The server, as `host:port`.
 * @param custom Whether `--message`, `--reply` or `--reply-length` was
 * given (the exchange is not the tutorial's).
 * @param framing How the reply was delimited.
 * @returns The failure to report.
 */
export function shortReply(
  err: IncompleteReadError,
  server: string,
  custom: boolean,
  framing: Framing = "fixed",
): Failure {
  const got = err.partial.length;
  // A TLS server answers plain text with an alert record: content type 21,
  // version 3.x.
  const tlsAlert = got >= 2 && err.partial[0] === 21 && err.partial[1] === 3;
  const todo = tlsAlert
    ? "it answered with a TLS alert: add --tls (or --tls-ca FILE)"
    : framing !== "fixed"
    ? `does it answer with ${framing === "line" ? "a line" : "a u32 frame"}? check --framing`
    : !custom
    ? "is it a sixteen-octet server?"
    : got > 0
    ? `if its replies are ${got} bytes, give --reply-length ${got} or the --reply to expect`
    : "does it answer this --message? give the --reply or --reply-length to expect";
  return new Failure(`reading from ${server} failed: ${err.message}`, todo, { cause: err });
}

/**
 * A reply longer than `--max-message`, as the client's one line.
 *
 * @param err What the reader found.
 * @param server The server, as `host:port`.
 * @returns The failure.
 */
export function longReply(err: LimitExceededError, server: string): Failure {
  const what = err.declared === null
    ? `more than ${err.limit} octets without a newline`
    : `a ${err.declared}-octet frame`;
  return new Failure(
    `reading from ${server} failed: it sent ${what}, more than --max-message ${err.limit}`,
    "raise --max-message if such replies are right",
    { cause: err },
  );
}

const ms = (value: number) => `${value < 10 ? value.toFixed(3) : value.toFixed(1)} ms`;

/**
 * Formats a load run's summary for a person: totals, errors by kind, rate,
 * latency percentiles.
 *
 * @param summary The summary.
 * @param target The server, as `host:port`.
 * @returns Several lines, without a final newline.
 */
export function formatSummary(summary: LoadSummary, target: string): string {
  const seconds = (summary.elapsedMs / 1000).toFixed(2);
  const errors = ERROR_KINDS.filter((kind) => summary.errors[kind] > 0)
    .map((kind) => `${summary.errors[kind]} ${KIND_LABELS[kind]}`);
  const lat = summary.latencyMs;
  return [
    `${summary.interrupted ? "Interrupted: " : ""}${
      plural(summary.exchanges, "exchange")
    } with ${target}, ` +
    `${summary.concurrency} at a time, in ${seconds} s`,
    `  succeeded  ${summary.succeeded}`,
    `  failed     ${summary.failed}${errors.length ? `: ${errors.join(", ")}` : ""}`,
    ...(summary.cancelled ? [`  cancelled  ${summary.cancelled} in flight when stopped`] : []),
    `  rate       ${Math.round(summary.ratePerSecond)} exchanges/s`,
    `  latency    ${
      lat
        ? `p50 ${ms(lat.p50)}, p90 ${ms(lat.p90)}, p99 ${ms(lat.p99)}, max ${ms(lat.max)}`
        : "none succeeded"
    }`,
  ].join("\n");
}

/**
 * Formats a load run's progress as one short line.
 *
 * @param p The progress.
 * @returns `done[/total] exchanges, rate/s, failed[, elapsed/duration s]`.
 */
export function formatProgress(p: LoadProgress): string {
  const done = p.total === undefined ? `${p.done}` : `${p.done}/${p.total}`;
  const time = p.durationMs === undefined
    ? ""
    : `, ${(p.elapsedMs / 1000).toFixed(1)}/${p.durationMs / 1000} s`;
  return `${done} ${p.done === 1 && p.total === undefined ? "exchange" : "exchanges"}, ${
    Math.round(p.ratePerSecond)
  }/s, ${p.failed} failed${time}`;
}

/**
 * The client's command line: one exchange, told as the tutorial tells it;
 * or, with `--count` or `--duration`, a load run and its summary.
 *
 * @param argv The arguments, without the program.
 * @param name The program's name as invoked, for `--help`.
 * @returns The exit status: in load mode 1 if any exchange failed, 130 if
 * interrupted.
 * @throws {UsageError} If the command line is wrong.
 * @throws {NetError} If the exchange fails (one exchange), or the host is
 * unknown (load mode).
 * @throws {Failure} If the reply is cut short (one exchange).
 * @throws {Interrupted} If a signal stops the exchange (one exchange).
 * @throws {UnexpectedReplyError} If the reply is not the one expected (one
 * exchange).
 */
export async function main(argv: string[], name = "client"): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    port: { type: "string", short: "p" },
    unix: { type: "string" },
    timeout: { type: "string" },
    message: { type: "string" },
    reply: { type: "string" },
    "reply-length": { type: "string" },
    framing: { type: "string" },
    "max-message": { type: "string" },
    count: { type: "string", short: "n" },
    duration: { type: "string", short: "d" },
    concurrency: { type: "string", short: "c" },
    json: { type: "boolean" },
    "no-progress": { type: "boolean" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
    ...CLIENT_TLS_FLAGS,
  }, 1);
  if (values.help) return console.log(help(name)), EXIT.OK;
  if (values.version) return console.log(versionLine()), EXIT.OK;
  const target = parseWhere(
    values.unix,
    positionals[0],
    values.port,
    "the server's address, such as 127.0.0.1",
    false,
  );
  if (values.reply !== undefined && values["reply-length"] !== undefined) {
    throw new UsageError("--reply and --reply-length: give one (--reply's length is read)");
  }
  const framing = parseFraming(
    values.framing,
    values["reply-length"] === undefined ? undefined : "reply-length",
    values["max-message"] !== undefined,
  );
  const exchange = {
    ...target,
    framing,
    tls: await clientTls(values),
    timeout: values.timeout === undefined ? undefined : parseSeconds("timeout", values.timeout),
    message: values.message === undefined
      ? undefined
      : parseFramedText("message", values.message, framing),
    reply: values.reply === undefined ? undefined : parseFramedText("reply", values.reply, framing),
    replyLength: values["reply-length"] === undefined
      ? undefined
      : parseCount("reply-length", values["reply-length"], 0),
    maxMessage: values["max-message"] === undefined
      ? undefined
      : parseCount("max-message", values["max-message"], 1, 1 << 30),
  };
  if (values.count === undefined && values.duration === undefined) {
    for (const flag of ["concurrency", "json", "no-progress"] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} needs --count or --duration`);
    }
    const server = formatAddr(target);
    const stop = new AbortController();
    const stopSignals = onStopSignals("client", (signal) => {
      stop.abort(new Interrupted(signal, `stopped before ${server} replied`));
    });
    let reply: Uint8Array;
    try {
      ({ reply } = await request({
        ...exchange,
        reply: expectedReply(exchange.reply, exchange.replyLength),
        signal: stop.signal,
        onConnected: (local) =>
          console.log(`Client has been assigned socket name ${peerName(local)}`),
      }));
    } catch (err) {
      if (err instanceof LimitExceededError) throw longReply(err, server);
      if (!(err instanceof IncompleteReadError)) throw err;
      const custom = [values.message, values.reply, values["reply-length"]].some((v) =>
        v !== undefined
      );
      throw shortReply(err, server, custom, framing);
    } finally {
      stopSignals();
    }
    console.log(`The server said ${repr(reply)}`);
    return EXIT.OK;
  }

  const stop = new AbortController();
  const stopSignals = onStopSignals("client", () => stop.abort(), () => "no summary");
  const progress = !values["no-progress"] && stderrIsTerminal();
  let summary: LoadSummary;
  try {
    summary = await load({
      ...exchange,
      count: values.count === undefined ? undefined : parseCount("count", values.count),
      duration: values.duration === undefined
        ? undefined
        : parseSeconds("duration", values.duration),
      concurrency: values.concurrency === undefined
        ? undefined
        : parseCount("concurrency", values.concurrency),
      signal: stop.signal,
      onProgress: progress ? (p) => writeStderr(`\r${formatProgress(p)}\x1b[K`) : undefined,
    });
  } finally {
    stopSignals();
    if (progress) writeStderr("\r\x1b[K");
  }
  console.log(
    values.json
      ? JSON.stringify({ ...summary, transport: target.transport })
      : formatSummary(summary, formatAddr(target)),
  );
  return summary.interrupted ? EXIT.INTERRUPTED : summary.failed > 0 ? EXIT.FAILURE : EXIT.OK;
}

/**
 * Runs the client's command line with the process's arguments, then exits
 * with its status. Deno runs it when this file is the main module; the npm
 * package's `tcp-sixteen-client` binary calls it.
 */
export function cli(): Promise<never> {
  return run("client", (invoked) => main(args(), invoked));
}

if (import.meta.main) cli();
