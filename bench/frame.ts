/**
 * Framing benchmark: how many lines (and length-prefixed frames) a reader
 * takes from a socket, each reader against the same Python sender on
 * loopback, one at a time, in one run, with ratios:
 *
 * - the sender (`frame_peers.py send`) writes 32-byte lines, or 64-byte
 *   frames after a 4-byte big-endian length, in 128 KiB chunks for
 *   `--seconds` (2) per reader, then closes;
 * - the readers: Python asyncio's `readline` (and `readexactly` for
 *   frames), Node's `node:readline` over a `net.Socket` (its `'line'`
 *   events, the ratios' baseline, and `for await` over it), Go's
 *   `bufio.Scanner` (and `bufio.Reader` + `io.ReadFull`) where `go` is
 *   installed, and `FrameReader` on Deno (over `Deno.Conn`), Node and Bun
 *   (the npm package, over its `Conn` and over a `net.Socket`), each also
 *   with a copy of every message (`slice()`), as a reader returning a fresh
 *   array per message would;
 * - then, in memory on each runtime, what one new 64 KiB buffer costs (the
 *   buffer `FrameReader` takes when one is used up, once per 2,048 lines:
 *   all that a view valid only until the next read, Go's `ReadSlice`, would
 *   save), and how many awaits of a resolved promise a loop makes in a
 *   second: the most a reader resolving a promise per message can do.
 *
 * It prints one Markdown table (messages/s, × asyncio, × node:readline, ×
 * Go) and the targets, met or not. The npm package (npm/) is built first if
 * it is missing.
 *
 * Run it: `npm run deno -- run -A bench/frame.ts [--seconds S] [--only
 * REGEXP]` (about a minute; part of `deno task bench`).
 *
 * @module
 */

import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback;
};
const seconds = Number(flag("--seconds", "2"));
const only = new RegExp(flag("--only", ""));
if (!(seconds > 0 && seconds <= 60)) {
  console.error("bench: --seconds takes a number from 0 to 60");
  process.exit(2);
}

const here = (path: string) => new URL(path, import.meta.url).pathname;
const deno = process.execPath;
const bun = here("../node_modules/bun/bin/bun.exe");
const consumer = here("frame_consumer.mjs");
if (!existsSync(here("../npm/esm/mod.js"))) {
  console.error("bench: npm/ is missing: building it (deno task build:npm)");
  execFileSync(deno, ["task", "build:npm"], { stdio: "inherit" });
}

/** Go's reader, compiled into a temporary folder, if Go is installed. */
const goDir = mkdtempSync(join(tmpdir(), "frame-bench-"));
const goScan = (() => {
  const built = spawnSync("go", [
    "build",
    "-o",
    join(goDir, "frame_scan"),
    here("go/frame_scan.go"),
  ], {
    encoding: "utf8",
    env: { ...process.env, GOCACHE: join(goDir, "cache"), GOFLAGS: "-mod=mod" },
    timeout: 120_000,
  });
  return built.status === 0 ? join(goDir, "frame_scan") : undefined;
})();

type Mode = "lines" | "frames";
interface Row {
  name: string;
  mode: Mode;
  command: (port: number) => string[];
}

/** How each runtime runs a script, and where it finds the library. */
const RUNTIMES = {
  Deno: { run: [deno, "run", "-A"], module: "../mod.ts" },
  Node: { run: ["node"], module: "../npm/esm/mod.js" },
  Bun: { run: [bun], module: "../npm/esm/mod.js" },
};
type Runtime = keyof typeof RUNTIMES;

/** FrameReader on `runtime`, reading `what` (with a copy of each message)
 * from the library's Conn or a net.Socket. */
function ours(runtime: Runtime, what: Mode, copy: boolean, source: "conn" | "socket"): Row {
  const method = what === "lines" ? "readLine" : "readFrame";
  const from = source === "socket" ? "net.Socket" : runtime === "Deno" ? "Deno.Conn" : "Conn";
  const mode = copy ? `${what}-copy` : what;
  return {
    name: `FrameReader.${method}${copy ? " + slice()" : ""}, ${from} (${runtime})`,
    mode: what,
    command: (port) => [
      ...RUNTIMES[runtime].run,
      consumer,
      RUNTIMES[runtime].module,
      mode,
      source,
      String(port),
    ],
  };
}

const python = (mode: Mode) => (port: number) => [
  "python3",
  here("frame_peers.py"),
  "asyncio",
  mode,
  String(port),
];
const nodeReadline = (how: string) => (port: number) => [
  "node",
  here("frame_readline.mjs"),
  how,
  String(port),
];
const go = (mode: Mode) => (port: number) => [goScan!, mode, String(port)];

const ROWS: Row[] = [
  { name: "asyncio readline (Python)", mode: "lines", command: python("lines") },
  {
    name: "node:readline over net.Socket (Node)",
    mode: "lines",
    command: nodeReadline("events"),
  },
  { name: "node:readline, for await (Node)", mode: "lines", command: nodeReadline("for-await") },
  ...(goScan ? [{ name: "bufio.Scanner (Go)", mode: "lines" as const, command: go("lines") }] : []),
  ours("Deno", "lines", false, "conn"),
  ours("Deno", "lines", true, "conn"),
  ours("Node", "lines", false, "conn"),
  ours("Node", "lines", false, "socket"),
  ours("Node", "lines", true, "socket"),
  ours("Bun", "lines", false, "conn"),
  ours("Bun", "lines", false, "socket"),
  ours("Bun", "lines", true, "conn"),
  { name: "asyncio readexactly (Python)", mode: "frames", command: python("frames") },
  ...(goScan
    ? [{ name: "bufio.Reader + io.ReadFull (Go)", mode: "frames" as const, command: go("frames") }]
    : []),
  ours("Deno", "frames", false, "conn"),
  ours("Deno", "frames", true, "conn"),
  ours("Node", "frames", false, "conn"),
  ours("Bun", "frames", false, "conn"),
];

/** Runs a reader to the end (bounded); its messages per second. */
function measure(command: string[]): number {
  const ran = spawnSync(command[0], command.slice(1), {
    encoding: "utf8",
    cwd: here("."),
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    timeout: (seconds * 10 + 30) * 1000,
  });
  const line = ran.stdout?.split("\n").find((l) => l.startsWith("{"));
  if (ran.status !== 0 || !line) {
    throw new Error(`${command.join(" ")}: exit ${ran.status ?? ran.signal}\n${ran.stderr}`);
  }
  const { messages, seconds: took } = JSON.parse(line);
  return messages / took;
}

/** Starts the sender for `mode`; its port, and how to stop it. */
async function sender(mode: Mode): Promise<{ port: number; stop(): void }> {
  const child = spawn("python3", ["-u", here("frame_peers.py"), "send", mode, String(seconds)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("the sender did not start in 10 s")), 10_000);
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      const match = out.match(/Listening at 127\.0\.0\.1:(\d+)/);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.on("exit", (code) => reject(new Error(`the sender exited ${code}`)));
  });
  return { port, stop: () => child.kill("SIGKILL") };
}

const rates = new Map<string, number>();
try {
  for (const mode of ["lines", "frames"] as const) {
    const rows = ROWS.filter((row) => row.mode === mode && only.test(row.name));
    if (rows.length === 0) continue;
    const send = await sender(mode);
    try {
      for (const row of rows) {
        rates.set(row.name, measure(row.command(send.port)));
        console.error(`${row.name}: ${(rates.get(row.name)! / 1e6).toFixed(2)} M/s`);
      }
    } finally {
      send.stop();
    }
  }
  const inMemory: [string, number, number][] = [];
  for (const [runtime, { run, module }] of Object.entries(RUNTIMES)) {
    if (only.test(`in memory ${runtime}`)) {
      const alloc = 1e9 / measure([...run, consumer, module, "alloc"]);
      inMemory.push([runtime, alloc, measure([...run, consumer, module, "await"])]);
    }
  }
  report(inMemory);
} finally {
  rmSync(goDir, { recursive: true, force: true });
}

function report(inMemory: [string, number, number][]): void {
  const asyncio = (mode: Mode) =>
    rates.get(mode === "lines" ? "asyncio readline (Python)" : "asyncio readexactly (Python)");
  const readline = rates.get("node:readline over net.Socket (Node)");
  const go = (mode: Mode) =>
    rates.get(mode === "lines" ? "bufio.Scanner (Go)" : "bufio.Reader + io.ReadFull (Go)");
  const ratio = (a: number | undefined, b: number | undefined) =>
    a && b ? `${(a / b).toFixed(2)}x` : "";
  const date = new Date().toISOString().slice(0, 10);
  console.log(
    `\nFraming, ${date}, ${availableParallelism()} cores, loopback, one run of ${seconds} s a row ` +
      `(npm run deno -- run -A bench/frame.ts)${goScan ? "" : "; no Go installed: no Go rows"}\n`,
  );
  console.log("| reader | M messages/s | × asyncio | × node:readline | × Go |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (const row of ROWS) {
    const rate = rates.get(row.name);
    if (rate === undefined) continue;
    console.log(
      `| ${row.name} | ${(rate / 1e6).toFixed(2)} | ` +
        `${ratio(rate, asyncio(row.mode))} | ${
          row.mode === "lines" ? ratio(rate, readline) : ""
        } | ` +
        `${ratio(rate, go(row.mode))} |`,
    );
  }
  if (inMemory.length > 0) {
    console.log("\nIn memory, on each runtime:\n");
    console.log("| runtime | one new 64 KiB buffer | per line (1 in 2,048) | a bare await loop |");
    console.log("| --- | ---: | ---: | ---: |");
    for (const [runtime, ns, awaits] of inMemory) {
      console.log(
        `| ${runtime} | ${(ns / 1000).toFixed(1)} µs | ${(ns / 2048).toFixed(1)} ns | ` +
          `${(awaits / 1e6).toFixed(2)} M/s |`,
      );
    }
  }
  const target = (
    name: string,
    rate: number | undefined,
    base: number | undefined,
    want: number,
    unit = "x",
  ) => {
    if (rate === undefined || base === undefined) return;
    const got = unit === "x" ? rate / base : rate / 1e6;
    console.log(
      `- ${name}: ${got.toFixed(2)}${unit === "x" ? "x" : " M/s"} (target ≥ ${want}${
        unit === "x" ? "x" : " M/s"
      }): ${got >= want ? "met" : "NOT met"}`,
    );
  };
  console.log("\nTargets:");
  const best = (runtime: string) =>
    Math.max(
      ...ROWS.filter((r) =>
        r.name.startsWith("FrameReader.readLine,") && r.name.endsWith(`(${runtime})`)
      ).map((r) => rates.get(r.name) ?? 0),
    ) || undefined;
  for (const runtime of ["Deno", "Node", "Bun"]) {
    target(`readLine on ${runtime} vs asyncio`, best(runtime), asyncio("lines"), 3);
  }
  target("readLine on Node vs node:readline", best("Node"), readline, 1.5);
  target("readFrame on Deno", rates.get("FrameReader.readFrame, Deno.Conn (Deno)"), 1, 2, "M");
}
