// `deno task compile`: standalone binaries of the two programs, built here
// with `bun build --compile` (deno compile needs a denort, which these
// machines cannot download), and run end to end. The task builds from the
// sources, not npm/, so this runs while npm test builds the package. The binaries are about
// 110 MB each: they are built once, into a temporary folder, and every
// check runs on that build, at the same time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { VERSION } from "../mod.ts";
import {
  closedPort,
  endProgramsAfterEach,
  hasNetns,
  isolated,
  onDeno,
  Program,
  runCommand,
} from "./helpers.ts";

endProgramsAfterEach();

const ROOT = new URL("..", import.meta.url).pathname;
const skip = !onDeno && "deno task compile: run once, on Deno";
const task = (args: string[]) => [process.execPath, "task", "compile", ...args];
/** stderr without deno task's own "Task compile ..." line. */
const errors = (stderr: string[]) => stderr.filter((line) => !line.startsWith("Task compile "));

/** Runs the task (`command`) to a failure: exit 1, nothing on stdout, one
 * line on stderr, which it resolves to. */
async function failure(
  command: string[],
  env: Record<string, string | undefined>,
): Promise<string> {
  const run = await runCommand(command, [], { env, cwd: ROOT }, 120_000);
  assert.equal(run.code, 1, run.stderr.join("\n"));
  assert.deepEqual(run.stdout, []);
  const lines = errors(run.stderr);
  assert.equal(lines.length, 1, run.stderr.join("\n"));
  return lines[0];
}

test(
  "deno task compile with a DENORT_BIN that is not a denort, or an unknown option, stops with one line",
  {
    skip,
  },
  async () => {
    const out = mkdtempSync(join(tmpdir(), "tcp-sixteen-compile-"));
    try {
      // The deno binary itself: deno compile accepts it, and writes binaries
      // that behave as the Deno CLI.
      assert.match(
        await failure(task(["--out", out]), { DENORT_BIN: process.execPath }),
        /^compile: DENORT_BIN=\S+ is not a denort of Deno [\d.]+: the (server|client) built with it is not ours \(its --version printed 'deno [\d.]+ .*\) — set DENORT_BIN to denort, or unset it to build with Bun$/,
      );
      assert.deepEqual(readdirSync(out), []);

      assert.equal(
        await failure(task(["--out", out]), { DENORT_BIN: join(out, "denort") }),
        `compile: DENORT_BIN=${join(out, "denort")} is not a file — set it to a denort binary of ` +
          `Deno ${process.versions.deno}, or unset it to build with Bun`,
      );
      assert.deepEqual(readdirSync(out), []);

      const usage = await runCommand(task(["--out", out, "--bogus"]), [], { cwd: ROOT });
      assert.equal(usage.code, 2);
      assert.deepEqual(errors(usage.stderr), [
        "compile: Unknown option '--bogus' (usage: deno task compile [--download] [--out DIR])",
      ]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);

test("deno task compile --download offline stops with one line: the download needs the internet", {
  skip: skip || (!hasNetns && "needs unshare -rn: the download must not leave the machine"),
}, async () => {
  // In a network namespace of its own: offline, and nothing sent leaves it.
  // A Deno cache of its own, so that no denort downloaded before is used.
  const out = mkdtempSync(join(tmpdir(), "tcp-sixteen-compile-"));
  try {
    const line = await failure(isolated(task(["--download", "--out", join(out, "dist")])), {
      DENORT_BIN: undefined,
      DENO_DIR: join(out, "deno"),
    });
    assert.match(
      line,
      /^compile: --download needs the internet: could not download denort from https:\/\/\S+ \(.+\) — offline, leave out --download to build with Bun, or set DENORT_BIN to a local denort$/,
    );
    assert.deepEqual(readdirSync(out).filter((name) => name !== "deno"), [], "nothing built");
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test(
  "deno task compile builds binaries that run here: exchange, --help, usage error, refused, SIGTERM",
  {
    skip,
  },
  async () => {
    const out = mkdtempSync(join(tmpdir(), "tcp-sixteen-compile-"));
    try {
      const build = await runCommand(task(["--out", out]), [], {
        env: { DENORT_BIN: undefined },
        cwd: ROOT,
      }, 180_000);
      assert.equal(build.code, 0, build.stderr.join("\n"));
      assert.match(
        build.stdout.at(-1)!,
        /^compile: wrote \S+\/tcp-sixteen-server and \S+\/tcp-sixteen-client with bun build --compile \(\d+ MB each\)$/,
      );
      assert.deepEqual(readdirSync(out).sort(), ["tcp-sixteen-client", "tcp-sixteen-server"]);
      const bin = (program: string) => [join(out, `tcp-sixteen-${program}`)];

      const refusing = await closedPort();
      const exchange = async () => {
        const server = new Program(bin("server"), ["-p", "0"]);
        try {
          const [, port] = await server.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/);
          const client = await runCommand(bin("client"), ["-p", port]);
          assert.equal(client.code, 0, client.stderr.join("\n"));
          assert.match(client.stdout[0], /^Client has been assigned socket name 127\.0\.0\.1:\d+$/);
          assert.equal(client.stdout[1], "The server said 'Farewell, client'");
          await server.waitForLine(/^Reply sent, socket closed$/);
        } finally {
          assert.equal(await server.stop("SIGTERM"), 0, server.stderr.join("\n"));
        }
        assert.equal(server.stdout.at(-1), "Stopped: 1 served, 0 failed, 0 timed out");
      };
      const help = async () => {
        for (const program of ["server", "client"]) {
          const run = await runCommand(bin(program), ["--help"]);
          assert.equal(run.code, 0, run.stderr.join("\n"));
          // By the name it was invoked with: the binary's.
          assert(
            run.stdout.some((line) => line.includes(`usage: tcp-sixteen-${program} `)),
            run.stdout.join("\n"),
          );
          const version = await runCommand(bin(program), ["--version"]);
          assert.equal(version.code, 0);
          assert.match(
            version.stdout[0],
            new RegExp(`^tcp-sixteen ${VERSION.replaceAll(".", "\\.")} \\(Bun [\\d.]+\\)$`),
          );
        }
      };
      const usage = async () => {
        for (const program of ["server", "client"]) {
          const run = await runCommand(bin(program), ["--no-such-flag"]);
          assert.equal(run.code, 2, `${program}: ${run.stderr.join("\n")}`);
          assert.deepEqual(run.stdout, []);
          assert.match(run.stderr[0], /--no-such-flag/);
        }
      };
      const refused = async () => {
        const run = await runCommand(bin("client"), ["-p", String(refusing)]);
        assert.equal(run.code, 1);
        assert.deepEqual(run.stdout, []);
        assert.deepEqual(run.stderr, [
          `client: cannot connect to 127.0.0.1:${refusing}: connection refused — ` +
          "is the server running?",
        ]);
      };
      await Promise.all([exchange(), help(), usage(), refused()]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);
