/**
 * Load mode: many exchanges against one server, a bounded number in flight,
 * each checked byte for byte; counts of errors by kind, the rate, and
 * latency percentiles.
 *
 * Each exchange is a whole {@linkcode request}: connect, send, read the
 * reply, close. No runtime API is used here, so the same code measures on
 * Deno, Node and Bun.
 *
 * @module
 */

import { IncompleteReadError } from "./recv_all.ts";
import { LimitExceededError } from "./frame_reader.ts";
import { closeQuietly, type Conn, errorCode, NetError, type NetErrorCode } from "./net.ts";
import {
  dialerOf,
  exchange,
  expectedReply,
  planOf,
  type RequestOptions,
  UnexpectedReplyError,
} from "./request.ts";
import { Histogram } from "./internal/histogram.ts";
import { checkDuration, checkWhole } from "./internal/checks.ts";

/** Why an exchange failed. */
export type ErrorKind =
  | "refused"
  | "handshake"
  | "reset"
  | "timeout"
  | "shortReply"
  | "wrongReply"
  | "addrNotAvailable"
  | "other";

/** The error kinds, in the order summaries show them. */
export const ERROR_KINDS: readonly ErrorKind[] = [
  "refused",
  "handshake",
  "reset",
  "timeout",
  "shortReply",
  "wrongReply",
  "addrNotAvailable",
  "other",
];

/** Codes that no retry can fix: the run stops and {@linkcode load} throws.
 * A certificate that is not trusted, for another name or out of its dates,
 * and a server that does not speak TLS, are the same for every exchange. */
const FATAL: ReadonlySet<NetErrorCode> = new Set([
  "ENOTFOUND",
  "ENOTCAPABLE",
  "EACCES",
  "ECERTUNTRUSTED",
  "ECERTNAME",
  "ECERTEXPIRED",
  "ENOTTLS",
]);

/**
 * Gives a failed exchange's error its kind, by class and code, never by text.
 *
 * @param err What {@linkcode request} threw.
 * @returns `shortReply` for an {@linkcode IncompleteReadError}, `wrongReply`
 * for an {@linkcode UnexpectedReplyError} or a `LimitExceededError`,
 * `handshake` for a TLS handshake that failed (the peer closed or reset
 * during it, or broke the protocol), the kind of a `NetError`'s code, or
 * `other`.
 *
 * @example A reset, and a bug
 * ```ts
 * import { errorKind } from "./load.ts";
 * import { NetError } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * const peer = { transport: "tcp", hostname: "127.0.0.1", port: 1060 } as const;
 * assert.equal(errorKind(new NetError("read", "ECONNRESET", peer)), "reset");
 * assert.equal(errorKind(new Error("?")), "other");
 * ```
 */
export function errorKind(err: unknown): ErrorKind {
  if (err instanceof IncompleteReadError) return "shortReply";
  // A reply past maxMessage is not the reply of the server meant either.
  if (err instanceof UnexpectedReplyError || err instanceof LimitExceededError) return "wrongReply";
  const code = errorCode(err);
  if (code !== "ETIMEDOUT" && err instanceof NetError && err.op === "handshake") {
    return "handshake";
  }
  switch (code) {
    case "ECONNREFUSED":
    case "ENOENT": // No socket file: nothing listens there either.
      return "refused";
    case "ECONNRESET":
    case "EPIPE":
      return "reset";
    case "ETIMEDOUT":
      return "timeout";
    case "EADDRNOTAVAIL":
      return "addrNotAvailable";
    default:
      return "other";
  }
}

/** Options for {@linkcode load}: where to connect, what each exchange
 * sends and expects, and how long it may take, as for `request()` (but
 * that the reply defaults to `Farewell, client`, unless `replyLength` is
 * given); how many exchanges, and how many at once. Durations are in
 * milliseconds. */
export interface LoadOptions extends Omit<RequestOptions, "signal" | "onConnected"> {
  /** Stop after this many exchanges. */
  count?: number;
  /** Stop starting exchanges after this long. With `count`, whichever comes
   * first; one of the two is required. */
  duration?: number;
  /** Exchanges (so sockets) in flight at most. Default 1. */
  concurrency?: number;
  /** Stops early when aborted: no new exchanges start, the ones in flight
   * get `grace` to finish, the rest are cancelled. The summary says
   * `interrupted`. */
  signal?: AbortSignal;
  /** After `signal` aborts, how long exchanges in flight may take. Default
   * 1,000. */
  grace?: number;
  /** Called every `progressInterval` while the run lasts. An exception it
   * throws is ignored: a failing display must not stop the run. */
  onProgress?: (progress: LoadProgress) => void;
  /** How often `onProgress` is called. Default 250. */
  progressInterval?: number;
}

/** How far a run has got, for a progress display. */
export interface LoadProgress {
  /** Exchanges finished, succeeded or failed. */
  done: number;
  /** The `count` asked for, if one was. */
  total?: number;
  /** Exchanges that failed. */
  failed: number;
  /** Time since the start, in milliseconds. */
  elapsedMs: number;
  /** The `duration` asked for, if one was. */
  durationMs?: number;
  /** Successful exchanges per second since the start. */
  ratePerSecond: number;
}

/** Latency percentiles of successful exchanges, in milliseconds. */
export interface LatencySummary {
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** The slowest, exact. */
  max: number;
  /** The fastest, exact. */
  min: number;
  /** The mean, exact. */
  mean: number;
}

/** The result of a run; `JSON.stringify` gives the client's `--json`. */
export interface LoadSummary {
  /** Exchanges finished, succeeded or failed. */
  exchanges: number;
  /** Exchanges that got the expected reply. */
  succeeded: number;
  /** Exchanges that failed: the sum of `errors`. */
  failed: number;
  /** Failed exchanges by kind; every kind is present. */
  errors: Record<ErrorKind, number>;
  /** Exchanges cut off by stopping early; neither succeeded nor failed. */
  cancelled: number;
  /** Whether `signal` stopped the run early. */
  interrupted: boolean;
  /** Exchanges in flight at most. */
  concurrency: number;
  /** From the first connect to the last exchange's end, in milliseconds. */
  elapsedMs: number;
  /** Successful exchanges per second. */
  ratePerSecond: number;
  /** Latency of successful exchanges, or `null` if none succeeded. */
  latencyMs: LatencySummary | null;
}

/** What a run has counted, for {@linkcode summarize}. */
interface LoadCounts
  extends Pick<LoadSummary, "errors" | "cancelled" | "interrupted" | "concurrency" | "elapsedMs"> {
  /** Latencies of successful exchanges. */
  histogram: Histogram;
}

/** Rounds milliseconds to whole microseconds, the histogram's unit. */
const micro = (ms: number) => Math.round(ms * 1000) / 1000;

/** A run's summary from its counts: totals, rate, percentiles. */
function summarize(counts: LoadCounts): LoadSummary {
  const h = counts.histogram;
  let failed = 0;
  for (const kind of ERROR_KINDS) failed += counts.errors[kind];
  return {
    exchanges: h.count + failed,
    succeeded: h.count,
    failed,
    errors: { ...counts.errors },
    cancelled: counts.cancelled,
    interrupted: counts.interrupted,
    concurrency: counts.concurrency,
    elapsedMs: micro(counts.elapsedMs),
    ratePerSecond: counts.elapsedMs > 0 ? Math.round((h.count / counts.elapsedMs) * 1e5) / 100 : 0,
    latencyMs: h.count === 0 ? null : {
      p50: micro(h.percentile(50)),
      p90: micro(h.percentile(90)),
      p99: micro(h.percentile(99)),
      max: micro(h.max),
      min: micro(h.min),
      mean: micro(h.sum / h.count),
    },
  };
}

/**
 * Runs many exchanges against one server, at most `concurrency` at a time,
 * and summarizes them. Each exchange is a {@linkcode request} whose reply is
 * compared with `reply` byte for byte. Failures are counted by kind, never
 * thrown, except those no retry can fix.
 *
 * @param options The server, how many exchanges or for how long, how many
 * at once, a signal to stop early, a progress callback.
 * @returns The summary, once every exchange has ended.
 * @throws {RangeError} If neither `count` nor `duration` is given, or an
 * option (`count`, `duration`, `concurrency`, `port`) is out of range.
 * @throws {NetError} If the host is unknown (`ENOTFOUND`), the network is
 * not permitted (`ENOTCAPABLE`, `EACCES`), or over TLS the server's
 * certificate is refused (`ECERTUNTRUSTED`, `ECERTNAME`, `ECERTEXPIRED`)
 * or the server does not speak TLS (`ENOTTLS`): the run stops at once.
 *
 * @example A hundred exchanges, eight at a time
 * ```ts
 * import { load } from "./load.ts";
 * import { serve } from "./serve.ts";
 * import assert from "node:assert/strict";
 *
 * const server = await serve({ port: 0, events: "problems" });
 * const summary = await load({ port: server.addr.port, count: 100, concurrency: 8 });
 * assert.equal(summary.succeeded, 100);
 * assert.equal(summary.failed, 0);
 * await server.shutdown();
 * ```
 */
export async function load(options: LoadOptions): Promise<LoadSummary> {
  const { count, duration } = options;
  const concurrency = options.concurrency ?? 1;
  const grace = options.grace ?? 1000;
  if (count === undefined && duration === undefined) {
    throw new RangeError("load needs a count, a duration, or both");
  }
  if (count !== undefined) checkWhole("count", count, 1);
  if (duration !== undefined) checkDuration("duration", duration);
  checkWhole("concurrency", concurrency, 1);
  if (options.port !== undefined) checkWhole("port", options.port, 1, 65535);
  const target = dialerOf(options);
  const plan = planOf({ ...options, reply: expectedReply(options.reply, options.replyLength) });

  const histogram = new Histogram();
  const errors = Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as Record<ErrorKind, number>;
  let failed = 0;
  let cancelled = 0;
  let started = 0;
  let stopping = false;
  let fatal: unknown;
  // Each worker's way to cut off its exchange in flight (after the grace,
  // or on a fatal error).
  const cuts: (() => void)[] = [];
  let cutOff = false;
  const cut = () => {
    cutOff = true;
    cuts.forEach((cutMine) => cutMine());
  };
  const timers: ReturnType<typeof setTimeout>[] = [];
  const stop = () => (stopping = true);
  const interrupted = () => options.signal?.aborted ?? false;
  const onAbort = () => {
    stop();
    timers.push(setTimeout(cut, grace));
  };

  const start = performance.now();
  if (duration !== undefined) timers.push(setTimeout(stop, duration));
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  const progress = (): LoadProgress => {
    const elapsedMs = performance.now() - start;
    return {
      done: histogram.count + failed,
      total: count,
      failed,
      elapsedMs,
      durationMs: duration,
      ratePerSecond: elapsedMs > 0 ? (histogram.count / elapsedMs) * 1000 : 0,
    };
  };
  const onProgress = options.onProgress;
  const ticker = onProgress &&
    setInterval(() => {
      try {
        onProgress(progress());
      } catch {
        // A display that fails must not stop the run (serve()'s onEvent too).
      }
    }, options.progressInterval ?? 250);

  async function worker(): Promise<void> {
    // The controller of this worker's connects, kept from one exchange to
    // the next until it is aborted, and the connection in flight: cutting
    // off aborts the one and closes the other. Not a controller per
    // exchange, with a listener of exchange()'s on the worker's signal: on
    // Node those cost a tenth of the rate.
    let control = new AbortController();
    let current: Conn | undefined;
    const track = (conn: Conn) => (current = conn);
    cuts.push(() => {
      control.abort();
      if (current) closeQuietly(current);
    });
    while (!stopping && (count === undefined || started < count)) {
      started++;
      const t0 = performance.now();
      try {
        await exchange(plan, target, track, control);
        histogram.record(performance.now() - t0);
        continue;
      } catch (err) {
        if (cutOff) {
          cancelled++;
          continue;
        }
        if (FATAL.has(errorCode(err))) {
          fatal ??= err;
          stop();
          cut();
          continue;
        }
        const kind = errorKind(err);
        errors[kind]++;
        // Out of local ports: give TIME_WAIT a moment instead of spinning.
        if (kind === "addrNotAvailable") await new Promise((r) => setTimeout(r, 10));
      } finally {
        current = undefined;
        // Its deadline aborted it: the next exchange needs a fresh one.
        if (control.signal.aborted) control = new AbortController();
      }
      failed++;
    }
  }

  try {
    const workers = Math.min(concurrency, count ?? concurrency);
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    for (const timer of timers) clearTimeout(timer);
    if (ticker !== undefined) clearInterval(ticker);
    options.signal?.removeEventListener("abort", onAbort);
  }
  if (fatal !== undefined) throw fatal;
  return summarize({
    histogram,
    errors,
    cancelled,
    interrupted: interrupted(),
    concurrency,
    elapsedMs: performance.now() - start,
  });
}
