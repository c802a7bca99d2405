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

import type { Conn, ConnectOptions, Listener, ListenOptions } from "../net.ts";

/** What the library takes from the runtime it runs on. */
export interface Runtime {
  /** Listens for TCP connections; rejects with a `NetError` if the address
   * cannot be bound. */
  listen: (options: ListenOptions) => Promise<Listener>;
  /** Opens a TCP connection; rejects with a `NetError`, or the signal's
   * reason if it aborts first. */
  connect: (options: ConnectOptions) => Promise<Conn>;
  /** The command-line arguments, without the runtime and script. */
  args: () => string[];
  /** Ends the process at once. */
  exit: (code: number) => never;
  /** Whether standard error is a terminal. */
  stderrIsTerminal: () => boolean;
  /** Writes text to standard error as it is. */
  writeStderr: (text: string) => void;
  /** Calls the handler on SIGINT and SIGTERM until the returned function
   * is called. */
  onShutdownSignal: (handler: (signal: "SIGINT" | "SIGTERM") => void) => () => void;
}

/** `T`, the type of a runtime file's module (its exports), if it meets
 * the contract; a type error otherwise. */
export type Meets<T extends Runtime> = T;
