/**
 * End-to-end load benchmark: for each server (the project's, a minimal
 * Deno.listen baseline, a compiled C one) and each load generator (the
 * project's client in load mode, a compiled C one), start the server on a
 * free port, run the generator for a few seconds, and print exchanges/s as
 * a Markdown table. Each pair runs `rounds` times, the generators taking
 * turns to go first, on a fresh server each time. The C programs are compiled with gcc into a temporary
 * folder each time; nothing built is kept.
 *
 * Run it: `npm run deno -- run -A bench/load.ts [--seconds S] [--concurrency C]
 * [--rounds N]` (defaults 3, 32 and 2: about 40 s in all).
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seconds: { type: "string", default: "3" },
    concurrency: { type: "string", default: "32" },
    rounds: { type: "string", default: "2" },
  },
});
const seconds = String(Number(values.seconds));
const concurrency = String(Number(values.concurrency));
const rounds = Number(values.rounds);
if (!(Number(seconds) > 0 && Number(concurrency) >= 1 && rounds >= 1)) {
  console.error("bench: --seconds, --concurrency and --rounds take numbers above 0");
  process.exit(2);
}
const here = (path: string) => new URL(path, import.meta.url).pathname;
const deno = process.execPath;
const build = mkdtempSync(join(tmpdir(), "tcp-sixteen-bench-"));
const gcc = (name: string) => {
  const out = join(build, name);
  execFileSync("gcc", ["-O2", "-o", out, here(`c/${name}.c`)]);
  return out;
};
const cServer = gcc("server");
const cLoadgen = gcc("loadgen");

/** A program that prints `Listening at HOST:PORT` first. */
const servers: { name: string; command: string[] }[] = [
  {
    name: "tcp-sixteen server.ts -q",
    command: [deno, "run", "--allow-net", here("../server.ts"), "-q", "-p", "0"],
  },
  {
    name: "baseline_deno.ts (Deno.listen)",
    command: [deno, "run", "--allow-net", here("baseline_deno.ts"), "0"],
  },
  { name: "C epoll server", command: [cServer, "0"] },
];

/** A program that runs for `seconds` and prints one JSON object last. */
const generators: { name: string; command: (port: string) => string[] }[] = [
  {
    name: "tcp-sixteen client.ts",
    command: (port) => [
      deno,
      "run",
      "--allow-net",
      here("../client.ts"),
      "-p",
      port,
      "--duration",
      seconds,
      "--concurrency",
      concurrency,
      "--json",
      "--no-progress",
    ],
  },
  {
    name: "C epoll loadgen",
    command: (port) => [cLoadgen, "127.0.0.1", port, concurrency, seconds],
  },
];

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

/** Runs a generator to its end (at most its duration plus 20 s). */
function measure(command: string[]): Promise<{ ratePerSecond: number; failed: number }> {
  const child = start(command);
  let out = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => (out += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), Number(seconds) * 1000 + 20_000);
  return new Promise((resolve, reject) =>
    child.on("close", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split("\n").at(-1)!));
      } catch {
        reject(new Error(`${command.join(" ")} printed no summary: ${out}`));
      }
    })
  );
}

/** Starts `server`, runs `generator` against it, stops the server. */
async function run(
  server: (typeof servers)[number],
  generator: (typeof generators)[number],
): Promise<{ ratePerSecond: number; failed: number }> {
  const child = start(server.command);
  try {
    const [, port] = await firstMatch(child, /Listening at 127\.0\.0\.1:(\d+)/);
    return await measure(generator.command(port));
  } finally {
    child.kill("SIGKILL");
  }
}

const cpu = readFileSync("/proc/cpuinfo", "utf8")
  .match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown CPU";
console.log(
  `${availableParallelism()} cores, ${cpu}; ${rounds} rounds of ${seconds} s, ` +
    `concurrency ${concurrency}\n`,
);
console.log("| server | load generator | exchanges/s, each round | mean | vs C loadgen |");
console.log("| --- | --- | --- | ---: | ---: |");
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
try {
  for (const server of servers) {
    const rates: number[][] = generators.map(() => []);
    const failed: number[] = generators.map(() => 0);
    // Alternate which generator goes first, so neither always meets the
    // other's TIME_WAIT sockets.
    for (let round = 0; round < rounds; round++) {
      const order = generators.map((_, i) => round % 2 ? generators.length - 1 - i : i);
      for (const i of order) {
        const result = await run(server, generators[i]);
        rates[i].push(result.ratePerSecond);
        failed[i] += result.failed;
      }
    }
    const c = mean(rates[generators.length - 1]);
    generators.forEach((generator, i) => {
      const each = rates[i].map(Math.round).join(", ");
      const errors = failed[i] ? ` (${failed[i]} failed)` : "";
      console.log(
        `| ${server.name} | ${generator.name}${errors} | ${each} | ${
          Math.round(mean(rates[i]))
        } | ` +
          `${(mean(rates[i]) / c).toFixed(2)}x |`,
      );
    });
  }
} finally {
  rmSync(build, { recursive: true, force: true });
}
