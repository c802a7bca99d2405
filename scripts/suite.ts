// The whole suite, as `npm test` runs it: on Deno (the sources), and, once
// the npm package is built, on Node and on Bun (the package), the three at
// once. Each runtime's output is kept; what a person sees is one line per
// runtime, and the failures of a runtime that failed. `repeat.ts` runs it
// many times.
// Run it: npm test (or deno run -A scripts/suite.ts).

const ROOT = new URL("..", import.meta.url).pathname;
const decoder = new TextDecoder();
const env = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };

/** The longest one runtime's run may take (the suite takes about 90 s). A
 * test stuck in a loop that never yields cannot be stopped by its runner's
 * own timeouts: it must fail the run, not hold CI until CI's limit. */
const LIMIT_SECONDS = 600;
/** The runs going on, by process group: each run is a group of its own (the
 * runners start processes of their own), ended whole. */
const running = new Set<number>();
const end = (group: number) => {
  try {
    Deno.kill(-group, "SIGKILL");
  } catch {
    // Already gone.
  }
};
// In their own groups the runs no longer get the terminal's Ctrl-C: pass it
// on.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    running.forEach(end);
    Deno.exit(130);
  });
}

interface Outcome {
  code: number;
  output: string;
  seconds: number;
}

/** Runs a command to its end, or for LIMIT_SECONDS, its stdout and stderr
 * kept together. */
async function run(command: string, args: string[], cwd = ROOT): Promise<Outcome> {
  const started = performance.now();
  const child = new Deno.Command(command, {
    args,
    cwd,
    env,
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  running.add(child.pid);
  let output = "";
  const limit = setTimeout(() => {
    output += `\nsuite: stopped after ${LIMIT_SECONDS} s: a test hung\n`;
    end(child.pid);
  }, LIMIT_SECONDS * 1000);
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  const [{ code }] = await Promise.all([
    child.status,
    collect(child.stdout),
    collect(child.stderr),
  ]);
  clearTimeout(limit);
  running.delete(child.pid);
  return { code, output, seconds: (performance.now() - started) / 1000 };
}

/** The counts a runner printed at its end, the part of its output that
 * tells what failed, and the names of the tests that failed. */
interface Report {
  passed: number;
  failed: number;
  skipped: number;
  failures: string;
  names: string[];
}

/** The names in `text` that `line` (its first group) matches, each once. */
const names = (
  text: string,
  line: RegExp,
) => [...new Set([...text.matchAll(line)].map((m) => m[1]))];

function denoReport(output: string): Report {
  const [, passed, failed, skipped] =
    output.match(/(?:ok|FAILED) \| (\d+) passed \| (\d+) failed(?: \| (\d+) ignored)?/) ?? [];
  const errors = output.indexOf(" ERRORS ");
  const failures = output.indexOf(" FAILURES ");
  return {
    passed: Number(passed ?? 0),
    failed: Number(failed ?? 0),
    skipped: Number(skipped ?? 0),
    failures: errors >= 0 ? output.slice(errors) : "",
    names: failures >= 0 ? names(output.slice(failures), /^(.+) => \S+:\d+:\d+$/gm) : [],
  };
}

function nodeReport(output: string): Report {
  const count = (name: string) =>
    Number(output.match(new RegExp(`^ℹ ${name} (\\d+)$`, "m"))?.[1] ?? 0);
  const failing = output.indexOf("✖ failing tests:");
  const failures = failing >= 0 ? output.slice(failing) : "";
  return {
    passed: count("pass"),
    failed: count("fail"),
    skipped: count("skipped"),
    failures,
    names: names(failures, /^✖ (.+) \([\d.]+ms\)$/gm),
  };
}

function bunReport(output: string): Report {
  const count = (name: string) =>
    Number(output.match(new RegExp(`^ *(\\d+) ${name}$`, "m"))?.[1] ?? 0);
  // Bun prints each failure's error just above its "(fail)" line.
  const failures = output.split("\n").filter((line) => !line.startsWith("(pass)")).join("\n");
  return {
    passed: count("pass"),
    failed: count("fail"),
    skipped: count("skip"),
    failures: count("fail") > 0 ? failures : "",
    names: names(output, /^\(fail\) (.+?)(?: \[[\d.]+m?s\])?$/gm),
  };
}

/** Prints a runtime's line, and what failed if anything did; returns the
 * failed tests as `runtime: name`. */
function tell(name: string, outcome: Outcome, report: Report): string[] {
  const ok = outcome.code === 0 && report.failed === 0 && report.passed > 0;
  const counts = `${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped`;
  console.log(
    `${ok ? "ok  " : "FAIL"} ${name.padEnd(5)} ${counts.padEnd(40)} ${
      outcome.seconds.toFixed(1).padStart(5)
    } s`,
  );
  if (ok) return [];
  console.log(report.failures || outcome.output);
  const failed = report.names.map((test) => `${name}: ${test}`);
  return failed.length > 0
    ? failed
    : [`${name}: the run (exit code ${outcome.code}, no test named)`];
}

/**
 * Runs the suite once: Deno, the npm build, then Node and Bun.
 *
 * @returns The tests that failed, as `runtime: name`: none if all passed.
 */
export async function suite(): Promise<string[]> {
  const deno = Deno.execPath();
  const started = performance.now();
  const onDeno = run(deno, [
    "test",
    "--allow-net",
    "--allow-run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--doc",
    "--parallel",
  ]).then((outcome) => tell("deno", outcome, denoReport(outcome.output)));

  const build = await run(deno, [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-run",
    "scripts/build_npm.ts",
  ]);
  const built = build.code === 0;
  if (!built) console.log(`FAIL build:npm\n${build.output}`);
  const onNode = built
    ? run("node", [
      "--test",
      "--test-concurrency=3",
      "--test-timeout=120000",
      "--test-reporter=spec",
      ...[...Deno.readDirSync(`${ROOT}npm/test`)]
        .filter((entry) => entry.name.endsWith("_test.js"))
        .map((entry) => `npm/test/${entry.name}`),
    ]).then((outcome) => tell("node", outcome, nodeReport(outcome.output)))
    : [];
  const onBun = built
    ? run(
      `${ROOT}node_modules/bun/bin/bun.exe`,
      ["test", "--timeout", "120000", "./test/"],
      `${ROOT}npm`,
    )
      .then((outcome) => tell("bun", outcome, bunReport(outcome.output)))
    : [];

  const failed = [
    ...built ? [] : ["build:npm"],
    ...(await Promise.all([onDeno, onNode, onBun])).flat(),
  ];
  console.log(
    `${failed.length === 0 ? "all passed" : "FAILED"} in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
  return failed;
}

if (import.meta.main) Deno.exit((await suite()).length === 0 ? 0 : 1);
