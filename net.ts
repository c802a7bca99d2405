/**
 * The small socket shape the library is written against, and its errors.
 *
 * Each runtime supplies `listen()` and `connect()` returning these shapes
 * (`runtime/deno.ts`, and its Node and Bun twins); everything else in the library is
 * written against this file only, as Go's code is against `net.Conn`.
 *
 * @module
 */

import type { Reader, Writer } from "./recv_all.ts";

/** A TCP endpoint, as Deno names one. `hostname` is an IP address literal
 * (or, in what was asked for, a host name). */
export interface TcpAddr {
  /** Which transport: TCP. */
  transport: "tcp";
  /** The IP address, without brackets for IPv6. */
  hostname: string;
  /** The port number. */
  port: number;
}

/** A Unix domain socket endpoint, as Deno names one. A client that did not
 * bind its socket to a path (the usual case) has the empty path. */
export interface UnixAddr {
  /** Which transport: a Unix domain stream socket. */
  transport: "unix";
  /** The socket file's path, or `""` for an unnamed socket. */
  path: string;
}

/** Where a socket is: over TCP, or a Unix domain socket. */
export type NetAddr = TcpAddr | UnixAddr;

/** The address type of a transport: `TcpAddr` unless `unix` is asked. */
export type AddrOf<O> = O extends { transport: "unix" } ? UnixAddr : TcpAddr;

/**
 * A connected socket: what `Deno.TcpConn` and `Deno.UnixConn` offer, and
 * no more.
 *
 * @typeParam A The address type of its transport.
 */
export interface Conn<A extends NetAddr = NetAddr> extends Reader, Writer {
  /** This end of the connection, or `undefined` once the runtime can no
   * longer tell. Read it before `close()`: the Node and Bun adapters ask for
   * it on first use, and after closing they no longer can. */
  readonly localAddr: A | undefined;
  /** The peer's end of the connection, or `undefined` where the runtime
   * cannot tell: the Node and Bun adapters ask for it on first use, and
   * after the peer reset or the socket closed they no longer can. Read it
   * early. Deno knows it from the start. */
  readonly remoteAddr: A | undefined;
  /** Sends FIN: the peer reads end of stream, and can still write to us. */
  closeWrite(): Promise<void>;
  /** Closes both directions and frees the socket; a pending read ends. */
  close(): void;
}

/**
 * A listening socket: what `serve()` accepts connections from. Bring your
 * own (a test's, a wrapper's) by passing it to `serve({ listener })`.
 *
 * @typeParam A The address type of its transport.
 */
export interface Listener<A extends NetAddr = NetAddr> {
  /** The address it is bound to, with the real port when 0 was asked. */
  readonly addr: A;
  /** Waits for the next connection. Rejects once the listener is closed. */
  accept(): Promise<Conn<A>>;
  /** Stops listening: new connections are refused. */
  close(): void;
}

/** A TCP address to listen on or connect to. */
export interface TcpOptions {
  /** TCP, the default. */
  transport?: "tcp";
  /** An IP address or host name; `0.0.0.0` or `::` is every interface. */
  hostname: string;
  /** The port; 0 picks a free one when listening. */
  port: number;
}

/** A Unix domain socket to listen on or connect to. */
export interface UnixOptions {
  /** A Unix domain stream socket. */
  transport: "unix";
  /** The socket file's path. */
  path: string;
}

/** Where to listen. */
export type ListenOptions = TcpOptions | UnixOptions;

/** Where to connect, and when to give up. */
export type ConnectOptions = (TcpOptions | UnixOptions) & {
  /** Gives up connecting when aborted. */
  signal?: AbortSignal;
};

/**
 * Opens a connection for a client: what `request()` and `load()` call for
 * each exchange. Pass your own (as Go's `DialContext`) to connect another
 * way; it must give up, rejecting with the signal's reason, when `signal`
 * aborts.
 */
export type Dialer = (signal: AbortSignal) => Promise<Conn>;

/**
 * The address that listen and connect options name, for messages.
 *
 * @param options Where to listen or connect.
 * @returns It as an address.
 *
 * @example TCP by default
 * ```ts
 * import { addrOf } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(addrOf({ hostname: "127.0.0.1", port: 1060 }), {
 *   transport: "tcp",
 *   hostname: "127.0.0.1",
 *   port: 1060,
 * });
 * ```
 */
export function addrOf(options: ListenOptions): NetAddr {
  return options.transport === "unix"
    ? { transport: "unix", path: options.path }
    : { transport: "tcp", hostname: options.hostname, port: options.port };
}

/** The operation a {@linkcode NetError} happened in. */
export type NetOp = "listen" | "accept" | "connect" | "handshake" | "read" | "write";

/**
 * The error codes the library gives meaning to, as POSIX and Node name them.
 * `ENOTCAPABLE` is a runtime's refusal of permission (Deno without
 * `--allow-net`, or for a Unix socket without `--allow-read` and
 * `--allow-write`); `ETIMEDOUT` includes the library's own deadlines.
 * `EEXIST` is a file that is not a socket where a Unix socket was to be
 * created (left as it is), `ENOENT` a missing socket file or directory.
 * `ECONNRESET` also stands for the other ways runtimes report a peer that
 * reset: `ENOTCONN` (Deno asks a reset socket for its peer's address) and
 * `ECONNABORTED`. The `ECERT*`, `ENOTTLS`, `EKEYMISMATCH` and `ETLS` codes are
 * the library's own, for TLS (`tls.ts` says which runtime error each stands
 * for): during a handshake, `EPIPE` is a peer that closed or reset.
 */
export type NetErrorCode =
  | "EACCES"
  | "EADDRINUSE"
  | "EADDRNOTAVAIL"
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "EEXIST"
  | "EHOSTUNREACH"
  | "ENETUNREACH"
  | "ENOENT"
  | "ENOTCAPABLE"
  | "ENOTFOUND"
  | "EPIPE"
  | "ETIMEDOUT"
  | "ECERTUNTRUSTED"
  | "ECERTNAME"
  | "ECERTEXPIRED"
  | "ENOTTLS"
  | "EKEYMISMATCH"
  | "ETLS"
  | "EOTHER";

/** What each code means, as the error's message says it. What to do about
 * it is the program's to say (it knows its flags): see `cli/run.ts`. */
const REASONS: Record<NetErrorCode, string> = {
  EACCES: "permission denied",
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available",
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  EEXIST: "a file that is not a socket is in the way",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOENT: "no such file or directory",
  ENOTCAPABLE: "network access denied",
  ENOTFOUND: "unknown host",
  EPIPE: "connection closed by peer",
  ETIMEDOUT: "timed out",
  ECERTUNTRUSTED: "certificate not trusted",
  ECERTNAME: "certificate is for another name",
  ECERTEXPIRED: "certificate expired or not yet valid",
  ENOTTLS: "the peer did not speak TLS",
  EKEYMISMATCH: "the key does not match the certificate",
  ETLS: "TLS protocol error",
  EOTHER: "failed",
};

/**
 * A network operation failed. `code` says why, without parsing text; the
 * message is one line that says what happened.
 *
 * @example Branching on the reason
 * ```ts
 * import { NetError } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * const addr = { transport: "tcp", hostname: "127.0.0.1", port: 1060 } as const;
 * const err = new NetError("connect", "ECONNREFUSED", addr);
 * assert.equal(err.code, "ECONNREFUSED");
 * assert.equal(err.message, "cannot connect to 127.0.0.1:1060: connection refused");
 * ```
 */
export class NetError extends Error {
  /** The operation that failed. */
  readonly op: NetOp;
  /** Why it failed. */
  readonly code: NetErrorCode;
  /** The address asked for (listen, connect) or the peer (read, write);
   * `undefined` for a peer the runtime could no longer name. */
  readonly addr: NetAddr | undefined;
  /** What went wrong: the message without the operation and address. */
  readonly reason: string;

  /**
   * Builds the error and its one-line message.
   *
   * @param op The operation that failed.
   * @param code Why it failed.
   * @param addr The address asked for, or the peer; `undefined` if the
   * peer is not known.
   * @param options The original error as `cause`, and a `detail` that
   * replaces the standard reason in the message (by default the code's
   * reason, or the cause's own message for `EOTHER`).
   */
  constructor(
    op: NetOp,
    code: NetErrorCode,
    addr: NetAddr | undefined,
    options: { cause?: unknown; detail?: string } = {},
  ) {
    const where = addr ? formatAddr(addr) : "an unknown peer";
    const what = {
      listen: `cannot listen on ${where}`,
      accept: `accepting connections on ${where} failed`,
      connect: `cannot connect to ${where}`,
      handshake: `TLS handshake with ${where} failed`,
      read: `reading from ${where} failed`,
      write: `writing to ${where} failed`,
    }[op];
    const reason = options.detail ??
      (code === "EOTHER" && options.cause instanceof Error
        ? options.cause.message
        // A Unix socket needs file permissions too, not only the network's.
        : code === "ENOTCAPABLE" && addr?.transport === "unix"
        ? "access denied"
        : REASONS[code]);
    super(`${what}: ${reason}`, {
      cause: options.cause,
    });
    this.name = "NetError";
    this.op = op;
    this.code = code;
    this.addr = addr;
    this.reason = reason;
  }
}

/**
 * Formats an address as `host:port`, with IPv6 hosts in brackets, or a Unix
 * socket as its path (an unnamed one, a client's, as `''`, the way Python's
 * `getpeername()` shows it).
 *
 * @param addr The address.
 * @returns `127.0.0.1:1060`, `[::1]:1060`, `/run/sixteen.sock` or `''`.
 *
 * @example Bracketing IPv6
 * ```ts
 * import { formatAddr } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatAddr({ transport: "tcp", hostname: "::1", port: 1060 }), "[::1]:1060");
 * assert.equal(formatAddr({ transport: "unix", path: "/tmp/s.sock" }), "/tmp/s.sock");
 * ```
 */
export function formatAddr(addr: NetAddr): string {
  if (addr.transport === "unix") return addr.path || "''";
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

/**
 * Names a peer for logs: its address, or `unknown peer` where the runtime
 * could not tell.
 *
 * @param addr The peer's address, if known.
 * @returns What a log line calls it.
 *
 * @example A peer that reset before it was named
 * ```ts
 * import { peerName } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(peerName(undefined), "unknown peer");
 * ```
 */
export function peerName(addr: NetAddr | undefined): string {
  return addr ? formatAddr(addr) : "unknown peer";
}

/**
 * The host as every runtime's socket calls take it: an IPv6 literal loses
 * the brackets that URLs and {@linkcode formatAddr} put around it (Deno
 * takes `[::1]`, Node and Bun do not).
 *
 * @param hostname An IP address or host name, IPv6 bracketed or not.
 * @returns It without brackets.
 * @throws {RangeError} If it is empty: Node and Bun would listen on every
 * interface, Deno would refuse it; say `0.0.0.0` or `::` instead.
 *
 * @example Unbracketing IPv6
 * ```ts
 * import { bareHost } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(bareHost("[::1]"), "::1");
 * assert.equal(bareHost("127.0.0.1"), "127.0.0.1");
 * assert.throws(() => bareHost(""), RangeError);
 * ```
 */
export function bareHost(hostname: string): string {
  if (hostname === "") {
    throw new RangeError("hostname is empty: say 0.0.0.0 or :: for every interface");
  }
  const inner = /^\[(.*:.*)\]$/.exec(hostname)?.[1];
  return inner ?? hostname;
}

/** The longest path a Unix domain socket can have, in bytes: `sun_path` is
 * 108 bytes on Linux, with the terminating NUL the runtimes need. */
export const MAX_UNIX_PATH = 107;

/**
 * Checks a Unix domain socket's path before any runtime sees it: past
 * {@linkcode MAX_UNIX_PATH} bytes Deno and Bun refuse it, each in its own
 * words, and Node cuts it short and binds another path.
 *
 * @param path The socket file's path.
 * @throws {RangeError} If it is empty or too long.
 *
 * @example A path too long for `sun_path`
 * ```ts
 * import { checkUnixPath } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * checkUnixPath("/tmp/sixteen.sock");
 * assert.throws(() => checkUnixPath(`/tmp/${"s".repeat(200)}`), {
 *   name: "RangeError",
 *   message: /^a Unix socket's path has at most 107 bytes, this one has 205: choose a shorter one/,
 * });
 * ```
 */
export function checkUnixPath(path: string): void {
  if (path === "") throw new RangeError("a Unix socket needs a path");
  const bytes = new TextEncoder().encode(path).length;
  if (bytes > MAX_UNIX_PATH) {
    throw new RangeError(
      `a Unix socket's path has at most ${MAX_UNIX_PATH} bytes, this one has ${bytes}: ` +
        "choose a shorter one",
    );
  }
}

/**
 * Gives any error thrown by a runtime's socket calls a {@linkcode NetErrorCode}.
 * Deno and Node both set `code` to the POSIX name; anything else is `EOTHER`.
 *
 * @param err What was thrown.
 * @returns The code, or `EOTHER` when it is not one the library knows.
 *
 * @example Reading the code of a runtime's error
 * ```ts
 * import { errorCode } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * const err = Object.assign(new Error("Connection refused"), { code: "ECONNREFUSED" });
 * assert.equal(errorCode(err), "ECONNREFUSED");
 * assert.equal(errorCode(new Error("?")), "EOTHER");
 * ```
 */
export function errorCode(err: unknown): NetErrorCode {
  if (err instanceof NetError) return err.code;
  const code = rawCode(err);
  if (code === "ENOTCONN" || code === "ECONNABORTED") return "ECONNRESET";
  // OpenSSL's failures on a TLS connection, as Node and Bun name them.
  if (code?.startsWith("ERR_SSL_")) return "ETLS";
  return code !== undefined && code in REASONS ? code as NetErrorCode : "EOTHER";
}

/**
 * The `code` a runtime put on an error, as it is (Deno's and Node's are
 * POSIX names).
 *
 * @param err What was thrown.
 * @returns The code, or `undefined` when there is none.
 *
 * @example Reading a code as it is
 * ```ts
 * import { rawCode } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(rawCode(Object.assign(new Error(), { code: "EMFILE" })), "EMFILE");
 * assert.equal(rawCode("?"), undefined);
 * ```
 */
export function rawCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * What a failed `accept()` means, after accept(2):
 *
 * - `listener`: the listening socket itself is unusable (EBADF, ENOTSOCK,
 *   EINVAL: "not listening"; a runtime's closed-resource error): accepting
 *   cannot go on.
 * - `connection`: one incoming connection failed before it was accepted
 *   (ENOTCONN from Deno asking a reset socket for its peer, ECONNABORTED,
 *   ECONNRESET, EPROTO, and the network errors that Linux's accept(2) says
 *   "are passed on the new socket" and should be treated "like EAGAIN by
 *   retrying": ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH,
 *   EOPNOTSUPP, ENETUNREACH; also EPERM, a firewall's refusal, and EAGAIN
 *   and EINTR): skip it and accept the next at once.
 * - `resources`: out of descriptors, buffers or memory (EMFILE, ENFILE,
 *   ENOBUFS, ENOMEM): back off until some are freed, as Go's `http.Server`.
 * - `unknown`: anything else; backing off and retrying is the safe choice.
 *
 * @param err What `accept()` rejected with.
 * @returns Its meaning for the accept loop.
 *
 * @example A reset in the backlog is one connection's failure
 * ```ts
 * import { acceptErrorKind } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * const reset = Object.assign(new Error("Transport endpoint is not connected"), {
 *   code: "ENOTCONN",
 * });
 * assert.equal(acceptErrorKind(reset), "connection");
 * assert.equal(acceptErrorKind(Object.assign(new Error(), { code: "EMFILE" })), "resources");
 * ```
 */
export function acceptErrorKind(err: unknown): "listener" | "connection" | "resources" | "unknown" {
  const code = rawCode(err);
  if (code === undefined) {
    // Deno's and our adapters' error for a closed listener has no code.
    return (err as { name?: unknown } | null)?.name === "BadResource" ? "listener" : "unknown";
  }
  return ACCEPT_ERRORS[code] ?? "unknown";
}

const ACCEPT_ERRORS: Record<string, "listener" | "connection" | "resources"> = {
  EBADF: "listener",
  ENOTSOCK: "listener",
  EINVAL: "listener",
  ENOTCONN: "connection",
  ECONNABORTED: "connection",
  ECONNRESET: "connection",
  EPROTO: "connection",
  ENETDOWN: "connection",
  ENOPROTOOPT: "connection",
  EHOSTDOWN: "connection",
  ENONET: "connection",
  EHOSTUNREACH: "connection",
  EOPNOTSUPP: "connection",
  ENETUNREACH: "connection",
  EPERM: "connection",
  EAGAIN: "connection",
  EWOULDBLOCK: "connection",
  EINTR: "connection",
  EMFILE: "resources",
  ENFILE: "resources",
  ENOBUFS: "resources",
  ENOMEM: "resources",
};

/**
 * Gives a runtime's socket error (one with a `code`, as Deno's and Node's
 * have) the library's class; anything else, such as an
 * `IncompleteReadError` or a bug, is returned as it is.
 *
 * @param err What was thrown.
 * @param op The operation that failed.
 * @param addr The address asked for, or the peer (`undefined`: unknown).
 * @returns A {@linkcode NetError}, or `err` itself.
 *
 * @example Wrapping a reset
 * ```ts
 * import { NetError, toNetError } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * const reset = Object.assign(new Error("Connection reset"), { code: "ECONNRESET" });
 * const peer = { transport: "tcp", hostname: "127.0.0.1", port: 1060 } as const;
 * const err = toNetError(reset, "read", peer);
 * assert(err instanceof NetError);
 * assert.equal(err.message, "reading from 127.0.0.1:1060 failed: connection reset by peer");
 * ```
 */
export function toNetError(err: unknown, op: NetOp, addr: NetAddr | undefined): unknown {
  if (err instanceof NetError || rawCode(err) === undefined) {
    return err;
  }
  return new NetError(op, errorCode(err), addr, { cause: err });
}

/**
 * Closes a connection that may already be closed (by a deadline, a
 * shutdown or the peer), ignoring the "already closed" error.
 *
 * @param conn The connection.
 *
 * @example Closing twice
 * ```ts
 * import { closeQuietly, type Conn } from "./net.ts";
 *
 * let closed = false;
 * const conn = {
 *   close() {
 *     if (closed) throw new Error("Bad resource ID");
 *     closed = true;
 *   },
 * } as unknown as Conn;
 * closeQuietly(conn);
 * closeQuietly(conn);
 * ```
 */
export function closeQuietly(conn: Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
