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

import type {
  AddrOf,
  Conn,
  ConnectOptions,
  Listener,
  ListenOptions,
  NetAddr,
  TcpAddr,
  TcpOptions,
  UnixAddr,
} from "../net.ts";
import { addrOf, bareHost, checkUnixPath, closeQuietly, NetError, rawCode } from "../net.ts";
import {
  closedDuringHandshake,
  handshakeError,
  type TlsConn,
  type TlsConnectOptions,
  type TlsInfo,
  tlsListenError,
  type TlsListenOptions,
  type TlsServerOptions,
} from "../tls.ts";
import {
  AcceptQueue,
  brokenPipe,
  codeOf,
  connectionReset,
  interrupted,
  isHangUp,
  QueuedConn,
  type UnixEnds,
} from "./queues.ts";
import type { Meets } from "./types.ts";
import { listenUnix, type UnixRuntime } from "./socket_file.ts";
import { nodeFiles } from "./node_files.ts";
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

/** A TLS socket's part (`TLSSocket` in bun-types). */
interface BunTlsSocket extends BunSocket {
  /** `TLSv1.3`...; not known before the handshake. */
  getTLSVersion(): string | null;
  /** The cipher suite; its `standardName` is the IANA name. */
  getCipher(): { standardName: string | null } | null;
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
  /** A TLS socket's handshake ended: `success` is false when it failed
   * (the error says why), or the server's certificate was rejected. */
  handshake?(socket: BunSocket, success: boolean, authorizationError: Error | null): void;
}

/** Bun's TLS options, as this file passes them. */
type BunTls = TlsServerOptions | { ca?: string; serverName?: string; rejectUnauthorized: true };

/** Where Bun listens or connects: a TCP address, or a Unix socket's path. */
type BunWhere = { hostname: string; port: number } | { unix: string };

/** The part of Bun's API this file uses. */
declare const Bun: {
  listen(
    options: BunWhere & {
      allowHalfOpen: boolean;
      tls?: BunTls;
      socket: BunHandlers;
    },
  ): { readonly hostname: string; readonly port: number; stop(): void };
  connect(
    options: BunWhere & {
      allowHalfOpen: boolean;
      tls?: BunTls;
      socket: BunHandlers;
    },
  ): Promise<BunSocket>;
};

interface PendingWrite {
  p: Uint8Array;
  resolve(n: number): void;
  reject(err: unknown): void;
}

/** A Bun socket with Deno's `read(p)` / `write(p)` shape. */
class BunConn extends QueuedConn<BunSocket> {
  /** Bun closed the socket: the peer reset, or both sides sent FIN. */
  #gone = false;
  /** Writes waiting for `drain`, in order. */
  #writes: PendingWrite[] = [];

  write(p: Uint8Array): Promise<number> {
    const refusal = this.writeRefusal() ?? (this.#gone ? this.received.hangUp() : undefined);
    if (refusal) return Promise.reject(refusal);
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
    if (!this.shut && !this.closed && !this.received.ended && !this.received.failure) {
      this.received.fail(connectionReset());
    }
  }

  /** A write still waiting can never be sent after FIN: it fails. */
  protected sendFin(): void {
    if (!this.#gone) this.socket.shutdown();
    this.#failWrites(brokenPipe);
  }

  protected release(unread: boolean): void {
    this.#failWrites(interrupted);
    if (this.#gone) return;
    if (unread) {
      this.socket.shutdown();
      this.socket.terminate();
    } else this.socket.end();
  }

  #failWrites(err: () => unknown): void {
    while (this.#writes.length > 0) this.#writes.shift()!.reject(err());
  }
}

/** A Bun TLS socket with Deno's `read(p)` / `write(p)` shape, and its
 * handshake, which Bun reports to the `handshake` handler. */
class BunTlsConn extends BunConn implements TlsConn<NetAddr> {
  readonly #handshake: Promise<TlsInfo>;
  #settle?: { resolve(info: TlsInfo): void; reject(err: unknown): void };

  constructor(socket: BunSocket) {
    super(socket);
    this.#handshake = new Promise((resolve, reject) => (this.#settle = { resolve, reject }));
    this.#handshake.catch(() => {}); // Reported to whoever awaits it.
  }

  handshake(): Promise<TlsInfo> {
    return this.#handshake;
  }

  /** The handshake ended (a server's `success` ignores the missing client
   * certificate that `authorizationError` reports). */
  onHandshake(success: boolean, error: Error | null): void {
    const settle = this.#settle;
    if (!settle) return;
    this.#settle = undefined;
    if (!success) return settle.reject(error ?? closedDuringHandshake());
    const socket = this.socket as BunTlsSocket;
    settle.resolve({
      version: socket.getTLSVersion() ?? null,
      cipher: socket.getCipher()?.standardName ?? null,
    });
  }

  override onClose(error?: Error): void {
    super.onClose(error);
    this.onHandshake(false, error ?? null);
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

/** A TLS failure on an established connection (a record that does not
 * decrypt...), which Bun codes `EPROTO`: the library's `ETLS`. */
function tlsCoded(error: Error): Error {
  return rawCode(error) === "EPROTO" ? Object.assign(error, { code: "ETLS" }) : error;
}

/** The same for TLS sockets, whose handshake Bun reports. */
const commonTls = {
  ...common,
  close: (socket, error) => socket.data?.onClose(error && tlsCoded(error)),
  error: (socket, error) => socket.data?.received.fail(tlsCoded(error)),
  handshake: (socket, success, error) =>
    (socket.data as BunTlsConn | undefined)?.onHandshake(success, error),
} satisfies Omit<BunHandlers, "open">;

/** Whether `hostname` is an IP address literal (Bun would keep a name as
 * the listener's address, where Deno and Node give the address bound). */
function isIP(hostname: string): boolean {
  return hostname.includes(":") || /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * Listens for connections over TCP, or on a Unix domain socket
 * (`transport: "unix"`: its socket file is made and removed as
 * `socket_file.ts` says).
 *
 * Bun accepts every connection as it comes: the listener is an
 * {@linkcode AcceptQueue}, which holds them until accepted, and turns away
 * the ones past its bound.
 *
 * @typeParam O Where to listen: TCP unless `transport` is `unix`.
 * @param options Where to listen.
 * @returns The listener, bound and accepting.
 * @throws {NetError} If the address cannot be bound.
 * @throws {RangeError} If the host is empty.
 */
export async function listen<O extends ListenOptions>(options: O): Promise<Listener<AddrOf<O>>> {
  const o: ListenOptions = options;
  if (o.transport === "unix") {
    return await listenUnix(o.path, unix) as Listener as Listener<AddrOf<O>>;
  }
  return listenAt(await bindable(o), addrOf(o)) as Listener as Listener<AddrOf<O>>;
}

/**
 * A TCP address as `Bun.listen` takes it: a host name looked up, as Deno
 * and Node bind a name, to its first address.
 *
 * @param o Where to listen.
 * @returns The address.
 * @throws {NetError} If the name cannot be looked up.
 */
async function bindable(o: TcpOptions): Promise<BunWhere> {
  let hostname = bareHost(o.hostname);
  if (!isIP(hostname)) {
    const { lookup } = await import("node:dns/promises");
    try {
      hostname = (await lookup(hostname)).address;
    } catch (err) {
      throw new NetError("listen", codeOf(err), addrOf(o), { cause: err });
    }
  }
  return { hostname, port: o.port };
}

/** Bun's side of {@linkcode listenUnix}: its listen, connect, files. */
const unix: UnixRuntime = {
  bind: (path, name) =>
    new Promise((resolve) =>
      resolve(listenAt({ unix: path }, { transport: "unix", path: name }) as Listener<UnixAddr>)
    ),
  connect,
  files: nodeFiles,
  codeOf,
};

/**
 * Listens with `Bun.listen`.
 *
 * @param where Where, as `Bun.listen()` takes it.
 * @param asked The address asked for: errors name it, and a Unix socket's
 * listener and connections are named by its path.
 * @param tls Over TLS, with this certificate and key.
 * @returns The listener.
 * @throws {NetError} If Bun cannot listen there, or (`EKEYMISMATCH`,
 * `ETLS`) with that certificate and key.
 */
function listenAt(where: BunWhere, asked: NetAddr, tls?: TlsServerOptions): Listener {
  // A Unix peer is unnamed (a client does not bind its socket).
  const ends = asked.transport === "unix" ? { local: asked.path, remote: "" } : undefined;
  let queue: AcceptQueue | undefined;
  try {
    const server = Bun.listen({
      ...where,
      allowHalfOpen: true,
      ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
      socket: {
        ...(tls ? commonTls : common),
        // A connection reset while it waited in the backlog is handed out
        // too: its reads fail, and it has no peer address (Deno's accept
        // fails with ENOTCONN instead). A TLS one is handed out before its
        // handshake, which Bun does once it is accepted.
        open: (socket) =>
          queue!.push(
            socket.data = tls ? new BunTlsConn(socket) : new BunConn(socket, false, ends),
          ),
      },
    });
    queue = new AcceptQueue(
      "unix" in where ? asked : { transport: "tcp", hostname: where.hostname, port: server.port },
      () => server.stop(),
    );
    return queue;
  } catch (err) {
    throw tls
      ? tlsListenError(err, asked, codeOf)
      : new NetError("listen", codeOf(err), asked, { cause: err });
  }
}

/** The handlers of a socket we connect: its {@linkcode BunConn} is made
 * when it opens, before any data. */
function connecting(ends?: UnixEnds): BunHandlers {
  return {
    ...common,
    open(socket) {
      socket.data = new BunConn(socket, false, ends);
    },
    // Bun.connect's promise rejects too, and connect() handles that.
    connectError() {},
  };
}
/** The handlers of every TCP socket we connect: one object for all. */
const connectingTcp = connecting();

/**
 * Opens a connection over TCP, or to a Unix domain socket
 * (`transport: "unix"`).
 *
 * @typeParam O Where to connect: TCP unless `transport` is `unix`.
 * @param options Where to connect, and a signal to give up.
 * @returns The connection.
 * @throws {NetError} If the connection cannot be made.
 * @throws The signal's reason if it aborts first.
 */
export function connect<O extends ConnectOptions>(options: O): Promise<Conn<AddrOf<O>>> {
  const o: ConnectOptions = options;
  const signal = o.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    if (o.transport === "unix") checkUnixPath(o.path);
    const [where, socket]: [BunWhere, BunHandlers] = o.transport === "unix"
      ? [{ unix: o.path }, connecting({ local: "", remote: o.path })]
      : [{ hostname: bareHost(o.hostname), port: o.port }, connectingTcp];
    // Bun.connect takes no signal: an abort settles at once, and a
    // connection made after it is closed.
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    Bun.connect({ ...where, allowHalfOpen: true, socket }).then(
      (socket) => {
        signal?.removeEventListener("abort", onAbort);
        const conn = socket.data;
        if (aborted) conn?.close();
        else if (conn) resolve(conn as Conn as Conn<AddrOf<O>>);
        // Bun calls open() before this; without it, nothing would tell
        // the connection of its end.
        else reject(new NetError("connect", "ECONNRESET", addrOf(o)));
      },
      (err) => {
        signal?.removeEventListener("abort", onAbort);
        if (!aborted) reject(new NetError("connect", codeOf(err), addrOf(o), { cause: err }));
      },
    );
  });
}

/**
 * Listens over TLS (`Bun.listen` with `tls`). Each connection is handed out
 * as it is accepted; Bun does its handshake then, and reports it.
 *
 * @param options Where to listen, the certificate and key (PEM).
 * @returns The listener.
 * @throws {NetError} If the address cannot be bound (`EADDRINUSE`...), the
 * key does not match the certificate (`EKEYMISMATCH`), or either cannot be
 * used (`ETLS`).
 * @throws {RangeError} If the host is empty.
 */
export async function listenTls(options: TlsListenOptions): Promise<Listener<TcpAddr>> {
  const listener = listenAt(await bindable(options), addrOf(options), options.tls);
  return listener as Listener as Listener<TcpAddr>;
}

/** The handlers of every TLS socket we connect: one object for all. */
const connectingTls: BunHandlers = {
  ...commonTls,
  open(socket) {
    socket.data = new BunTlsConn(socket);
  },
  // Bun.connect's promise rejects too, and connectTls() handles that.
  connectError() {},
};

/**
 * Connects over TLS (`Bun.connect` with `tls`) and finishes the handshake,
 * verifying the server against `ca` or Bun's roots, for `servername` or
 * the host.
 *
 * @param options Where to connect, how to verify, a signal to give up.
 * @returns The connection, its handshake done.
 * @throws {NetError} If the connection cannot be made (operation
 * `connect`) or the handshake fails (operation `handshake`).
 * @throws The signal's reason if it aborts first.
 */
export function connectTls(options: TlsConnectOptions): Promise<TlsConn<TcpAddr>> {
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const { ca, servername } = options.tls === true ? {} : options.tls;
  const addr = addrOf(options) as TcpAddr;
  return new Promise((resolve, reject) => {
    // Bun.connect takes no signal: an abort settles at once, and closes
    // the connection if it was made.
    let conn: BunTlsConn | undefined;
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      if (conn) closeQuietly(conn);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => signal?.removeEventListener("abort", onAbort);
    Bun.connect({
      hostname: bareHost(options.hostname),
      port: options.port,
      allowHalfOpen: true,
      tls: {
        rejectUnauthorized: true,
        ...(ca === undefined ? {} : { ca }),
        ...(servername === undefined ? {} : { serverName: servername }),
      },
      socket: connectingTls,
    }).then(
      (socket) => {
        conn = socket.data as BunTlsConn | undefined;
        if (aborted) return conn && closeQuietly(conn);
        // Bun calls open() before this; without it, nothing would tell
        // the connection of its end.
        if (!conn) return done(), reject(new NetError("connect", "ECONNRESET", addr));
        const made = conn;
        made.handshake().then(
          () => {
            done();
            if (aborted) closeQuietly(made);
            // A TCP socket's addresses are TCP addresses.
            else resolve(made as TlsConn as TlsConn<TcpAddr>);
          },
          (err) => {
            done();
            closeQuietly(made);
            if (!aborted) reject(handshakeError(err, addr, "client"));
          },
        );
      },
      (err) => {
        done();
        if (!aborted) reject(new NetError("connect", codeOf(err), addr, { cause: err }));
      },
    );
  });
}

// The type checker holds this file to the contract every runtime file meets.
type _Checked = Meets<typeof import("./bun.ts")>;
