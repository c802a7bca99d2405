/**
 * The process-level half of the runtime contract over `node:process`:
 * arguments, the program's name, exit, standard output and error, signals. Node and Bun both run it, so
 * `node.ts` and `bun.ts` re-export it beside their own sockets.
 *
 * @module
 */

import process from "node:process";
import { readFile } from "node:fs/promises";
import { type MeetsProcess, STOP_SIGNALS, type StopSignal } from "./types.ts";

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
 * Reads a text file (UTF-8).
 *
 * @param path The file.
 * @returns Its text.
 * @throws Node's error (`code` `ENOENT`, `EACCES`...).
 */
export function readTextFile(path: string): Promise<string> {
  return readFile(path, "utf8");
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

/** Streams whose errors are handled: an unhandled `'error'` (EPIPE once
 * the reader is gone) would end the process with a stack trace. */
const quieted = new Set<NodeJS.WriteStream>();

/** `out`, with its `'error'` events handled (each write's callback, or
 * nobody, gets them). */
function quiet(out: NodeJS.WriteStream): NodeJS.WriteStream {
  if (!quieted.has(out)) {
    quieted.add(out);
    out.on("error", () => {});
  }
  return out;
}

/**
 * Writes text to standard error as it is, without a newline (for a progress
 * line redrawn with `\r`).
 *
 * @param text The text.
 */
export function writeStderr(text: string): void {
  quiet(process.stderr).write(text);
}

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
  const out = quiet(process[stream]);
  return new Promise((resolve, reject) => out.write(bytes, (err) => err ? reject(err) : resolve()));
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
    process.on(signal, listener);
    return () => process.off(signal, listener);
  });
  return () => listeners.forEach((remove) => remove());
}

// The type checker holds this file to the process half of the contract.
type _Checked = MeetsProcess<typeof import("./process.ts")>;
