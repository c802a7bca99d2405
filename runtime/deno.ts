/**
 * Everything the library needs from Deno, in one place: sockets, arguments,
 * signals, standard output, exit. The npm build swaps this file for
 * `node.ts` on Node and `bun.ts` on Bun, which export the same names with
 * the same types (the contract in `types.ts`).
 *
 * @module
 */

import {
  type AddrOf,
  addrOf,
  bareHost,
  checkUnixPath,
  type Conn,
  type ConnectOptions,
  errorCode,
  type Listener,
  type ListenOptions,
  NetError,
  type NetErrorCode,
  type TcpAddr,
  type UnixAddr,
} from "../net.ts";
import {
  handshakeError,
  type TlsConn,
  type TlsConnectOptions,
  type TlsInfo,
  tlsListenError,
  type TlsListenOptions,
  UNKNOWN_TLS,
} from "../tls.ts";
import { type Meets, STOP_SIGNALS, type StopSignal } from "./types.ts";
import { type FileKind, listenUnix, type SocketFiles, type UnixRuntime } from "./socket_file.ts";

/** Deno names some failures by class or text instead of a POSIX code. */
function codeOf(err: unknown): NetErrorCode {
  if (err instanceof Deno.errors.NotCapable) return "ENOTCAPABLE";
  if (err instanceof Error && /lookup address/.test(err.message)) {
    return "ENOTFOUND";
  }
  return errorCode(err);
}

/**
 * Listens for connections over TCP, or on a Unix domain socket
 * (`transport: "unix"`: its socket file is made and removed as
 * `socket_file.ts` says, which needs `--allow-read` and `--allow-write` for
 * its directory). Deno's own TCP sockets already have the library's shape
 * (`Deno.TcpConn`).
 *
 * @typeParam O Where to listen: TCP unless `transport` is `unix`.
 * @param options Where to listen.
 * @returns The listener, bound and accepting.
 * @throws {NetError} If the address cannot be bound.
 * @throws {RangeError} If the host is empty.
 *
 * @example A listener on a free port, and one connection to it
 * ```ts
 * import { connect, listen } from "./deno.ts";
 * import assert from "node:assert/strict";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * const server = await listener.accept();
 * assert.equal(server.remoteAddr?.port, client.localAddr?.port);
 * client.close();
 * server.close();
 * listener.close();
 * ```
 */
export function listen<O extends ListenOptions>(options: O): Promise<Listener<AddrOf<O>>> {
  if (options.transport === "unix") {
    return listenUnix(options.path, unix) as Promise<Listener> as Promise<Listener<AddrOf<O>>>;
  }
  try {
    const listener = Deno.listen({ hostname: bareHost(options.hostname), port: options.port });
    return Promise.resolve(listener as unknown as Listener<AddrOf<O>>);
  } catch (err) {
    if (err instanceof RangeError) return Promise.reject(err);
    return Promise.reject(new NetError("listen", codeOf(err), addrOf(options), { cause: err }));
  }
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
 *
 * @example Nothing listens: refused
 * ```ts
 * import { connect, listen, NetError } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * listener.close(); // The port is free again: nothing listens on it.
 * await assert.rejects(
 *   connect({ hostname: "127.0.0.1", port: listener.addr.port }),
 *   (err) => err instanceof NetError && err.code === "ECONNREFUSED",
 * );
 * ```
 */
export async function connect<O extends ConnectOptions>(options: O): Promise<Conn<AddrOf<O>>> {
  if (options.transport === "unix") checkUnixPath(options.path);
  try {
    const conn = options.transport === "unix"
      // Deno.connect takes no signal for Unix sockets: a connect to a
      // local socket does not wait on the network. The server is named by
      // the path dialed (the kernel names it by the one it was bound to).
      ? unixConn(await Deno.connect({ transport: "unix", path: options.path }), {
        remote: options.path,
      })
      : await Deno.connect({
        hostname: bareHost(options.hostname),
        port: options.port,
        signal: options.signal,
      });
    return conn as unknown as Conn<AddrOf<O>>;
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (err instanceof RangeError) throw err;
    throw new NetError("connect", codeOf(err), addrOf(options), { cause: err });
  }
}

/** A Unix socket's address as the library says it: Deno names an unnamed
 * socket's path `null`, the library `""`. */
function unixAddr(addr: Deno.UnixAddr): UnixAddr {
  return { transport: "unix", path: addr.path ?? "" };
}

/** A Deno Unix connection with the library's addresses: the kernel's, or
 * the path the socket file has where it was bound under another name. */
function unixConn(
  conn: Deno.UnixConn,
  named: { local?: string; remote?: string } = {},
): Conn<UnixAddr> {
  return {
    localAddr: named.local === undefined
      ? unixAddr(conn.localAddr)
      : { transport: "unix", path: named.local },
    remoteAddr: named.remote === undefined
      ? unixAddr(conn.remoteAddr)
      : { transport: "unix", path: named.remote },
    read: (p) => conn.read(p),
    write: (p) => conn.write(p),
    closeWrite: () => conn.closeWrite(),
    close: () => conn.close(),
  };
}

/** Deno's side of {@linkcode listenUnix}: its listen, connect, files. */
const unix: UnixRuntime = {
  /** A Deno Unix listener at `path` whose connections have the library's
   * addresses, their end named `name`. */
  bind(path, name) {
    try {
      const listener = Deno.listen({ transport: "unix", path });
      return Promise.resolve({
        addr: { transport: "unix", path: name },
        accept: () => listener.accept().then((conn) => unixConn(conn, { local: name })),
        close: () => listener.close(),
      });
    } catch (err) {
      const addr = { transport: "unix", path: name } as const;
      return Promise.reject(new NetError("listen", codeOf(err), addr, { cause: err }));
    }
  },
  connect,
  files: {
    lstat(path) {
      try {
        const info = Deno.lstatSync(path);
        return { kind: kindOf(info), dev: info.dev, ino: info.ino ?? 0 };
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return undefined;
        throw err;
      }
    },
    link: (existing, path) => Deno.linkSync(existing, path),
    unlink: (path) => Deno.removeSync(path),
  } satisfies SocketFiles,
  codeOf,
};

/** The kind of file Deno's `lstat` found. */
function kindOf(info: Deno.FileInfo): FileKind {
  if (info.isSocket) return "socket";
  if (info.isFile) return "file";
  if (info.isDirectory) return "directory";
  if (info.isSymlink) return "symlink";
  return info.isFifo ? "fifo" : "device";
}

/**
 * Listens over TLS (`Deno.listenTls`). Deno hands out each connection as
 * it is accepted and does its handshake when it is first used, or asked
 * (`handshake()`): a slow handshake holds its own connection only.
 *
 * Deno's TLS (rustls) does not report the protocol and cipher a handshake
 * agreed on: `handshake()` resolves with both `null`.
 *
 * @param options Where to listen, the certificate and key (PEM).
 * @returns The listener.
 * @throws {NetError} If the address cannot be bound (`EADDRINUSE`...), the
 * key does not match the certificate (`EKEYMISMATCH`), or either cannot be
 * used (`ETLS`).
 * @throws {RangeError} If the host is empty.
 */
export function listenTls(options: TlsListenOptions): Promise<Listener<TcpAddr>> {
  try {
    const listener = Deno.listenTls({
      hostname: bareHost(options.hostname),
      port: options.port,
      cert: options.tls.cert,
      key: options.tls.key,
    });
    return Promise.resolve({
      addr: tcpAddr(listener.addr),
      accept: () => listener.accept().then(tlsConn),
      close: () => listener.close(),
    });
  } catch (err) {
    if (err instanceof RangeError) return Promise.reject(err);
    return Promise.reject(tlsListenError(err, addrOf(options), codeOf));
  }
}

/**
 * Connects over TLS and finishes the handshake: `Deno.connect`, then
 * `Deno.startTls` with the name to verify (`servername`, or the host).
 *
 * @param options Where to connect, how to verify, a signal to give up.
 * @returns The connection, its handshake done.
 * @throws {NetError} If the connection cannot be made (operation
 * `connect`) or the handshake fails (operation `handshake`: `ECERTUNTRUSTED`,
 * `ECERTNAME`, `ECERTEXPIRED`, `ENOTTLS`...).
 * @throws The signal's reason if it aborts first.
 */
export async function connectTls(options: TlsConnectOptions): Promise<TlsConn<TcpAddr>> {
  const signal = options.signal;
  const addr = addrOf(options) as TcpAddr;
  const hostname = bareHost(options.hostname);
  const tcp = await connect({ hostname, port: options.port, signal }) as Deno.TcpConn;
  // The client's last handshake message and its first write go out at
  // once, not the second a delayed ACK (40 ms) later.
  tcp.setNoDelay(true);
  const { ca, servername } = options.tls === true ? {} : options.tls;
  let secured: Deno.TlsConn | undefined;
  // The handshake takes no signal: aborting closes the socket under it.
  const onAbort = () => closeDeno(secured ?? tcp);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    secured = await Deno.startTls(tcp, {
      hostname: servername ?? hostname,
      caCerts: ca === undefined ? undefined : [ca],
    });
    await secured.handshake();
    return tlsConn(secured);
  } catch (err) {
    closeDeno(secured ?? tcp);
    if (signal?.aborted) throw signal.reason;
    throw handshakeError(err, addr, "client");
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** Closes a Deno socket that may be closed already (or consumed by
 * `startTls`). */
function closeDeno(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** A TLS peer that closes without TLS's close_notify ends the stream, as
 * Node, Bun and Python read it, not an error: the exchange knows its
 * lengths, so a cut is seen anyway. A record that does not decrypt, or
 * breaks the protocol, is Deno's `InvalidData`, without a code: it gets
 * the library's, `ETLS`. */
function endOfStream(err: unknown): null {
  if (err instanceof Deno.errors.UnexpectedEof) return null;
  throw tlsCoded(err);
}

function tlsCoded(err: unknown): unknown {
  return err instanceof Deno.errors.InvalidData ? Object.assign(err, { code: "ETLS" }) : err;
}

/** A TCP address as the library says it: Deno's TLS sockets name theirs
 * without `transport`. */
function tcpAddr({ hostname, port }: Deno.NetAddr): TcpAddr {
  return { transport: "tcp", hostname, port };
}

/** A Deno TLS connection with the library's shape. */
function tlsConn(conn: Deno.TlsConn): TlsConn<TcpAddr> {
  let handshake: Promise<TlsInfo> | undefined;
  return {
    localAddr: tcpAddr(conn.localAddr),
    remoteAddr: tcpAddr(conn.remoteAddr),
    read: (p) => conn.read(p).catch(endOfStream),
    write: (p) => conn.write(p).catch((err) => Promise.reject(tlsCoded(err))),
    closeWrite: () => conn.closeWrite(),
    close: () => conn.close(),
    handshake: () => handshake ??= conn.handshake().then(() => UNKNOWN_TLS),
  };
}

/**
 * Reads a text file.
 *
 * @param path The file.
 * @returns Its text.
 * @throws The runtime's error, with `code` `ENOTCAPABLE` when Deno was not
 * given `--allow-read` for it.
 */
export async function readTextFile(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable) Object.assign(err, { code: "ENOTCAPABLE" });
    throw err;
  }
}

/** The command-line arguments, without the runtime and script. */
export function args(): string[] {
  return Deno.args;
}

/** The program's name as it was invoked: the script (`server.ts`), or the
 * binary that `deno compile` made. */
export function programName(): string {
  const binary = Deno.execPath().split("/").pop()!;
  return binary === "deno" ? Deno.mainModule.split("/").pop()! : binary;
}

/** The runtime and its version, for `--version`. */
export function runtimeVersion(): string {
  return `Deno ${Deno.version.deno}`;
}

/**
 * Ends the process at once.
 *
 * @param code The exit status.
 */
export function exit(code: number): never {
  Deno.exit(code);
}

/** Whether standard error is a terminal (for progress displays). */
export function stderrIsTerminal(): boolean {
  return Deno.stderr.isTerminal();
}

/**
 * Writes text to standard error as it is, without a newline (for a progress
 * line redrawn with `\r`).
 *
 * @param text The text.
 */
export function writeStderr(text: string): void {
  const bytes = new TextEncoder().encode(text);
  // writeSync may write part of the bytes, as any write may.
  for (let at = 0; at < bytes.length;) at += Deno.stderr.writeSync(bytes.subarray(at));
}

/**
 * Writes to standard output or error without blocking the event loop: a
 * reader that stalls holds this promise, not the program.
 *
 * @param stream Which one.
 * @param bytes What to write.
 * @returns Resolves once every byte is written; rejects if the stream is
 * closed (`BrokenPipe`, code `EPIPE`).
 */
export async function write(stream: "stdout" | "stderr", bytes: Uint8Array): Promise<void> {
  const file = stream === "stdout" ? Deno.stdout : Deno.stderr;
  for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
}

/**
 * Calls `handler` on SIGINT, SIGTERM and SIGHUP until the returned function
 * is called.
 *
 * @param handler Called with the signal's name.
 * @returns A function that removes the handler.
 */
export function onShutdownSignal(handler: (signal: StopSignal) => void): () => void {
  const listeners = STOP_SIGNALS.map((signal) => {
    const listener = () => handler(signal);
    Deno.addSignalListener(signal, listener);
    return () => Deno.removeSignalListener(signal, listener);
  });
  return () => listeners.forEach((remove) => remove());
}

// The type checker holds this file to the contract every runtime file meets.
type _Checked = Meets<typeof import("./deno.ts")>;
