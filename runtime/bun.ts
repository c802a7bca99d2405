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
  UnixAddr,
} from "../net.ts";
import { addrOf, bareHost, checkUnixPath, NetError } from "../net.ts";
import {
  AcceptQueue,
  brokenPipe,
  codeOf,
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

/** Where Bun listens or connects: a TCP address, or a Unix socket's path. */
type BunWhere = { hostname: string; port: number } | { unix: string };

/** The part of Bun's API this file uses. */
declare const Bun: {
  listen(
    options: BunWhere & {
      allowHalfOpen: boolean;
      socket: BunHandlers;
    },
  ): { readonly hostname: string; readonly port: number; stop(): void };
  connect(
    options: BunWhere & {
      allowHalfOpen: boolean;
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
    const refusal = this.writeRefusal() ?? (this.#gone ? brokenPipe() : undefined);
    if (refusal) return Promise.reject(refusal);
    if (p.length === 0) return Promise.resolve(0);
    if (this.#writes.length === 0) {
      const n = this.socket.write(p);
      if (n > 0) return Promise.resolve(n);
      if (n < 0) return Promise.reject(brokenPipe());
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
      else write.reject(brokenPipe());
    }
  }

  /** Bun closed the socket: with the peer's error (a reset), or without
   * one (FIN both ways, or our own close). */
  onClose(error?: Error): void {
    this.#gone = true;
    if (error) this.received.fail(error);
    else this.received.end();
    this.#failWrites(() => isHangUp(error) ? brokenPipe() : error ?? brokenPipe());
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
  let hostname = bareHost(o.hostname);
  if (!isIP(hostname)) {
    // Bound as Deno and Node bind a name: to its first address.
    const { lookup } = await import("node:dns/promises");
    try {
      hostname = (await lookup(hostname)).address;
    } catch (err) {
      throw new NetError("listen", codeOf(err), addrOf(o), { cause: err });
    }
  }
  return listenAt({ hostname, port: o.port }, addrOf(o)) as Listener as Listener<AddrOf<O>>;
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
 * @returns The listener.
 * @throws {NetError} If Bun cannot listen there.
 */
function listenAt(where: BunWhere, asked: NetAddr): Listener {
  // A Unix peer is unnamed (a client does not bind its socket).
  const ends = asked.transport === "unix" ? { local: asked.path, remote: "" } : undefined;
  let queue: AcceptQueue | undefined;
  try {
    const server = Bun.listen({
      ...where,
      allowHalfOpen: true,
      socket: {
        ...common,
        // A connection reset while it waited in the backlog is handed out
        // too: its reads fail, and it has no peer address (Deno's accept
        // fails with ENOTCONN instead).
        open: (socket) => queue!.push(socket.data = new BunConn(socket, false, ends)),
      },
    });
    queue = new AcceptQueue(
      "unix" in where ? asked : { transport: "tcp", hostname: where.hostname, port: server.port },
      () => server.stop(),
    );
    return queue;
  } catch (err) {
    throw new NetError("listen", codeOf(err), asked, { cause: err });
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

// The type checker holds this file to the contract every runtime file meets.
type _Checked = Meets<typeof import("./bun.ts")>;
