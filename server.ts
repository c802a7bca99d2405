/**
 * The server program: `deno run --allow-net server.ts [HOST] [-p PORT]
 * [options]`. It runs {@linkcode serve} with the command line's options,
 * logs its events as the tutorial's lines (or JSON), shuts down gracefully
 * on SIGINT, SIGTERM or SIGHUP, and exits with a status from the README's
 * table. The npm package's `tcp-sixteen-server` runs it too.
 *
 * @module
 */

import { serve, type ServeOptions, type ServerEvent, type ServerStats } from "./serve.ts";
import { formatAddr, type NetAddr, NetError, rawCode } from "./net.ts";
import { DEFAULT_GRACE } from "./protocol.ts";
import { args } from "./runtime/deno.ts";
import {
  parseCommandLine,
  parseCount,
  parseFramedText,
  parseFraming,
  parseSeconds,
  parseWhere,
  UsageError,
} from "./cli/args.ts";
import { LimitExceededError } from "./frame_reader.ts";
import { IncompleteReadError } from "./recv_all.ts";
import { EXIT, onStopSignals, run, versionLine } from "./cli/run.ts";
import { plural } from "./cli/text.ts";
import { stdoutLog } from "./cli/log.ts";
import { SERVER_TLS_FLAGS, serverTls } from "./cli/tls.ts";
import { repr } from "./internal/bytes.ts";

/**
 * The server's `--help`, naming the program as it was invoked.
 *
 * @param name The program's name: `server.ts`, `tcp-sixteen-server`...
 * @returns The text.
 */
export function help(name: string): string {
  return `${name}: the sixteen-octet TCP server of the networking tutorial, hardened.
For each connection it reads exactly 16 octets, replies 'Farewell, client'
and closes. It serves many connections at once, closes one that has not
finished in --timeout, holds at most --max-connections open, lets a client
that sent extra bytes read the reply (--linger), and on SIGINT, SIGTERM or
SIGHUP stops accepting, lets open exchanges finish and exits.

usage: ${name} [HOST[:PORT]] [-p PORT] [options]
       ${name} --unix PATH [options]

  HOST                   address to listen on (default 127.0.0.1; 0.0.0.0 or
                         :: for every interface; IPv6 as ::1 or [::1])
  -p, --port PORT        port (default 1060; 0 picks a free one); HOST:PORT
                         gives both
  --unix PATH            listen on a Unix domain socket instead: the socket
                         file PATH is made (a stale one, that nothing listens
                         on, is replaced; any other file there is an error
                         and left as it is) and removed on exit; Deno needs
                         --allow-read and --allow-write for its directory
  --timeout SECONDS      read deadline per connection (default 10)
  --linger SECONDS       after the reply, how long to wait for the client to
                         close before closing (default 2; 0: close at once)
  --max-connections N    open connections at most (default 10000)
  --grace SECONDS        on SIGINT/SIGTERM/SIGHUP, time left to open
                         exchanges (default 5); a second signal exits at once
  --message-length N     octets to read from each client (default 16)
  --reply TEXT           the reply (default 'Farewell, client'); \\n, \\r, \\t,
                         \\\\ and \\xHH are escapes
  --framing fixed|line|u32
                         how each message and the reply are delimited: a
                         fixed length (default), a line (the reply gets a
                         newline if it has none), or a 4-byte big-endian
                         length first
  --max-message N        with line or u32, the longest line or frame a
                         client may send (default 65536); a longer one is
                         logged and closed, never buffered
  --tls-cert FILE        serve over TLS with this certificate (PEM; the
                         chain after it); needs --tls-key
  --tls-key FILE         the certificate's private key (PEM, unencrypted)
  --log human|json       log format (default human)
  -q, --quiet            log only the Listening line and problems (not
                         connections closed without a byte: health checks)
  -h, --help             show this help
  -V, --version          show the version and the runtime

examples:
  ${name}                            127.0.0.1:1060, the tutorial's story
  ${name} 0.0.0.0:8060 -q            every interface, port 8060, problems only
  ${name} [::1] -p 0 --log json      IPv6 loopback, a free port, JSON lines
  ${name} --framing line             one line in, 'Farewell, client\\n' out
  ${name} --unix /tmp/sixteen.sock   a Unix domain socket
  ${name} --tls-cert cert.pem --tls-key key.pem
                                     over TLS (Deno: --allow-read=cert.pem,key.pem)

exit status:
  0    stopped on a signal, after the open exchanges
  1    cannot listen (address in use, permission denied, a file in the way
       of --unix, a TLS key that does not match its certificate...), a
       --tls-cert or --tls-key file that cannot be read or is not PEM, or
       the listening socket failed
  2    usage error
  130  a second signal during shutdown`;
}

/** Accept errors that say a resource ran out: what happened, in the same
 * words on every runtime, and what to do. (Only Deno reports them: Node's
 * event loop closes the connections it cannot accept, Bun's leaves them
 * waiting, and neither says so.) */
const OUT_OF = new Map<string | undefined, [string, string]>([
  ["EMFILE", ["too many open files", "raise the limit (ulimit -n) or lower --max-connections"]],
  ["ENFILE", [
    "the system has too many open files",
    "raise its limit (fs.file-max) or lower --max-connections",
  ]],
  ["ENOBUFS", ["out of memory", "lower --max-connections"]],
  ["ENOMEM", ["out of memory", "lower --max-connections"]],
]);

/** What the command line logs: the server's events and its own. */
export type LogEvent =
  | ServerEvent
  | { type: "listening"; addr: string; transport: NetAddr["transport"] }
  | { type: "shutdown"; signal: string; open: number; grace: number }
  | { type: "log-dropped"; count: number }
  | ({ type: "stopped"; logLinesDropped: number; transport: NetAddr["transport"] } & ServerStats);

/**
 * Why an exchange failed, in a log line's words.
 *
 * @param error What failed it.
 * @param bytes Octets received.
 * @param expected Octets expected (`null`: a line or a frame).
 * @returns The reason, without the peer.
 */
function failure(error: Error, bytes: number, expected: number | null): string {
  if (error instanceof NetError && error.op === "handshake") {
    return `TLS handshake failed: ${error.reason}`;
  }
  if (error instanceof NetError) {
    return `${error.reason} after ${bytes} ${
      expected === null ? "octets" : `of ${expected} octets`
    }`;
  }
  if (error instanceof LimitExceededError) {
    return error.declared === null
      ? `sent more than --max-message ${error.limit} octets without a newline`
      : `sent a ${error.declared}-octet frame, more than --max-message ${error.limit}`;
  }
  if (error instanceof IncompleteReadError && error.expected === null) {
    return `socket closed ${error.partial.length} bytes into a line, before its newline`;
  }
  return error.message;
}

/**
 * Formats a log event as the tutorial's lines, or as one JSON object with
 * `time` and `event` first.
 *
 * @param event The event.
 * @param format `human` or `json`.
 * @returns One line (two for `accepted` in human format).
 */
export function formatEvent(event: LogEvent, format: "human" | "json"): string {
  if (format === "json") {
    const { type, ...rest } = event;
    const fields: Record<string, unknown> = { time: new Date().toISOString(), event: type };
    for (const [key, value] of Object.entries(rest)) {
      fields[key] = value instanceof Uint8Array
        ? repr(value)
        : value instanceof Error
        ? value.message
        : value;
      // The library's code, or the runtime's (an accept error's EMFILE).
      const code = value instanceof NetError ? value.code : rawCode(value);
      if (code !== undefined) fields.code = code;
    }
    return JSON.stringify(fields);
  }
  switch (event.type) {
    case "listening":
      return `Listening at ${event.addr}`;
    case "accepted":
      return `We have accepted a connection from ${event.peer}\n` +
        `Socket connects ${event.local} and ${event.peer}`;
    case "secured": {
      // Deno's TLS does not report them.
      const { version, cipher } = event.tls;
      return `TLS handshake done with ${event.peer}${version ? `: ${version}, ${cipher}` : ""}`;
    }
    case "message":
      return `The incoming ${
        event.message.length === 16 ? "sixteen" : event.message.length
      }-octet message says ${repr(event.message)}`;
    case "replied":
      return "Reply sent, socket closed";
    case "failed":
      return `${event.peer}: ${failure(event.error, event.bytes, event.expected)}; closed`;
    case "timeout":
      return event.stage === "handshake"
        ? `${event.peer} did not finish its TLS handshake in ${event.timeout / 1000} s; closed`
        : `${event.peer} sent ${event.bytes} ${
          event.expected === null ? "octets, not a whole message," : `of ${event.expected} octets`
        } in ${event.timeout / 1000} s; closed`;
    case "cap-reached":
      return `Reached ${plural(event.maxConnections, "open connection")} (--max-connections); ` +
        "new ones wait to be accepted";
    case "cap-released":
      return `No longer at the connection cap (${event.open} open)`;
    case "accept-error": {
      const [what, todo] = OUT_OF.get(rawCode(event.error)) ?? [event.error.message];
      return `Accept failed: ${what}; retrying with back-off up to 1 s${todo ? ` — ${todo}` : ""}`;
    }
    case "accept-resumed":
      return "Accepting again after accept errors";
    case "accept-skipped":
      return `Skipped a connection that failed before it was accepted: ${event.error.message}`;
    case "accept-skipped-total":
      return `Skipped ${event.count} connections that failed before they were accepted`;
    case "shutdown":
      return `${event.signal}: shutting down; ${plural(event.open, "open connection")} ${
        event.open === 1 ? "has" : "have"
      } ${event.grace / 1000} s to finish`;
    case "log-dropped":
      return `${plural(event.count, "log line")} dropped: stdout was not being read`;
    case "stopped":
      return `Stopped: ${event.served} served, ${event.failed} failed, ${event.timedOut} timed out${
        event.skipped ? `, ${event.skipped} skipped` : ""
      }${event.logLinesDropped ? `; ${plural(event.logLinesDropped, "log line")} dropped` : ""}`;
  }
}

/**
 * The server's command line: listens, logs, and on SIGINT, SIGTERM or
 * SIGHUP shuts down gracefully; a second signal exits at once with 130.
 *
 * @param argv The arguments, without the program.
 * @param name The program's name as invoked, for `--help`.
 * @returns The exit status, once the server has shut down.
 */
export async function main(argv: string[], name = "server"): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, {
    port: { type: "string", short: "p" },
    unix: { type: "string" },
    timeout: { type: "string" },
    linger: { type: "string" },
    "max-connections": { type: "string" },
    grace: { type: "string" },
    "message-length": { type: "string" },
    reply: { type: "string" },
    framing: { type: "string" },
    "max-message": { type: "string" },
    log: { type: "string" },
    quiet: { type: "boolean", short: "q" },
    help: { type: "boolean", short: "h" },
    version: { type: "boolean", short: "V" },
    ...SERVER_TLS_FLAGS,
  }, 1);
  if (values.help) return console.log(help(name)), EXIT.OK;
  if (values.version) return console.log(versionLine()), EXIT.OK;
  if (values.log !== undefined && values.log !== "human" && values.log !== "json") {
    throw new UsageError(`--log takes human or json, got '${values.log}'`);
  }
  const format = values.log ?? "human";
  const grace = values.grace === undefined ? DEFAULT_GRACE : parseSeconds("grace", values.grace);
  const where = parseWhere(
    values.unix,
    positionals[0],
    values.port,
    "an address such as 127.0.0.1, or 0.0.0.0 for every interface",
    true,
  );
  const framing = parseFraming(
    values.framing,
    values["message-length"] === undefined ? undefined : "message-length",
    values["max-message"] !== undefined,
  );
  const transport = where.transport;
  const options: ServeOptions = {
    ...where,
    timeout: values.timeout === undefined ? undefined : parseSeconds("timeout", values.timeout),
    linger: values.linger === undefined ? undefined : parseSeconds("linger", values.linger, true),
    maxConnections: values["max-connections"] === undefined
      ? undefined
      : parseCount("max-connections", values["max-connections"]),
    framing,
    messageLength: values["message-length"] === undefined
      ? undefined
      : parseCount("message-length", values["message-length"], 0, 1 << 20),
    maxMessage: values["max-message"] === undefined
      ? undefined
      : parseCount("max-message", values["max-message"], 1, 1 << 30),
    reply: values.reply === undefined ? undefined : parseFramedText("reply", values.reply, framing),
    tls: await serverTls(values),
  };
  const out = stdoutLog("server", (count) => formatEvent({ type: "log-dropped", count }, format));
  const log = (event: LogEvent) => out.line(formatEvent(event, format));
  try {
    const server = await serve({
      ...options,
      events: values.quiet ? "problems" : "all",
      onEvent: log,
    });
    log({ type: "listening", addr: formatAddr(server.addr), transport });
    const stopSignals = onStopSignals("server", (signal) => {
      log({ type: "shutdown", signal, open: server.stats.open, grace });
      server.shutdown(grace);
    }, () => `${plural(server.stats.open, "open connection")} cut short`);
    try {
      log({
        type: "stopped",
        ...await server.finished,
        logLinesDropped: out.dropped,
        transport,
      });
      return EXIT.OK;
    } finally {
      stopSignals();
    }
  } finally {
    // What is logged reaches stdout before the process exits, unless stdout
    // is stalled: then a second is all it gets.
    await out.flush(1000);
  }
}

/**
 * Runs the server's command line with the process's arguments, then exits
 * with its status. Deno runs it when this file is the main module; the npm
 * package's `tcp-sixteen-server` binary calls it.
 */
export function cli(): Promise<never> {
  return run("server", (invoked) => main(args(), invoked));
}

if (import.meta.main) cli();
