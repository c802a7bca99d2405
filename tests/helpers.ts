// Test helpers: run the command-line programs as the runtime under test runs
// them, and drive raw sockets against a server.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import process from "node:process";
import { after, afterEach, beforeEach } from "node:test";
import {
  type Conn,
  connect,
  ERROR_KINDS,
  listen,
  NetError,
  recvAll,
  sendAll,
  serve,
  type ServeOptions,
  type Server,
  type ServerEvent,
  type TcpAddr,
} from "../mod.ts";

/** The sources on Deno; the built package (npm/) on Node and Bun. */
const ROOT = new URL("..", import.meta.url);
/** Whether the suite runs on Deno (the sources) rather than Node or Bun. */
export const onDeno = "Deno" in globalThis;
/** Whether it runs on Bun (the built package). */
export const onBun = "Bun" in globalThis;

/** The Python the peers and the tutorial's program run on, found once:
 * `python3` may be a version manager's shim that costs 0.3 s a start. */
export const PYTHON: string =
  spawnSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" })
    .stdout?.trim() || "python3";

/** Whether this user may make a network namespace of its own (`unshare
 * -rn`): inside, only a loopback interface, so nothing a program sends can
 * leave it (a host name's lookup fails there, sending nothing). */
export const hasNetns: boolean =
  spawnSync("unshare", ["-rn", "ip", "link", "set", "lo", "up"]).status === 0;

/** `command`, to be run in a network namespace of its own (see
 * {@linkcode hasNetns}). */
export function isolated(command: string[]): string[] {
  return ["unshare", "-rn", ...command];
}

/** The tutorial's message, as bytes. */
export const MESSAGE: Uint8Array = new TextEncoder().encode("Hi there, server");

/** A TCP address, as the library names one. */
export function tcp(hostname: string, port: number): TcpAddr {
  return { transport: "tcp", hostname, port };
}

/** Every error kind of load mode, counted 0: spread and override. */
export const noErrors: Record<string, number> = Object.fromEntries(
  ERROR_KINDS.map((k) => [k, 0]),
);

/** Lets `ms` pass: for tests about what happens (or does not) over time,
 * never to wait for an event that can be awaited. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What `promise` settles to, or `"still pending"` after `ms` (the timer
 * cleared either way). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | "still pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"still pending">((resolve) => {
    timer = setTimeout(() => resolve("still pending"), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The programs started and not yet exited. */
const running = new Set<Program>();
/** Whether a test of a file that called {@linkcode endProgramsAfterEach}
 * runs: only there is a program ended when its test ends. */
let inTest = false;

/**
 * Makes every {@linkcode Program} a test starts end (SIGKILL, by its PID)
 * when the test ends, pass, fail or time out. Call it once at the top of
 * each test file that starts programs: elsewhere `Program` throws. Tests
 * of a file run one at a time on every runner. The hooks are the file's
 * own: Bun runs every file in one process, and hooks registered once in
 * this module would reach only the first file it loads; it also skips
 * `t.after()` for a test that timed out, `afterEach()` it does not.
 */
export function endProgramsAfterEach(): void {
  beforeEach(() => {
    inTest = true;
  });
  afterEach(async () => {
    inTest = false;
    const left = [...running];
    for (const program of left) program.signal("SIGKILL");
    for (const program of left) {
      if (await within(program.exited, 10_000) === "still pending") {
        throw new Error(`${program.child.spawnfile} (PID ${program.child.pid}) outlived SIGKILL`);
      }
    }
  });
}

/**
 * A way to start `serve()` on a free port (unless a listener is given)
 * with its events recorded; every server it starts is shut down at once
 * after the file's tests, pass or fail (Node would wait forever on one
 * left listening). Call it once at the top of a test file: the hook is the
 * file's own, as {@linkcode endProgramsAfterEach}'s are.
 *
 * @returns `recorded(options)`: the server, its events, its port.
 */
export function recordingServers(): (
  options?: ServeOptions,
) => Promise<{ server: Server<TcpAddr>; events: ServerEvent[]; port: number }> {
  const servers: Server[] = [];
  after(() => Promise.all(servers.map((server) => server.shutdown(0))));
  return async (options = {}) => {
    const events: ServerEvent[] = [];
    const where = options.listener ? {} : { port: 0 };
    const server = await serve({ ...where, onEvent: (e) => events.push(e), ...options });
    servers.push(server);
    const tcp = server as Server<TcpAddr>;
    return { server: tcp, events, port: tcp.addr.port };
  };
}

/** A command line quoted for `sh`. */
export function shellQuote(args: string[]): string {
  return args.map((s) => `'${s.replaceAll("'", `'\\''`)}'`).join(" ");
}

/** The command that runs `server` or `client` on this runtime: the script
 * on Deno, the package's `tcp-sixteen-*` binary on Node and Bun. */
export function programCommand(program: "server" | "client", flags: string[] = []): string[] {
  return onDeno
    ? [process.execPath, "run", "--allow-net", ...flags, new URL(`${program}.ts`, ROOT).pathname]
    : [process.execPath, new URL(`bin/tcp-sixteen-${program}.js`, ROOT).pathname];
}

/** The name a program is invoked by on this runtime, as its help says it. */
export function invokedName(program: "server" | "client"): string {
  return onDeno ? `${program}.ts` : `tcp-sixteen-${program}`;
}

/** A running program, its output split into lines. */
export class Program {
  readonly child: ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  #waiters: (() => void)[] = [];

  readonly #group: boolean;

  /**
   * @param command The program and its first arguments.
   * @param args More arguments.
   * @param options `env` added to ours (`undefined` removes a variable);
   * `cwd`; `group` runs it in its own
   * process group and signals the whole group (for launchers such as npx,
   * which do not pass signals on to the program they start); `input`, its
   * whole stdin (else it has none).
   */
  constructor(
    command: string[],
    args: string[],
    options: {
      env?: Record<string, string | undefined>;
      cwd?: string;
      group?: boolean;
      input?: string;
    } = {},
  ) {
    if (!inTest) {
      throw new Error("start programs in tests of a file that calls endProgramsAfterEach()");
    }
    this.#group = options.group ?? false;
    const env: Record<string, string> = {};
    // Deno's update check, in the background, would reach for the network
    // and, under a low descriptor limit, print a warning.
    const base = { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
    for (const [key, value] of Object.entries({ ...base, ...options.env })) {
      if (value !== undefined) env[key] = value;
    }
    this.child = spawn(command[0], [...command.slice(1), ...args], {
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env,
      cwd: options.cwd,
      detached: this.#group,
    });
    this.child.stdin?.end(options.input);
    this.#collect(this.child.stdout!, this.stdout);
    this.#collect(this.child.stderr!, this.stderr);
    this.exited = new Promise((resolve) => this.child.on("close", (code) => resolve(code)));
    running.add(this);
    this.exited.then(() => {
      running.delete(this);
      this.#notify();
    });
  }

  #collect(stream: NodeJS.ReadableStream, into: string[]): void {
    let rest = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      into.push(...lines);
      this.#notify();
    });
    stream.on("end", () => rest && into.push(rest)); // A last line without its newline.
  }

  #notify(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /** Waits (at most `ms`) for a line of `stream` matching `pattern`;
   * resolves to the match, whose `input` is the whole line. */
  async waitForLine(
    pattern: RegExp,
    ms = 10_000,
    stream: "stdout" | "stderr" = "stdout",
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    let exited = false;
    this.exited.then(() => (exited = true));
    while (true) {
      for (const line of this[stream]) {
        const match = line.match(pattern);
        if (match) return match;
      }
      if (exited || Date.now() > deadline) {
        throw new Error(
          `no line matching ${pattern} in ${stream}; stdout:\n${this.stdout.join("\n")}\n` +
            `stderr:\n${this.stderr.join("\n")}`,
        );
      }
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** Sends a signal. (Deno's `child.kill()` makes a clean exit look like
   * death by that signal; `process.kill()` does not.) */
  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.#group ? -this.child.pid! : this.child.pid!, signal);
    } catch {
      // Already gone.
    }
  }

  /** Sends a signal and waits (at most `ms`) for the exit status. */
  async stop(signal: NodeJS.Signals = "SIGTERM", ms = 10_000): Promise<number | null> {
    this.signal(signal);
    const timer = setTimeout(() => this.signal("SIGKILL"), ms);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What a program that ran to the end printed, and its exit status. */
export interface Ran {
  code: number | null;
  stdout: string[];
  stderr: string[];
}

/** Runs a program to the end (at most `ms`). */
export function runProgram(
  program: "server" | "client",
  args: string[],
  ms = 20_000,
): Promise<Ran> {
  return runCommand(programCommand(program), args, {}, ms);
}

/** Runs a command to the end (at most `ms`, then it is killed). */
export async function runCommand(
  command: string[],
  args: string[],
  options: ConstructorParameters<typeof Program>[2] = {},
  ms = 20_000,
): Promise<Ran> {
  const p = new Program(command, args, options);
  const timer = setTimeout(() => p.signal("SIGKILL"), ms);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout, stderr: p.stderr };
}

/** Starts the server CLI on a free port and waits until it listens. */
export async function startServer(
  args: string[] = [],
): Promise<{ server: Program; port: number }> {
  const server = new Program(programCommand("server"), ["-p", "0", ...args]);
  const [, port] = await server.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/);
  return { server, port: Number(port) };
}

export const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
export const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** Connects a raw socket to port on 127.0.0.1 (or `hostname`). */
export function dial(port: number, hostname = "127.0.0.1"): Promise<Conn> {
  return connect({ hostname, port });
}

/** Sends `bytes` in pieces of `piece` bytes, with a pause between them. */
export async function sendSlowly(
  conn: Conn,
  bytes: Uint8Array,
  piece = 1,
  pauseMs = 2,
): Promise<void> {
  for (let at = 0; at < bytes.length; at += piece) {
    await sendAll(conn, bytes.subarray(at, at + piece));
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}

/** Reads until EOF (at most `limit` bytes), as a peer sees the server's
 * answer. Resolves to what was read, or rejects on reset. */
export async function readToEnd(conn: Conn, limit = 1024): Promise<Uint8Array> {
  const buffer = new Uint8Array(limit);
  let filled = 0;
  while (filled < limit) {
    const n = await conn.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return buffer.slice(0, filled);
}

/** One exchange over a raw socket: send `message`, read the 16-octet reply. */
export async function exchange(
  port: number,
  message = encode("Hi there, server"),
  hostname = "127.0.0.1",
): Promise<string> {
  const conn = await dial(port, hostname);
  try {
    await sendAll(conn, message);
    return decode(await recvAll(conn, 16));
  } finally {
    conn.close();
  }
}

/** Waits (at most `ms`) until connecting to `port` is refused: a closed
 * listener's socket is freed once its pending accept is cancelled. */
export async function untilRefused(port: number, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (true) {
    try {
      (await dial(port)).close();
    } catch (err) {
      if (err instanceof NetError && err.code === "ECONNREFUSED") return;
      if (!(err instanceof NetError && err.code === "ECONNRESET")) throw err;
    }
    if (Date.now() > deadline) throw new Error(`port ${port} still accepts after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A port nothing listens on: bound once, then released. */
export async function closedPort(): Promise<number> {
  const l = await listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Opens `count` connections that each send the first 8 octets of the
 * tutorial's message: exchanges caught in the middle. */
export async function halfSent(port: number, count: number): Promise<Conn[]> {
  const conns = await Promise.all(Array.from({ length: count }, () => dial(port)));
  for (const conn of conns) await sendAll(conn, encode("Hi there"));
  return conns;
}

/** Sends the rest of the message on each of `halfSent`'s connections, and
 * resolves to what each then read before EOF. */
export function finishHalves(conns: Conn[]): Promise<string[]> {
  return Promise.all(conns.map(async (conn) => {
    await sendAll(conn, encode(", server"));
    const reply = decode(await readToEnd(conn));
    conn.close();
    return reply;
  }));
}

/** Runs the suite's hostile Python peers (`tests/fixtures/peers.py`) to
 * the end; resolves to their stdout lines. */
export async function peers(args: string[], ms = 30_000): Promise<string[]> {
  const fixture = new URL("fixtures/peers.py", import.meta.url).pathname;
  const ran = await runCommand([PYTHON, "-u", fixture], args, {}, ms);
  if (ran.code !== 0) throw new Error(`peers.py ${args.join(" ")}: ${ran.stderr.join("\n")}`);
  return ran.stdout;
}

/** A Python server on a free port that accepts `count` connections and
 * resets each at once (SO_LINGER 0), reading nothing; it prints
 * `Listening at 127.0.0.1:PORT` first. */
export function resettingServer(count: number): Program {
  const fixture = new URL("fixtures/peers.py", import.meta.url).pathname;
  return new Program([PYTHON, "-u", fixture], ["rst-server", "0", String(count)]);
}

/** Waits (at most `ms`) until `check()` is true. */
export async function until(
  check: () => boolean,
  what: string | (() => string),
  ms = 5000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A scripted server over `listen()`: `handle` serves the k-th connection (from 1); the
 * connection is closed after it. Counts connections open at once. */
export async function testServer(
  handle: (conn: Conn, k: number, released: Promise<void>) => Promise<void>,
) {
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const stats = { accepted: 0, open: 0, maxOpen: 0 };
  const conns = new Set<Conn>();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const serving = (async () => {
    while (true) {
      let conn: Conn;
      try {
        conn = await listener.accept();
      } catch {
        return; // Closed.
      }
      const k = ++stats.accepted;
      stats.maxOpen = Math.max(stats.maxOpen, ++stats.open);
      conns.add(conn);
      handle(conn, k, released).catch(() => {}).finally(() => {
        stats.open--;
        conns.delete(conn);
        try {
          conn.close();
        } catch {
          // Closed by close() below.
        }
      });
    }
  })();
  return {
    port: listener.addr.port,
    stats,
    async close() {
      listener.close();
      release();
      for (const conn of conns) conn.close();
      await serving;
    },
  };
}

/** Every 5th connection gets 5 bytes of its reply, every 7th (not 5th) a
 * wrong one, the rest the right one. Of 70: 14 short, 8 wrong, 48 good. */
export function faulty(conn: Conn, k: number): Promise<void> {
  return (async () => {
    await recvAll(conn, 16);
    if (k % 5 === 0) await sendAll(conn, encode("Farew"));
    else if (k % 7 === 0) await sendAll(conn, encode("Farewell, CLIENT"));
    else await sendAll(conn, encode("Farewell, client"));
  })();
}

/** The tutorial's own program (tests/fixtures/tutorial.py, Python 3 with the
 * bytes unchanged) as `server` or `client`, on 127.0.0.1 and `port`. */
export function tutorial(role: "server" | "client", port: number): Program {
  return new Program([PYTHON, "-u", new URL("fixtures/tutorial.py", import.meta.url).pathname], [
    role,
    "127.0.0.1",
  ], { env: { PORT: String(port) } });
}
