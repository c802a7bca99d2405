/**
 * The sixteen-octet server: for each connection, read exactly 16 octets,
 * reply `Farewell, client`, close.
 *
 * Unlike the tutorial's loop it serves connections concurrently, closes the
 * ones that miss their read deadline, caps how many are open, backs off when
 * accept fails (EMFILE...), and shuts down gracefully.
 *
 * Run it: `deno run --allow-net server.ts [HOST] [-p PORT]`.
 *
 * @module
 */

import { IncompleteReadError, type Reader, recvAll, sendAll } from "./recv_all.ts";
import { DeadlineQueue, type Timed } from "./deadlines.ts";
import {
  closeQuietly,
  type Conn,
  formatAddr,
  type Listener,
  type NetAddr,
  NetError,
  toNetError,
} from "./net.ts";
import { args, listen } from "./runtime/deno.ts";
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
import { checkDuration, DEFAULT_PORT, DEFAULT_REPLY, MESSAGE_LENGTH, toBytes } from "./protocol.ts";
import { VERSION } from "./version.ts";

/** Options for {@linkcode serve}. Durations are in milliseconds. */
export interface ServeOptions {
  /** The address to listen on. Default `127.0.0.1`; `0.0.0.0` or `::` is
   * every interface. */
  hostname?: string;
  /** The port; 0 picks a free one. Default 1060. */
  port?: number;
  /** How many octets each client sends. Default 16. */
  messageLength?: number;
  /** The reply, as text (UTF-8) or bytes. Default `Farewell, client`. */
  reply?: string | Uint8Array;
  /** The deadline: a connection whose exchange (its whole message, then
   * the reply) has not finished this long after it was accepted is closed.
   * Default 10,000. */
  timeout?: number;
  /** At most this many connections are open at once; beyond it the server
   * stops accepting and the kernel's backlog holds newcomers. Default
   * 10,000. */
  maxConnections?: number;
  /** Called with events, for logs. Leave it out and no event is built.
   * An exception it throws is ignored: logging must not stop serving. */
  onEvent?: (event: ServerEvent) => void;
  /** Which events to build: `all` (the default) tells each exchange's
   * story; `problems` only failures, timeouts, the cap and accept errors,
   * so a busy server does no logging work per good exchange. */
  events?: "all" | "problems";
}

/** What happened, for logs. Peers are `host:port` strings. */
export type ServerEvent =
  | { type: "accepted"; peer: string; local: string }
  | { type: "message"; peer: string; message: Uint8Array }
  | { type: "replied"; peer: string }
  | {
    type: "failed";
    peer: string;
    bytes: number;
    expected: number;
    error: Error;
  }
  | {
    type: "timeout";
    peer: string;
    bytes: number;
    expected: number;
    timeout: number;
  }
  | { type: "cap-reached"; maxConnections: number }
  | { type: "cap-released"; open: number }
  | { type: "accept-error"; error: Error; retryIn: number }
  | { type: "accept-resumed" };

/** Counts of finished connections, and the ones still open. */
export interface ServerStats {
  /** Connections that got their reply. */
  served: number;
  /** Connections that ended early: EOF, reset, or cut off by shutdown. */
  failed: number;
  /** Connections closed by the read deadline. */
  timedOut: number;
  /** Connections open now. */
  open: number;
}

/** A running server. */
export interface Server {
  /** The address it listens on, with the real port. */
  readonly addr: NetAddr;
  /** Live counts. */
  readonly stats: Readonly<ServerStats>;
  /**
   * Stops accepting at once (new connections are refused), lets open
   * exchanges finish for up to `grace` milliseconds, then closes the rest.
   * Calling it again returns the same promise; with a grace of 0 it also
   * closes the open exchanges at once.
   *
   * @param grace How long open exchanges may take. Default 5,000.
   * @returns The final counts.
   */
  shutdown(grace?: number): Promise<ServerStats>;
  /** Settles when the server has stopped: after `shutdown()`, or rejects
   * if accepting failed for good. */
  readonly finished: Promise<ServerStats>;
}

/** One connection being served; also the reader that counts its bytes. */
class Exchange implements Reader, Timed {
  received = 0;
  /** Why the server closed it before it finished, if it did. */
  cut?: "timeout" | "shutdown";
  /** Its place in the server's {@linkcode DeadlineQueue}. */
  deadline = 0;
  prev?: Timed;
  next?: Timed;
  queued?: boolean;

  constructor(readonly conn: Conn) {}

  read(p: Uint8Array): Promise<number | null> {
    return this.conn.read(p).then((n) => {
      if (n) this.received += n;
      return n;
    });
  }

  /** Reads the message. A client's message nearly always comes in one
   * segment, so one plain read usually ends it (no counting wrapper, no
   * recvAll loop held per waiting connection); recvAll reads the rest. */
  async receive(length: number): Promise<Uint8Array> {
    const message = new Uint8Array(length);
    if (length === 0) return message;
    const n = await this.conn.read(message);
    if (n === null) throw new IncompleteReadError(message.subarray(0, 0), length);
    this.received = n;
    if (n < length) {
      try {
        await recvAll(this, length - n, { buffer: message.subarray(n) });
      } catch (err) {
        // Told of the whole message, not of the rest.
        if (!(err instanceof IncompleteReadError)) throw err;
        throw new IncompleteReadError(message.slice(0, this.received), length);
      }
    }
    return message;
  }
}

const BACKOFF_MIN = 5;
const BACKOFF_MAX = 1000;
/** How long the cap must go unhit before it is logged as released. */
const CAP_QUIET = 1000;

/**
 * Starts the server and resolves once it is listening.
 *
 * @param options Where to listen, the protocol's sizes, limits, logging.
 * @returns The running server.
 * @throws {NetError} If it cannot listen (`EADDRINUSE`, `EACCES`...).
 * @throws {RangeError} If an option is out of range.
 *
 * @example Serving one exchange on a free port
 * ```ts
 * import { serve } from "./server.ts";
 * import { request } from "./client.ts";
 * import assert from "node:assert/strict";
 *
 * const server = await serve({ port: 0 });
 * const { reply } = await request({ port: server.addr.port });
 * assert.equal(new TextDecoder().decode(reply), "Farewell, client");
 * const stats = await server.shutdown();
 * assert.equal(stats.served, 1);
 * ```
 */
export async function serve(options: ServeOptions = {}): Promise<Server> {
  const hostname = options.hostname ?? "127.0.0.1";
  const port = options.port ?? DEFAULT_PORT;
  const length = options.messageLength ?? MESSAGE_LENGTH;
  const reply = toBytes(options.reply ?? DEFAULT_REPLY);
  const timeout = options.timeout ?? 10_000;
  const maxConnections = options.maxConnections ?? 10_000;
  const onEvent = options.onEvent;
  // A listener that throws must not take the server down with it.
  const emit = onEvent && ((event: ServerEvent) => {
    try {
      onEvent(event);
    } catch {
      // Ignored, as documented on ServeOptions.onEvent.
    }
  });
  const story = options.events === "problems" ? undefined : emit;
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`messageLength must be a whole number >= 0, got ${length}`);
  }
  checkDuration("timeout", timeout);
  if (!(Number.isSafeInteger(maxConnections) && maxConnections >= 1)) {
    throw new RangeError(`maxConnections must be at least 1, got ${maxConnections}`);
  }

  const listener: Listener = await listen({ hostname, port });
  const stats: ServerStats = { served: 0, failed: 0, timedOut: 0, open: 0 };

  // The open exchanges, oldest first, each closed when its deadline
  // passes: one timer for all of them.
  const live = new DeadlineQueue<Exchange>(timeout, (x) => cut(x, "timeout"));
  function cut(x: Exchange, why: "timeout" | "shutdown"): void {
    live.delete(x);
    x.cut = why;
    closeQuietly(x.conn);
  }

  // Wakes the accept loop when a slot frees (cap or EMFILE) or shutdown
  // starts.
  let wake: (() => void) | undefined;
  let closing = false;
  let drained: (() => void) | undefined;
  // The cap is logged once an episode: reached, then released after a
  // second without hitting it, so a server held at the cap by sustained
  // load logs two lines, not two per connection.
  let capped = false;
  let lastAtCap = 0;
  let capTimer: ReturnType<typeof setTimeout> | undefined;
  function checkCapReleased(): void {
    if (performance.now() - lastAtCap >= CAP_QUIET && stats.open < maxConnections) {
      capTimer = undefined;
      capped = false;
      emit?.({ type: "cap-released", open: stats.open });
    } else {
      capTimer = setTimeout(checkCapReleased, CAP_QUIET);
    }
  }

  async function handle(conn: Conn): Promise<void> {
    const x = new Exchange(conn);
    live.add(x);
    const peer = story && formatAddr(conn.remoteAddr);
    try {
      story?.({ type: "accepted", peer: peer!, local: formatAddr(conn.localAddr) });
      const message = await x.receive(length);
      story?.({ type: "message", peer: peer!, message });
      await sendAll(conn, reply);
      live.delete(x);
      closeQuietly(conn);
      stats.served++;
      story?.({ type: "replied", peer: peer! });
    } catch (err) {
      live.delete(x);
      closeQuietly(conn);
      if (x.cut === "timeout") {
        stats.timedOut++;
        emit?.({
          type: "timeout",
          peer: formatAddr(conn.remoteAddr),
          bytes: x.received,
          expected: length,
          timeout,
        });
      } else {
        stats.failed++;
        emit?.({
          type: "failed",
          peer: formatAddr(conn.remoteAddr),
          bytes: x.received,
          expected: length,
          error: x.cut === "shutdown"
            ? new Error("cut off by shutdown")
            : toNetError(err, x.received < length ? "read" : "write", conn.remoteAddr) as Error,
        });
      }
    } finally {
      // A freed slot (cap) or descriptor (EMFILE back-off) lets the accept
      // loop go on; it checks again for itself.
      stats.open--;
      wake?.();
      if (stats.open === 0) drained?.();
    }
  }

  async function acceptLoop(): Promise<void> {
    let backoff = 0;
    while (!closing) {
      if (stats.open >= maxConnections) {
        lastAtCap = performance.now();
        if (!capped) {
          capped = true;
          emit?.({ type: "cap-reached", maxConnections });
          capTimer = setTimeout(checkCapReleased, CAP_QUIET);
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      let conn: Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closing) break;
        if (!isTransientAcceptError(err)) throw toNetError(err, "accept", listener.addr);
        backoff = backoff ? Math.min(backoff * 2, BACKOFF_MAX) : BACKOFF_MIN;
        if (backoff === BACKOFF_MIN) {
          emit?.({ type: "accept-error", error: err as Error, retryIn: backoff });
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, backoff);
        });
        clearTimeout(timer);
        wake = undefined;
        continue;
      }
      if (backoff) {
        backoff = 0;
        emit?.({ type: "accept-resumed" });
      }
      stats.open++;
      handle(conn);
    }
  }

  const accepting = acceptLoop();
  let stopping: Promise<ServerStats> | undefined;
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  function cutAll(): void {
    for (let x = live.first; x; x = live.first) cut(x, "shutdown");
  }

  function shutdown(grace = 5000): Promise<ServerStats> {
    if (!stopping) {
      closing = true;
      try {
        listener.close();
      } catch {
        // Already closed by a fatal accept error.
      }
      wake?.();
      graceTimer = setTimeout(cutAll, grace);
      stopping = (async () => {
        await accepting.catch(() => {});
        if (stats.open > 0) await new Promise<void>((resolve) => (drained = resolve));
        clearTimeout(graceTimer);
        clearTimeout(capTimer);
        live.close();
        return { ...stats };
      })();
    } else if (grace === 0) {
      clearTimeout(graceTimer);
      cutAll();
    }
    return stopping;
  }

  const finished = accepting.then(
    () => stopping ?? shutdown(),
    async (err) => {
      await shutdown(0);
      throw err;
    },
  );
  finished.catch(() => {}); // Reported to whoever awaits it.

  return { addr: listener.addr, stats, shutdown, finished };
}

/** Accept errors that pass: out of descriptors or memory, an aborted
 * handshake, or a connection reset while it waited in the backlog (Deno,
 * and our Node and Bun adapters, fail its accept with ENOTCONN). Go's
 * `http.Server` retries these; anything else is fatal. */
function isTransientAcceptError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "EMFILE" || code === "ENFILE" || code === "ECONNABORTED" ||
    code === "ENOBUFS" || code === "ENOMEM" || code === "EAGAIN" ||
    code === "EINTR" || code === "EPROTO" || code === "ENOTCONN" || code === "ECONNRESET";
}

const USAGE = `usage: server [HOST] [-p PORT] [options]
  HOST                   address to listen on (default 127.0.0.1;
                         0.0.0.0 or :: for every interface)
  -p, --port PORT        port (default 1060; 0 picks a free one)
  --timeout SECONDS      read deadline per connection (default 10)
  --max-connections N    open connections at most (default 10000)
  --grace SECONDS        on SIGINT/SIGTERM, time left to open exchanges
                         (default 5); a second signal exits at once
  --log human|json       log format (default human)
  -q, --quiet            log only the Listening line and problems
  -h, --help             show this help
  -V, --version          show the version`;

/** What the command line logs: the server's events and its own. */
export type LogEvent =
  | ServerEvent
  | { type: "listening"; addr: string }
  | { type: "shutdown"; signal: string; open: number; grace: number }
  | ({ type: "stopped" } & ServerStats);

/**
 * Formats a log event as the tutorial's lines, or as one JSON object with
 * `time` and `event` first.
 *
 * @param event The event.
 * @param format `human` or `json`.
 * @returns One line (two for `accepted` in human format).
 */
export function formatEvent(event: LogEvent, format: "human" | "json"): string {
  if (format === "json") {
    const { type, ...rest } = event;
    const fields: Record<string, unknown> = { time: new Date().toISOString(), event: type };
    for (const [key, value] of Object.entries(rest)) {
      fields[key] = value instanceof Uint8Array
        ? repr(value)
        : value instanceof Error
        ? value.message
        : value;
      if (value instanceof NetError) fields.code = value.code;
    }
    return JSON.stringify(fields);
  }
  switch (event.type) {
    case "listening":
      return `Listening at ${event.addr}`;
    case "accepted":
      return `We have accepted a connection from ${event.peer}\n` +
        `Socket connects ${event.local} and ${event.peer}`;
    case "message":
      return `The incoming ${
        event.message.length === 16 ? "sixteen" : event.message.length
      }-octet message says ${repr(event.message)}`;
    case "replied":
      return "Reply sent, socket closed";
    case "failed":
      return `${event.peer}: ${
        event.error instanceof NetError
          ? `${event.error.reason} after ${event.bytes} of ${event.expected} octets`
          : event.error.message
      }; closed`;
    case "timeout":
      return `${event.peer} sent ${event.bytes} of ${event.expected} octets in ${
        event.timeout / 1000
      } s; closed`;
    case "cap-reached":
      return `Reached ${event.maxConnections} open connections (--max-connections); ` +
        "new ones wait in the kernel's backlog";
    case "cap-released":
      return `No longer at the connection cap (${event.open} open)`;
    case "accept-error":
      return `Accept failed: ${event.error.message}; retrying with back-off up to 1 s`;
    case "accept-resumed":
      return "Accepting again after accept errors";
    case "shutdown":
      return `${event.signal}: shutting down; ${event.open} open connections have ${
        event.grace / 1000
      } s to finish`;
    case "stopped":
      return `Stopped: ${event.served} served, ${event.failed} failed, ${event.timedOut} timed out`;
  }
}

/**
 * The server's command line: listens, logs, and on SIGINT or SIGTERM shuts
 * down gracefully; a second signal exits at once with 130.
 *
 * @param argv The arguments, without the program.
 * @returns The exit status, once the server has shut down.
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    port: { type: "string", short: "p" },
    timeout: { type: "string" },
    "max-connections": { type: "string" },
    grace: { type: "string" },
    log: { type: "string" },
    quiet: { type: "boolean", short: "q" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
  }, 1);
  if (values.help) return console.log(USAGE), EXIT.OK;
  if (values.version) return console.log(VERSION), EXIT.OK;
  if (values.log !== undefined && values.log !== "human" && values.log !== "json") {
    throw new UsageError(`--log takes human or json, got '${values.log}'`);
  }
  const format = values.log ?? "human";
  const log = (event: LogEvent) => console.log(formatEvent(event, format));
  const grace = values.grace === undefined ? 5000 : parseSeconds("grace", values.grace);
  const server = await serve({
    hostname: positionals[0] ?? "127.0.0.1",
    port: values.port === undefined ? DEFAULT_PORT : parsePort(values.port),
    timeout: values.timeout === undefined ? undefined : parseSeconds("timeout", values.timeout),
    maxConnections: values["max-connections"] === undefined
      ? undefined
      : parseCount("max-connections", values["max-connections"]),
    events: values.quiet ? "problems" : "all",
    onEvent: log,
  });
  log({ type: "listening", addr: formatAddr(server.addr) });

  const stopSignals = onStopSignals((signal) => {
    log({ type: "shutdown", signal, open: server.stats.open, grace });
    server.shutdown(grace);
  });
  try {
    log({ type: "stopped", ...await server.finished });
    return EXIT.OK;
  } finally {
    stopSignals();
  }
}

/**
 * Runs the server's command line with the process's arguments, then exits
 * with its status. Deno runs it when this file is the main module; the npm
 * package's `tcp-sixteen-server` binary calls it.
 */
export function cli(): Promise<never> {
  return run("server", USAGE, () => main(args()));
}

if (import.meta.main) cli();
