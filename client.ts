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
import { ERROR_KINDS, type ErrorKind, load, type LoadProgress, type LoadSummary } from "./load.ts";
import { formatAddr, peerName } from "./net.ts";
import { args, stderrIsTerminal, writeStderr } from "./runtime/deno.ts";
import {
  parseCommandLine,
  parseCount,
  parseSeconds,
  parseTarget,
  parseText,
  UsageError,
} from "./cli/args.ts";
import { EXIT, onStopSignals, run, versionLine } from "./cli/run.ts";
import { plural } from "./cli/text.ts";
import { repr } from "./internal/bytes.ts";
import { CLIENT_TLS_FLAGS, clientTls } from "./cli/tls.ts";

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

  HOST                 the server (default 127.0.0.1; IPv6 as ::1 or [::1])
  -p, --port PORT      its port (default 1060); HOST:PORT gives both
  --timeout SECONDS    give up on one exchange after this (default 10)
  --message TEXT       what to send (default 'Hi there, server')
  --reply TEXT         the reply to expect (default 'Farewell, client'); its
                       length is how much is read
  --reply-length N     take any reply of N octets instead
                       (in TEXT, \\n, \\r, \\t, \\\\ and \\xHH are escapes)
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
  ${name} -n 20000 -c 16           20,000 exchanges, 16 at a time
  ${name} -d 10 -c 64 --json       for 10 s, a JSON summary
  ${name} --tls-ca ca.pem          over TLS, trusting ca.pem

exit status:
  0    the exchange completed (load mode: every exchange did)
  1    refused, unknown host, timeout, reset, a short or unexpected reply,
       a failed TLS handshake (certificate not trusted, for another name or
       expired, a server that does not speak TLS), a --tls-ca file that
       cannot be read (load mode: any exchange failed; the summary says
       which and why)
  2    usage error
  130  Ctrl-C in load mode, after the summary so far`;
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
 * @throws {UnexpectedReplyError} If the reply is not the one expected (one
 * exchange).
 */
export async function main(argv: string[], name = "client"): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    port: { type: "string", short: "p" },
    timeout: { type: "string" },
    message: { type: "string" },
    reply: { type: "string" },
    "reply-length": { type: "string" },
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
  const target = parseTarget(
    positionals[0],
    values.port,
    "the server's address, such as 127.0.0.1",
    false,
  );
  if (values.reply !== undefined && values["reply-length"] !== undefined) {
    throw new UsageError("--reply and --reply-length: give one (--reply's length is read)");
  }
  const exchange = {
    ...target,
    tls: await clientTls(values),
    timeout: values.timeout === undefined ? undefined : parseSeconds("timeout", values.timeout),
    message: values.message === undefined ? undefined : parseText("message", values.message),
    reply: values.reply === undefined ? undefined : parseText("reply", values.reply),
    replyLength: values["reply-length"] === undefined
      ? undefined
      : parseCount("reply-length", values["reply-length"], 0),
  };
  if (values.count === undefined && values.duration === undefined) {
    for (const flag of ["concurrency", "json", "no-progress"] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} needs --count or --duration`);
    }
    const { reply } = await request({
      ...exchange,
      reply: expectedReply(exchange.reply, exchange.replyLength),
      onConnected: (local) =>
        console.log(`Client has been assigned socket name ${peerName(local)}`),
    });
    console.log(`The server said ${repr(reply)}`);
    return EXIT.OK;
  }

  const stop = new AbortController();
  const stopSignals = onStopSignals(() => stop.abort());
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
    values.json ? JSON.stringify(summary) : formatSummary(summary, formatAddr(target)),
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
