/**
 * The sixteen-octet server as a library: for each connection, read exactly
 * 16 octets, reply `Farewell, client`, close.
 *
 * Unlike the tutorial's loop it serves connections concurrently, closes the
 * ones that miss their read deadline, caps how many are open, skips
 * connections that fail before they are accepted, backs off when accept
 * runs out of resources (EMFILE...), closes lingeringly so the reply
 * survives a client's extra bytes, and shuts down gracefully. The program
 * around it (flags, logs, signals) is `server.ts`.
 *
 * @module
 */

import { IncompleteReadError, type Reader, recvRest, sendAll } from "./recv_all.ts";
import {
  acceptErrorKind,
  type AddrOf,
  closeQuietly,
  type Conn,
  errorCode,
  type Listener,
  type ListenOptions,
  type NetAddr,
  NetError,
  peerName,
  type TcpOptions,
  toNetError,
} from "./net.ts";
import { listen, listenTls } from "./runtime/deno.ts";
import {
  checkServerTls,
  handshakeError,
  isTlsConn,
  type TlsConn,
  type TlsInfo,
  type TlsListenOptions,
  type TlsServerOptions,
} from "./tls.ts";
import {
  DEFAULT_GRACE,
  DEFAULT_LINGER,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_REPLY,
  DEFAULT_TIMEOUT,
  MESSAGE_LENGTH,
} from "./protocol.ts";
import { DeadlineQueue, type Timed } from "./internal/deadline_queue.ts";
import { Burst } from "./internal/burst.ts";
import { endpointOf, namesEndpoint } from "./internal/endpoint.ts";
import { toBytes } from "./internal/bytes.ts";
import { FrameReader } from "./frame_reader.ts";
import { DEFAULT_MAX_MESSAGE, frame, type Framing, readFramed } from "./framing.ts";
import { checkDuration, checkWhole } from "./internal/checks.ts";

/** Options for {@linkcode serve}. Durations are in milliseconds. Where it
 * listens is one of: TCP on `hostname` and `port` (the default), a Unix
 * domain socket at `path` (`transport: "unix"`), or a `listener` of the
 * caller's. */
export interface ServeOptions {
  /** `tcp` (the default) or `unix`. */
  transport?: "tcp" | "unix";
  /** The address to listen on. Default `127.0.0.1`; `0.0.0.0` or `::` is
   * every interface. */
  hostname?: string;
  /** The port; 0 picks a free one. Default 1060. */
  port?: number;
  /** The socket file of a Unix domain socket (`transport: "unix"`). */
  path?: string;
  /** A listener to serve instead of listening (as Go's `Serve(l)`): any
   * {@linkcode Listener}, such as a wrapper that upgrades each connection,
   * or a test's. `serve()` owns it from then on, and closes it on
   * shutdown. */
  listener?: Listener;
  /** Serve over TLS, with this certificate and key (PEM text), on TCP.
   * Each connection's handshake is part of its exchange: inside its
   * `timeout`, never holding the accept loop. */
  tls?: TlsServerOptions;
  /** How each client's message, and the reply, are delimited: `fixed`
   * (the default: `messageLength` octets), `line` (up to a newline; the
   * reply gets one if it has none) or `u32` (a 4-byte big-endian length
   * first; the reply gets its own). */
  framing?: Framing;
  /** How many octets each client sends, with `framing` `fixed`. Default
   * 16. */
  messageLength?: number;
  /** With `framing` `line` or `u32`: the longest line or frame a client
   * may send, in octets. A longer one is a failure (`LimitExceededError`),
   * found before its bytes are buffered, and the connection is closed.
   * Default 65,536. */
  maxMessage?: number;
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
   * stops accepting; newcomers wait (on Deno in the kernel's backlog; Node
   * and Bun accept them and hold up to 511 paused, closing the ones past
   * that, which count as skipped when the server next accepts). Default
   * 10,000. */
  maxConnections?: number;
  /** Called with events, for logs. Leave it out and no event is built.
   * An exception it throws is ignored: logging must not stop serving. */
  onEvent?: (event: ServerEvent) => void;
  /** Which events to build: `all` (the default) tells each exchange's
   * story; `problems` only failures, timeouts, the cap and accept errors,
   * so a busy server does no logging work per good exchange (a connection
   * closed without sending a byte, as health checks do, is counted as
   * failed but not reported). */
  events?: "all" | "problems";
}

/** What happened, for logs. Peers are `host:port` strings (a Unix
 * socket's peer is its path, `''` when unnamed, as a client's is), or
 * `unknown peer` where the runtime could not tell. Over TLS, `secured`
 * follows `accepted` once the handshake is done; a handshake that fails is
 * `failed` with a `NetError` whose `op` is `handshake`. */
export type ServerEvent =
  | { type: "accepted"; peer: string; local: string }
  | { type: "secured"; peer: string; tls: TlsInfo }
  | { type: "message"; peer: string; message: Uint8Array }
  | { type: "replied"; peer: string }
  | {
    type: "failed";
    peer: string;
    /** Octets received from the peer. */
    bytes: number;
    /** Octets expected: `null` with `framing` `line` or `u32`, where the
     * message's length is its own to tell. */
    expected: number | null;
    error: Error;
  }
  | {
    type: "timeout";
    peer: string;
    bytes: number;
    expected: number | null;
    timeout: number;
    /** Set when the peer had not finished its TLS handshake. */
    stage?: "handshake";
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
  /** Connections that failed before they could be served: reset while
   * waiting in the backlog, and the like. On Node and Bun, which accept
   * such connections themselves, it is any connection reset before its
   * first byte whose peer was not yet named: with `events: "problems"` the
   * server names no peer until it must, so a client that connects and
   * resets without sending is counted here rather than in `failed`. */
  skipped: number;
  /** Connections open now, lingering ones included. */
  open: number;
}

/**
 * A running server.
 *
 * @typeParam A The address type of its transport.
 */
export interface Server<A extends NetAddr = NetAddr> {
  /** The address it listens on, with the real port. */
  readonly addr: A;
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
  /** The message is in: the reply is being written. */
  replying = false;
  /** Why the server closed it before it finished, if it did. */
  cut?: "timeout" | "shutdown";
  /** Its TLS handshake has started and not finished. */
  handshaking = false;
  /** Its place in the server's {@linkcode DeadlineQueue}. */
  deadline = 0;
  prev?: Timed;
  next?: Timed;
  queue?: Timed["queue"];
  #peer?: NetAddr;

  constructor(readonly conn: Conn) {}

  /** The peer's address, asked until known and then kept; `undefined`
   * where the runtime cannot tell. Ask before closing the connection: Node
   * and Bun forget it then. They ask the kernel for it (a system call), so
   * the server asks only when a log needs it. */
  peer(): NetAddr | undefined {
    return this.#peer ??= this.conn.remoteAddr;
  }

  read(p: Uint8Array): Promise<number | null> {
    return this.conn.read(p).then((n) => {
      if (n) this.received += n;
      return n;
    });
  }
}

const BACKOFF_MIN = 5;
const BACKOFF_MAX = 1000;
/** How long the cap, or skipped connections, must go unhit before the
 * burst is logged as over. */
const QUIET = 1000;
/** The longest fixed-length message a server reads: each connection
 * allocates one. */
const MAX_MESSAGE_LENGTH = 1 << 20;
/** The highest `maxMessage`: a line or frame is buffered whole. */
const MAX_FRAMED_LENGTH = 1 << 30;
/** The most a lingering close reads and discards. */
const LINGER_BYTES = 1 << 20;

/** The address type of the server that `options` ask for: the listener's,
 * or the transport's. */
export type ServedAddr<O> = O extends { listener: Listener<infer A> } ? A : AddrOf<O>;

/**
 * Starts the server and resolves once it is listening.
 *
 * @typeParam O The options: they decide the type of the server's address
 * (`TcpAddr` unless a Unix socket or a listener of another kind is given).
 * @param options Where to listen (or a listener), the protocol's sizes,
 * limits, logging.
 * @returns The running server.
 * @throws {NetError} If it cannot listen (`EADDRINUSE`, `EACCES`...).
 * @throws {RangeError} If an option is out of range, the host is empty, or
 * a listener is given with an address.
 *
 * @example Serving one exchange on a free port
 * ```ts
 * import { serve } from "./serve.ts";
 * import { request } from "./request.ts";
 * import assert from "node:assert/strict";
 *
 * const server = await serve({ port: 0 });
 * const { reply } = await request({ port: server.addr.port });
 * assert.equal(new TextDecoder().decode(reply), "Farewell, client");
 * const stats = await server.shutdown();
 * assert.equal(stats.served, 1);
 * ```
 */
export async function serve<O extends ServeOptions = ServeOptions>(
  options: O = {} as O,
): Promise<Server<ServedAddr<O>>> {
  const framing = options.framing ?? "fixed";
  if (framing !== "fixed" && options.messageLength !== undefined) {
    throw new RangeError(`messageLength is for framing "fixed"; "${framing}" messages tell theirs`);
  }
  const settings: Settings = {
    framing,
    length: options.messageLength ?? MESSAGE_LENGTH,
    maxMessage: options.maxMessage ?? DEFAULT_MAX_MESSAGE,
    reply: frame(framing, toBytes(options.reply ?? DEFAULT_REPLY)),
    timeout: options.timeout ?? DEFAULT_TIMEOUT,
    linger: options.linger ?? DEFAULT_LINGER,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    emit: options.onEvent && guarded(options.onEvent),
    story: options.events !== "problems",
  };
  checkWhole("messageLength", settings.length, 0, MAX_MESSAGE_LENGTH);
  checkWhole("maxMessage", settings.maxMessage, 1, MAX_FRAMED_LENGTH);
  checkDuration("timeout", settings.timeout);
  checkDuration("linger", settings.linger, true);
  checkWhole("maxConnections", settings.maxConnections, 1);
  const where = listenOptions(options);
  const listener = !where
    ? options.listener!
    : "tls" in where
    ? await listenTls(where)
    : await listen(where);
  return new Serving(listener, settings) as Server as Server<ServedAddr<O>>;
}

/**
 * Where {@linkcode serve} listens, from its options.
 *
 * @param options The options.
 * @returns The runtime's listen options, or `undefined` when a listener
 * is given.
 * @throws {RangeError} If they mix a listener, TCP and a Unix socket, give
 * TLS to a Unix socket or a listener, or its certificate or key is not PEM.
 */
function listenOptions(options: ServeOptions): ListenOptions | TlsListenOptions | undefined {
  const { transport, listener, tls } = options;
  if (listener) {
    if (namesEndpoint(options)) {
      throw new RangeError("give a listener, or where to listen, not both");
    }
    if (tls) throw new RangeError("a listener brings its own TLS, if any: leave tls out");
    return undefined;
  }
  if (tls && transport === "unix") {
    throw new RangeError("TLS is served over TCP, not a Unix socket");
  }
  const where = endpointOf(options);
  if (!tls) return where;
  checkServerTls(tls);
  return { ...where as TcpOptions, tls };
}

/** A listener that throws must not take the server down with it. */
function guarded(onEvent: (event: ServerEvent) => void): (event: ServerEvent) => void {
  return (event) => {
    try {
      onEvent(event);
    } catch {
      // Ignored, as documented on ServeOptions.onEvent.
    }
  };
}

/** {@linkcode ServeOptions}, checked, with their defaults. */
interface Settings {
  framing: Framing;
  /** The message's length, with framing `fixed`. */
  length: number;
  /** The longest line or frame, with framing `line` or `u32`. */
  maxMessage: number;
  /** The reply as it goes on the wire, framed. */
  reply: Uint8Array;
  timeout: number;
  linger: number;
  maxConnections: number;
  /** Where events go, if anywhere. */
  emit?: (event: ServerEvent) => void;
  /** Whether each exchange's story is told, or problems only. */
  story: boolean;
}

/**
 * The running server, split as Go's `http.Server` is: the accept loop with
 * its back-off, one connection, the cap, graceful shutdown, closing now.
 */
class Serving implements Server {
  readonly addr: NetAddr;
  readonly stats: ServerStats = { served: 0, failed: 0, timedOut: 0, skipped: 0, open: 0 };
  readonly finished: Promise<ServerStats>;
  readonly #listener: Listener;
  readonly #s: Settings;
  /** Open exchanges, oldest first: their read deadlines on one timer. */
  readonly #live: DeadlineQueue<Exchange>;
  /** Replied-to connections in their lingering close, on a timer of their
   * own. */
  readonly #lingering: DeadlineQueue<Exchange>;
  /** Bytes a lingering close discards go here, for every connection. */
  readonly #discard = new Uint8Array(16 * 1024);
  readonly #capped: Burst;
  readonly #skips: Burst;
  readonly #accepting: Promise<void>;
  /** Wakes the accept loop when a slot or descriptor frees, or shutdown
   * starts. */
  #wake?: () => void;
  #closing = false;
  #drained?: () => void;
  #stopping?: Promise<ServerStats>;
  #graceTimer?: ReturnType<typeof setTimeout>;

  constructor(listener: Listener, settings: Settings) {
    this.#listener = listener;
    this.#s = settings;
    this.addr = listener.addr;
    const emit = settings.emit;
    this.#live = new DeadlineQueue(settings.timeout, (x) => this.#cut(x, "timeout"));
    this.#lingering = new DeadlineQueue(settings.linger || 1, (x) => closeQuietly(x.conn));
    this.#capped = new Burst(
      QUIET,
      () => emit?.({ type: "cap-released", open: this.stats.open }),
      () => this.stats.open < settings.maxConnections,
    );
    this.#skips = new Burst(QUIET, (count) => {
      if (count > 1) emit?.({ type: "accept-skipped-total", count });
    });
    this.#accepting = this.#acceptLoop();
    this.finished = this.#accepting.then(
      () => this.#stopping ?? this.shutdown(),
      async (err) => {
        await this.shutdown(0);
        throw err;
      },
    );
    this.finished.catch(() => {}); // Reported to whoever awaits it.
  }

  /** Accepts until shutdown: at the cap it waits for a slot; a failed
   * accept is skipped, backed off from, or the end, by its meaning. */
  async #acceptLoop(): Promise<void> {
    const emit = this.#s.emit;
    let backoff = 0;
    while (!this.#closing) {
      if (this.stats.open >= this.#s.maxConnections) {
        if (this.#capped.hit()) {
          emit?.({ type: "cap-reached", maxConnections: this.#s.maxConnections });
        }
        await this.#pause();
        continue;
      }
      let conn: Conn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#closing) break;
        const kind = acceptErrorKind(err);
        if (kind === "listener") {
          throw err instanceof NetError
            ? err
            : new NetError("accept", errorCode(err), this.addr, { cause: err });
        }
        if (kind === "connection") {
          // Its own failure, not the listener's: on to the next one.
          this.#skip(err);
          continue;
        }
        // Out of descriptors or memory, or not known: back off.
        backoff = backoff ? Math.min(backoff * 2, BACKOFF_MAX) : BACKOFF_MIN;
        if (backoff === BACKOFF_MIN) {
          emit?.({ type: "accept-error", error: err as Error, retryIn: backoff });
        }
        await this.#pause(backoff);
        continue;
      }
      if (backoff) {
        backoff = 0;
        emit?.({ type: "accept-resumed" });
      }
      this.stats.open++;
      this.#serveConn(conn);
    }
  }

  /** Counts a connection that failed before it could be served, and logs
   * the first of a burst. */
  #skip(err: unknown): void {
    this.stats.skipped++;
    if (this.#skips.hit()) this.#s.emit?.({ type: "accept-skipped", error: err as Error });
  }

  /** Waits for a freed slot or descriptor, shutdown, or `ms` if given. */
  async #pause(ms?: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      if (ms !== undefined) timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.#wake = undefined;
  }

  /** One connection: the message, the reply, the lingering close; every
   * failure logged and counted, never thrown. */
  async #serveConn(conn: Conn): Promise<void> {
    const length = this.#s.length;
    const story = this.#s.story ? this.#s.emit : undefined;
    const x = new Exchange(conn);
    this.#live.add(x);
    const peer = story ? peerName(x.peer()) : "";
    try {
      // A connection reset before it was accepted has no peer to name: no
      // story (Deno's accept fails for it; Node and Bun hand it out, and
      // its read fails).
      if (story && x.peer()) {
        story({ type: "accepted", peer, local: peerName(conn.localAddr) });
      }
      if (isTlsConn(conn)) await this.#handshake(x, conn, peer);
      // A message nearly always comes in one segment, and a reply fits the
      // socket's buffer: one plain read and one write usually do (no
      // counting reader, no recvAll loop, no async call per connection).
      let message: Uint8Array;
      const framing = this.#s.framing;
      if (framing === "fixed") {
        message = new Uint8Array(length);
        const n = length && await conn.read(message);
        x.received = n ?? 0;
        if (n !== length) {
          // A message in pieces: the peer is named now, while it can be (it
          // may reset before the rest; Node and Bun forget it then).
          if (n) x.peer();
          await recvRest(x, message, n);
        }
      } else {
        if (this.#s.emit) x.peer(); // Named while it can be: it may reset mid-message.
        message = await readFramed(framing, new FrameReader(x, { limit: this.#s.maxMessage }));
      }
      story?.({ type: "message", peer, message });
      x.replying = true;
      const reply = this.#s.reply;
      const sent = reply.length && await conn.write(reply);
      if (sent < reply.length) await sendAll(conn, reply.subarray(sent));
      this.#live.delete(x);
      this.stats.served++;
      story?.({ type: "replied", peer });
      if (this.#s.linger > 0) {
        // Lingering close: FIN, then read and discard until the client
        // closes, the linger time passes, or 1 MiB has come. Here, not in a
        // method of its own: an async call costs every connection.
        this.#lingering.add(x);
        try {
          // Not awaited: the reads below need not wait for the FIN to go,
          // and an await is a microtask turn and four objects a connection.
          // A failure here fails those reads too.
          conn.closeWrite().catch(ignore);
          for (let total = 0, n; total < LINGER_BYTES; total += n) {
            n = await conn.read(this.#discard);
            if (n === null) break;
          }
        } catch {
          // Reset, or closed by the linger timer or shutdown: the reply is
          // out.
        }
        this.#lingering.delete(x);
      }
    } catch (err) {
      this.#fail(x, err);
    } finally {
      closeQuietly(conn);
      // A freed slot (cap) or descriptor (EMFILE back-off) lets the accept
      // loop go on; it checks again for itself.
      this.stats.open--;
      this.#wake?.();
      if (this.stats.open === 0) this.#drained?.();
    }
  }

  /** A TLS connection's handshake, inside its deadline. Its peer is named
   * first: after a failed handshake, Node and Bun can no longer tell it,
   * and a handshake costs far more than asking. */
  async #handshake(x: Exchange, conn: TlsConn<NetAddr>, peer: string): Promise<void> {
    x.peer();
    x.handshaking = true;
    let tls: TlsInfo;
    try {
      tls = await conn.handshake();
    } catch (err) {
      throw handshakeError(err, x.peer(), "server");
    }
    x.handshaking = false;
    if (this.#s.story) this.#s.emit?.({ type: "secured", peer, tls });
  }

  /** Counts and logs an exchange that did not finish, and closes it. Out
   * of #serveConn, which every connection runs: its frame stays small. */
  #fail(x: Exchange, err: unknown): void {
    const { emit } = this.#s;
    const length = this.#s.framing === "fixed" ? this.#s.length : null;
    this.#live.delete(x);
    const remote = x.peer(); // Before closing.
    closeQuietly(x.conn);
    if (x.cut === "timeout") {
      this.stats.timedOut++;
      emit?.({
        type: "timeout",
        peer: peerName(remote),
        bytes: x.received,
        expected: length,
        timeout: this.#s.timeout,
        ...(x.handshaking ? { stage: "handshake" as const } : {}),
      });
    } else if (!x.cut && length !== 0 && x.received === 0 && !remote) {
      // Reset before a byte came, and before its peer could be named: the
      // connections Deno's accept fails (ENOTCONN) and skips.
      this.#skip(err);
    } else {
      this.stats.failed++;
      // Connected and closed without a byte (over TLS: closed during the
      // handshake): a load balancer's health check, a port scan. Counted,
      // but no problem to report.
      if (!this.#s.story && !x.cut && x.received === 0 && closedAtOnce(err)) return;
      emit?.({
        type: "failed",
        peer: peerName(remote),
        bytes: x.received,
        expected: length,
        error: x.cut === "shutdown"
          ? new Error("cut off by shutdown")
          : toNetError(err, x.replying ? "write" : "read", remote) as Error,
      });
    }
  }

  #cut(x: Exchange, why: "timeout" | "shutdown"): void {
    this.#live.delete(x);
    this.#lingering.delete(x);
    x.cut = why;
    if (this.#s.emit) x.peer(); // Named before closing, for the log.
    closeQuietly(x.conn);
  }

  /** Closes every open connection now. */
  #cutAll(): void {
    for (const queue of [this.#live, this.#lingering]) {
      for (let x = queue.first; x; x = queue.first) this.#cut(x, "shutdown");
    }
  }

  shutdown(grace: number = DEFAULT_GRACE): Promise<ServerStats> {
    checkDuration("grace", grace, true);
    if (this.#stopping) {
      if (grace === 0) {
        clearTimeout(this.#graceTimer);
        this.#cutAll();
      }
      return this.#stopping;
    }
    this.#closing = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed by a fatal accept error.
    }
    this.#wake?.();
    this.#graceTimer = setTimeout(() => this.#cutAll(), grace);
    return this.#stopping = (async () => {
      await this.#accepting.catch(() => {});
      if (this.stats.open > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
      clearTimeout(this.#graceTimer);
      this.#capped.finish();
      this.#skips.finish();
      this.#live.close();
      this.#lingering.close();
      return { ...this.stats };
    })();
  }
}

/** Whether a peer closed before it sent a byte of its message, or during
 * its TLS handshake (which cannot tell how far it got). */
function closedAtOnce(err: unknown): boolean {
  return err instanceof IncompleteReadError ||
    (err instanceof NetError && err.op === "handshake" && err.code === "EPIPE");
}

/** Takes a rejection that is handled elsewhere. */
function ignore(): void {}
