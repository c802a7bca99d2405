/**
 * The programs' command lines: a strict parser of flags and arguments, and
 * each kind of value they take, checked, with a message that names the
 * flag and says what it takes.
 *
 * The parser is ours, not `node:util`'s `parseArgs`: its messages differ
 * between runtimes, leak its own advice ("To specify an option argument
 * starting with a dash...") and call `--timeout -1` ambiguous. Here a flag
 * that takes a value takes the next argument, whatever it is, as getopt
 * does, so `--timeout -1` is checked as a number of seconds.
 *
 * @module
 */

import { bareHost, checkUnixPath, type TcpAddr, type UnixAddr } from "../net.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "../protocol.ts";
import { MAX_DELAY, range } from "../internal/checks.ts";
import { type Framing, FRAMINGS } from "../framing.ts";

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

/** A flag: whether it takes a value, and its one-letter form. */
export interface Flag {
  /** `string` takes a value; `boolean` does not. */
  type: "string" | "boolean";
  /** The one-letter form, such as `p` for `-p`. */
  short?: string;
}

/** What {@linkcode parseCommandLine} found: each flag's value, if given. */
export type Values<F extends Record<string, Flag>> = {
  [K in keyof F]?: F[K]["type"] extends "boolean" ? boolean : string;
};

/**
 * Parses `argv` strictly: an unknown flag, a missing value, a value given
 * to a flag that takes none, or too many arguments is a usage error. A flag
 * given twice takes its last value; one-letter flags group (`-qV`); `--`
 * ends the flags.
 *
 * @param argv The arguments.
 * @param flags The flags the program takes, by long name.
 * @param maxPositionals How many arguments (not flags) are allowed.
 * @returns The flags' values and the arguments.
 * @throws {UsageError} If the command line is wrong.
 */
export function parseCommandLine<F extends Record<string, Flag>>(
  argv: string[],
  flags: F,
  maxPositionals: number,
): { values: Values<F>; positionals: string[] } {
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  const byShort = new Map(
    Object.entries(flags).flatMap(([name, flag]) => flag.short ? [[flag.short, name]] : []),
  );
  const known = (name: string | undefined): name is string =>
    name !== undefined && Object.hasOwn(flags, name);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    // The value of a flag that takes one: attached, or the next argument.
    const value = (shown: string, attached: string | undefined): string => {
      if (attached !== undefined) return attached;
      if (i + 1 < argv.length) return argv[++i];
      throw new UsageError(`${shown} needs a value`);
    };
    if (arg.startsWith("--")) { // --name, --name=value
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      if (!known(name)) throw new UsageError(`unknown option '--${name}'`);
      const attached = eq < 0 ? undefined : arg.slice(eq + 1);
      if (flags[name].type === "string") values[name] = value(`--${name}`, attached);
      else if (attached !== undefined) throw new UsageError(`--${name} takes no value`);
      else values[name] = true;
      continue;
    }
    // -x, -xVALUE, and grouped letters: -qV, -qp 80.
    for (let at = 1; at < arg.length; at++) {
      const name = byShort.get(arg[at]);
      if (!known(name)) throw new UsageError(`unknown option '-${arg[at]}'`);
      if (flags[name].type === "boolean") {
        values[name] = true;
        continue;
      }
      values[name] = value(`-${arg[at]}`, arg.slice(at + 1) || undefined);
      break;
    }
  }
  if (positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${positionals[maxPositionals]}'`);
  }
  return { values: values as Values<F>, positionals };
}

/**
 * Parses a port number: 1 to 65535, or 0 (any free port) when listening.
 *
 * @param text The flag's value.
 * @param zero Whether 0 is allowed.
 * @param where Where it was given, for the message.
 * @returns The port.
 * @throws {UsageError} If it is not a port.
 */
export function parsePort(text: string, zero = true, where = "-p"): number {
  const lowest = zero ? 0 : 1;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= lowest && port <= 65535)) {
    throw new UsageError(`${where} takes a port from ${lowest} to 65535, got '${text}'`);
  }
  return port;
}

/**
 * Parses the HOST argument: a host name or address, IPv6 bare or in
 * brackets as the server prints it (`::1`, `[::1]`), or `HOST:PORT` as Go
 * and socat take it (`127.0.0.1:1060`, `[::1]:1060`).
 *
 * @param text The argument.
 * @param what What the host is for, for the message.
 * @param zero Whether port 0 is allowed.
 * @returns The host without brackets, and the port if one was given.
 * @throws {UsageError} If the host is empty or the port is not one.
 */
export function parseAddress(
  text: string,
  what: string,
  zero: boolean,
): { hostname: string; port?: number } {
  // [v6]:port, or host:port where host has no colon of its own.
  const match = /^\[([^\]]*)\]:(.*)$/.exec(text) ?? /^([^:]*):([^:]*)$/.exec(text);
  const [host, port] = match ? [match[1], match[2]] : [text, undefined];
  if (host === "") throw new UsageError(`HOST is empty: give ${what}`);
  return {
    hostname: bareHost(host),
    port: port === undefined ? undefined : parsePort(port, zero, "the PORT of HOST:PORT"),
  };
}

/**
 * Where to listen or connect, from the HOST argument (`HOST` or
 * `HOST:PORT`) and the `-p` flag, with the tutorial's defaults.
 *
 * @param host The HOST argument, if given.
 * @param port The `-p` flag's value, if given.
 * @param what What the host is for, for the message.
 * @param zero Whether port 0 is allowed.
 * @returns The host (without brackets) and port.
 * @throws {UsageError} If either is wrong, or the port is given twice.
 */
export function parseTarget(
  host: string | undefined,
  port: string | undefined,
  what: string,
  zero: boolean,
): TcpAddr {
  const address = host === undefined ? { hostname: DEFAULT_HOST } : parseAddress(host, what, zero);
  if (address.port !== undefined && port !== undefined) {
    throw new UsageError("the port is given twice, in HOST:PORT and with -p: give it once");
  }
  return {
    transport: "tcp",
    hostname: address.hostname,
    port: address.port ?? (port === undefined ? DEFAULT_PORT : parsePort(port, zero)),
  };
}

/**
 * Where to listen or connect when `--unix PATH` is given: a Unix domain
 * socket, in place of the HOST argument and `-p`.
 *
 * @param path The `--unix` flag's value.
 * @param host The HOST argument, if given (it must not be).
 * @param port The `-p` flag's value, if given (it must not be).
 * @returns The socket's address.
 * @throws {UsageError} If HOST or `-p` is given too, or the path is empty
 * or too long for a Unix socket.
 */
export function parseUnix(
  path: string,
  host: string | undefined,
  port: string | undefined,
): UnixAddr {
  if (host !== undefined || port !== undefined) {
    throw new UsageError("--unix PATH replaces HOST and -p: give one or the other");
  }
  try {
    checkUnixPath(path);
  } catch (err) {
    throw new UsageError(`--unix: ${(err as Error).message}`);
  }
  return { transport: "unix", path };
}

/**
 * Where to listen or connect, from the command line: the Unix domain socket
 * of `--unix PATH`, or else the HOST argument and `-p`.
 *
 * @param unix The `--unix` flag's value, if given.
 * @param host The HOST argument, if given.
 * @param port The `-p` flag's value, if given.
 * @param what What the host is for, for the message.
 * @param zero Whether port 0 is allowed.
 * @returns The address.
 * @throws {UsageError} If it is wrong (see {@linkcode parseUnix} and
 * {@linkcode parseTarget}).
 */
export function parseWhere(
  unix: string | undefined,
  host: string | undefined,
  port: string | undefined,
  what: string,
  zero: boolean,
): TcpAddr | UnixAddr {
  return unix === undefined ? parseTarget(host, port, what, zero) : parseUnix(unix, host, port);
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
 * Parses a whole number.
 *
 * @param flag The flag's name, for the message.
 * @param text The flag's value.
 * @param lowest The smallest allowed.
 * @param highest The largest allowed, if there is a limit.
 * @returns The number.
 * @throws {UsageError} If it is not a whole number in range.
 */
export function parseCount(
  flag: string,
  text: string,
  lowest = 1,
  highest = Number.MAX_SAFE_INTEGER,
): number {
  const count = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(count >= lowest && count <= highest)) {
    const of = highest === Number.MAX_SAFE_INTEGER ? "of " : "";
    throw new UsageError(
      `--${flag} takes a whole number ${of}${range(lowest, highest)}, got '${text}'`,
    );
  }
  return count;
}

/**
 * Parses a message given as text: UTF-8, with the escapes that the logs
 * show bytes with (`\n`, `\r`, `\t`, `\\`, `\xHH`), so that any bytes can be
 * given, e.g. `--message 'GET / HTTP/1.0\r\n\r\n'`.
 *
 * @param flag The flag's name, for the message.
 * @param text The flag's value.
 * @returns The bytes.
 * @throws {UsageError} If an escape is not one of those.
 */
export function parseText(flag: string, text: string): Uint8Array {
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== "\\") {
      const code = text.codePointAt(i)!;
      const char = String.fromCodePoint(code);
      bytes.push(...encoder.encode(char));
      i += char.length - 1;
      continue;
    }
    const next = text[++i];
    const simple = { n: 10, r: 13, t: 9, "\\": 92 }[next as "n" | "r" | "t" | "\\"];
    if (simple !== undefined) bytes.push(simple);
    else if (next === "x" && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      throw new UsageError(
        `--${flag}: '\\${next ?? ""}' is not an escape; use \\n, \\r, \\t, \\\\ or \\xHH`,
      );
    }
  }
  return new Uint8Array(bytes);
}

/**
 * Parses `--framing`, and checks the flags that belong to one framing: a
 * length (`--message-length`, `--reply-length`) is for `fixed`,
 * `--max-message` for `line` and `u32`.
 *
 * @param text The flag's value, if given.
 * @param lengthFlag The flag that sets a length, if it was given.
 * @param maxMessage Whether `--max-message` was given.
 * @returns The framing; `fixed` when not given.
 * @throws {UsageError} If it is not a framing, or a flag does not fit it.
 */
export function parseFraming(
  text: string | undefined,
  lengthFlag: string | undefined,
  maxMessage: boolean,
): Framing {
  const framing = text ?? "fixed";
  if (!(FRAMINGS as readonly string[]).includes(framing)) {
    throw new UsageError(`--framing takes ${FRAMINGS.join(", ")}, got '${framing}'`);
  }
  if (framing !== "fixed" && lengthFlag) {
    throw new UsageError(
      `--${lengthFlag} is for --framing fixed: a line or a frame tells its own length`,
    );
  }
  if (framing === "fixed" && maxMessage) {
    throw new UsageError("--max-message is for --framing line or u32");
  }
  return framing as Framing;
}

/**
 * Parses a message that goes on the wire framed: with `--framing line` it
 * is one line, so a newline may only end it.
 *
 * @param flag The flag's name, for the message.
 * @param text The flag's value.
 * @param framing How it is framed.
 * @returns The bytes, as {@linkcode parseText} reads them.
 * @throws {UsageError} If an escape is wrong, or a line holds a newline
 * before its end.
 */
export function parseFramedText(flag: string, text: string, framing: Framing): Uint8Array {
  const bytes = parseText(flag, text);
  const newline = bytes.indexOf(0x0a);
  if (framing === "line" && newline !== -1 && newline !== bytes.length - 1) {
    throw new UsageError(
      `--${flag} holds a newline before its end: with --framing line it is one line`,
    );
  }
  return bytes;
}
