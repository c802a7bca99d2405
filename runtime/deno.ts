/**
 * Everything the library needs from Deno, in one place: sockets, arguments,
 * signals, exit. The npm build swaps this file for `node.ts` on Node and
 * `bun.ts` on Bun, which export the same names with the same types (the
 * contract in `types.ts`).
 *
 * @module
 */

import {
  type Conn,
  type ConnectOptions,
  errorCode,
  type Listener,
  type ListenOptions,
  NetError,
  type NetErrorCode,
} from "../net.ts";
import type { Meets } from "./types.ts";

/** Deno names some failures by class or text instead of a POSIX code. */
function codeOf(err: unknown): NetErrorCode {
  if (err instanceof Deno.errors.NotCapable) return "ENOTCAPABLE";
  if (err instanceof Error && /lookup address/.test(err.message)) {
    return "ENOTFOUND";
  }
  return errorCode(err);
}

/**
 * Listens for TCP connections.
 *
 * @param options Where to listen.
 * @returns The listener, bound and accepting.
 * @throws {NetError} If the address cannot be bound.
 */
export function listen(options: ListenOptions): Promise<Listener> {
  try {
    return Promise.resolve(
      Deno.listen({ hostname: options.hostname, port: options.port }),
    );
  } catch (err) {
    return Promise.reject(
      new NetError("listen", codeOf(err), options.hostname, options.port, {
        cause: err,
      }),
    );
  }
}

/**
 * Opens a TCP connection.
 *
 * @param options Where to connect, and a signal to give up.
 * @returns The connection.
 * @throws {NetError} If the connection cannot be made.
 * @throws The signal's reason if it aborts first.
 */
export async function connect(options: ConnectOptions): Promise<Conn> {
  try {
    return await Deno.connect({
      hostname: options.hostname,
      port: options.port,
      signal: options.signal,
    });
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new NetError("connect", codeOf(err), options.hostname, options.port, {
      cause: err,
    });
  }
}

/** The command-line arguments, without the runtime and script. */
export function args(): string[] {
  return Deno.args;
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
 * Calls `handler` on SIGINT and SIGTERM until the returned function is
 * called.
 *
 * @param handler Called with the signal's name.
 * @returns A function that removes the handler.
 */
export function onShutdownSignal(
  handler: (signal: "SIGINT" | "SIGTERM") => void,
): () => void {
  const onInt = () => handler("SIGINT");
  const onTerm = () => handler("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  return () => {
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onTerm);
  };
}

// The type checker holds this file to the contract every runtime file meets.
type _Checked = Meets<typeof import("./deno.ts")>;
