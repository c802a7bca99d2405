/**
 * Everything the library needs from Node, in one place: the twin of
 * `deno.ts`, with the same names and types. The npm build puts this file
 * where `deno.ts` is imported (Bun runs it too, through its `node:net`).
 *
 * `node:net` is event-driven; the library is written against `read(p)` and
 * `write(p)` promises, as Deno's sockets offer them. The adapter keeps
 * Deno's behaviour where Node's differs: received data is queued (and the
 * socket paused past a high-water mark) so nothing is lost while nobody
 * reads, accepted connections are queued while nobody awaits `accept()`, a
 * write resolves only once Node has handed every byte to the kernel (and
 * rejects if the socket is closed or reset first), a reset rejects reads
 * with `ECONNRESET` once the bytes that came before it are read (but Node
 * itself reports a reset that arrives while the socket is paused as end of
 * stream), and closing with unread data sends FIN then RST, as Deno does.
 *
 * @module
 */

import * as net from "node:net";
import process from "node:process";
import {
  acceptErrorKind,
  bareHost,
  type Conn,
  type ConnectOptions,
  errorCode,
  type Listener,
  type ListenOptions,
  type NetAddr,
  NetError,
  type NetErrorCode,
  rawCode,
} from "../net.ts";

/** Received bytes held for `read()` before the socket is paused, so a peer
 * that sends faster than we read waits in the kernel, not in our memory. */
const HIGH_WATER_MARK = 64 * 1024;

/** Node names a failed lookup by its `getaddrinfo` code; Deno says
 * "failed to lookup address" whatever the cause. Both are `ENOTFOUND`. */
function codeOf(err: unknown): NetErrorCode {
  if (rawCode(err)?.startsWith("EAI_")) return "ENOTFOUND";
  return errorCode(err);
}

/** Errors as Deno's sockets throw them, so callers see one shape. */
function denoError(name: string, message: string, code?: string): Error {
  const err = new Error(message);
  err.name = name;
  if (code) Object.assign(err, { code });
  return err;
}
const badResource = () => denoError("BadResource", "Bad resource ID");
const interrupted = () => denoError("Interrupted", "operation canceled", "EINTR");
const brokenPipe = () => denoError("BrokenPipe", "Broken pipe (os error 32)", "EPIPE");
const listenerClosed = () => denoError("BadResource", "Listener has been closed");
const notConnected = () =>
  denoError("NotConnected", "Transport endpoint is not connected (os error 107)", "ENOTCONN");

/** The peer went away: a reset, or a write into a closed connection. */
function isHangUp(err: unknown): boolean {
  const code = rawCode(err);
  return code === "ECONNRESET" || code === "EPIPE";
}

interface PendingRead {
  p: Uint8Array;
  resolve(n: number | null): void;
  reject(err: unknown): void;
}

/** A `net.Socket` with Deno's `read(p)` / `write(p)` shape. */
class NodeConn implements Conn {
  readonly remoteAddr: NetAddr;
  #localAddr?: NetAddr;
  #socket: net.Socket;
  /** Received chunks not yet read; `#offset` bytes of the first are read. */
  #chunks: Uint8Array[] = [];
  #offset = 0;
  #buffered = 0;
  /** The peer sent FIN, or reset. */
  #ended = false;
  /** The socket failed: reads reject with it (but EPIPE) once the data
   * before it is read. */
  #failure: unknown;
  #closed = false;
  #closingWrite?: Promise<void>;
  #reads: PendingRead[] = [];

  constructor(socket: net.Socket) {
    this.#socket = socket;
    // Captured now: Node forgets it once the socket is destroyed, which it
    // does itself on a reset, before the server can log the peer.
    this.remoteAddr = { hostname: socket.remoteAddress!, port: socket.remotePort! };
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered >= HIGH_WATER_MARK) socket.pause();
      this.#settle();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#settle();
    });
    socket.on("error", (err) => {
      this.#failure = err;
      this.#settle();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#settle();
    });
  }

  // Asked of Node (getsockname) when first read, not for every connection:
  // a server that logs only problems never reads it. Node forgets it once
  // the socket is destroyed: read after close(), unless read before, it is
  // unknown (hostname "", port 0), as the Conn interface warns.
  get localAddr(): NetAddr {
    return this.#localAddr ??= {
      hostname: this.#socket.localAddress ?? "",
      port: this.#socket.localPort ?? 0,
    };
  }

  /** Copies queued bytes into `p`, each byte once; resumes the socket when
   * the queue is short again. */
  #take(p: Uint8Array): number {
    let n = 0;
    while (n < p.length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0];
      const count = Math.min(chunk.length - this.#offset, p.length - n);
      p.set(chunk.subarray(this.#offset, this.#offset + count), n);
      n += count;
      this.#offset += count;
      if (this.#offset === chunk.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    }
    this.#buffered -= n;
    if (this.#buffered < HIGH_WATER_MARK && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  /** Answers pending reads with what has arrived, or the end. */
  #settle(): void {
    while (this.#reads.length > 0) {
      const read = this.#reads[0];
      if (this.#buffered > 0) read.resolve(this.#take(read.p));
      // EPIPE on a read (Bun reports it after the peer's FIN and RST) means
      // the peer is gone: end of stream, as Deno reads it. A reset rejects.
      else if (this.#failure && errorCode(this.#failure) !== "EPIPE") read.reject(this.#failure);
      else if (this.#ended || this.#failure) read.resolve(null);
      else return;
      this.#reads.shift();
    }
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(badResource());
    if (p.length === 0) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.#reads.push({ p, resolve, reject });
      this.#settle();
    });
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(badResource());
    if (this.#closingWrite || isHangUp(this.#failure)) return Promise.reject(brokenPipe());
    if (this.#failure) return Promise.reject(this.#failure);
    if (p.length === 0) return Promise.resolve(0);
    // The callback runs once Node has handed all of p to the kernel. Only
    // then may the caller reuse p, and waiting for it is the backpressure:
    // a peer that does not read holds us here, as it holds Deno's write().
    return new Promise((resolve, reject) => {
      this.#socket.write(p, (err) => {
        // Node calls back without an error when it destroys a socket with
        // the write unsent (our close(), or the peer's reset): not sent.
        if (!err && !this.#closed && !this.#failure) resolve(p.length);
        else {
          reject(
            this.#closed
              ? interrupted()
              : isHangUp(this.#failure)
              ? brokenPipe()
              : err ?? this.#failure,
          );
        }
      });
    });
  }

  /** Sends FIN after what is queued, and resolves at once, as Deno's does:
   * a peer that does not read must not hold it. */
  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(badResource());
    if (!this.#closingWrite) {
      this.#socket.end();
      this.#closingWrite = Promise.resolve();
    }
    return this.#closingWrite;
  }

  /** Starts reading: an accepted socket waits, paused, until accept()
   * hands it out, so its data waits in the kernel as with Deno. */
  start(): this {
    this.#socket.resume();
    return this;
  }

  close(): void {
    if (this.#closed) throw badResource();
    this.#closed = true;
    // Deno shuts the socket down (FIN) and then closes it, which with
    // unread data makes the kernel add a reset (RST): the peer reads end of
    // stream, and its writes fail with EPIPE. Here the data was already read
    // from the kernel into #chunks, so the reset must be asked for. With a
    // write still queued, FIN would wait for a peer that may never read:
    // reset at once.
    const socket = this.#socket;
    if (this.#buffered > 0 && socket.writableLength === 0) {
      socket.end(() => socket.resetAndDestroy());
    } else if (this.#buffered > 0) socket.resetAndDestroy();
    else socket.destroy();
    this.#chunks = [];
    this.#buffered = 0;
    for (const read of this.#reads.splice(0)) read.reject(interrupted());
  }
}

/**
 * A `net.Server` with Deno's `accept()` shape. Connections that arrive while
 * nobody awaits `accept()` wait in a queue, paused. Unlike a Deno listener,
 * which leaves them in the kernel's backlog, Node accepts every connection
 * as it comes (it cannot stop without closing the listener), so each queued
 * one holds a file descriptor.
 */
class NodeListener implements Listener {
  readonly addr: NetAddr;
  #server: net.Server;
  /** Accepted connections, and accept errors, in arrival order. */
  #ready: ({ conn: NodeConn } | { error: unknown })[] = [];
  #accepts: { resolve(conn: Conn): void; reject(err: unknown): void }[] = [];
  #closed = false;

  constructor(server: net.Server, addr: NetAddr) {
    this.#server = server;
    this.addr = addr;
    server.on("connection", (socket: net.Socket) => {
      // A peer that reset while waiting in the backlog: Node accepted a
      // socket that no longer knows its peer. Deno's accept fails with
      // ENOTCONN for it, and so does this one.
      if (socket.remoteAddress === undefined || socket.remotePort === undefined) {
        socket.destroy();
        this.#push({ error: notConnected() });
      } else this.#push({ conn: new NodeConn(socket) });
    });
    // After listening, Node reports accept failures (EMFILE...) here, and
    // goes on listening: accept() rejects with them, as Deno's does.
    server.on("error", (error) => this.#push({ error }));
  }

  #push(item: { conn: NodeConn } | { error: unknown }): void {
    if (this.#closed) {
      if ("conn" in item) item.conn.close();
      return;
    }
    const accept = this.#accepts.shift();
    if (accept) {
      if ("conn" in item) accept.resolve(item.conn.start());
      else accept.reject(item.error);
      return;
    }
    // A burst of EMFILE is one error to the accept loop, not thousands; a
    // connection's own failure is counted, each one.
    const last = this.#ready.at(-1);
    if (
      "error" in item && last && "error" in last && acceptErrorKind(item.error) !== "connection"
    ) return;
    this.#ready.push(item);
  }

  accept(): Promise<Conn> {
    if (this.#closed) return Promise.reject(listenerClosed());
    const item = this.#ready.shift();
    if (item) {
      return "conn" in item ? Promise.resolve(item.conn.start()) : Promise.reject(item.error);
    }
    return new Promise((resolve, reject) => this.#accepts.push({ resolve, reject }));
  }

  close(): void {
    if (this.#closed) throw badResource();
    this.#closed = true;
    this.#server.close();
    for (const accept of this.#accepts.splice(0)) accept.reject(listenerClosed());
    for (const item of this.#ready.splice(0)) if ("conn" in item) item.conn.close();
  }
}

/**
 * Listens for TCP connections.
 *
 * @param options Where to listen.
 * @returns The listener, bound and accepting.
 * @throws {NetError} If the address cannot be bound.
 */
export function listen(options: ListenOptions): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const hostname = bareHost(options.hostname);
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const onError = (err: unknown) => {
      server.close();
      reject(
        new NetError("listen", codeOf(err), options.hostname, options.port, { cause: err }),
      );
    };
    server.once("error", onError);
    server.listen({ host: hostname, port: options.port }, () => {
      server.off("error", onError);
      const { address, port } = server.address() as net.AddressInfo;
      resolve(new NodeListener(server, { hostname: address, port }));
    });
  });
}

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
    // allowHalfOpen: the peer's FIN ends our reads, not our writes.
    const socket = net.connect({ host: bareHost(hostname), port, allowHalfOpen: true });
    const settle = () => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      socket.off("connect", onConnect);
    };
    const onAbort = () => {
      settle();
      socket.destroy();
      reject(signal!.reason);
    };
    const onError = (err: unknown) => {
      settle();
      socket.destroy();
      reject(new NetError("connect", codeOf(err), hostname, port, { cause: err }));
    };
    const onConnect = () => {
      settle();
      resolve(new NodeConn(socket));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once("connect", onConnect);
  });
}

/** The command-line arguments, without the runtime and script. */
export function args(): string[] {
  return process.argv.slice(2);
}

/** The program's name as it was invoked: the bin (`tcp-sixteen-server`,
 * from `bin/tcp-sixteen-server.js`), or a binary made of it. */
export function programName(): string {
  return (process.argv[1] ?? process.argv0).split("/").pop()!.replace(/\.[cm]?js$/, "");
}

/** The runtime and its version, for `--version`. */
export function runtimeVersion(): string {
  return process.versions.bun ? `Bun ${process.versions.bun}` : `Node ${process.versions.node}`;
}

/**
 * Ends the process at once.
 *
 * @param code The exit status.
 */
export function exit(code: number): never {
  // On Linux, Node writes to pipes and files synchronously: nothing
  // printed before this is lost.
  process.exit(code);
}

/** Whether standard error is a terminal (for progress displays). */
export function stderrIsTerminal(): boolean {
  return process.stderr.isTTY === true;
}

/**
 * Writes text to standard error as it is, without a newline (for a progress
 * line redrawn with `\r`).
 *
 * @param text The text.
 */
export function writeStderr(text: string): void {
  process.stderr.write(text);
}

/** Streams whose errors are handled: an unhandled `'error'` (EPIPE once
 * the reader is gone) would end the process with a stack trace. */
const quieted = new Set<NodeJS.WriteStream>();

/**
 * Writes to standard output or error without blocking the event loop: a
 * reader that stalls holds this promise, not the program.
 *
 * @param stream Which one.
 * @param bytes What to write.
 * @returns Resolves once every byte is written; rejects if the stream is
 * closed (code `EPIPE`).
 */
export function write(stream: "stdout" | "stderr", bytes: Uint8Array): Promise<void> {
  const out = process[stream];
  if (!quieted.has(out)) {
    quieted.add(out);
    out.on("error", () => {}); // Each write's callback gets it.
  }
  return new Promise((resolve, reject) => out.write(bytes, (err) => err ? reject(err) : resolve()));
}

/** The signals that ask a program to stop: Ctrl-C, `kill`, and the
 * terminal closing. */
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Calls `handler` on SIGINT, SIGTERM and SIGHUP until the returned function
 * is called.
 *
 * @param handler Called with the signal's name.
 * @returns A function that removes the handler.
 */
export function onShutdownSignal(
  handler: (signal: "SIGINT" | "SIGTERM" | "SIGHUP") => void,
): () => void {
  const listeners = STOP_SIGNALS.map((signal) => {
    const listener = () => handler(signal);
    process.on(signal, listener);
    return () => process.off(signal, listener);
  });
  return () => listeners.forEach((remove) => remove());
}
