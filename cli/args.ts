/**
 * The programs' command lines: strict parsing, and each kind of value a
 * flag or argument takes, checked with a message that names it.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { bareHost } from "../net.ts";
import { MAX_DELAY } from "../internal/checks.ts";

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

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses `argv` strictly: unknown flags and missing values are usage errors.
 *
 * @param argv The arguments.
 * @param options The flags, as `node:util` `parseArgs` takes them.
 * @param maxPositionals How many positional arguments are allowed.
 * @returns The flag values and positionals.
 */
export function parseCommandLine<T extends Options>(
  argv: string[],
  options: T,
  maxPositionals: number,
): { values: ReturnType<typeof parseArgs<{ options: T }>>["values"]; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split("\n")[0]);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(
      `unexpected argument '${parsed.positionals[maxPositionals]}'`,
    );
  }
  return parsed as ReturnType<typeof parseCommandLine<T>>;
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
 * Parses a HOST argument: an IPv6 literal may come in brackets, as the
 * server prints it (`[::1]`); an empty one is refused on every runtime.
 *
 * @param text The argument.
 * @param what What the host is for, for the message.
 * @returns The host without brackets.
 * @throws {UsageError} If it is empty.
 */
export function parseHost(text: string, what: string): string {
  if (text === "") {
    throw new UsageError(`HOST is empty: give ${what}`);
  }
  return bareHost(text);
}

/**
 * Parses a number of seconds into milliseconds.
 *
 * @param flag The flag's name, for the message.
 * @param text The flag's value.
 * @param zero Whether 0 is allowed.
 * @returns Milliseconds.
 * @throws {UsageError} If it is not a number of seconds in range.
 */
export function parseSeconds(flag: string, text: string, zero = false): number {
  const ms = /^\d+(\.\d+)?$/.test(text) ? Math.round(Number(text) * 1000) : NaN;
  if (!(ms >= (zero ? 0 : 1) && ms <= MAX_DELAY)) {
    throw new UsageError(
      `--${flag} takes a number of seconds from ${zero ? 0 : 0.001} to ${
        Math.floor(MAX_DELAY / 1000)
      }, got '${text}'`,
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
