/**
 * The contract every runtime file meets: `deno.ts`, `node.ts` and `bun.ts`
 * export these names with these types, and each checks itself against
 * {@linkcode Runtime} at its end (a {@linkcode Meets} of its own module's
 * type), so the type checker (`deno check`, and the npm build's tsc) fails if one
 * drifts. The rest of the library imports
 * `./runtime/deno.ts`; the npm build swaps it for the other two.
 *
 * @module
 */

import type { AddrOf, Conn, ConnectOptions, Listener, ListenOptions, TcpAddr } from "../net.ts";
import type { TlsConn, TlsConnectOptions, TlsListenOptions } from "../tls.ts";

/** The signals that ask a program to stop: Ctrl-C, `kill`, and the
 * terminal closing. */
export const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** One of {@linkcode STOP_SIGNALS}. */
export type StopSignal = typeof STOP_SIGNALS[number];

/** The sockets half: what the library's servers and clients take from the
 * runtime. */
export interface SocketRuntime {
  /** Listens on TCP (the default) or a Unix domain socket; rejects with a
   * `NetError` if the address cannot be bound, a `RangeError` if the host
   * is empty. */
  listen: <O extends ListenOptions>(options: O) => Promise<Listener<AddrOf<O>>>;
  /** Opens a connection over TCP (the default) or a Unix domain socket;
   * rejects with a `NetError`, or the signal's reason if it aborts first. */
  connect: <O extends ConnectOptions>(options: O) => Promise<Conn<AddrOf<O>>>;
  /** Listens over TLS on TCP; each connection is handed out as it is
   * accepted, its handshake still to do (`TlsConn.handshake()`). Rejects
   * with a `NetError` if the address cannot be bound or the key does not
   * match the certificate (`EKEYMISMATCH`). */
  listenTls: (options: TlsListenOptions) => Promise<Listener<TcpAddr>>;
  /** Connects over TLS on TCP and finishes the handshake, verifying the
   * server; rejects with a `NetError` (operation `handshake` for a failed
   * handshake), or the signal's reason if it aborts first. */
  connectTls: (options: TlsConnectOptions) => Promise<TlsConn<TcpAddr>>;
}

/** The process half: what the programs take from the runtime (arguments,
 * output, signals, exit). Node and Bun share one (`process.ts`). */
export interface ProcessRuntime {
  /** The command-line arguments, without the runtime and script. */
  args: () => string[];
  /** The program's name as it was invoked, for its help. */
  programName: () => string;
  /** The runtime and its version, such as `Deno 2.9.6`. */
  runtimeVersion: () => string;
  /** Reads a text file (UTF-8); rejects with the runtime's error, whose
   * `code` is `ENOENT`, `EACCES`... or `ENOTCAPABLE` where the runtime's
   * permissions forbid it (Deno without `--allow-read`). */
  readTextFile: (path: string) => Promise<string>;
  /** Ends the process at once. */
  exit: (code: number) => never;
  /** Whether standard error is a terminal. */
  stderrIsTerminal: () => boolean;
  /** Writes text to standard error as it is, at once. */
  writeStderr: (text: string) => void;
  /** Writes to standard output or error without blocking the event loop;
   * rejects if it is closed. */
  write: (stream: "stdout" | "stderr", bytes: Uint8Array) => Promise<void>;
  /** Calls the handler on SIGINT, SIGTERM and SIGHUP until the returned
   * function is called. */
  onShutdownSignal: (handler: (signal: StopSignal) => void) => () => void;
}

/** What the library takes from the runtime it runs on: both halves. */
export type Runtime = SocketRuntime & ProcessRuntime;

/** `T`, the type of a runtime file's module (its exports), if it meets
 * the contract; a type error otherwise. */
export type Meets<T extends Runtime> = T;

/** `T`, the type of a module that supplies the process half, if it meets
 * that half of the contract; a type error otherwise. */
export type MeetsProcess<T extends ProcessRuntime> = T;
