/**
 * End-to-end load benchmark. Starts each server on a free port — the
 * project's on Deno, the npm package's on Node and on Bun, a minimal
 * hand-written one on each runtime (`baseline_deno.ts` on Deno.listen,
 * `baseline_node.mjs` on node:net, `baseline_bun.mjs` on Bun.listen, and
 * `baseline_node.mjs` run on Bun) and a compiled C one — drives it with the
 * compiled C load generator (`c/loadgen.c`), and prints one Markdown table:
 *
 * - exchanges/s, p50 and p99 latency with one exchange at a time (c=1);
 * - exchanges/s with `concurrency` in flight (64) and p99 latency there;
 * - server CPU per exchange: the server process's user + system time
 *   (`/proc/PID/stat`, in clock ticks of `getconf CLK_TCK`) over the
 *   concurrent window, divided by the exchanges in it;
 * - peak RSS (`VmHWM` in `/proc/PID/status`) at the end;
 *
 * each the median over `rounds` fresh servers, the servers taking turns,
 * and each project server's ratio to the baseline on its runtime. Then a
 * second table: `idle` connections held open against a fresh server
 * (blocking connects, one at a time) while one good client makes
 * exchanges one at a time: its p50/p99, and the server's RSS.
 *
 * `server.ts -q --linger 0` is the project's Deno server without its
 * lingering close: beside the default row, what lingering costs a client
 * that closes after reading. The other way round, `baseline_bun.mjs
 * --linger` and the C server with `linger` do the lingering close the
 * project's servers do by default (the node:net baseline does already:
 * node:net waits for the client's end of stream), so the project's servers
 * can be compared with the same work.
 *
 * The `--unix` rows are the project's servers on a Unix domain socket (a
 * socket file in the run's temporary folder), driven by the same C load
 * generator over `AF_UNIX`; their ratios are to the same server over TCP.
 *
 * With `--soak N` it runs only this: each project server (Deno, Node, Bun)
 * fresh, driven with `concurrency` in flight until N exchanges have
 * succeeded, and its open descriptors and RSS before and after (what a
 * leak would grow): `deno task bench:soak` runs a million.
 *
 * The TLS rows (`, TLS` in their names: `--only TLS` runs them alone) are
 * the same over TLS: the
 * project's servers with `--tls-cert`/`--tls-key` beside a hand-written TLS
 * server on each runtime (the baselines with `--tls`: `Deno.listenTls`,
 * `node:tls`, `Bun.listen` with `tls`), every one driven by the same TLS
 * client, the project's load mode on Bun (`--tls-ca`; on Deno without
 * Bun), so that every exchange is a full handshake and the exchange. The
 * certificate is a self-signed P-256 one, made with `openssl` into the
 * temporary folder. They are not in the idle table.
 *
 * With `--client`, a third table: the project's client in load mode
 * (`client.ts` on Deno, the npm package's on Node and on Bun) against a
 * fresh C server, beside the C load generator, `concurrency` in flight.
 *
 * The C programs are compiled with gcc into a temporary folder each time;
 * nothing built is kept. The npm package (npm/) is built first if it is
 * missing. Bun is the one the repository pins (node_modules/bun); without
 * it the Bun rows are left out, and say so.
 *
 * Run it: `npm run deno -- run -A bench/load.ts [--seconds S] [--rounds N]
 * [--concurrency C] [--idle N] [--client] [--only REGEXP]` (defaults 2, 2,
 * 64, 10000: about 2 minutes in all; `--only` keeps the servers whose names
 * match, to compare two quickly).
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, release, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seconds: { type: "string", default: "2" },
    concurrency: { type: "string", default: "64" },
    rounds: { type: "string", default: "2" },
    idle: { type: "string", default: "10000" },
    client: { type: "boolean", default: false },
    soak: { type: "string" },
    only: { type: "string" },
  },
});
const seconds = String(Number(values.seconds));
const concurrency = String(Number(values.concurrency));
const rounds = Number(values.rounds);
const idle = Number(values.idle);
if (!(Number(seconds) > 0 && Number(concurrency) >= 1 && rounds >= 1 && idle >= 0)) {
  console.error("bench: --seconds, --concurrency and --rounds take numbers above 0, --idle 0 up");
  process.exit(2);
}
const here = (path: string) => new URL(path, import.meta.url).pathname;
const deno = process.execPath;
const node = "node";
const bun = here("../node_modules/bun/bin/bun.exe");
const hasBun = existsSync(bun);
const npmBin = (program: "server" | "client") => here(`../npm/bin/tcp-sixteen-${program}.js`);
if (!existsSync(npmBin("server"))) {
  console.error("bench: npm/ is missing: building it (deno task build:npm)");
  execFileSync(deno, ["run", "-A", here("../scripts/build_npm.ts")], { stdio: "inherit" });
}
const build = mkdtempSync(join(tmpdir(), "tcp-sixteen-bench-"));
const gcc = (name: string) => {
  const out = join(build, name);
  execFileSync("gcc", ["-O2", "-o", out, here(`c/${name}.c`)]);
  return out;
};
const cServer = gcc("server");
// The TLS rows' certificate: self-signed, for 127.0.0.1.
const cert = join(build, "cert.pem");
const key = join(build, "key.pem");
execFileSync("openssl", [
  "req",
  "-x509",
  "-newkey",
  "ec",
  "-pkeyopt",
  "ec_paramgen_curve:P-256",
  "-nodes",
  "-days",
  "1",
  "-subj",
  "/CN=localhost",
  "-addext",
  "subjectAltName=IP:127.0.0.1",
  "-addext",
  "basicConstraints=critical,CA:FALSE",
  "-keyout",
  key,
  "-out",
  cert,
], { stdio: "ignore" });
const cLoadgen = gcc("loadgen");
const clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

interface ServerSpec {
  name: string;
  /** A program that prints `Listening at HOST:PORT` (or a socket's path)
   * first. `flags` go to the project's servers only (the baselines have
   * none). */
  command: (flags: string[]) => string[];
  /** The name of the server it is compared with. */
  baseline?: string;
  /** Left out of the idle-connections table. */
  noIdle?: boolean;
  /** Driven over TLS by the project's load mode, not the C generator. */
  tls?: boolean;
}

/** A Unix row's socket file, in the run's temporary folder. */
const socketFile = (name: string) => join(build, `${name}.sock`);
const PROJECT_DENO = "tcp-sixteen server.ts -q (Deno)";
const PROJECT_NODE = "npm tcp-sixteen-server -q (Node)";
const PROJECT_BUN = "npm tcp-sixteen-server -q (Bun)";
const BASELINE_DENO = "baseline_deno.ts (Deno.listen)";
const BASELINE_NODE = "baseline_node.mjs (node:net)";
const BASELINE_BUN = "baseline_bun.mjs (Bun.listen)";
const C_SERVER = "C epoll server";
const bunServers: ServerSpec[] = [
  {
    name: PROJECT_BUN,
    command: (flags) => [bun, npmBin("server"), "-q", "-p", "0", ...flags],
    baseline: BASELINE_BUN,
  },
  {
    name: "npm tcp-sixteen-server -q --unix (Bun)",
    command: (flags) => [bun, npmBin("server"), "-q", "--unix", socketFile("bun"), ...flags],
    baseline: PROJECT_BUN,
    noIdle: true,
  },
  { name: BASELINE_BUN, command: () => [bun, here("baseline_bun.mjs"), "0"] },
  {
    // The same with a lingering close, as the package's server does by
    // default: what that costs Bun.listen itself.
    name: "baseline_bun.mjs --linger (Bun.listen)",
    command: () => [bun, here("baseline_bun.mjs"), "0", "--linger"],
    noIdle: true,
  },
  {
    name: "baseline_node.mjs on Bun (node:net)",
    command: () => [bun, here("baseline_node.mjs"), "0"],
    // Compared with nothing there, and it has taken over a minute to take
    // 10,000 connections (the run's time limit is three minutes).
    noIdle: true,
  },
];
const allServers: ServerSpec[] = [
  {
    name: PROJECT_DENO,
    command: (
      flags,
    ) => [deno, "run", "--allow-net", here("../server.ts"), "-q", "-p", "0", ...flags],
    baseline: BASELINE_DENO,
  },
  {
    name: "server.ts -q --linger 0 (Deno)",
    command: (
      flags,
    ) => [
      deno,
      "run",
      "--allow-net",
      here("../server.ts"),
      "-q",
      "-p",
      "0",
      "--linger",
      "0",
      ...flags,
    ],
    baseline: BASELINE_DENO,
    noIdle: true,
  },
  {
    name: BASELINE_DENO,
    command: () => [deno, "run", "--allow-net", here("baseline_deno.ts"), "0"],
  },
  {
    name: "server.ts -q --unix (Deno)",
    command: (flags) => [
      deno,
      "run",
      "--allow-net",
      `--allow-read=${build}`,
      `--allow-write=${build}`,
      here("../server.ts"),
      "-q",
      "--unix",
      socketFile("deno"),
      ...flags,
    ],
    baseline: PROJECT_DENO,
    noIdle: true,
  },
  {
    name: PROJECT_NODE,
    command: (flags) => [node, npmBin("server"), "-q", "-p", "0", ...flags],
    baseline: BASELINE_NODE,
  },
  {
    name: "npm tcp-sixteen-server -q --unix (Node)",
    command: (flags) => [node, npmBin("server"), "-q", "--unix", socketFile("node"), ...flags],
    baseline: PROJECT_NODE,
    noIdle: true,
  },
  { name: BASELINE_NODE, command: () => [node, here("baseline_node.mjs"), "0"] },
  ...(hasBun ? bunServers : []),
  { name: C_SERVER, command: () => [cServer, "0"] },
  // And with a lingering close: what it costs C.
  { name: "C epoll server, lingering", command: () => [cServer, "0", "linger"], noIdle: true },
];

const TLS = ["--tls-cert", cert, "--tls-key", key];
const BASELINE_DENO_TLS = "baseline_deno.ts --tls, TLS (Deno.listenTls)";
const BASELINE_NODE_TLS = "baseline_node.mjs --tls, TLS (node:tls)";
const BASELINE_BUN_TLS = "baseline_bun.mjs --tls, TLS (Bun.listen)";
allServers.push(
  {
    name: "tcp-sixteen server.ts -q, TLS (Deno)",
    command: (flags) => [
      deno,
      "run",
      "--allow-net",
      `--allow-read=${cert},${key}`,
      here("../server.ts"),
      "-q",
      "-p",
      "0",
      ...TLS,
      ...flags,
    ],
    baseline: BASELINE_DENO_TLS,
  },
  {
    name: BASELINE_DENO_TLS,
    command: () => [
      deno,
      "run",
      "--allow-net",
      "--allow-read",
      here("baseline_deno.ts"),
      "0",
      "--tls",
      cert,
      key,
    ],
  },
  {
    name: "npm tcp-sixteen-server -q, TLS (Node)",
    command: (flags) => [node, npmBin("server"), "-q", "-p", "0", ...TLS, ...flags],
    baseline: BASELINE_NODE_TLS,
  },
  {
    name: BASELINE_NODE_TLS,
    command: () => [node, here("baseline_node.mjs"), "0", "--tls", cert, key],
  },
  ...(hasBun
    ? [
      {
        name: "npm tcp-sixteen-server -q, TLS (Bun)",
        command: (flags: string[]) => [bun, npmBin("server"), "-q", "-p", "0", ...TLS, ...flags],
        baseline: BASELINE_BUN_TLS,
      },
      {
        name: BASELINE_BUN_TLS,
        command: () => [bun, here("baseline_bun.mjs"), "0", "--tls", cert, key],
      },
    ]
    : []),
);
for (const server of allServers) {
  if (server.name.includes(", TLS")) {
    Object.assign(server, { tls: true, noIdle: true });
  }
}

const only = values.only === undefined ? undefined : new RegExp(values.only);
const servers = allServers.filter((s) => !only || only.test(s.name));

function start(command: string[]): ChildProcess {
  return spawn(command[0], command.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
}

/** Resolves to the first stdout line matching `pattern`, or rejects after 10 s. */
function firstMatch(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in 10 s: ${text}`)), 10_000);
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      text += chunk;
      const match = text.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
  });
}

interface Summary {
  succeeded: number;
  failed: number;
  ratePerSecond: number;
  p50Us?: number;
  p99Us?: number;
  idleOpenMs?: number;
}

/** Runs a generator to its end (at most its duration plus 10 s, plus 2 ms
 * an idle connection to open: 10,000 open in 2 s when every SYN is
 * answered; one that hangs in its SYN retransmits must not eat the run's
 * three minutes) and parses the JSON object it prints last. */
function generate(command: string[], idleConnections = 0): Promise<Summary> {
  const child = start(command);
  let out = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => (out += chunk));
  const limit = Number(seconds) * 1000 + 10_000 + 2 * idleConnections;
  const timer = setTimeout(() => child.kill("SIGKILL"), limit);
  return new Promise((resolve, reject) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split("\n").at(-1)!));
      } catch {
        const status = signal ? `killed by ${signal}` : `exit status ${code}`;
        reject(new Error(`${command.join(" ")} printed no summary (${status}): ${out}`));
      }
    })
  );
}

/** Where a server listens, as the C load generator takes it: `127.0.0.1`
 * and the port, or a socket's path and `-`. */
type Where = [string, string];
const loadgen = (where: Where, inFlight: string, holdIdle = 0) =>
  generate([cLoadgen, ...where, inFlight, seconds, String(holdIdle)], holdIdle);
/** The TLS rows' client: the project's load mode, on Bun (the fastest of
 * the three here), trusting the certificate. */
const tlsClient = hasBun
  ? [bun, npmBin("client")]
  : [deno, "run", "--allow-net", `--allow-read=${cert}`, here("../client.ts")];
async function tlsLoad([, port]: Where, inFlight: string): Promise<Summary> {
  const args = ["-p", port, "--tls-ca", cert, "--duration", seconds, "--concurrency", inFlight];
  const summary = await generate([...tlsClient, ...args, "--json", "--no-progress"]) as
    & Summary
    & { latencyMs: { p50: number; p99: number } | null };
  return {
    ...summary,
    p50Us: (summary.latencyMs?.p50 ?? NaN) * 1000,
    p99Us: (summary.latencyMs?.p99 ?? NaN) * 1000,
  };
}
/** The project's client in load mode on each runtime, as users run it. */
const clients: { name: string; command: string[] }[] = [
  { name: "client.ts (Deno)", command: [deno, "run", "--allow-net", here("../client.ts")] },
  { name: "npm tcp-sixteen-client (Node)", command: [node, npmBin("client")] },
  ...(hasBun ? [{ name: "npm tcp-sixteen-client (Bun)", command: [bun, npmBin("client")] }] : []),
];
const client = (command: string[], [, port]: Where) =>
  generate([
    ...command,
    "-p",
    port,
    "--duration",
    seconds,
    "--concurrency",
    concurrency,
    "--json",
    "--no-progress",
  ]);

/** The process's user + system CPU time so far, in µs. */
function cpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command (which may hold spaces): state is field 3,
  // utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 1e6 / clockTicks;
}

/** A `VmHWM`/`VmRSS` line of /proc/PID/status, in MB. */
function memoryMB(pid: number, field: "VmHWM" | "VmRSS"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(status.match(new RegExp(`^${field}:\\s*(\\d+) kB`, "m"))![1]) / 1024;
}

/** Starts a fresh server, runs `body` with where it listens and its pid,
 * kills it. */
async function withServer<T>(
  server: ServerSpec,
  flags: string[],
  body: (where: Where, pid: number) => Promise<T>,
): Promise<T> {
  const child = start(server.command(flags));
  try {
    const [, port, path] = await firstMatch(
      child,
      /Listening at (?:127\.0\.0\.1:(\d+)|(\/\S+))/,
    );
    return await body(path ? [path, "-"] : ["127.0.0.1", port], child.pid!);
  } finally {
    child.kill("SIGKILL");
  }
}

interface Round {
  rate1: number;
  p50: number;
  p99at1: number;
  rate: number;
  p99: number;
  cpu: number;
  rss: number;
  failed: number;
}

/** One round on a fresh server: one at a time, then `concurrency` at a time
 * (timed for CPU). */
function round(server: ServerSpec): Promise<Round> {
  const drive = server.tls ? tlsLoad : loadgen;
  return withServer(server, [], async (where, pid) => {
    const single = await drive(where, "1");
    const before = cpuUs(pid);
    const many = await drive(where, concurrency);
    const cpu = (cpuUs(pid) - before) / many.succeeded;
    const rss = memoryMB(pid, "VmHWM");
    return {
      rate1: single.ratePerSecond,
      p50: single.p50Us!,
      p99at1: single.p99Us!,
      rate: many.ratePerSecond,
      p99: many.p99Us!,
      cpu,
      rss,
      failed: single.failed + many.failed,
    };
  });
}

/** One round of the load modes on a fresh C server: the C generator, then
 * each runtime's client; exchanges/s of each, and the failures. */
function clientRound(): Promise<{ rates: number[]; failed: number }> {
  return withServer({ name: C_SERVER, command: () => [cServer, "0"] }, [], async (where) => {
    const runs = [await loadgen(where, concurrency)];
    for (const c of clients) runs.push(await client(c.command, where));
    return {
      rates: runs.map((r) => r.ratePerSecond),
      failed: runs.reduce((a, r) => a + r.failed, 0),
    };
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const n0 = (x: number) => Math.round(x).toLocaleString("en-US");
const n1 = (x: number) => x.toFixed(1);
/** `value (ratio)` when there is a baseline to compare with. */
const cell = (value: number, base: number | undefined, format: (x: number) => string) =>
  base === undefined ? format(value) : `${format(value)} (${(value / base).toFixed(2)}x)`;

const cpuModel = readFileSync("/proc/cpuinfo", "utf8")
  .match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown CPU";
const versions = `Deno ${Deno.version.deno}, Node ${
  execFileSync(node, ["--version"], { encoding: "utf8" }).trim()
}, ${hasBun ? `Bun ${execFileSync(bun, ["--version"], { encoding: "utf8" }).trim()}` : "no Bun"}`;
console.log(
  `${availableParallelism()} cores, ${cpuModel}, Linux ${release()}; ${versions}; C load ` +
    `generator (TLS rows: the project's load mode on ${hasBun ? "Bun" : "Deno"}); median of ` +
    `${rounds} rounds of ${seconds} s per cell, a fresh server each\n`,
);

/** Open descriptors of a process. */
const descriptors = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** The soak: each project server, fresh, until `total` exchanges have
 * succeeded; descriptors and memory before and after. */
async function soak(total: number): Promise<void> {
  console.log(
    `${n0(total)} exchanges, ${concurrency} in flight, against each project server; ` +
      "descriptors and RSS once started (after one exchange) and once the last exchange's " +
      "lingering close is over:\n",
  );
  console.log(
    "| server | exchanges | failed | seconds | descriptors before → after | RSS MB before → after | peak RSS MB |",
  );
  console.log("| --- | ---: | ---: | ---: | --- | --- | ---: |");
  const soaked = servers.filter((s) => s.baseline && !s.tls && !s.name.includes("--linger"));
  for (const server of soaked) {
    const line = await withServer(server, [], async (where, pid) => {
      await loadgen(where, "1"); // What the runtime opens once is open.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const [fd0, rss0] = [descriptors(pid), memoryMB(pid, "VmRSS")];
      let done = 0, failed = 0;
      const started = performance.now();
      while (done < total) {
        const s = await loadgen(where, concurrency);
        done += s.succeeded;
        failed += s.failed;
      }
      const elapsed = (performance.now() - started) / 1000;
      await new Promise((resolve) => setTimeout(resolve, 3000)); // Lingering closes end.
      return `| ${server.name} | ${n0(done)} | ${n0(failed)} | ${n1(elapsed)} | ` +
        `${fd0} → ${descriptors(pid)} | ${n1(rss0)} → ${n1(memoryMB(pid, "VmRSS"))} | ` +
        `${n1(memoryMB(pid, "VmHWM"))} |`;
    });
    console.log(line);
  }
}

try {
  if (values.soak !== undefined) {
    await soak(Number(values.soak));
    rmSync(build, { recursive: true, force: true });
    process.exit(0);
  }
  // The idle connections go first, on a machine without the TIME_WAIT
  // sockets of the table's hundred thousand exchanges: finding a free
  // ephemeral port among those slows every connect() to about 1 ms.
  const idleTable: string[] = [];
  if (idle > 0 && servers.some((s) => !s.noIdle)) {
    idleTable.push(
      `\n${n0(idle)} idle connections held open (the project's servers with ` +
        `--max-connections ${2 * idle} --timeout 120), then one good client, one exchange at ` +
        `a time for ${seconds} s:\n`,
    );
    idleTable.push(
      "| server | opening them, ms | good client p50 µs | p99 µs | server RSS MB after | peak RSS MB |",
    );
    idleTable.push("| --- | ---: | ---: | ---: | ---: | ---: |");
    const flags = ["--max-connections", String(2 * idle), "--timeout", "120"];
    for (const server of servers.filter((s) => !s.noIdle)) {
      // A row that fails says why, and the rest of the run goes on: with
      // tens of thousands of sockets in TIME_WAIT (earlier runs, other
      // jobs), each connect() hunts for a free port and opening 10,000
      // can take minutes.
      const line = await withServer(server, flags, async (where, pid) => {
        const s = await loadgen(where, "1", idle);
        const failed = s.failed ? ` (${s.failed} failed)` : "";
        return `| ${server.name}${failed} | ${n0(s.idleOpenMs!)} | ${n0(s.p50Us!)} | ` +
          `${n0(s.p99Us!)} | ${n1(memoryMB(pid, "VmRSS"))} | ${n1(memoryMB(pid, "VmHWM"))} |`;
      }).catch((err) => {
        const why = (err as Error).message.replace(/^.* printed /, "").split(":")[0];
        return `| ${server.name} | failed: ${why} | | | | |`;
      });
      idleTable.push(line);
    }
  }
  const results = new Map<string, Round[]>(servers.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    // Alternate the order, so no server always follows the same one's
    // TIME_WAIT sockets.
    const order = r % 2 ? [...servers].reverse() : servers;
    for (const server of order) results.get(server.name)!.push(await round(server));
  }
  const summary = new Map([...results].map(([name, rs]) => {
    const pick = (key: Exclude<keyof Round, "failed">) => median(rs.map((x) => x[key]));
    return [name, {
      rate1: pick("rate1"),
      p50: pick("p50"),
      p99at1: pick("p99at1"),
      rate: pick("rate"),
      p99: pick("p99"),
      cpu: pick("cpu"),
      rss: pick("rss"),
      failed: rs.reduce((a, x) => a + x.failed, 0),
      each: rs.map((x) => n0(x.rate)).join(", "),
    }];
  }));
  const c = concurrency;
  console.log(
    `| server | exchanges/s, c=1 | p50 µs, c=1 | p99 µs, c=1 | exchanges/s, c=${c} | each round |` +
      ` p99 µs, c=${c} | server CPU µs/exchange | peak RSS MB |`,
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const server of servers) {
    const s = summary.get(server.name)!;
    const b = server.baseline ? summary.get(server.baseline) : undefined;
    const failed = s.failed ? ` (${s.failed} failed)` : "";
    console.log(
      `| ${server.name}${failed} | ${cell(s.rate1, b?.rate1, n0)} | ${cell(s.p50, b?.p50, n0)} | ` +
        `${cell(s.p99at1, b?.p99at1, n0)} | ${cell(s.rate, b?.rate, n0)} | ${s.each} | ` +
        `${cell(s.p99, b?.p99, n0)} | ${cell(s.cpu, b?.cpu, n1)} | ${cell(s.rss, b?.rss, n1)} |`,
    );
  }

  console.log(idleTable.join("\n"));

  if (values.client) {
    const runs: { rates: number[]; failed: number }[] = [];
    for (let r = 0; r < rounds; r++) runs.push(await clientRound());
    const failed = runs.reduce((a, r) => a + r.failed, 0);
    console.log(
      `\nLoad mode against the C server, ${c} in flight, exchanges/s (median of ${rounds}; ` +
        `ratio to the C load generator)${failed ? `; ${failed} exchanges failed` : ""}:\n`,
    );
    console.log("| load generator | exchanges/s | each round |\n| --- | ---: | ---: |");
    const generators = ["C load generator (one thread, epoll)", ...clients.map((x) => x.name)];
    const rate = (i: number) => median(runs.map((r) => r.rates[i]));
    generators.forEach((name, i) =>
      console.log(
        `| ${name} | ${cell(rate(i), i ? rate(0) : undefined, n0)} | ` +
          `${runs.map((r) => n0(r.rates[i])).join(", ")} |`,
      )
    );
  }
} finally {
  rmSync(build, { recursive: true, force: true });
}
