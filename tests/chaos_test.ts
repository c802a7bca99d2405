// A seeded storm of hostile and careless peers (tests/fixtures/peers.py
// chaos) against one server process with a small cap and a short deadline:
// the server must stay up, answer every peer that plays by the rules with
// exactly `Farewell, client`, and end the storm holding what it held
// before. Then the same over TLS, with TLS peers (tests/fixtures/
// tls_peers.py chaos: plain text, handshakes cut, reset or never finished,
// health checks) and certificates the test makes (tests/certs.ts). Replay a
// failure with CHAOS_SEED=<the seed it printed>.
import { after, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { request } from "../mod.ts";
import { makeCerts, removeCerts } from "./certs.ts";
import {
  decode,
  endProgramsAfterEach,
  exchange,
  peers,
  Program,
  programCommand,
  PYTHON,
  runCommand,
  sleep,
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

/** A storm: the server's extra flags (and Deno's), one good exchange, and
 * the storm itself, which resolves to its peers' JSON summary. */
interface Storm {
  flags: string[];
  denoFlags: string[];
  exchange: (port: number) => Promise<string>;
  run: (port: number) => Promise<{ peers: number; bad: string[] }>;
  peers: number;
}

/** Runs a storm against one server process, and checks it held. */
async function weather(t: TestContext, storm: Storm): Promise<void> {
  const server = new Program(programCommand("server", storm.denoFlags), [
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
    ...storm.flags,
  ]);
  const replay = `replay with CHAOS_SEED=${seed}`;
  const exchange = storm.exchange;
  try {
    const listening = await server.waitForLine(/"event":"listening"/);
    const port = Number(JSON.parse(listening.input!).addr.split(":")[1]);
    const pid = server.child.pid!;
    // One exchange first, so that what the runtime opens once is open.
    assert.equal(await exchange(port), "Farewell, client");
    await server.waitForLine(/"event":"replied"/);
    let before = descriptors(pid);
    if (before !== undefined) {
      // Until the warm-up's lingering close has ended: the server closes
      // its socket once it reads our close, and at the latest when the
      // linger time (0.5 s) runs out: the count must hold for longer than
      // that (on a loaded machine it can hold for 10 ms with the socket
      // still open, and end the storm one lower).
      let since = Date.now();
      await until(
        () => {
          const now = descriptors(pid)!;
          if (now !== before) [before, since] = [now, Date.now()];
          return Date.now() - since > 700;
        },
        "the descriptor count to hold for longer than the linger time",
        10_000,
      );
    } else t.diagnostic("no /proc here: the descriptor count is not checked");

    const summary = await storm.run(port);
    // What the server said of them: timed out (a bound too short for how
    // loaded the machine is), or failed (a bug).
    const told = () =>
      server.stdout.filter((l) => /"event":"(timeout|failed)"/.test(l)).slice(-5).join("\n");
    assert.deepEqual(
      summary.bad,
      [],
      `peers that played by the rules were let down; ${replay}; the server's last timeouts and failures:\n${told()}`,
    );
    assert.equal(summary.peers, storm.peers, `not every peer ran in time; ${replay}`);
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
    // Our last exchange's lingering close ends within the linger time, 0.5 s
    // (Deno closes a TLS socket's descriptor a moment after the socket: the
    // count can be back while ours still lingers).
    await sleep(600);
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
    storm.peers + 2,
    `every connection counted once, the two exchanges of ours included; ${replay}`,
  );
}

test(`server survives a seeded storm of 3,000 hostile peers (CHAOS_SEED=${seed})`, {
  timeout: 60_000,
}, (t) =>
  weather(t, {
    flags: [],
    denoFlags: [],
    exchange,
    peers: 3000,
    run: async (port) => {
      const args = ["chaos", String(port), String(seed), "3000", "64", "20"];
      return JSON.parse((await peers(args, 60_000))[0]);
    },
  }));

const certs = makeCerts();
after(() => removeCerts(certs));

test(`server over TLS survives a seeded storm of 400 hostile TLS peers (CHAOS_SEED=${seed})`, {
  timeout: 90_000,
}, (t) => {
  const { cert, key } = certs.leaf;
  const ca = certs.text(certs.ca.cert);
  return weather(t, {
    // A handshake costs the Python peers (one interpreter, 32 threads) far
    // more than a plain exchange: a good peer needs more than 0.5 s here,
    // and a dripping one (16 writes) more than 2 s on a loaded machine (seen
    // once on Bun, at a load average of 18).
    flags: ["--tls-cert", cert, "--tls-key", key, "--timeout", "4"],
    denoFlags: [`--allow-read=${cert},${key}`],
    exchange: async (port) => decode((await request({ port, tls: { ca } })).reply),
    peers: 400,
    run: async (port) => {
      const fixture = new URL("fixtures/tls_peers.py", import.meta.url).pathname;
      const args = ["chaos", String(port), String(seed), "400", "32", "40", certs.ca.cert];
      const ran = await runCommand([PYTHON, "-u", fixture], args, {}, 60_000);
      assert.equal(ran.code, 0, ran.stderr.join("\n"));
      return JSON.parse(ran.stdout[0]);
    },
  });
});
