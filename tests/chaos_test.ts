// A seeded storm of hostile and careless peers (tests/fixtures/peers.py
// chaos) against one server process with a small cap and a short deadline:
// the server must stay up, answer every peer that plays by the rules with
// exactly `Farewell, client`, and end the storm holding what it held
// before. Replay a failure with CHAOS_SEED=<the seed it printed>.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import {
  endProgramsAfterEach,
  exchange,
  peers,
  Program,
  programCommand,
  until,
} from "./helpers.ts";

endProgramsAfterEach();

const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 1e9));

/** The server process's open descriptors, where /proc tells them (read
 * with `ls`: Deno lets only --allow-all read /proc). */
function descriptors(pid: number): number | undefined {
  const ls = spawnSync("ls", [`/proc/${pid}/fd`], { encoding: "utf8" });
  return ls.status === 0 ? ls.stdout.split("\n").filter(Boolean).length : undefined;
}

test(`server survives a seeded storm of 3,000 hostile peers (CHAOS_SEED=${seed})`, {
  timeout: 60_000,
}, async (t) => {
  const server = new Program(programCommand("server"), [
    "-p",
    "0",
    "--log",
    "json",
    "--max-connections",
    "16",
    "--timeout",
    "0.5",
    "--linger",
    "0.5",
  ]);
  const replay = `replay with CHAOS_SEED=${seed}`;
  try {
    const listening = await server.waitForLine(/"event":"listening"/);
    const port = Number(JSON.parse(listening.input!).addr.split(":")[1]);
    const pid = server.child.pid!;
    // One exchange first, so that what the runtime opens once is open.
    assert.equal(await exchange(port), "Farewell, client");
    await server.waitForLine(/"event":"replied"/);
    let before = descriptors(pid);
    if (before !== undefined) {
      // Until the warm-up's lingering close has ended.
      await until(() => {
        const now = descriptors(pid)!;
        const settled = now === before;
        before = now;
        return settled;
      }, "the descriptor count to settle");
    } else t.diagnostic("no /proc here: the descriptor count is not checked");

    const [line] = await peers(["chaos", String(port), String(seed), "3000", "64", "20"], 60_000);
    const storm = JSON.parse(line);
    assert.deepEqual(storm.bad, [], `peers that played by the rules were let down; ${replay}`);
    assert.equal(storm.peers, 3000, `not every peer ran in time; ${replay}`);
    assert.equal(server.child.exitCode, null, `the server exited during the storm; ${replay}`);

    assert.equal(await exchange(port), "Farewell, client", `served after the storm; ${replay}`);
    if (before !== undefined) {
      // Lingering closes of peers that never close end within 0.5 s.
      await until(
        () => descriptors(pid)! <= before!,
        () => `descriptors to return to ${before}, not ${descriptors(pid)}; ${replay}`,
        8000,
      );
      assert.equal(descriptors(pid), before, replay);
    }
    assert.equal(await server.stop(), 0, replay);
  } finally {
    await server.stop("SIGKILL");
  }
  assert.deepEqual(server.stderr, [], `no stack trace, no unhandled rejection; ${replay}`);
  const events = server.stdout.map((line) => {
    try {
      return JSON.parse(line);
    } catch {
      assert.fail(`a log line that is not JSON: ${line}; ${replay}`);
    }
  });
  if (descriptors(process.pid) !== undefined) {
    // Once the descriptors have settled, nothing is open (our last
    // exchange's lingering close included).
    const shutdown = events.find((e) => e.event === "shutdown");
    assert.equal(shutdown?.open, 0, `connections still open after the storm; ${replay}`);
  }
  const stopped = events.at(-1);
  assert.equal(stopped.event, "stopped");
  assert.equal(
    stopped.served + stopped.failed + stopped.timedOut + stopped.skipped,
    3002,
    `every connection counted once, the two exchanges of ours included; ${replay}`,
  );
});
