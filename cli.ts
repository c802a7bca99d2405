/**
 * What the two command-line programs share: argument parsing, exit codes,
 * and turning errors into one line for a person.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { IncompleteReadError, NoProgressError } from "./recv_all.ts";
import { bareHost, NetError } from "./net.ts";
import { exit, onShutdownSignal, write } from "./runtime/deno.ts";

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
  if (!(ms >= (zero ? 0 : 1) && ms <= 2_147_483_647)) {
    throw new UsageError(
      `--${flag} takes a number of seconds from ${zero ? 0 : 0.001} to 2147483, got '${text}'`,
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

/** Options for a {@linkcode LineLog}. */
export interface LineLogOptions {
  /** Text queued at most, in UTF-16 code units; lines beyond it are
   * dropped and counted. */
  limit: number;
  /** The line that reports `count` lines dropped, written once output
   * moves again. */
  dropped: (count: number) => string;
  /** Called once if the output is closed (the reader went away); nothing
   * more is written. */
  onClosed: (err: unknown) => void;
}

/**
 * A log that never stops the program that writes it. Lines go out in
 * batches, one write at a time, without blocking the event loop; while the
 * output is stalled (a pipe nobody reads) they queue up to a bound, and
 * lines beyond it are dropped and counted, the count written when output
 * resumes. If the output is closed, logging stops and `onClosed` is told.
 */
export class LineLog {
  /** Lines dropped so far because the output was stalled. */
  dropped = 0;
  #unreported = 0;
  #queue: string[] = [];
  #queued = 0;
  #writing?: Promise<void>;
  #closed = false;

  /**
   * A log over one output.
   *
   * @param output Writes bytes; resolves once they are written, rejects
   * if the output is closed.
   * @param options The bound, the dropped-lines line, the closed handler.
   */
  constructor(
    readonly output: (bytes: Uint8Array) => Promise<void>,
    readonly options: LineLogOptions,
  ) {}

  /**
   * Queues one line (without its newline) for writing.
   *
   * @param text The line.
   */
  line(text: string): void {
    if (this.#closed) return;
    if (this.#queued + text.length >= this.options.limit) {
      this.dropped++;
      this.#unreported++;
      return;
    }
    this.#queue.push(text);
    this.#queued += text.length + 1;
    this.#writing ??= this.#drain();
  }

  async #drain(): Promise<void> {
    const encoder = new TextEncoder();
    while (this.#queue.length > 0 && !this.#closed) {
      const text = this.#queue.join("\n") + "\n";
      this.#queue = [];
      this.#queued = 0;
      try {
        await this.output(encoder.encode(text));
      } catch (err) {
        this.#closed = true;
        this.#queue = [];
        this.options.onClosed(err);
      }
      // The write that stalled has ended: output moves again.
      if (this.#unreported > 0 && !this.#closed) {
        this.#queue.push(this.options.dropped(this.#unreported));
        this.#unreported = 0;
      }
    }
    this.#writing = undefined;
  }

  /**
   * Waits until every queued line is written, or `ms` pass (a stalled
   * output must not hold a program that wants to exit).
   *
   * @param ms The most to wait.
   */
  async flush(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let late = false;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(() => resolve(void (late = true)), ms);
    });
    while (this.#writing && !late) await Promise.race([this.#writing, waited]);
    clearTimeout(timer);
  }
}

/** The bound of a program's queued log text: about 3,000 lines. */
const LOG_LIMIT = 256 * 1024;

/**
 * The program's log on stdout: a {@linkcode LineLog} that, if stdout is
 * closed, says so once on stderr and lets the program go on.
 *
 * @param name The program's name, prefixed to the line on stderr.
 * @param dropped The line that reports lines dropped while stdout stalled.
 * @returns The log.
 */
export function stdoutLog(name: string, dropped: (count: number) => string): LineLog {
  return new LineLog((bytes) => write("stdout", bytes), {
    limit: LOG_LIMIT,
    dropped,
    onClosed: (err) => {
      const reason = err instanceof Error ? err.message : String(err);
      write(
        "stderr",
        new TextEncoder().encode(
          `${name}: stdout is closed (${reason}); logging stopped, still running\n`,
        ),
      ).catch(() => {}); // stderr is gone too: nothing left to tell.
    },
  });
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
