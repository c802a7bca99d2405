/**
 * Running a program: exit codes, signals, and errors turned into one line
 * for a person, with what to do about them.
 *
 * @module
 */

import { IncompleteReadError, NoProgressError } from "../recv_all.ts";
import { NetError } from "../net.ts";
import { exit, onShutdownSignal, programName, runtimeVersion } from "../runtime/deno.ts";
import type { StopSignal } from "../runtime/types.ts";
import { UnexpectedReplyError } from "../request.ts";
import { VERSION } from "../version.ts";
import { UsageError } from "./args.ts";

/** Exit statuses, as the README's table documents them. */
export const EXIT = {
  /** The exchange (or shutdown) completed. */
  OK: 0,
  /** A network or protocol failure: refused, timeout, short reply... */
  FAILURE: 1,
  /** The command line was wrong. */
  USAGE: 2,
  /** Interrupted: Ctrl-C (or SIGTERM, SIGHUP) before the client finished,
   * or a second signal during shutdown. */
  INTERRUPTED: 130,
} as const;

/**
 * Stops a program gracefully on SIGINT, SIGTERM or SIGHUP (the terminal
 * closing), and at once, with exit status 130, on a second one, saying so
 * in one line: the rule both programs follow.
 *
 * @param name The program's name, prefixed to the line (`server`).
 * @param stop Called on the first signal, with its name.
 * @param unfinished What exiting at once leaves unfinished, for the line
 * (`2 open connections cut short`), if there is something to say.
 * @returns A function that removes the handler.
 */
export function onStopSignals(
  name: string,
  stop: (signal: StopSignal) => void,
  unfinished?: () => string,
): () => void {
  let signals = 0;
  return onShutdownSignal((signal) => {
    if (++signals > 1) {
      const left = unfinished?.();
      console.error(`${name}: ${signal} again: exited at once${left ? `; ${left}` : ""}`);
      exit(EXIT.INTERRUPTED);
    }
    stop(signal);
  });
}

/**
 * A failure the program has put into words itself (it knows its flags):
 * one line, and what to do about it.
 */
export class Failure extends Error {
  /** What to do about it, if there is something to do. */
  readonly todo: string | undefined;

  /**
   * Builds the failure.
   *
   * @param message What happened, in one line.
   * @param todo What to do about it.
   * @param options The error it comes from, as `cause`.
   */
  constructor(message: string, todo?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "Failure";
    this.todo = todo;
  }
}

/** A signal stopped the program before it finished: one line, exit 130. */
export class Interrupted extends Error {
  /** The signal. */
  readonly signal: StopSignal;

  /**
   * Builds the error.
   *
   * @param signal The signal.
   * @param what What it stopped, after the signal's name in the message.
   */
  constructor(signal: StopSignal, what: string) {
    super(`${signal}: ${what}`);
    this.name = "Interrupted";
    this.signal = signal;
  }
}

/** Errors a user can cause or meet, which get one line and no stack trace. */
function isExpected(err: unknown): err is Error {
  return err instanceof NetError || err instanceof IncompleteReadError ||
    err instanceof NoProgressError || err instanceof UnexpectedReplyError ||
    err instanceof Failure;
}

/**
 * What a person can do about a network failure: the library's message says
 * what happened; only the program knows its flags.
 *
 * @param err The failure.
 * @param invoked The program's name as invoked, for a pointer to its help.
 * @returns The advice, or `undefined` when there is none to give.
 */
export function advice(err: NetError, invoked: string): string | undefined {
  if (err.addr?.transport === "unix") return unixAdvice(err, err.addr.path);
  switch (err.code) {
    case "EACCES":
      return err.op === "listen" ? "choose a port above 1023 with -p" : undefined;
    case "EADDRINUSE":
      return "stop the other server or choose another port with -p";
    case "EADDRNOTAVAIL":
      // Listening, the address is not this machine's; connecting, the
      // machine ran out of local ports (the address would be refused).
      return err.op === "listen"
        ? "listen on an address of this machine: 127.0.0.1, or 0.0.0.0 for every interface"
        : "out of local ports? wait a minute for them to free up";
    case "ECONNREFUSED":
      return "is the server running?";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "check the address and your network";
    case "ENOTCAPABLE":
      return "run deno with --allow-net";
    case "ENOTFOUND":
      // `server.ts help` asks for help, not for a host named help.
      return err.addr?.transport === "tcp" && err.addr.hostname === "help"
        ? `for the options, try '${invoked} --help'`
        : "check the name";
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
 * What a person can do about a failure on a Unix domain socket (`--unix`).
 *
 * @param err The failure.
 * @param path The socket file's path.
 * @returns The advice, or `undefined` when there is none to give.
 */
function unixAdvice(err: NetError, path: string): string | undefined {
  const listening = err.op === "listen";
  switch (err.code) {
    case "EADDRINUSE":
      return "stop it or choose another path with --unix";
    case "EEXIST":
      return "remove it yourself if it is not needed, or choose another path with --unix";
    case "ENOENT":
      return listening
        ? "create its directory, or choose another path with --unix"
        : "is the server running? it creates the socket file";
    case "EACCES":
      return listening
        ? "choose a directory you may write to with --unix"
        : "check the socket file's permissions";
    case "ENOTCAPABLE": {
      // The server makes a temporary name beside the socket file: it needs
      // the directory.
      const slash = path.lastIndexOf("/");
      const scope = !listening ? path : slash < 0 ? "." : path.slice(0, slash) || "/";
      return `run deno with --allow-net --allow-read=${scope} --allow-write=${scope}`;
    }
    case "ECONNREFUSED":
      return "is the server running? (nothing listens on the socket file)";
    default:
      return undefined;
  }
}

/**
 * An expected failure as the one line a program prints: the message, and
 * what to do about it where there is something to do.
 *
 * @param err The failure.
 * @param invoked The program's name as invoked, for a pointer to its help.
 * @returns The line, without the program's name.
 */
export function describe(err: Error, invoked: string): string {
  const todo = err instanceof NetError
    ? advice(err, invoked)
    : err instanceof Failure
    ? err.todo
    : undefined;
  return todo ? `${err.message} — ${todo}` : err.message;
}

/** What `--version` prints: the package, its version, and the runtime. */
export function versionLine(): string {
  return `tcp-sixteen ${VERSION} (${runtimeVersion()})`;
}

/**
 * Runs a program's `main`, then exits with its status. A usage error prints
 * one line and how to get help, and exits 2; an expected failure prints one
 * line and exits 1; a signal that stopped it prints one line and exits 130;
 * anything else is a bug, reported with its stack.
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
    } else if (err instanceof Interrupted) {
      console.error(`${name}: ${err.message}`);
      code = EXIT.INTERRUPTED;
    } else if (isExpected(err)) {
      console.error(`${name}: ${describe(err, invoked)}`);
      code = EXIT.FAILURE;
    } else {
      console.error(`${name}: unexpected error, please report it:`, err);
      code = EXIT.FAILURE;
    }
  }
  exit(code);
}
