/**
 * The small socket shape the library is written against, and its errors.
 *
 * Each runtime supplies `listen()` and `connect()` returning these shapes
 * (`runtime/deno.ts` and its Node twin); everything else in the library is
 * written against this file only, as Go's code is against `net.Conn`.
 *
 * @module
 */

import type { Reader, Writer } from "./recv_all.ts";

/** A TCP endpoint. `hostname` is an IP address literal. */
export interface NetAddr {
  /** The IP address, without brackets for IPv6. */
  hostname: string;
  /** The port number. */
  port: number;
}

/** A connected TCP socket: what `Deno.TcpConn` offers, and no more. */
export interface Conn extends Reader, Writer {
  /** This end of the connection. Read it before `close()`: the Node
   * adapter asks for it on first use, and after closing it no longer can
   * (it is then hostname `""`, port 0). */
  readonly localAddr: NetAddr;
  /** The peer's end of the connection. */
  readonly remoteAddr: NetAddr;
  /** Sends FIN: the peer reads end of stream, and can still write to us. */
  closeWrite(): Promise<void>;
  /** Closes both directions and frees the socket; a pending read ends. */
  close(): void;
}

/** A listening TCP socket. */
export interface Listener {
  /** The address it is bound to, with the real port when 0 was asked. */
  readonly addr: NetAddr;
  /** Waits for the next connection. Rejects once the listener is closed. */
  accept(): Promise<Conn>;
  /** Stops listening: new connections are refused. */
  close(): void;
}

/** Where to listen or connect. */
export interface ListenOptions {
  /** An IP address or host name; `0.0.0.0` or `::` is every interface. */
  hostname: string;
  /** The port; 0 picks a free one when listening. */
  port: number;
}

/** Where to connect, and when to give up. */
export interface ConnectOptions extends ListenOptions {
  /** Gives up connecting when aborted. */
  signal?: AbortSignal;
}

/** The operation a {@linkcode NetError} happened in. */
export type NetOp = "listen" | "accept" | "connect" | "read" | "write";

/**
 * The error codes the library gives meaning to, as POSIX and Node name them.
 * `ENOTCAPABLE` is a runtime's refusal of network permission (Deno without
 * `--allow-net`); `ETIMEDOUT` includes the library's own deadlines.
 */
export type NetErrorCode =
  | "EACCES"
  | "EADDRINUSE"
  | "EADDRNOTAVAIL"
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "EHOSTUNREACH"
  | "ENETUNREACH"
  | "ENOTCAPABLE"
  | "ENOTFOUND"
  | "EPIPE"
  | "ETIMEDOUT"
  | "EOTHER";

const HINTS: Record<NetErrorCode, string> = {
  EACCES: "permission denied — choose a port above 1023 with -p",
  EADDRINUSE: "address already in use — stop the other server or choose " +
    "another port with -p",
  EADDRNOTAVAIL: "address not available — use an address of this machine, " +
    "or wait for local ports to free up",
  ECONNREFUSED: "connection refused — is the server running?",
  ECONNRESET: "connection reset by peer",
  EHOSTUNREACH: "host unreachable — check the address and your network",
  ENETUNREACH: "network unreachable — check the address and your network",
  ENOTCAPABLE: "network access denied — run deno with --allow-net",
  ENOTFOUND: "unknown host — check the name",
  EPIPE: "connection closed by peer",
  ETIMEDOUT: "timed out — is the server up? raise --timeout if it is slow",
  EOTHER: "failed",
};

/**
 * A network operation failed. `code` says why, without parsing text; the
 * message is one line that says what happened and what to do.
 *
 * @example Branching on the reason
 * ```ts
 * import { NetError } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * const err = new NetError("connect", "ECONNREFUSED", "127.0.0.1", 1060);
 * assert.equal(err.code, "ECONNREFUSED");
 * assert.equal(
 *   err.message,
 *   "cannot connect to 127.0.0.1:1060: connection refused — is the server running?",
 * );
 * ```
 */
export class NetError extends Error {
  /** The operation that failed. */
  readonly op: NetOp;
  /** Why it failed. */
  readonly code: NetErrorCode;
  /** The host asked for (listen, connect) or the peer (read, write). */
  readonly hostname: string;
  /** The port asked for, or the peer's. */
  readonly port: number;
  /** What went wrong and what to do: the message without the address. */
  readonly reason: string;

  /**
   * Builds the error and its one-line message.
   *
   * @param op The operation that failed.
   * @param code Why it failed.
   * @param hostname The host asked for, or the peer.
   * @param port The port asked for, or the peer's.
   * @param options The original error as `cause`, and a `detail` that
   * replaces the standard reason in the message (by default the code's
   * reason, or the cause's own message for `EOTHER`).
   */
  constructor(
    op: NetOp,
    code: NetErrorCode,
    hostname: string,
    port: number,
    options: { cause?: unknown; detail?: string } = {},
  ) {
    const where = formatAddr({ hostname, port });
    const what = {
      listen: `cannot listen on ${where}`,
      accept: `accepting connections on ${where} failed`,
      connect: `cannot connect to ${where}`,
      read: `reading from ${where} failed`,
      write: `writing to ${where} failed`,
    }[op];
    const reason = options.detail ??
      (code === "EOTHER" && options.cause instanceof Error ? options.cause.message : HINTS[code]);
    super(`${what}: ${reason}`, {
      cause: options.cause,
    });
    this.name = "NetError";
    this.op = op;
    this.code = code;
    this.hostname = hostname;
    this.port = port;
    this.reason = reason;
  }
}

/**
 * Formats an address as `host:port`, with IPv6 hosts in brackets.
 *
 * @param addr The address.
 * @returns `127.0.0.1:1060` or `[::1]:1060`.
 *
 * @example Bracketing IPv6
 * ```ts
 * import { formatAddr } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatAddr({ hostname: "::1", port: 1060 }), "[::1]:1060");
 * ```
 */
export function formatAddr(addr: NetAddr): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
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
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code in HINTS ? code as NetErrorCode : "EOTHER";
}

/**
 * Gives a runtime's socket error (one with a `code`, as Deno's and Node's
 * have) the library's class; anything else, such as an
 * `IncompleteReadError` or a bug, is returned as it is.
 *
 * @param err What was thrown.
 * @param op The operation that failed.
 * @param addr The address asked for, or the peer.
 * @returns A {@linkcode NetError}, or `err` itself.
 *
 * @example Wrapping a reset
 * ```ts
 * import { NetError, toNetError } from "./net.ts";
 * import assert from "node:assert/strict";
 *
 * const reset = Object.assign(new Error("Connection reset"), { code: "ECONNRESET" });
 * const err = toNetError(reset, "read", { hostname: "127.0.0.1", port: 1060 });
 * assert(err instanceof NetError);
 * assert.equal(err.message, "reading from 127.0.0.1:1060 failed: connection reset by peer");
 * ```
 */
export function toNetError(err: unknown, op: NetOp, addr: NetAddr): unknown {
  if (err instanceof NetError || typeof (err as { code?: unknown } | null)?.code !== "string") {
    return err;
  }
  return new NetError(op, errorCode(err), addr.hostname, addr.port, { cause: err });
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
