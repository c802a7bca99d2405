/**
 * One sixteen-octet exchange as a library: connect, send
 * `Hi there, server` in full, read the 16-octet reply, close. The program
 * around it (one exchange, or many in load mode) is `client.ts`.
 *
 * @module
 */

import { recvRest, sendAll } from "./recv_all.ts";
import {
  addrOf,
  closeQuietly,
  type Conn,
  type Dialer,
  type NetAddr,
  NetError,
  type NetOp,
  type TcpOptions,
  toNetError,
} from "./net.ts";
import { connect, connectTls } from "./runtime/deno.ts";
import { checkClientTls, type TlsOption } from "./tls.ts";
import { DEFAULT_MESSAGE, DEFAULT_REPLY, DEFAULT_TIMEOUT, MESSAGE_LENGTH } from "./protocol.ts";
import { DeadlineQueue, type Timed } from "./internal/deadline_queue.ts";
import { endpointOf, namesEndpoint } from "./internal/endpoint.ts";
import { equalBytes, repr, toBytes } from "./internal/bytes.ts";
import { checkDuration, checkWhole } from "./internal/checks.ts";
import { FrameReader } from "./frame_reader.ts";
import { DEFAULT_MAX_MESSAGE, frame, type Framing, readFramed } from "./framing.ts";

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

/** Where a client connects, one of: TCP at `hostname` and `port` (the
 * default), a Unix domain socket at `path` (`transport: "unix"`), or
 * whatever a `connect` function of the caller's connects to. */
export interface Target {
  /** `tcp` (the default) or `unix`. */
  transport?: "tcp" | "unix";
  /** The server's address or host name. Default `127.0.0.1`. */
  hostname?: string;
  /** The server's port. Default 1060. */
  port?: number;
  /** The server's socket file (`transport: "unix"`). */
  path?: string;
  /** Connect over TLS (on TCP), verifying the server: `true` against the
   * runtime's roots, or `{ ca, servername }` (`ca`: certificates to trust,
   * PEM; `servername`: the name to verify and send in SNI, default the
   * host). The handshake is part of the exchange's `timeout`; a failed one
   * rejects with a `NetError` whose `op` is `handshake`. */
  tls?: TlsOption;
  /** Opens each connection instead of the runtime's `connect()` (as Go's
   * `DialContext`): bring your own transport or wrapper. It must give up
   * when its signal aborts. */
  connect?: Dialer;
}

/** Options for {@linkcode request}: where to connect ({@linkcode Target}),
 * what to send and expect. Durations are in milliseconds. */
export interface RequestOptions extends Target {
  /** How the message and the reply are delimited: `fixed` (the default:
   * the message as it is, a reply of `replyLength` octets), `line` (the
   * message gets a newline if it has none; the reply is read up to its
   * newline) or `u32` (each gets a 4-byte big-endian length first). */
  framing?: Framing;
  /** What to send, as text (UTF-8) or bytes. Default `Hi there, server`. */
  message?: string | Uint8Array;
  /** The reply to expect, as text (UTF-8) or bytes: with `framing` `fixed`
   * as many octets are read; a `line` reply is compared with its newline
   * (one is added to this if it has none), a `u32` reply without its
   * prefix. If they differ, `request()` rejects with
   * {@linkcode UnexpectedReplyError}. Leave it out to take any reply. */
  reply?: string | Uint8Array;
  /** How many octets the reply has, when `reply` is not given, with
   * `framing` `fixed`. Default 16. */
  replyLength?: number;
  /** With `framing` `line` or `u32`: the longest reply taken, in octets;
   * a longer one rejects with `LimitExceededError`, found before its bytes
   * are buffered. Default 65,536. */
  maxMessage?: number;
  /** How long the whole exchange, connect included, may take. Default
   * 10,000. */
  timeout?: number;
  /** Gives up when aborted, rejecting with the signal's reason. */
  signal?: AbortSignal;
  /** Called once connected, before sending (the tutorial prints the
   * socket's name there); an address is `undefined` if the runtime could
   * not tell it. */
  onConnected?: (local: NetAddr | undefined, remote: NetAddr | undefined) => void;
}

/** What {@linkcode request} got back. */
export interface Reply {
  /** The reply's octets. */
  reply: Uint8Array;
  /** This end of the connection (`undefined` if the runtime could not
   * tell). */
  localAddr: NetAddr | undefined;
  /** The server's end (`undefined` if the runtime could not tell). */
  remoteAddr: NetAddr | undefined;
}

/**
 * The reply an exchange expects: `reply` if given; otherwise the
 * tutorial's, unless `replyLength` alone asks for any reply of that length.
 *
 * @param reply The reply to expect, if given.
 * @param replyLength The length to take any reply of, if given.
 * @returns The bytes to expect, or `undefined` to take any.
 */
export function expectedReply(
  reply: string | Uint8Array | undefined,
  replyLength: number | undefined,
): Uint8Array | undefined {
  if (reply !== undefined) return toBytes(reply);
  return replyLength === undefined ? toBytes(DEFAULT_REPLY) : undefined;
}

/**
 * The server replied, in full, with other octets than the ones expected
 * (`reply` in {@linkcode RequestOptions}): it is not the server you meant,
 * or it speaks another protocol.
 *
 * @example A reply that is not the tutorial's
 * ```ts
 * import { UnexpectedReplyError } from "./request.ts";
 * import assert from "node:assert/strict";
 *
 * const encode = (text: string) => new TextEncoder().encode(text);
 * const err = new UnexpectedReplyError(encode("HTTP/1.1 400 Bad"), encode("Farewell, client"));
 * assert.equal(err.message, "unexpected reply 'HTTP/1.1 400 Bad' (expected 'Farewell, client')");
 * ```
 */
export class UnexpectedReplyError extends Error {
  /** The octets that came. */
  readonly reply: Uint8Array;
  /** The octets that were expected. */
  readonly expected: Uint8Array;

  /**
   * Builds the error; the message shows both as the logs show peer bytes.
   *
   * @param reply The octets that came.
   * @param expected The octets that were expected.
   */
  constructor(reply: Uint8Array, expected: Uint8Array) {
    super(`unexpected reply ${repr(reply)} (expected ${repr(expected)})`);
    this.name = "UnexpectedReplyError";
    this.reply = reply;
    this.expected = expected;
  }
}

/**
 * Does one exchange: connect, send the message in full, read the reply.
 *
 * @param options The server, the message, the reply's length, a timeout.
 * @returns The reply and the connection's two ends.
 * @throws {NetError} If connecting, sending or reading fails, with `code`
 * `ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT`, `ECONNRESET`...
 * @throws {IncompleteReadError} If the server closed before the whole reply.
 * @throws {UnexpectedReplyError} If `reply` was given and another came.
 * @throws {RangeError} If `timeout` is not from 1 to 2147483647 ms.
 *
 * @example One exchange with a server on a free port
 * ```ts
 * import { request } from "./request.ts";
 * import { serve } from "./serve.ts";
 * import assert from "node:assert/strict";
 *
 * const server = await serve({ port: 0 });
 * const { reply, remoteAddr } = await request({ port: server.addr.port });
 * assert.equal(new TextDecoder().decode(reply), "Farewell, client");
 * assert.deepEqual(remoteAddr, server.addr);
 * await server.shutdown();
 * ```
 */
export async function request(options: RequestOptions = {}): Promise<Reply> {
  let localAddr: NetAddr | undefined;
  let remoteAddr: NetAddr | undefined;
  const reply = await exchange(
    planOf(options),
    dialerOf(options),
    (conn) => {
      // Read while the connection is open: Node and Bun ask the kernel.
      localAddr = conn.localAddr;
      remoteAddr = conn.remoteAddr;
      options.onConnected?.(localAddr, remoteAddr);
    },
    undefined,
    options.signal,
  );
  return { reply, localAddr, remoteAddr };
}

/** What every exchange of a run sends and expects, worked out once from
 * the options. */
export interface Plan {
  /** How the message and the reply are delimited. */
  framing: Framing;
  /** The message as it goes on the wire, framed. */
  wire: Uint8Array;
  /** The reply to expect as {@linkcode exchange} returns it (a line with
   * its newline, a frame's payload), or `undefined` to take any. */
  expected?: Uint8Array;
  /** With framing `fixed`: the reply's length. */
  length: number;
  /** With framing `line` or `u32`: the longest reply taken. */
  maxMessage: number;
  /** How long an exchange may take, in milliseconds. */
  timeout: number;
}

/**
 * Works out what each exchange sends and expects.
 *
 * @param options As for {@linkcode request}.
 * @returns The plan.
 * @throws {RangeError} If an option is out of range, `replyLength` is
 * given with another framing than `fixed`, or a line message holds a
 * newline before its end.
 */
export function planOf(options: RequestOptions): Plan {
  const framing = options.framing ?? "fixed";
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  checkDuration("timeout", timeout);
  const maxMessage = options.maxMessage ?? DEFAULT_MAX_MESSAGE;
  checkWhole("maxMessage", maxMessage, 1, 1 << 30);
  if (framing !== "fixed" && options.replyLength !== undefined) {
    throw new RangeError(`replyLength is for framing "fixed"; "${framing}" replies tell theirs`);
  }
  const reply = options.reply === undefined ? undefined : toBytes(options.reply);
  const expected = reply && framing === "line" ? frame("line", reply) : reply;
  return {
    framing,
    wire: frame(framing, toBytes(options.message ?? DEFAULT_MESSAGE)),
    expected,
    length: expected?.length ?? options.replyLength ?? MESSAGE_LENGTH,
    maxMessage,
    timeout,
  };
}

/**
 * Where an exchange connects, from its options: a function that opens one
 * connection, and the address its errors name.
 *
 * @param options As for {@linkcode request}.
 * @returns The dialer, and the server's address (`undefined` when the
 * caller's own `connect` is used: only it knows).
 * @throws {RangeError} If the options mix a dialer, TCP and a Unix socket,
 * give TLS to a Unix socket or a dialer, or its `ca` is not PEM.
 */
export function dialerOf(options: Target): { dial: Dialer; addr: NetAddr | undefined } {
  const { transport, tls } = options;
  if (options.connect) {
    if (namesEndpoint(options)) {
      throw new RangeError("give a connect function, or where to connect, not both");
    }
    if (tls !== undefined) {
      throw new RangeError("a connect function brings its own TLS: leave tls out");
    }
    return { dial: options.connect, addr: undefined };
  }
  if (tls !== undefined && transport === "unix") {
    throw new RangeError("TLS is over TCP, not a Unix socket");
  }
  const where = endpointOf(options);
  if (tls === undefined) {
    return { dial: (signal) => connect({ ...where, signal }), addr: addrOf(where) };
  }
  checkClientTls(tls);
  const tcp = where as TcpOptions;
  return { dial: (signal) => connectTls({ ...tcp, tls, signal }), addr: addrOf(tcp) };
}

/**
 * {@linkcode request} without the connection's addresses, which cost Node
 * two system calls an exchange (getsockname, getpeername) and Bun four
 * (address and port apart): what `load()` runs.
 *
 * @param plan What to send and expect: {@linkcode planOf} the options.
 * @param target Where to connect: what {@linkcode dialerOf} makes of the
 * options (a caller that makes many exchanges makes both once).
 * @param connected Called with the connection once it is made.
 * @param controller Aborts the connect when the deadline passes or
 * `cancel` aborts. A caller that makes many exchanges may pass
 * one and keep it until it is aborted (a new one for each exchange costs
 * Node a tenth of its rate); aborting it also stops a connect, and the
 * caller closes the connection it was given to stop the rest.
 * @param cancel The caller's signal, if any: the exchange gives up when it
 * aborts, rejecting with its reason.
 * @returns The reply.
 */
export async function exchange(
  plan: Plan,
  target: { dial: Dialer; addr: NetAddr | undefined },
  connected?: (conn: Conn) => void,
  controller: AbortController = new AbortController(),
  cancel?: AbortSignal,
): Promise<Uint8Array> {
  const { wire: message, expected, length, timeout } = plan;
  // One controller and a shared deadline timer, not AbortSignal.timeout()
  // and AbortSignal.any(): their timer outlives the exchange by the whole
  // timeout, which costs memory and time in load mode (measured).
  // Aborting (the deadline, or the caller's signal) stops a connect through
  // the signal, and a write or read by closing the connection, which fails
  // them: no listener on the signal, nor a signal for recvAll to race each
  // read against (in load mode those cost a tenth of the rate on Deno).
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
    conn = await target.dial(signal);
    if (signal.aborted) throw signal.reason; // Aborted as it connected.
    connected?.(conn);
    // A message fits the socket's buffer, and a reply comes in one segment,
    // nearly always: one write and one read (sendAll and recvRest finish
    // what they leave), no async call per exchange.
    op = "write";
    const sent = message.length && await conn.write(message);
    if (sent < message.length) await sendAll(conn, message.subarray(sent));
    op = "read";
    let reply: Uint8Array;
    if (plan.framing === "fixed") {
      reply = new Uint8Array(length);
      const got = length && await conn.read(reply);
      if (got !== length) await recvRest(conn, reply, got);
    } else {
      reply = await readFramed(plan.framing, new FrameReader(conn, { limit: plan.maxMessage }));
    }
    if (expected && !equalBytes(reply, expected)) throw new UnexpectedReplyError(reply, expected);
    return reply;
  } catch (err) {
    if (timedOut) {
      throw new NetError(op, "ETIMEDOUT", target.addr, {
        cause: err,
        detail: `${op === "connect" ? "no connection" : "no reply"} within ${timeout / 1000} s`,
      });
    }
    if (signal.aborted) throw signal.reason;
    // Passes UnexpectedReplyError on. With a dialer of the caller's, the
    // peer is the connection's, if known.
    throw toNetError(err, op, target.addr ?? conn?.remoteAddr);
  } finally {
    queue.delete(deadline);
    if (!queue.first) {
      // Nothing left to time: no timer may keep the process alive.
      queue.close();
      // An exchange whose deadline expired ends late: by then the map may
      // hold a newer queue for this timeout, which is not this one's to drop.
      if (byTimeout.get(timeout) === queue) byTimeout.delete(timeout);
    }
    cancel?.removeEventListener("abort", onCancel);
    if (conn) closeQuietly(conn);
  }
}
