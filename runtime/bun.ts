/**
 * Everything the library needs from Bun, in one place: the twin of
 * `deno.ts` and `node.ts`, with the same names and types (the contract in
 * `types.ts`). The npm package gives it to Bun (the `bun` condition of its
 * `#runtime` import); Node never loads it.
 *
 * Sockets are Bun's own, `Bun.listen` and `Bun.connect`: far cheaper per
 * connection than `node:net` on Bun. Bun calls handlers (`open`, `data`,
 * `drain`, `end`, `close`); the library is written against Deno's `read(p)`
 * and `write(p)` promises. Received data and accepted connections are
 * queued as on Node (`queues.ts`). Bun's `write()` is Deno's: it hands the
 * kernel what fits and says how much, so a write resolves with that count
 * (the caller's `sendAll` loops), and when nothing fits it waits for
 * `drain`: that wait is the backpressure. The arguments, exit, standard
 * error and signals are `node:process`'s, as on Node (`process.ts`).
 *
 * @module
 */

import type { Conn, ConnectOptions, Listener, ListenOptions } from "../net.ts";
import { bareHost, NetError } from "../net.ts";
import {
  AcceptQueue,
  badResource,
  brokenPipe,
  codeOf,
  connectionReset,
  DONE,
  interrupted,
  isHangUp,
  QueuedConn,
} from "./queues.ts";
import type { Meets } from "./types.ts";
// The process half (arguments, exit, output, signals) is node:process's.
export * from "./process.ts";

/** The part of a Bun socket this file uses (`Socket` in bun-types). */
interface BunSocket {
  data: BunConn | undefined;
  /** Undefined when asked after the peer reset or the socket closed,
   * though bun-types says `string`. */
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  /** Sends what the kernel takes now: the count, 0 when nothing fits (wait
   * for `drain`), -1 once the socket is closed or shut down. */
  write(data: Uint8Array): number;
  /** shutdown(2) for writing: sends FIN. */
  shutdown(): void;
  /** FIN, then close(2). */
  end(): void;
  /** Closes with SO_LINGER 0: sends RST. */
  terminate(): void;
  pause(): void;
  resume(): void;
}

/** The handlers Bun calls, with data as `Uint8Array`s of their own. */
interface BunHandlers {
  binaryType: "uint8array";
  open(socket: BunSocket): void;
  data(socket: BunSocket, chunk: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
}

/** The part of Bun's API this file uses. */
declare const Bun: {
  listen(options: {
    hostname: string;
    port: number;
    allowHalfOpen: boolean;
    socket: BunHandlers;
  }): { readonly hostname: string; readonly port: number; stop(): void };
  connect(options: {
    hostname: string;
    port: number;
    allowHalfOpen: boolean;
    socket: BunHandlers;
  }): Promise<BunSocket>;
};

interface PendingWrite {
  p: Uint8Array;
  resolve(n: number): void;
  reject(err: unknown): void;
}

/** A Bun socket with Deno's `read(p)` / `write(p)` shape. */
class BunConn extends QueuedConn<BunSocket> {
  /** Our closeWrite(): FIN sent. */
  #shut = false;
  /** Bun closed the socket: the peer reset, or both sides sent FIN. */
  #gone = false;
  /** Writes waiting for `drain`, in order. */
  #writes: PendingWrite[] = [];

  write(p: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(badResource());
    const failure = this.received.failure;
    if (this.#shut) return Promise.reject(brokenPipe());
    if (this.#gone || isHangUp(failure)) return Promise.reject(this.received.hangUp());
    if (failure) return Promise.reject(failure);
    if (p.length === 0) return Promise.resolve(0);
    if (this.#writes.length === 0) {
      const n = this.socket.write(p);
      if (n > 0) return Promise.resolve(n);
      if (n < 0) {
        this.#lost();
        return Promise.reject(this.received.hangUp());
      }
    }
    // Nothing fits: wait for the peer to read (drain), as Deno's write does.
    return new Promise((resolve, reject) => this.#writes.push({ p, resolve, reject }));
  }

  /** The socket can take data again: the waiting writes try once more. */
  onDrain(): void {
    while (this.#writes.length > 0) {
      const write = this.#writes[0];
      const n = this.socket.write(write.p);
      if (n === 0) return;
      this.#writes.shift();
      if (n > 0) write.resolve(n);
      else {
        this.#lost();
        write.reject(this.received.hangUp());
      }
    }
  }

  /** Sends FIN and resolves at once, as Deno's does; reads go on until the
   * peer's FIN. A write still waiting can never be sent: it fails. */
  closeWrite(): Promise<void> {
    if (this.closed) return Promise.reject(badResource());
    if (!this.#shut) {
      this.#shut = true;
      if (!this.#gone) this.socket.shutdown();
      this.#failWrites(brokenPipe);
    }
    return DONE;
  }

  /** Bun closed the socket: with the peer's error (a reset), or without
   * one (FIN both ways, our own close, or an error it did not name). */
  onClose(error?: Error): void {
    this.#gone = true;
    if (error) this.received.fail(error);
    else this.#lost();
    this.received.end();
    const failure = this.received.failure;
    this.#failWrites(() => isHangUp(failure) ? this.received.hangUp() : failure ?? brokenPipe());
  }

  /** Bun gave the socket up without naming an error: it closes on an
   * error event (EPOLLERR) without asking the kernel which, and a write
   * then returns -1. With no FIN sent or received and no error known, that
   * was the peer's reset. */
  #lost(): void {
    if (!this.#shut && !this.closed && !this.received.ended && !this.received.failure) {
      this.received.fail(connectionReset());
    }
  }

  close(): void {
    if (this.closed) throw badResource();
    this.closed = true;
    const unread = this.received.buffered > 0;
    this.received.close(interrupted);
    this.#failWrites(interrupted);
    if (this.#gone) return;
    // Deno shuts the socket down (FIN) and then closes it, which with
    // unread data makes the kernel add a reset (RST): the peer reads end of
    // stream, and its writes fail with EPIPE. Here the data was already read
    // from the kernel into the queue, so the reset must be asked for.
    if (unread) {
      this.socket.shutdown();
      this.socket.terminate();
    } else this.socket.end();
  }

  #failWrites(err: () => unknown): void {
    while (this.#writes.length > 0) this.#writes.shift()!.reject(err());
  }
}

/** What every socket's handlers do once it has its {@linkcode BunConn}. */
const common = {
  binaryType: "uint8array",
  data: (socket, chunk) => socket.data?.received.push(chunk),
  drain: (socket) => socket.data?.onDrain(),
  end: (socket) => socket.data?.received.end(),
  close: (socket, error) => socket.data?.onClose(error),
  // Bun calls this when a handler throws; ours do not, but a failure must
  // never go unhandled.
  error: (socket, error) => socket.data?.received.fail(error),
} satisfies Omit<BunHandlers, "open">;

/** Whether `hostname` is an IP address literal (Bun would keep a name as
 * the listener's address, where Deno and Node give the address bound). */
function isIP(hostname: string): boolean {
  return hostname.includes(":") || /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Listens for TCP connections.
 *
 * Bun accepts every connection as it comes: those that arrive while nobody
 * awaits `accept()` wait in the listener's queue, paused, each holding a
 * file descriptor, up to 511 of them (`MAX_WAITING` in `queues.ts`); the
 * ones past it are closed at once, and each fails one `accept()` with
 * `ECONNABORTED` (a Deno listener leaves them in the kernel's backlog).
 *
 * @param options Where to listen.
 * @returns The listener, bound and accepting.
 * @throws {NetError} If the address cannot be bound.
 * @throws {RangeError} If the host is empty.
 */
export async function listen(options: ListenOptions): Promise<Listener> {
  let hostname = bareHost(options.hostname);
  const fail = (err: unknown) =>
    new NetError("listen", codeOf(err), options.hostname, options.port, { cause: err });
  if (!isIP(hostname)) {
    // Bound as Deno and Node bind a name: to its first address.
    const { lookup } = await import("node:dns/promises");
    try {
      hostname = (await lookup(hostname)).address;
    } catch (err) {
      throw fail(err);
    }
  }
  let queue: AcceptQueue | undefined;
  try {
    const server = Bun.listen({
      hostname,
      port: options.port,
      allowHalfOpen: true,
      socket: {
        ...common,
        // A connection reset while it waited in the backlog is handed out
        // too: its reads fail, and it has no peer address (Deno's accept
        // fails with ENOTCONN instead).
        open: (socket) => queue!.push(socket.data = new BunConn(socket)),
      },
    });
    queue = new AcceptQueue({ hostname, port: server.port }, () => server.stop());
    return queue;
  } catch (err) {
    throw fail(err);
  }
}

/** The handlers of a socket we connect: its {@linkcode BunConn} is made
 * when it opens, before any data. */
const connecting: BunHandlers = {
  ...common,
  open(socket) {
    socket.data = new BunConn(socket);
  },
  // Bun.connect's promise rejects too, and connect() handles that.
  connectError() {},
};

/**
 * Opens a TCP connection.
 *
 * @param options Where to connect, and a signal to give up.
 * @returns The connection.
 * @throws {NetError} If the connection cannot be made.
 * @throws The signal's reason if it aborts first.
 */
export function connect(options: ConnectOptions): Promise<Conn> {
  const { hostname, port, signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const host = bareHost(hostname);
    // Bun.connect takes no signal: an abort settles at once, and a
    // connection made after it is closed.
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    Bun.connect({ hostname: host, port, allowHalfOpen: true, socket: connecting }).then(
      (socket) => {
        signal?.removeEventListener("abort", onAbort);
        const conn = socket.data;
        if (aborted) conn?.close();
        else if (conn) resolve(conn);
        // Bun calls open() before this; without it, nothing would tell
        // the connection of its end.
        else reject(new NetError("connect", "ECONNRESET", hostname, port));
      },
      (err) => {
        signal?.removeEventListener("abort", onAbort);
        if (!aborted) reject(new NetError("connect", codeOf(err), hostname, port, { cause: err }));
      },
    );
  });
}

// The type checker holds this file to the contract every runtime file meets.
type _Checked = Meets<typeof import("./bun.ts")>;
