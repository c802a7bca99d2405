/**
 * The sixteen-octet client: connect, send `Hi there, server` in full, read
 * the 16-octet reply, close.
 *
 * Run it: `deno run --allow-net client.ts [HOST] [-p PORT] [--timeout S]`.
 *
 * @module
 */

import { recvAll, sendAll } from "./recv_all.ts";
import { type Conn, formatAddr, type NetAddr, NetError, type NetOp, toNetError } from "./net.ts";
import { args, connect } from "./runtime/deno.ts";
import { EXIT, parseCommandLine, parsePort, parseSeconds, repr, run } from "./cli.ts";
import { DEFAULT_MESSAGE, DEFAULT_PORT, MESSAGE_LENGTH } from "./protocol.ts";
import { VERSION } from "./version.ts";

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
  const message = typeof options.message === "string" || options.message === undefined
    ? new TextEncoder().encode(options.message ?? DEFAULT_MESSAGE)
    : options.message;
  const timeout = options.timeout ?? 10_000;
  // One controller and a timer cleared at the end, not AbortSignal.timeout()
  // and AbortSignal.any(): their timer outlives the exchange by the whole
  // timeout, which costs memory and time in load mode (measured).
  const cancel = options.signal;
  const controller = new AbortController();
  const signal = controller.signal;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException("the exchange timed out", "TimeoutError"));
  }, timeout);
  const onCancel = () => controller.abort(cancel!.reason);
  if (cancel?.aborted) onCancel();
  else cancel?.addEventListener("abort", onCancel, { once: true });
  let op: NetOp = "connect";
  let conn: Conn | undefined;
  const onAbort = () => conn?.close();
  try {
    conn = await connect({ hostname, port, signal });
    signal.addEventListener("abort", onAbort, { once: true });
    options.onConnected?.(conn.localAddr, conn.remoteAddr);
    op = "write";
    await sendAll(conn, message);
    op = "read";
    const reply = await recvAll(conn, options.replyLength ?? MESSAGE_LENGTH, { signal });
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
    clearTimeout(timer);
    cancel?.removeEventListener("abort", onCancel);
    signal.removeEventListener("abort", onAbort);
    try {
      conn?.close();
    } catch {
      // Already closed by the deadline.
    }
  }
}

const USAGE = `usage: client [HOST] [-p PORT] [--timeout SECONDS]
  HOST                 the server (default 127.0.0.1)
  -p, --port PORT      its port (default 1060)
  --timeout SECONDS    give up on the whole exchange after this (default 10)
  -h, --help           show this help
  -V, --version        show the version`;

/**
 * The client's command line: one exchange, told as the tutorial tells it.
 *
 * @param argv The arguments, without the program.
 * @returns The exit status.
 * @throws {UsageError} If the command line is wrong.
 * @throws {NetError} If the exchange fails.
 */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    port: { type: "string", short: "p" },
    timeout: { type: "string" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
  }, 1);
  if (values.help) return console.log(USAGE), EXIT.OK;
  if (values.version) return console.log(VERSION), EXIT.OK;
  const { reply } = await request({
    hostname: positionals[0] ?? "127.0.0.1",
    port: values.port === undefined ? DEFAULT_PORT : parsePort(values.port),
    timeout: values.timeout === undefined ? undefined : parseSeconds("timeout", values.timeout),
    onConnected: (local) =>
      console.log(`Client has been assigned socket name ${formatAddr(local)}`),
  });
  console.log(`The server said ${repr(reply)}`);
  return EXIT.OK;
}

if (import.meta.main) run("client", USAGE, () => main(args()));
