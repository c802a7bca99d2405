/**
 * The process-level half of the runtime contract over `node:process`:
 * arguments, exit, standard error, signals. Node and Bun both run it, so
 * `node.ts` and `bun.ts` re-export it beside their own sockets.
 *
 * @module
 */

import process from "node:process";

/** The command-line arguments, without the runtime and script. */
export function args(): string[] {
  return process.argv.slice(2);
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
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return () => {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  };
}
