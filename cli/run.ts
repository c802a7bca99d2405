/**
 * Running a program: exit codes, signals, and errors turned into one line
 * for a person, with what to do about them.
 *
 * @module
 */

import { IncompleteReadError, NoProgressError } from "../recv_all.ts";
import { NetError } from "../net.ts";
import { exit, onShutdownSignal, programName, runtimeVersion } from "../runtime/deno.ts";
import { UnexpectedReplyError } from "../request.ts";
import { VERSION } from "../version.ts";
import { UsageError } from "./args.ts";
import { TlsFileError } from "./tls.ts";

/** Exit statuses, as the README's table documents them. */
export const EXIT = {
  /** The exchange (or shutdown) completed. */
  OK: 0,
  /** A network or protocol failure: refused, timeout, short reply... */
  FAILURE: 1,
  /** The command line was wrong. */
  USAGE: 2,
  /** Interrupted: a second signal during shutdown, or Ctrl-C. */
  INTERRUPTED: 130,
} as const;

/**
 * Stops a program gracefully on SIGINT, SIGTERM or SIGHUP (the terminal
 * closing), and at once, with exit status 130, on a second one: the rule
 * both programs follow.
 *
 * @param stop Called on the first signal, with its name.
 * @returns A function that removes the handler.
 */
export function onStopSignals(
  stop: (signal: "SIGINT" | "SIGTERM" | "SIGHUP") => void,
): () => void {
  let signals = 0;
  return onShutdownSignal((signal) => {
    if (++signals > 1) exit(EXIT.INTERRUPTED);
    stop(signal);
  });
}

/** Errors a user can cause or meet, which get one line and no stack trace. */
function isExpected(err: unknown): err is Error {
  return err instanceof NetError || err instanceof IncompleteReadError ||
    err instanceof NoProgressError || err instanceof UnexpectedReplyError ||
    err instanceof TlsFileError;
}

/**
 * What a person can do about a network failure: the library's message says
 * what happened; only the program knows its flags.
 *
 * @param err The failure.
 * @returns The advice, or `undefined` when there is none to give.
 */
export function advice(err: NetError): string | undefined {
  switch (err.code) {
    case "EACCES":
      return err.op === "listen" ? "choose a port above 1023 with -p" : undefined;
    case "EADDRINUSE":
      return "stop the other server or choose another port with -p";
    case "EADDRNOTAVAIL":
      return "use an address of this machine, or wait for local ports to free up";
    case "ECONNREFUSED":
      return "is the server running?";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "check the address and your network";
    case "ENOTCAPABLE":
      return "run deno with --allow-net";
    case "ENOTFOUND":
      return "check the name";
    case "ETIMEDOUT":
      return "is the server up? raise --timeout if it is slow";
    case "ECERTUNTRUSTED":
      return "pass --tls-ca FILE (the CA that signed it, or the certificate itself)";
    case "ECERTNAME":
      return "pass --tls-servername NAME with a name the certificate is for";
    case "ECERTEXPIRED":
      return "renew the server's certificate, or check this machine's clock";
    case "ENOTTLS":
      return err.op === "handshake" ? "drop --tls?" : undefined;
    case "EKEYMISMATCH":
      return "give --tls-key the key of --tls-cert's certificate";
    case "ETLS":
      return err.op === "listen" ? "check the --tls-cert and --tls-key files" : undefined;
    default:
      return undefined;
  }
}

/**
 * An expected failure as the one line a program prints: the message, and
 * what to do about it where there is something to do.
 *
 * @param err The failure.
 * @returns The line, without the program's name.
 */
export function describe(err: Error): string {
  const todo = err instanceof NetError ? advice(err) : undefined;
  return todo ? `${err.message} — ${todo}` : err.message;
}

/** What `--version` prints: the package, its version, and the runtime. */
export function versionLine(): string {
  return `tcp-sixteen ${VERSION} (${runtimeVersion()})`;
}

/**
 * Runs a program's `main`, then exits with its status. A usage error prints
 * one line and how to get help, and exits 2; an expected failure prints one
 * line and exits 1; anything else is a bug, reported with its stack.
 *
 * @param name The program's name, prefixed to error lines (`server`).
 * @param main The program, given its name as invoked (for its help).
 */
export async function run(
  name: string,
  main: (invoked: string) => Promise<number>,
): Promise<never> {
  const invoked = programName();
  let code: number;
  try {
    code = await main(invoked);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${name}: ${err.message}\ntry '${invoked} --help'`);
      code = EXIT.USAGE;
    } else if (isExpected(err)) {
      console.error(`${name}: ${describe(err)}`);
      code = EXIT.FAILURE;
    } else {
      console.error(`${name}: unexpected error, please report it:`, err);
      code = EXIT.FAILURE;
    }
  }
  exit(code);
}
