/**
 * What the event-driven adapters (`node.ts` over `node:net`, `bun.ts` over
 * `Bun.listen`/`Bun.connect`) share: turning "data arrived" and "a
 * connection arrived" events into Deno's pull-style `read(p)` and
 * `accept()`, and the errors as Deno throws them. Nothing here touches a
 * runtime's API.
 *
 * - {@linkcode ReadQueue}: received bytes wait here until read, so nothing
 *   is lost while nobody reads; past a high-water mark the socket is paused,
 *   so a peer that sends faster than we read waits in the kernel, not in
 *   our memory. A reset rejects one read or write (the kernel reports it
 *   once), and reads only once the bytes before it are read.
 * - {@linkcode AcceptQueue}: connections that arrive while nobody awaits
 *   `accept()` wait here, paused, in arrival order, and so do accept errors.
 *
 * @module
 */

import {
  acceptErrorKind,
  type Conn,
  errorCode,
  type Listener,
  type NetAddr,
  type NetErrorCode,
  rawCode,
} from "../net.ts";

/** Received bytes held for `read()` before the socket is paused. */
export const HIGH_WATER_MARK = 64 * 1024;

/** Errors as Deno's sockets throw them, so callers see one shape. */
function denoError(name: string, message: string, code?: string): Error {
  const err = new Error(message);
  err.name = name;
  if (code) Object.assign(err, { code });
  return err;
}
/** Using a closed socket or listener. */
export const badResource = (): Error => denoError("BadResource", "Bad resource ID");
/** A read or write cut short by our own `close()`. */
export const interrupted = (): Error => denoError("Interrupted", "operation canceled", "EINTR");
/** Writing after our FIN, the peer's FIN, or a reset already reported. */
export const brokenPipe = (): Error =>
  denoError("BrokenPipe", "Broken pipe (os error 32)", "EPIPE");
/** Writing after the peer's reset, the first time it is reported. */
export const connectionReset = (): Error =>
  denoError("ConnectionReset", "Connection reset by peer (os error 104)", "ECONNRESET");
/** What `closeWrite()` returns: it has nothing to wait for, and one
 * settled promise serves every connection. */
export const DONE: Promise<void> = Promise.resolve();
/** Accepting on a closed listener. */
export const listenerClosed = (): Error => denoError("BadResource", "Listener has been closed");
/** A connection closed at once because too many already waited to be
 * accepted: its own failure, not the listener's, as a reset in the backlog
 * is. */
const turnedAway = (waiting: number): Error =>
  denoError(
    "ConnectionAborted",
    `closed at once: ${waiting} connections were already waiting to be accepted`,
    "ECONNABORTED",
  );

/** How many accepted connections an {@linkcode AcceptQueue} holds open
 * while nobody accepts: the listen backlog Node and nginx ask for by
 * default (511). Past it, a peer must not make us hold a file descriptor
 * each (a Deno listener leaves them in the kernel, which drops their SYNs
 * once its backlog is full). */
export const MAX_WAITING = 511;
/** Node and Bun name a failed lookup by its `getaddrinfo` code (or
 * `ENOTFOUND`); Deno says "failed to lookup address" whatever the cause.
 * All are `ENOTFOUND`. */
export function codeOf(err: unknown): NetErrorCode {
  if (rawCode(err)?.startsWith("EAI_")) return "ENOTFOUND";
  return errorCode(err);
}

/** The peer went away: a reset, or a write into a closed connection. */
export function isHangUp(err: unknown): boolean {
  const code = rawCode(err);
  return code === "ECONNRESET" || code === "EPIPE";
}

/**
 * A TCP address as a runtime reports it, or undefined when it cannot: asked
 * after the socket closed or the peer reset, Node and Bun report no address
 * or no port.
 *
 * @param hostname The runtime's `remoteAddress` or `localAddress`.
 * @param port The runtime's `remotePort` or `localPort`.
 * @returns The address, or undefined.
 */
function tcpAddress(hostname?: string, port?: number): NetAddr | undefined {
  return hostname && port ? { transport: "tcp", hostname, port } : undefined;
}

/** The two ends of a Unix domain socket connection: the runtimes do not
 * report them per socket, the adapter knows them from the listener or the
 * path it connected to. */
export interface UnixEnds {
  /** This end's path (`""`: unnamed, as a client's is). */
  local: string;
  /** The peer's path. */
  remote: string;
}

/** What pauses and resumes a socket's reading: a `net.Socket` or a Bun
 * socket as they are. */
export interface FlowControl {
  /** Stops taking data from the kernel. */
  pause(): void;
  /** Takes data from the kernel again. */
  resume(): void;
}

interface PendingRead {
  p: Uint8Array;
  resolve(n: number | null): void;
  reject(err: unknown): void;
}

/**
 * Received bytes and reads waiting for them, for one socket. The adapter
 * feeds it the socket's events ({@linkcode ReadQueue.push},
 * {@linkcode ReadQueue.end}, {@linkcode ReadQueue.fail}) and answers
 * `read()` with {@linkcode ReadQueue.read}.
 */
export class ReadQueue {
  /** Bytes received and not yet read. */
  buffered = 0;
  /** Received chunks not yet read; `#offset` bytes of the first are read. */
  #chunks: Uint8Array[] = [];
  #offset = 0;
  /** The peer sent FIN, or the socket closed. */
  #ended = false;
  /** The socket failed: reads reject with it (but EPIPE) once the data
   * before it is read. */
  #failure: unknown;
  /** A read or a write reported the peer's reset. The kernel reports it
   * once, as Deno shows it: after that, reads end and writes fail with
   * EPIPE. */
  #told = false;
  /** The oldest waiting read, and the ones behind it (concurrent reads
   * are rare: the array is made only for them). */
  #read?: PendingRead;
  #laterReads?: PendingRead[];
  #flow: FlowControl;
  #paused = false;

  /** @param flow Pauses the socket past the high-water mark. */
  constructor(flow: FlowControl) {
    this.#flow = flow;
  }

  /** Why the socket failed, if it did. */
  get failure(): unknown {
    return this.#failure;
  }

  /** Whether the peer sent FIN, or the socket closed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Takes a received chunk (it must not be reused by the runtime). */
  push(chunk: Uint8Array): void {
    const read = this.#read;
    if (read && this.buffered === 0) {
      // The common case: a read waits for this chunk. Straight into it.
      const n = Math.min(chunk.length, read.p.length);
      read.p.set(n === chunk.length ? chunk : chunk.subarray(0, n));
      this.#nextRead();
      read.resolve(n);
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    this.#chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered >= HIGH_WATER_MARK && !this.#paused) {
      this.#paused = true;
      this.#flow.pause();
    }
    this.#settle();
  }

  /** The peer sent FIN, or the socket closed: reads end once the data
   * before it is read. */
  end(): void {
    this.#ended = true;
    this.#settle();
  }

  /** The socket failed with `err`; the first failure counts. */
  fail(err: unknown): void {
    this.#failure ??= err;
    this.#settle();
  }

  /**
   * What a write fails with once the peer is gone, as the kernel reports it
   * to Deno: the peer's reset (`ECONNRESET`) if no read or write reported
   * it yet, else `EPIPE` (Node's and Bun's sockets read the reset in the
   * background, so their own writes would only ever see `EPIPE`).
   *
   * @param err The runtime's error for this write, if it made one.
   * @returns The error for the write to reject with.
   */
  hangUp(err?: unknown): Error {
    if (err) this.fail(err);
    if (this.#told || errorCode(this.#failure) !== "ECONNRESET") return brokenPipe();
    this.#told = true;
    return connectionReset();
  }

  /**
   * Reads into `p` what has arrived, waiting for it if nothing has.
   *
   * @param p Where to put the bytes.
   * @returns How many bytes were read, or null at end of stream.
   */
  read(p: Uint8Array): Promise<number | null> {
    if (p.length === 0) return Promise.resolve(0);
    if (!this.#read) {
      if (this.buffered > 0) return Promise.resolve(this.#take(p));
      if (this.#reset()) return Promise.reject(this.#tell());
      if (this.#ended || this.#failure) return Promise.resolve(null);
    }
    return new Promise((resolve, reject) => {
      const read = { p, resolve, reject };
      if (!this.#read) this.#read = read;
      else (this.#laterReads ??= []).push(read);
    });
  }

  /** Drops what is unread and fails the waiting reads with `err` (our own
   * `close()`). */
  close(err: () => unknown): void {
    if (this.buffered > 0) {
      this.#chunks = [];
      this.buffered = 0;
    }
    for (let read = this.#read; read; read = this.#read) {
      this.#nextRead();
      read.reject(err());
    }
  }

  /** The oldest waiting read is answered: the next takes its place. */
  #nextRead(): void {
    this.#read = this.#laterReads?.shift();
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
    this.buffered -= n;
    if (this.#paused && this.buffered < HIGH_WATER_MARK) {
      this.#paused = false;
      this.#flow.resume();
    }
    return n;
  }

  /** The failure a read past the data rejects with. EPIPE on a read (Bun
   * reports it after the peer's FIN and RST) means the peer is gone: end of
   * stream, as Deno reads it, not an error. A reset rejects one read, or
   * none if a write reported it. */
  #reset(): unknown {
    const failure = this.#failure;
    return failure && !this.#told && errorCode(failure) !== "EPIPE" ? failure : undefined;
  }

  /** A read reports the failure: later reads end. */
  #tell(): unknown {
    this.#told = true;
    return this.#failure;
  }

  /** Answers waiting reads with what has arrived, or the end. */
  #settle(): void {
    for (let read = this.#read; read; read = this.#read) {
      if (this.buffered > 0) read.resolve(this.#take(read.p));
      else if (this.#reset()) read.reject(this.#tell());
      else if (this.#ended || this.#failure) read.resolve(null);
      else return;
      this.#nextRead();
    }
  }
}

/** The part of a runtime's socket {@linkcode QueuedConn} uses: a
 * `net.Socket` or a Bun socket as they are. */
export interface Socket extends FlowControl {
  /** This end's address, asked of the kernel; unknown once closed. */
  readonly localAddress?: string;
  /** This end's port. */
  readonly localPort?: number;
  /** The peer's address, asked of the kernel; unknown once closed or
   * reset. */
  readonly remoteAddress?: string;
  /** The peer's port. */
  readonly remotePort?: number;
}

/**
 * What a connection over an event-driven socket shares on every runtime:
 * its addresses, its {@linkcode ReadQueue}, `read()`, being held paused in
 * an {@linkcode AcceptQueue} until accepted, when a write is refused,
 * `closeWrite()` and `close()` as Deno's behave. Each adapter adds
 * `write()` and the two socket calls that differ by runtime:
 * {@linkcode QueuedConn.sendFin} and {@linkcode QueuedConn.release}.
 */
export abstract class QueuedConn<S extends Socket = Socket> implements Conn {
  /** What the socket received and nobody has read yet. */
  readonly received: ReadQueue;
  protected readonly socket: S;
  /** Our own close() was called. */
  protected closed = false;
  /** Our closeWrite() was called: FIN sent, or queued behind the writes. */
  protected shut = false;
  /** Paused until accept() hands it out. */
  #held: boolean;
  #localAddr?: NetAddr;
  #remoteAddr?: NetAddr;

  /**
   * @param socket The socket.
   * @param held Whether the runtime made it paused (Node's
   * `pauseOnConnect`), to be resumed by {@linkcode QueuedConn.start}.
   * @param unix The ends' paths, for a Unix domain socket.
   */
  constructor(socket: S, held = false, unix?: UnixEnds) {
    this.socket = socket;
    this.received = new ReadQueue(socket);
    this.#held = held;
    if (unix) {
      this.#localAddr = { transport: "unix", path: unix.local };
      this.#remoteAddr = { transport: "unix", path: unix.remote };
    }
  }

  // Both TCP addresses are asked of the kernel (getsockname, getpeername)
  // when first read, not for every connection: a server that logs only
  // problems never reads them, and a system call per connection is a tenth
  // of what serving one costs (measured). Unknown (undefined) once the
  // socket is closed or reset, unless read before, as the Conn interface
  // warns.
  get localAddr(): NetAddr | undefined {
    return this.#localAddr ??= tcpAddress(this.socket.localAddress, this.socket.localPort);
  }

  get remoteAddr(): NetAddr | undefined {
    return this.#remoteAddr ??= tcpAddress(this.socket.remoteAddress, this.socket.remotePort);
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.closed) return Promise.reject(badResource());
    return this.received.read(p);
  }

  /** Pauses it while it waits in an {@linkcode AcceptQueue}, so that its
   * data waits in the kernel, as with Deno. */
  hold(): void {
    if (this.#held) return;
    this.#held = true;
    this.socket.pause();
  }

  /** Starts reading, if it was held: called when `accept()` hands it out. */
  start(): void {
    if (!this.#held) return;
    this.#held = false;
    this.socket.resume();
  }

  /**
   * Why a write cannot be made, as Deno would refuse it, or `undefined` if
   * it can: the socket is closed (BadResource), we sent FIN or the peer is
   * gone (EPIPE), or the socket failed (its error).
   *
   * @returns The error to reject the write with, if any.
   */
  protected writeRefusal(): unknown {
    if (this.closed) return badResource();
    const failure = this.received.failure;
    if (this.shut) return brokenPipe();
    if (isHangUp(failure)) return this.received.hangUp();
    return failure;
  }

  abstract write(p: Uint8Array): Promise<number>;

  /** Sends FIN after what is queued, and resolves at once, as Deno's does:
   * a peer that does not read must not hold it. Reads go on until the
   * peer's FIN. */
  closeWrite(): Promise<void> {
    if (this.closed) return Promise.reject(badResource());
    if (!this.shut) {
      this.shut = true;
      this.sendFin();
    }
    return DONE;
  }

  /** Closes both directions: reads waiting end (`Interrupted`). Deno shuts
   * the socket down (FIN) and then closes it, which with unread data makes
   * the kernel add a reset (RST): the peer reads end of stream, and its
   * writes fail with EPIPE. Here the data was already read from the kernel
   * into the queue, so {@linkcode QueuedConn.release} is told to ask for
   * the reset. */
  close(): void {
    if (this.closed) throw badResource();
    this.closed = true;
    const unread = this.received.buffered > 0;
    this.received.close(interrupted);
    this.release(unread);
  }

  /** The runtime's half of `closeWrite()`: shutdown(2) for writing, after
   * what is queued. */
  protected abstract sendFin(): void;

  /**
   * The runtime's half of `close()`: frees the socket, and fails writes
   * still waiting.
   *
   * @param unread Whether received data was left unread: then FIN and RST,
   * as the kernel does for Deno.
   */
  protected abstract release(unread: boolean): void;
}

/** An accept error, as an {@linkcode AcceptQueue} holds it. */
class AcceptFailure {
  constructor(readonly error: unknown) {}
}

/**
 * A listener with Deno's `accept()` shape over a runtime that accepts every
 * connection as it comes (neither Node nor Bun can stop without closing
 * the listener): the adapter {@linkcode AcceptQueue.push}es each
 * connection, or {@linkcode AcceptQueue.fail}s with an accept error, and
 * `accept()` takes them in order. At most `maxWaiting` connections wait
 * (511 by default, {@linkcode MAX_WAITING}), paused, each holding a file
 * descriptor; the ones past it are closed as they come, and each makes one
 * `accept()` reject (code `ECONNABORTED`), so that whoever accepts counts
 * them (a Deno listener leaves them in the kernel's backlog instead).
 */
export class AcceptQueue implements Listener {
  readonly addr: NetAddr;
  #stop: () => void;
  /** Connections, and accept errors, in arrival order. */
  #ready: (QueuedConn | AcceptFailure)[] = [];
  #accepts: { resolve(conn: Conn): void; reject(err: unknown): void }[] = [];
  #closed = false;
  readonly #maxWaiting: number;
  /** Connections in `#ready`. */
  #waiting = 0;
  /** Connections closed because too many waited, not yet reported. */
  #turnedAway = 0;

  /**
   * @param addr The address it is bound to.
   * @param stop Stops the runtime's listener.
   * @param maxWaiting How many connections may wait to be accepted.
   */
  constructor(addr: NetAddr, stop: () => void, maxWaiting: number = MAX_WAITING) {
    this.addr = addr;
    this.#stop = stop;
    this.#maxWaiting = maxWaiting;
  }

  /**
   * Hands a connection to a waiting `accept()`, or holds it (paused) until
   * one comes. After `close()`, it is closed instead.
   *
   * @param conn The connection.
   */
  push(conn: QueuedConn): void {
    if (this.#closed) return conn.close();
    const accept = this.#accepts.shift();
    if (accept) {
      conn.start();
      accept.resolve(conn);
    } else if (this.#waiting < this.#maxWaiting) {
      conn.hold();
      this.#ready.push(conn);
      this.#waiting++;
    } else {
      conn.close();
      this.#turnedAway++;
    }
  }

  /**
   * Fails a waiting `accept()` with an accept error, or queues the error in
   * arrival order.
   *
   * @param error The runtime's error.
   */
  fail(error: unknown): void {
    if (this.#closed) return;
    const accept = this.#accepts.shift();
    if (accept) return accept.reject(error);
    // A burst of EMFILE is one error to the accept loop, not thousands; a
    // connection's own failure is counted, each one.
    const last = this.#ready.at(-1);
    if (
      last instanceof AcceptFailure && acceptErrorKind(error) !== "connection" &&
      acceptErrorKind(last.error) !== "connection"
    ) return;
    this.#ready.push(new AcceptFailure(error));
  }

  accept(): Promise<Conn> {
    if (this.#closed) return Promise.reject(listenerClosed());
    if (this.#turnedAway > 0) {
      this.#turnedAway--;
      return Promise.reject(turnedAway(this.#maxWaiting));
    }
    const item = this.#ready.shift();
    if (!item) return new Promise((resolve, reject) => this.#accepts.push({ resolve, reject }));
    if (item instanceof AcceptFailure) return Promise.reject(item.error);
    this.#waiting--;
    item.start();
    return Promise.resolve(item);
  }

  close(): void {
    if (this.#closed) throw badResource();
    this.#closed = true;
    this.#stop();
    for (const accept of this.#accepts.splice(0)) accept.reject(listenerClosed());
    for (const item of this.#ready.splice(0)) if (item instanceof QueuedConn) item.close();
  }
}
