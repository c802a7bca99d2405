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
  acceptErrorKind,
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
  parseHost,
  parsePort,
  parseSeconds,
  repr,
  run,
  stdoutLog,
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
  /** Lingering close, as nginx and Apache do it: after the reply the server
   * sends FIN, then reads and discards what the client still sends until
   * the client closes, for at most this long (and 1 MiB), then closes.
   * Closing at once with the client's extra bytes unread (a newline after
   * the message, say) would send a reset, which can destroy the reply
   * before the client reads it. 0 closes at once. Default 2,000. */
  linger?: number;
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

/** What happened, for logs. Peers are `host:port` strings, or
 * `unknown peer` where the runtime could not tell. */
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
  | { type: "accept-resumed" }
  | { type: "accept-skipped"; error: Error }
  | { type: "accept-skipped-total"; count: number };

/** Counts of finished connections, and the ones still open. */
export interface ServerStats {
  /** Connections that got their reply. */
  served: number;
  /** Connections that ended early: EOF, reset, or cut off by shutdown. */
  failed: number;
  /** Connections closed by the read deadline. */
  timedOut: number;
  /** Connections that failed before they could be accepted (reset while
   * waiting in the backlog...): skipped. */
  skipped: number;
  /** Connections open now, lingering ones included. */
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
   * if the listening socket failed. */
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

/**
 * Something that comes in bursts, logged twice a burst, not once a time:
 * `hit()` says whether this one starts a burst; `end` gets the burst's count
 * once `quiet` ms have passed without a hit (and `over()` holds), or at
 * `finish()`.
 */
class Burst {
  count = 0;
  #last = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly quiet: number,
    readonly end: (count: number) => void,
    readonly over: () => boolean = () => true,
  ) {}

  hit(): boolean {
    this.#last = performance.now();
    if (this.count++ > 0) return false;
    this.#timer = setTimeout(this.#check, this.quiet);
    return true;
  }

  #check = (): void => {
    const left = this.quiet - (performance.now() - this.#last);
    if (left <= 0 && this.over()) this.finish();
    else this.#timer = setTimeout(this.#check, left > 0 ? left : this.quiet);
  };

  /** Ends the burst now, if there is one. */
  finish(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const count = this.count;
    this.count = 0;
    if (count > 0) this.end(count);
  }
}

const BACKOFF_MIN = 5;
const BACKOFF_MAX = 1000;
/** How long the cap, or skipped connections, must go unhit before the
 * burst is logged as over. */
const QUIET = 1000;
/** The most a lingering close reads and discards. */
const LINGER_BYTES = 1 << 20;

/**
 * Starts the server and resolves once it is listening.
 *
 * @param options Where to listen, the protocol's sizes, limits, logging.
 * @returns The running server.
 * @throws {NetError} If it cannot listen (`EADDRINUSE`, `EACCES`...).
 * @throws {RangeError} If an option is out of range, or the host is empty.
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
  const linger = options.linger ?? 2000;
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
  if (linger !== 0) checkDuration("linger", linger);
  if (!(Number.isSafeInteger(maxConnections) && maxConnections >= 1)) {
    throw new RangeError(`maxConnections must be at least 1, got ${maxConnections}`);
  }

  const listener: Listener = await listen({ hostname, port });
  const stats: ServerStats = { served: 0, failed: 0, timedOut: 0, skipped: 0, open: 0 };

  // The open exchanges, oldest first, each closed when its deadline
  // passes: one timer for all of them. Lingering ones, replied to, wait in
  // a second queue, on a timer of their own.
  const live = new DeadlineQueue<Exchange>(timeout, (x) => cut(x, "timeout"));
  const lingering = new DeadlineQueue<Exchange>(linger || 1, (x) => closeQuietly(x.conn));
  function cut(x: Exchange, why: "timeout" | "shutdown"): void {
    live.delete(x);
    lingering.delete(x);
    x.cut = why;
    closeQuietly(x.conn);
  }
  // Bytes a lingering close discards go here, for every connection.
  const discard = new Uint8Array(16 * 1024);

  // Wakes the accept loop when a slot frees (cap or EMFILE) or shutdown
  // starts.
  let wake: (() => void) | undefined;
  let closing = false;
  let drained: (() => void) | undefined;
  // The cap, and connections skipped at accept, are logged once a burst:
  // a server held at the cap by sustained load logs two lines, not two per
  // connection.
  const capped = new Burst(
    QUIET,
    () => emit?.({ type: "cap-released", open: stats.open }),
    () => stats.open < maxConnections,
  );
  const skips = new Burst(QUIET, (count) => {
    if (count > 1) emit?.({ type: "accept-skipped-total", count });
  });

  /** Replied to: FIN, then read and discard until the client closes, the
   * linger time passes, or 1 MiB has come. Never throws. */
  async function lingerOn(x: Exchange): Promise<void> {
    lingering.add(x);
    try {
      await x.conn.closeWrite();
      let total = 0;
      while (total < LINGER_BYTES) {
        const n = await x.conn.read(discard);
        if (n === null) break;
        total += n;
      }
    } catch {
      // Reset, or closed by the linger timer or shutdown: the reply is out.
    } finally {
      lingering.delete(x);
    }
  }

  async function handle(conn: Conn): Promise<void> {
    const x = new Exchange(conn);
    live.add(x);
    const peer = story && peerOf(conn);
    try {
      story?.({ type: "accepted", peer: peer!, local: formatAddr(conn.localAddr) });
      const message = await x.receive(length);
      story?.({ type: "message", peer: peer!, message });
      await sendAll(conn, reply);
      live.delete(x);
      stats.served++;
      story?.({ type: "replied", peer: peer! });
      if (linger > 0) await lingerOn(x);
    } catch (err) {
      live.delete(x);
      closeQuietly(conn);
      if (x.cut === "timeout") {
        stats.timedOut++;
        emit?.({
          type: "timeout",
          peer: peerOf(conn),
          bytes: x.received,
          expected: length,
          timeout,
        });
      } else {
        stats.failed++;
        emit?.({
          type: "failed",
          peer: peerOf(conn),
          bytes: x.received,
          expected: length,
          error: x.cut === "shutdown"
            ? new Error("cut off by shutdown")
            : toNetError(err, x.received < length ? "read" : "write", conn.remoteAddr) as Error,
        });
      }
    } finally {
      closeQuietly(conn);
      // A freed slot (cap) or descriptor (EMFILE back-off) lets the accept
      // loop go on; it checks again for itself.
      stats.open--;
      wake?.();
      if (stats.open === 0) drained?.();
    }
  }

  /** Waits for a freed slot or descriptor, shutdown, or `ms` if given. */
  async function pause(ms?: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      wake = resolve;
      if (ms !== undefined) timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    wake = undefined;
  }

  async function acceptLoop(): Promise<void> {
    let backoff = 0;
    while (!closing) {
      if (stats.open >= maxConnections) {
        if (capped.hit()) emit?.({ type: "cap-reached", maxConnections });
        await pause();
        continue;
      }
      let conn: Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closing) break;
        const kind = acceptErrorKind(err);
        if (kind === "listener") throw toNetError(err, "accept", listener.addr);
        if (kind === "connection") {
          // Its own failure, not the listener's: on to the next one.
          stats.skipped++;
          if (skips.hit()) emit?.({ type: "accept-skipped", error: err as Error });
          continue;
        }
        // Out of descriptors or memory, or not known: back off.
        backoff = backoff ? Math.min(backoff * 2, BACKOFF_MAX) : BACKOFF_MIN;
        if (backoff === BACKOFF_MIN) {
          emit?.({ type: "accept-error", error: err as Error, retryIn: backoff });
        }
        await pause(backoff);
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
    for (const queue of [live, lingering]) {
      for (let x = queue.first; x; x = queue.first) cut(x, "shutdown");
    }
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
        capped.finish();
        skips.finish();
        live.close();
        lingering.close();
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

/** The peer as logs name it. */
function peerOf(conn: Conn): string {
  return conn.remoteAddr.hostname ? formatAddr(conn.remoteAddr) : "unknown peer";
}

const USAGE = `usage: server [HOST] [-p PORT] [options]
  HOST                   address to listen on (default 127.0.0.1;
                         0.0.0.0 or :: for every interface)
  -p, --port PORT        port (default 1060; 0 picks a free one)
  --timeout SECONDS      read deadline per connection (default 10)
  --linger SECONDS       after the reply, how long to wait for the client to
                         close before closing (default 2; 0: close at once)
  --max-connections N    open connections at most (default 10000)
  --grace SECONDS        on SIGINT/SIGTERM/SIGHUP, time left to open
                         exchanges (default 5); a second signal exits at once
  --log human|json       log format (default human)
  -q, --quiet            log only the Listening line and problems
  -h, --help             show this help
  -V, --version          show the version`;

/** What the command line logs: the server's events and its own. */
export type LogEvent =
  | ServerEvent
  | { type: "listening"; addr: string }
  | { type: "shutdown"; signal: string; open: number; grace: number }
  | { type: "log-dropped"; count: number }
  | ({ type: "stopped"; logLinesDropped: number } & ServerStats);

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
    case "accept-skipped":
      return `Skipped a connection that failed before it was accepted: ${event.error.message}`;
    case "accept-skipped-total":
      return `Skipped ${event.count} connections that failed before they were accepted`;
    case "shutdown":
      return `${event.signal}: shutting down; ${event.open} open connections have ${
        event.grace / 1000
      } s to finish`;
    case "log-dropped":
      return `${event.count} log lines dropped: stdout was not being read`;
    case "stopped":
      return `Stopped: ${event.served} served, ${event.failed} failed, ${event.timedOut} timed out${
        event.skipped ? `, ${event.skipped} skipped` : ""
      }${event.logLinesDropped ? `; ${event.logLinesDropped} log lines dropped` : ""}`;
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
    linger: { type: "string" },
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
  const grace = values.grace === undefined ? 5000 : parseSeconds("grace", values.grace);
  const hostname = positionals[0] === undefined
    ? "127.0.0.1"
    : parseHost(positionals[0], "an address such as 127.0.0.1, or 0.0.0.0 for every interface");
  const out = stdoutLog("server", (count) => formatEvent({ type: "log-dropped", count }, format));
  const log = (event: LogEvent) => out.line(formatEvent(event, format));
  try {
    const server = await serve({
      hostname,
      port: values.port === undefined ? DEFAULT_PORT : parsePort(values.port),
      timeout: values.timeout === undefined ? undefined : parseSeconds("timeout", values.timeout),
      linger: values.linger === undefined ? undefined : parseSeconds("linger", values.linger, true),
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
      log({ type: "stopped", ...await server.finished, logLinesDropped: out.dropped });
      return EXIT.OK;
    } finally {
      stopSignals();
    }
  } finally {
    // What is logged reaches stdout before the process exits, unless stdout
    // is stalled: then a second is all it gets.
    await out.flush(1000);
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
