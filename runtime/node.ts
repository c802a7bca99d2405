/**
 * Everything the library needs from Node, in one place: the twin of
 * `deno.ts`, with the same names and types (the contract in `types.ts`).
 * The npm build puts this file where `deno.ts` is imported, for Node; Bun
 * gets `bun.ts`.
 *
 * `node:net` is event-driven; the library is written against `read(p)` and
 * `write(p)` promises, as Deno's sockets offer them. The adapter keeps
 * Deno's behaviour where Node's differs: received data is queued (and the
 * socket paused past a high-water mark) so nothing is lost while nobody
 * reads, accepted connections are queued while nobody awaits `accept()`
 * (both in `queues.ts`, shared with `bun.ts`), a write resolves only once
 * Node has handed every byte to the kernel (and rejects if the socket is
 * closed or reset first), a reset rejects reads with `ECONNRESET` once the
 * bytes that came before it are read (but Node itself reports a reset that
 * arrives while the socket is paused as end of stream), and closing with
 * unread data sends FIN then RST, as Deno does.
 *
 * @module
 */

import * as net from "node:net";
import type * as TLS from "node:tls";
import type {
  AddrOf,
  Conn,
  ConnectOptions,
  Listener,
  ListenOptions,
  NetAddr,
  TcpAddr,
  UnixAddr,
} from "../net.ts";
import { addrOf, bareHost, checkUnixPath, NetError } from "../net.ts";
import {
  closedDuringHandshake,
  handshakeError,
  type TlsConn,
  type TlsConnectOptions,
  type TlsInfo,
  tlsListenError,
  type TlsListenOptions,
} from "../tls.ts";
import { AcceptQueue, codeOf, interrupted, isHangUp, QueuedConn, type UnixEnds } from "./queues.ts";
import type { Meets } from "./types.ts";
import { listenUnix, type UnixRuntime } from "./socket_file.ts";
import { nodeFiles } from "./node_files.ts";
// The process half (arguments, exit, output, signals) is node:process's.
export * from "./process.ts";

/** Where each socket keeps its {@linkcode NodeConn}, for the listeners. */
const CONN = Symbol("NodeConn");
type Tagged = net.Socket & { [CONN]: NodeConn };

// One set of listeners for every socket (Node calls them with the socket as
// `this`), not four closures per connection.
function socketData(this: Tagged, chunk: Uint8Array): void {
  this[CONN].received.push(chunk);
}
function socketEnd(this: Tagged): void {
  this[CONN].received.end();
}
function socketError(this: Tagged, err: Error): void {
  this[CONN].received.fail(err);
}

/** A `net.Socket` with Deno's `read(p)` / `write(p)` shape. */
class NodeConn extends QueuedConn<net.Socket> {
  /**
   * @param socket The socket.
   * @param held Whether it is paused (accepted with `pauseOnConnect`).
   * @param unix The ends' paths, for a Unix domain socket.
   */
  constructor(socket: net.Socket, held = false, unix?: UnixEnds) {
    super(socket, held, unix);
    (socket as Tagged)[CONN] = this;
    socket.on("data", socketData).on("end", socketEnd).on("error", socketError)
      .on("close", socketEnd);
  }

  write(p: Uint8Array): Promise<number> {
    const refusal = this.writeRefusal();
    if (refusal) return Promise.reject(refusal);
    if (p.length === 0) return Promise.resolve(0);
    // The callback runs once Node has handed all of p to the kernel. Only
    // then may the caller reuse p, and waiting for it is the backpressure:
    // a peer that does not read holds us here, as it holds Deno's write().
    return new Promise((resolve, reject) => {
      this.socket.write(p, (err) => {
        // Node calls back without an error when it destroys a socket with
        // the write unsent (our close(), or the peer's reset): not sent.
        const failure = this.received.failure;
        if (!err && !this.closed && !failure) resolve(p.length);
        else if (this.closed) reject(interrupted());
        else if (isHangUp(failure) || isHangUp(err)) reject(this.received.hangUp(err));
        else reject(err ?? failure);
      });
    });
  }

  protected sendFin(): void {
    this.socket.end();
  }

  protected release(unread: boolean): void {
    // With a write still queued, FIN would wait for a peer that may never
    // read: reset at once.
    const socket = this.socket;
    if (unread && socket.writableLength === 0) socket.end(() => socket.resetAndDestroy());
    else if (unread) socket.resetAndDestroy();
    else socket.destroy();
  }
}

/**
 * Listens for connections over TCP, or on a Unix domain socket
 * (`transport: "unix"`: its socket file is made and removed as
 * `socket_file.ts` says).
 *
 * Node accepts every connection as it comes: the listener is an
 * {@linkcode AcceptQueue}, which holds them until accepted, and turns away
 * the ones past its bound.
 *
 * @typeParam O Where to listen: TCP unless `transport` is `unix`.
 * @param options Where to listen.
 * @returns The listener, bound and accepting.
 * @throws {NetError} If the address cannot be bound.
 * @throws {RangeError} If the host is empty.
 */
export function listen<O extends ListenOptions>(options: O): Promise<Listener<AddrOf<O>>> {
  const o: ListenOptions = options;
  const listener = o.transport === "unix"
    ? listenUnix(o.path, unix)
    : listenAt({ host: bareHost(o.hostname), port: o.port }, addrOf(o));
  return listener as Promise<Listener> as Promise<Listener<AddrOf<O>>>;
}

/** Node's side of {@linkcode listenUnix}: its listen, connect, files. */
const unix: UnixRuntime = {
  bind: (path, name) =>
    listenAt({ path }, { transport: "unix", path: name }) as Promise<Listener<UnixAddr>>,
  connect,
  files: nodeFiles,
  codeOf,
};

/**
 * Listens with `node:net`.
 *
 * @param where Where, as `server.listen()` takes it.
 * @param asked The address asked for: errors name it, and a Unix socket's
 * listener and connections are named by its path.
 * @param wrap Makes each accepted socket's connection (a plain one by
 * default).
 * @returns The listener.
 */
function listenAt(
  where: net.ListenOptions,
  asked: NetAddr,
  wrap?: (socket: net.Socket) => NodeConn,
): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const unix = asked.transport === "unix" ? asked.path : undefined;
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const onError = (err: unknown) => {
      server.close();
      reject(new NetError("listen", codeOf(err), asked, { cause: err }));
    };
    server.once("error", onError);
    server.listen(where, () => {
      server.off("error", onError);
      const bound = server.address();
      const addr: NetAddr = typeof bound === "string" || bound === null
        ? { transport: "unix", path: unix ?? "" }
        : { transport: "tcp", hostname: bound.address, port: bound.port };
      // A Unix peer is unnamed (a client does not bind its socket).
      const ends = unix === undefined ? undefined : { local: unix, remote: "" };
      const queue = new AcceptQueue(addr, () => server.close());
      // A connection reset while it waited in the backlog is handed out
      // too: its reads fail, and it has no peer address (Deno's accept
      // fails with ENOTCONN instead).
      server.on("connection", (socket: net.Socket) => {
        queue.push(wrap ? wrap(socket) : new NodeConn(socket, true, ends));
      });
      // After listening, Node reports accept failures (EMFILE...) here, and
      // goes on listening: accept() rejects with them, as Deno's does.
      server.on("error", (error) => queue.fail(error));
      resolve(queue);
    });
  });
}

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
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const o: ConnectOptions = options;
    if (o.transport === "unix") checkUnixPath(o.path);
    const unix = o.transport === "unix" ? o.path : undefined;
    // allowHalfOpen: the peer's FIN ends our reads, not our writes.
    const socket = o.transport === "unix"
      ? net.connect({ path: o.path, allowHalfOpen: true })
      : net.connect({ host: bareHost(o.hostname), port: o.port, allowHalfOpen: true });
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
      reject(new NetError("connect", codeOf(err), addrOf(options), { cause: err }));
    };
    const onConnect = () => {
      settle();
      const ends = unix === undefined ? undefined : { local: "", remote: unix };
      resolve(new NodeConn(socket, false, ends) as Conn as Conn<AddrOf<O>>);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once("connect", onConnect);
  });
}

/** `node:tls`, loaded when TLS is first used: it costs Node 3 ms to load,
 * which a plain server or client need not pay. */
let tlsModule: typeof TLS | undefined;
async function nodeTls(): Promise<typeof TLS> {
  return tlsModule ??= await import("node:tls");
}

/** What a finished handshake agreed on. */
function tlsInfo(socket: TLS.TLSSocket): TlsInfo {
  return {
    version: socket.getProtocol() ?? null,
    cipher: socket.getCipher()?.standardName ?? null,
  };
}

/** A `tls.TLSSocket` with Deno's `read(p)` / `write(p)` shape, and its
 * handshake: done already (a client's), or to come (a server's, whose
 * socket emits `secure`). */
class NodeTlsConn extends NodeConn implements TlsConn<NetAddr> {
  readonly #handshake: Promise<TlsInfo>;

  constructor(socket: TLS.TLSSocket, secured: boolean) {
    super(socket);
    this.#handshake = secured
      ? Promise.resolve(tlsInfo(socket))
      : new Promise((resolve, reject) => {
        const settle = () => {
          socket.off("secure", onSecure).off("error", onError).off("end", onEnd).off(
            "close",
            onEnd,
          );
        };
        const onSecure = () => {
          settle();
          resolve(tlsInfo(socket));
        };
        const onError = (err: unknown) => {
          settle();
          reject(err);
        };
        // Node reports a peer that leaves mid-handshake as end of stream.
        const onEnd = () => {
          settle();
          reject(closedDuringHandshake());
        };
        socket.on("secure", onSecure).on("error", onError).on("end", onEnd).on("close", onEnd);
      });
    this.#handshake.catch(() => {}); // Reported to whoever awaits it.
  }

  handshake(): Promise<TlsInfo> {
    return this.#handshake;
  }

  /** Sends close_notify and FIN, and frees the socket once they are out;
   * with unread data or a write still queued, at once. (A TLS socket
   * cannot be reset as a TCP one is: Node's `resetAndDestroy()` takes TCP
   * handles only.) */
  protected override release(unread: boolean): void {
    const socket = this.socket;
    if (!unread && socket.writableLength === 0) socket.destroySoon();
    else socket.destroy();
  }
}

/**
 * Listens over TLS: a `node:net` server whose sockets are each wrapped in
 * a server `tls.TLSSocket` as they are accepted, so that a connection is
 * handed out before its handshake (`tls.Server` hands it out only after,
 * so one slow handshake would hold no one, but neither could the server's
 * deadline reach it).
 *
 * @param options Where to listen, the certificate and key (PEM).
 * @returns The listener.
 * @throws {NetError} If the address cannot be bound (`EADDRINUSE`...), the
 * key does not match the certificate (`EKEYMISMATCH`), or either cannot be
 * used (`ETLS`).
 * @throws {RangeError} If the host is empty.
 */
export async function listenTls(options: TlsListenOptions): Promise<Listener<TcpAddr>> {
  const tls = await nodeTls();
  let secureContext: TLS.SecureContext;
  try {
    secureContext = tls.createSecureContext({ cert: options.tls.cert, key: options.tls.key });
  } catch (err) {
    throw tlsListenError(err, addrOf(options), codeOf);
  }
  const where = { host: bareHost(options.hostname), port: options.port };
  const listener = listenAt(where, addrOf(options), (socket) => {
    const secured = new tls.TLSSocket(socket, { isServer: true, secureContext });
    return new NodeTlsConn(secured, false);
  });
  return listener as Promise<Listener> as Promise<Listener<TcpAddr>>;
}

/** The client's secure context for the last `ca` used: made once, not for
 * every connection (load mode makes thousands). */
let clientContext: { ca: string | undefined; context: TLS.SecureContext } | undefined;

/**
 * Connects over TLS (`tls.connect`) and finishes the handshake, verifying
 * the server against `ca` or Node's roots, for `servername` or the host.
 *
 * @param options Where to connect, how to verify, a signal to give up.
 * @returns The connection, its handshake done.
 * @throws {NetError} If the connection cannot be made (operation
 * `connect`) or the handshake fails (operation `handshake`).
 * @throws The signal's reason if it aborts first.
 */
export async function connectTls(options: TlsConnectOptions): Promise<TlsConn<TcpAddr>> {
  const signal = options.signal;
  if (signal?.aborted) throw signal.reason;
  const tls = await nodeTls();
  const { ca, servername } = options.tls === true ? {} : options.tls;
  if (!clientContext || clientContext.ca !== ca) {
    clientContext = { ca, context: tls.createSecureContext(ca === undefined ? {} : { ca }) };
  }
  const addr = addrOf(options) as TcpAddr;
  return new Promise((resolve, reject) => {
    // allowHalfOpen: the peer's FIN ends our reads, not our writes
    // (tls.connect passes it on, though @types/node leaves it out).
    const connectOptions: TLS.ConnectionOptions & { allowHalfOpen: boolean } = {
      host: bareHost(options.hostname),
      port: options.port,
      // Node sends the host as SNI unless it is an IP address.
      ...(servername === undefined ? {} : { servername }),
      secureContext: clientContext!.context,
      allowHalfOpen: true,
    };
    const socket = tls.connect(connectOptions);
    let connected = false;
    const settle = () => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("connect", onConnect).off("secureConnect", onSecure).off("error", onError);
    };
    const onAbort = () => {
      settle();
      socket.destroy();
      reject(signal!.reason);
    };
    const onConnect = () => (connected = true);
    const onError = (err: unknown) => {
      settle();
      socket.destroy();
      reject(
        connected
          ? handshakeError(err, addr, "client")
          : new NetError("connect", codeOf(err), addr, { cause: err }),
      );
    };
    const onSecure = () => {
      settle();
      // A TCP socket's addresses are TCP addresses.
      resolve(new NodeTlsConn(socket, true) as TlsConn as TlsConn<TcpAddr>);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", onConnect).once("secureConnect", onSecure).once("error", onError);
  });
}

// The type checker holds this file to the contract every runtime file meets.
type _Checked = Meets<typeof import("./node.ts")>;
