// `deno task compile`: standalone binaries of the two programs. Building
// them needs denort (DENORT_BIN), which these machines cannot download.
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Program, runCommand } from "./helpers.ts";

const onDeno = "Deno" in globalThis;
const ROOT = new URL("..", import.meta.url).pathname;
const task = (args: string[] = []) => [process.execPath, "task", "compile", ...args];

test("deno task compile without DENORT_BIN stops at once with one line", {
  skip: !onDeno && "deno compile: Deno only",
}, async () => {
  const run = await runCommand(task(), [], { env: { DENORT_BIN: undefined }, cwd: ROOT });
  assert.equal(run.code, 1);
  assert.deepEqual(run.stdout, []);
  const lines = run.stderr.filter((line) => !line.startsWith("Task compile "));
  assert.equal(lines.length, 1, run.stderr.join("\n"));
  assert.match(lines[0], /^compile: DENORT_BIN is not set — .* pass --download /);
});

const skipBinaries = !onDeno ? "deno compile: Deno only" : !process.env.DENORT_BIN &&
  "DENORT_BIN is not set: deno compile needs a local denort, and cannot download one here";
// deno test shows a skipped node:test test as "ignored", without the reason.
if (onDeno && skipBinaries) console.log(`compile_test: binaries not tested: ${skipBinaries}`);

test("deno task compile builds binaries that do the exchange", {
  skip: skipBinaries,
}, async () => {
  const build = await runCommand(task(), [], { cwd: ROOT }, 120_000);
  assert.equal(build.code, 0, build.stderr.join("\n"));
  const bin = (program: string) => [`${ROOT}dist/tcp-sixteen-${program}`];
  const server = new Program(bin("server"), ["-p", "0"]);
  try {
    const [, port] = await server.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/);
    const client = await runCommand(bin("client"), ["-p", port]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.equal(client.stdout[1], "The server said 'Farewell, client'");
    await server.waitForLine(/^Reply sent, socket closed$/);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
