/**
 * The sixteen-octet client: connect, send `Hi there, server` in full, read
 * the 16-octet reply, close.
 *
 * Run it: `deno run --allow-net client.ts [HOST] [-p PORT] [--timeout S]`;
 * with `--count N` or `--duration S` (and `--concurrency C`) it is a load
 * generator that reports errors by kind, the rate and latency percentiles.
 *
 * @module
 */

import { recvAll, sendAll } from "./recv_all.ts";
import {
  closeQuietly,
  type Conn,
  formatAddr,
  type NetAddr,
  NetError,
  type NetOp,
  toNetError,
} from "./net.ts";
import { args, connect, stderrIsTerminal, writeStderr } from "./runtime/deno.ts";
import {
  EXIT,
  onStopSignals,
  parseCommandLine,
  parseCount,
  parsePort,
  parseSeconds,
  repr,
  run,
  UsageError,
} from "./cli.ts";
import { ERROR_KINDS, type ErrorKind, load, type LoadProgress, type LoadSummary } from "./load.ts";
import {
  checkDuration,
  DEFAULT_MESSAGE,
  DEFAULT_PORT,
  MESSAGE_LENGTH,
  toBytes,
} from "./protocol.ts";
import { DeadlineQueue, type Timed } from "./deadlines.ts";
import { VERSION } from "./version.ts";

/** An exchange's deadline: what to do when it passes. */
interface Deadline extends Timed {
  readonly fire: () => void;
}

/**
 * The exchanges' deadlines, one queue (one timer) per timeout in use: in
 * load mode a timer per exchange cost a tenth of the rate on Deno (each
 * setTimeout and clearTimeout is a call into the runtime). A queue is
 * dropped once it is empty.
 */
const byTimeout = new Map<number, DeadlineQueue<Deadline>>();
function deadlines(timeout: number): DeadlineQueue<Deadline> {
  let queue = byTimeout.get(timeout);
  if (!queue) byTimeout.set(timeout, queue = new DeadlineQueue(timeout, (d) => d.fire()));
  return queue;
}

/** Options for {@linkcode request}. Durations are in milliseconds. */
export interface RequestOptions {
  /** The server's address or host name. Default `127.0.0.1`. */
  hostname?: string;
  /** The server's port. Default 1060. */
  port?: number;
  /** What to send, as text (UTF-8) or bytes. Default `Hi there, server`. */
  message?: string | Uint8Array;
  /** How many octets the reply has. Default 16. */
  replyLength?: number;
  /** How long the whole exchange, connect included, may take. Default
   * 10,000. */
  timeout?: number;
  /** Gives up when aborted, rejecting with the signal's reason. */
  signal?: AbortSignal;
  /** Called once connected, before sending (the tutorial prints the
   * socket's name there). */
  onConnected?: (local: NetAddr, remote: NetAddr) => void;
}

/** What {@linkcode request} got back. */
export interface Reply {
  /** The reply's octets. */
  reply: Uint8Array;
  /** This end of the connection. */
  localAddr: NetAddr;
  /** The server's end. */
  remoteAddr: NetAddr;
}

/**
 * Does one exchange: connect, send the message in full, read the reply.
 *
 * @param options The server, the message, the reply's length, a timeout.
 * @returns The reply and the connection's two ends.
 * @throws {NetError} If connecting, sending or reading fails, with `code`
 * `ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT`, `ECONNRESET`...
 * @throws {IncompleteReadError} If the server closed before the whole reply.
 * @throws {RangeError} If `timeout` is not from 1 to 2147483647 ms.
 *
 * @example One exchange with a server on a free port
 * ```ts
 * import { request } from "./client.ts";
 * import { serve } from "./server.ts";
 * import assert from "node:assert/strict";
 *
 * const server = await serve({ port: 0 });
 * const { reply, remoteAddr } = await request({ port: server.addr.port });
 * assert.equal(new TextDecoder().decode(reply), "Farewell, client");
 * assert.equal(remoteAddr.port, server.addr.port);
 * await server.shutdown();
 * ```
 */
export async function request(options: RequestOptions = {}): Promise<Reply> {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? DEFAULT_PORT;
  const message = toBytes(options.message ?? DEFAULT_MESSAGE);
  const timeout = options.timeout ?? 10_000;
  checkDuration("timeout", timeout);
  // One controller and a shared deadline timer, not AbortSignal.timeout()
  // and AbortSignal.any(): their timer outlives the exchange by the whole
  // timeout, which costs memory and time in load mode (measured).
  // Aborting (the deadline, or the caller's signal) stops a connect through
  // the signal, and a write or read by closing the connection, which fails
  // them: no listener on the signal, nor a signal for recvAll to race each
  // read against (in load mode those cost a tenth of the rate on Deno).
  const cancel = options.signal;
  const controller = new AbortController();
  const signal = controller.signal;
  let timedOut = false;
  let conn: Conn | undefined;
  const abort = (reason: unknown) => {
    controller.abort(reason);
    if (conn) closeQuietly(conn);
  };
  const queue = deadlines(timeout);
  const deadline: Deadline = {
    deadline: 0,
    fire: () => {
      timedOut = true;
      abort(new DOMException("the exchange timed out", "TimeoutError"));
    },
  };
  queue.add(deadline);
  const onCancel = () => abort(cancel!.reason);
  if (cancel?.aborted) onCancel();
  else cancel?.addEventListener("abort", onCancel, { once: true });
  let op: NetOp = "connect";
  try {
    conn = await connect({ hostname, port, signal });
    if (signal.aborted) throw signal.reason; // Aborted as it connected.
    options.onConnected?.(conn.localAddr, conn.remoteAddr);
    op = "write";
    await sendAll(conn, message);
    op = "read";
    const reply = await recvAll(conn, options.replyLength ?? MESSAGE_LENGTH);
    return { reply, localAddr: conn.localAddr, remoteAddr: conn.remoteAddr };
  } catch (err) {
    if (timedOut) {
      throw new NetError(op, "ETIMEDOUT", hostname, port, {
        cause: err,
        detail: `${op === "connect" ? "no connection" : "no reply"} within ${
          timeout / 1000
        } s — is the server up? raise --timeout if it is slow`,
      });
    }
    if (signal.aborted) throw signal.reason;
    throw toNetError(err, op, { hostname, port });
  } finally {
    queue.delete(deadline);
    if (!queue.first) {
      // Nothing left to time: no timer may keep the process alive.
      queue.close();
      byTimeout.delete(timeout);
    }
    cancel?.removeEventListener("abort", onCancel);
    if (conn) closeQuietly(conn);
  }
}

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
  const hostname = positionals[0] ?? "127.0.0.1";
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
