/**
 * The client program: `deno run --allow-net client.ts [HOST] [-p PORT]`
 * does one exchange ({@linkcode request}) and tells it as the tutorial
 * does; with `--count` or `--duration` it is a load generator
 * ({@linkcode load}) that prints a summary. The npm package's
 * `tcp-sixteen-client` runs it too.
 *
 * @module
 */

import { request } from "./request.ts";
import { ERROR_KINDS, type ErrorKind, load, type LoadProgress, type LoadSummary } from "./load.ts";
import { formatAddr } from "./net.ts";
import { args, stderrIsTerminal, writeStderr } from "./runtime/deno.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "./protocol.ts";
import { VERSION } from "./version.ts";
import {
  parseCommandLine,
  parseCount,
  parseHost,
  parsePort,
  parseSeconds,
  UsageError,
} from "./cli/args.ts";
import { EXIT, onStopSignals, run } from "./cli/run.ts";
import { repr } from "./cli/repr.ts";

const USAGE = `usage: client [HOST] [-p PORT] [--timeout SECONDS] [load options]
  HOST                 the server (default 127.0.0.1)
  -p, --port PORT      its port (default 1060)
  --timeout SECONDS    give up on one exchange after this (default 10)
  -h, --help           show this help
  -V, --version        show the version
load mode: many exchanges, then a summary; exit 1 if any failed, and
Ctrl-C prints the summary so far and exits 130
  -n, --count N        this many exchanges
  -d, --duration SECONDS
                       for this long (with --count, whichever ends first)
  -c, --concurrency C  exchanges in flight at once (default 1)
  --json               print the summary as one JSON object
  --no-progress        no progress line on stderr (there is none unless
                       stderr is a terminal)`;

const KIND_LABELS: Record<ErrorKind, string> = {
  refused: "refused",
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
    `${summary.interrupted ? "Interrupted: " : ""}${summary.exchanges} exchanges with ${target}, ` +
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
  return `${done} exchanges, ${Math.round(p.ratePerSecond)}/s, ${p.failed} failed${time}`;
}

/**
 * The client's command line: one exchange, told as the tutorial tells it;
 * or, with `--count` or `--duration`, a load run and its summary.
 *
 * @param argv The arguments, without the program.
 * @returns The exit status: in load mode 1 if any exchange failed, 130 if
 * interrupted.
 * @throws {UsageError} If the command line is wrong.
 * @throws {NetError} If the exchange fails (one exchange), or the host is
 * unknown (load mode).
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    port: { type: "string", short: "p" },
    timeout: { type: "string" },
    count: { type: "string", short: "n" },
    duration: { type: "string", short: "d" },
    concurrency: { type: "string", short: "c" },
    json: { type: "boolean" },
    "no-progress": { type: "boolean" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
  }, 1);
  if (values.help) return console.log(USAGE), EXIT.OK;
  if (values.version) return console.log(VERSION), EXIT.OK;
  const hostname = positionals[0] === undefined
    ? DEFAULT_HOST
    : parseHost(positionals[0], "the server's address, such as 127.0.0.1");
  const port = values.port === undefined ? DEFAULT_PORT : parsePort(values.port, false);
  const timeout = values.timeout === undefined
    ? undefined
    : parseSeconds("timeout", values.timeout);
  if (values.count === undefined && values.duration === undefined) {
    for (const flag of ["concurrency", "json", "no-progress"] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} needs --count or --duration`);
    }
    const { reply } = await request({
      hostname,
      port,
      timeout,
      onConnected: (local) =>
        console.log(`Client has been assigned socket name ${formatAddr(local)}`),
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
      hostname,
      port,
      timeout,
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
    values.json ? JSON.stringify(summary) : formatSummary(summary, formatAddr({ hostname, port })),
  );
  return summary.interrupted ? EXIT.INTERRUPTED : summary.failed > 0 ? EXIT.FAILURE : EXIT.OK;
}

/**
 * Runs the client's command line with the process's arguments, then exits
 * with its status. Deno runs it when this file is the main module; the npm
 * package's `tcp-sixteen-client` binary calls it.
 */
export function cli(): Promise<never> {
  return run("client", USAGE, () => main(args()));
}

if (import.meta.main) cli();
