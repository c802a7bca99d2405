/**
 * What the two command-line programs share: argument parsing, exit codes,
 * and turning errors into one line for a person.
 *
 * @module
 */

import { IncompleteReadError, NoProgressError } from "./recv_all.ts";
import { NetError } from "./net.ts";
import { exit, onShutdownSignal } from "./runtime/deno.ts";

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
 * Stops a program gracefully on SIGINT or SIGTERM, and at once, with exit
 * status 130, on a second one: the rule both programs follow.
 *
 * @param stop Called on the first signal, with its name.
 * @returns A function that removes the handler.
 */
export function onStopSignals(stop: (signal: "SIGINT" | "SIGTERM") => void): () => void {
  let signals = 0;
  return onShutdownSignal((signal) => {
    if (++signals > 1) exit(EXIT.INTERRUPTED);
    stop(signal);
  });
}

/** The command line is wrong; the message says how. */
export class UsageError extends Error {
  /**
   * Builds the error.
   *
   * @param message What is wrong with the command line.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A flag: `string` takes a value (`--port 80`, `--port=80`, `-p 80`,
 * `-p80`), `boolean` takes none; `short` is its one-letter form. */
export interface Flag {
  /** Whether it takes a value. */
  type: "string" | "boolean";
  /** Its one-letter form, without the dash. */
  short?: string;
}

/** The parsed flags: a string or true for each flag given, the last one
 * counting when a flag is repeated. */
export type FlagValues<T extends Record<string, Flag>> = {
  [K in keyof T]?: T[K]["type"] extends "string" ? string : boolean;
};

/**
 * Parses `argv` strictly: unknown flags and missing values are usage errors;
 * after `--`, everything is positional. The rules are `node:util`
 * `parseArgs`'s (strict, with positionals), but for a value that starts
 * with `-` (`--timeout -1`), which is taken as the value, so that the
 * flag's own check says what is wrong with it. Written here rather than
 * taken from `node:util`: importing any `node:` module makes Deno start
 * its Node layer (1.6 MB more resident here) and Bun load its `node:util`
 * (4.4 MB), for six flags.
 *
 * @param argv The arguments.
 * @param flags The flags, by long name.
 * @param maxPositionals How many positional arguments are allowed.
 * @returns The flag values and positionals.
 * @throws {UsageError} If the command line is wrong.
 */
export function parseCommandLine<T extends Record<string, Flag>>(
  argv: string[],
  flags: T,
  maxPositionals: number,
): { values: FlagValues<T>; positionals: string[] } {
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const byShort = new Map(
    Object.entries(flags).flatMap(([name, flag]) => flag.short ? [[flag.short, name]] : []),
  );
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const flag = Object.hasOwn(flags, name) ? flags[name] : undefined;
      if (!flag) throw new UsageError(`Unknown option '--${name}'`);
      if (flag.type === "boolean") {
        if (eq >= 0) throw new UsageError(`Option '--${name}' takes no value`);
        values[name] = true;
      } else if (eq >= 0) values[name] = arg.slice(eq + 1);
      else if (i + 1 < argv.length) values[name] = argv[++i];
      else throw new UsageError(`Option '--${name}' needs a value`);
    } else if (arg.startsWith("-") && arg.length > 1) {
      // A group of short flags: -q, -qV, -p80, -qp 80.
      for (let j = 1; j < arg.length; j++) {
        const name = byShort.get(arg[j]);
        if (!name) throw new UsageError(`Unknown option '-${arg[j]}'`);
        if (flags[name].type === "boolean") {
          values[name] = true;
          continue;
        }
        if (j + 1 < arg.length) values[name] = arg.slice(j + 1);
        else if (i + 1 < argv.length) values[name] = argv[++i];
        else throw new UsageError(`Option '-${arg[j]}, --${name}' needs a value`);
        break;
      }
    } else positionals.push(arg);
  }
  if (positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${positionals[maxPositionals]}'`);
  }
  return { values: values as FlagValues<T>, positionals };
}

/**
 * Parses a port number: 1 to 65535, or 0 (any free port) when listening.
 *
 * @param text The flag's value.
 * @param zero Whether 0 is allowed.
 * @returns The port.
 * @throws {UsageError} If it is not a port.
 */
export function parsePort(text: string, zero = true): number {
  const lowest = zero ? 0 : 1;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= lowest && port <= 65535)) {
    throw new UsageError(`-p takes a port from ${lowest} to 65535, got '${text}'`);
  }
  return port;
}

/**
 * Parses a positive number of seconds into milliseconds.
 *
 * @param flag The flag's name, for the message.
 * @param text The flag's value.
 * @returns Milliseconds.
 * @throws {UsageError} If it is not a positive number.
 */
export function parseSeconds(flag: string, text: string): number {
  const ms = /^\d+(\.\d+)?$/.test(text) ? Math.round(Number(text) * 1000) : NaN;
  if (!(ms >= 1 && ms <= 2_147_483_647)) {
    throw new UsageError(
      `--${flag} takes a number of seconds from 0.001 to 2147483, got '${text}'`,
    );
  }
  return ms;
}

/**
 * Parses a whole number of at least 1.
 *
 * @param flag The flag's name, for the message.
 * @param text The flag's value.
 * @returns The number.
 * @throws {UsageError} If it is not a whole number of at least 1.
 */
export function parseCount(flag: string, text: string): number {
  const count = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(count >= 1 && Number.isSafeInteger(count))) {
    throw new UsageError(`--${flag} takes a whole number of at least 1, got '${text}'`);
  }
  return count;
}

/**
 * Shows bytes as Python 2 shows a `str`: quoted, with every byte that is not
 * printable ASCII escaped, so a peer cannot write control characters to the
 * operator's terminal.
 *
 * @param bytes The bytes.
 * @returns The quoted text, e.g. `'Hi there, server'`.
 */
export function repr(bytes: Uint8Array): string {
  const quote = bytes.includes(0x27) && !bytes.includes(0x22) ? '"' : "'";
  let out = quote;
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (c === quote || c === "\\") out += "\\" + c;
    else if (c === "\n") out += "\\n";
    else if (c === "\r") out += "\\r";
    else if (c === "\t") out += "\\t";
    else if (b < 0x20 || b > 0x7e) out += "\\x" + b.toString(16).padStart(2, "0");
    else out += c;
  }
  return out + quote;
}

/** Errors a user can cause or meet, which get one line and no stack trace. */
function isExpected(err: unknown): err is Error {
  return err instanceof NetError || err instanceof IncompleteReadError ||
    err instanceof NoProgressError;
}

/**
 * Runs a program's `main`, then exits with its status. Usage errors print
 * the usage and exit 2; expected failures print one line and exit 1.
 *
 * @param name The program's name, prefixed to error lines.
 * @param usage The usage text.
 * @param main The program.
 */
export async function run(
  name: string,
  usage: string,
  main: () => Promise<number>,
): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${name}: ${err.message}\n${usage}`);
      code = EXIT.USAGE;
    } else if (isExpected(err)) {
      console.error(`${name}: ${err.message}`);
      code = EXIT.FAILURE;
    } else {
      console.error(`${name}: unexpected error, please report it:`, err);
      code = EXIT.FAILURE;
    }
  }
  exit(code);
}
