/**
 * A program's log: lines to stdout that never stop the program.
 *
 * @module
 */

import { write } from "../runtime/deno.ts";

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
