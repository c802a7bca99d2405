// Unix domain sockets on every runtime: the socket file's life (a stale one
// replaced, any other file left alone, a live server's socket untouched,
// removed on close only while it is ours), the programs' --unix, and real
// foreign peers both ways (Python's AF_UNIX sockets, socat).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { connect, listen, NetError, request, serve } from "../mod.ts";
import {
  decode,
  endProgramsAfterEach,
  invokedName,
  onDeno,
  Program,
  programCommand,
  PYTHON,
  runCommand,
  until,
} from "./helpers.ts";

endProgramsAfterEach();

// Short paths: a socket's path has at most 107 bytes.
const root = mkdtempSync("/tmp/t16u-");
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
/** A fresh directory of the test's own, and a socket path in it. */
function fresh(): { dir: string; path: string } {
  const dir = join(root, String(++dirs));
  mkdirSync(dir);
  return { dir, path: join(dir, "s.sock") };
}

/** The device and inode of the file at `path`: who it is. */
const identity = (path: string) => {
  const stats = lstatSync(path);
  return `${stats.dev}:${stats.ino}`;
};

const TUTORIAL = new URL("fixtures/tutorial.py", import.meta.url).pathname;
/** The tutorial's Python program over AF_UNIX at `path`. */
const tutorial = (role: "server" | "client", path: string) =>
  new Program([PYTHON, "-u", TUTORIAL], [role, path]);

/** A Python AF_UNIX server of the tutorial's protocol that, unlike the
 * tutorial's, outlives a client that leaves early (as the probe of a socket
 * file does: it connects and closes). */
const SURVIVOR = `
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)
print('Listening at', sys.argv[1], flush=True)
while True:
    c, _ = s.accept()
    data = b''
    while len(data) < 16:
        more = c.recv(16 - len(data))
        if not more:
            break
        data += more
    if len(data) == 16:
        c.sendall(b'Farewell, client')
    c.close()
`;
const survivor = (path: string) => new Program([PYTHON, "-u", "-c", SURVIVOR, path], []);

/** A stale socket file at `path`: bound by a process that then exited
 * without removing it, as a killed server leaves it. */
async function staleSocket(path: string): Promise<void> {
  const bind = "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])";
  const ran = await runCommand([PYTHON, "-c", bind, path], []);
  assert.equal(ran.code, 0, ran.stderr.join("\n"));
  assert(lstatSync(path).isSocket());
}

/** The programs, with what Deno needs for a socket file in `dir`. */
const program = (name: "server" | "client", dir: string) =>
  programCommand(name, [`--allow-read=${dir}`, `--allow-write=${dir}`]);

test("listen() on a Unix socket replaces a stale socket file, serves on it, removes it on close", async () => {
  const { path } = fresh();
  await staleSocket(path);
  const stale = identity(path);
  const server = await serve({ transport: "unix", path });
  try {
    assert.deepEqual(server.addr, { transport: "unix", path });
    assert.notEqual(identity(path), stale, "a new socket file");
    assert.equal(decode((await request({ transport: "unix", path })).reply), "Farewell, client");
  } finally {
    await server.shutdown();
  }
  assert.equal(existsSync(path), false, "removed on shutdown");
  // Nothing else is left in the directory (the name it was bound under).
  assert.deepEqual(readdirSync(join(path, "..")), []);
});

test("listen() refuses any other file at the path (EEXIST) and leaves it as it was", async () => {
  const { dir, path } = fresh();
  writeFileSync(path, "precious");
  const sub = join(dir, "d");
  mkdirSync(sub);
  for (const [at, what] of [[path, "a regular file"], [sub, "a directory"]]) {
    await assert.rejects(listen({ transport: "unix", path: at }), (err) => {
      assert(err instanceof NetError, String(err));
      assert.equal(err.code, "EEXIST");
      assert.equal(err.message, `cannot listen on ${at}: ${what} is there, not a socket`);
      return true;
    });
  }
  assert.equal(readFileSync(path, "utf8"), "precious");
  assert(lstatSync(sub).isDirectory());
  assert.deepEqual(readdirSync(dir).sort(), ["d", "s.sock"], "no name left behind");
});

test("listen() in a directory that does not exist: ENOENT, on every runtime", async () => {
  const { dir } = fresh();
  const path = join(dir, "none", "s.sock");
  await assert.rejects(listen({ transport: "unix", path }), (err) => {
    assert(err instanceof NetError, String(err));
    assert.equal(err.code, "ENOENT");
    assert.equal(err.message, `cannot listen on ${path}: no such file or directory`);
    return true;
  });
});

test("listen() where a live server listens: EADDRINUSE, and the server's socket untouched", async () => {
  const { path } = fresh();
  const python = survivor(path);
  try {
    await python.waitForLine(/^Listening at /);
    const theirs = identity(path);
    await assert.rejects(listen({ transport: "unix", path }), (err) => {
      assert(err instanceof NetError, String(err));
      assert.equal(err.code, "EADDRINUSE");
      assert.equal(err.message, `cannot listen on ${path}: a server is listening on it`);
      return true;
    });
    assert.equal(identity(path), theirs);
    // It still serves, at its path.
    assert.equal(decode((await request({ transport: "unix", path })).reply), "Farewell, client");
  } finally {
    await python.stop("SIGKILL");
  }
});

test("close() leaves the socket file of a server that took the path over", async () => {
  const { path } = fresh();
  const server = await serve({ transport: "unix", path });
  rmSync(path); // As an operator does to start another server there.
  const python = tutorial("server", path);
  try {
    await python.waitForLine(/^Listening at /);
    const theirs = identity(path);
    await server.shutdown();
    assert.equal(identity(path), theirs, "the newcomer's socket file stays");
    assert.equal(decode((await request({ transport: "unix", path })).reply), "Farewell, client");
    await python.waitForLine(/^Reply sent, socket closed$/);
  } finally {
    await server.shutdown(0);
    await python.stop("SIGKILL");
  }
});

test("a path too long for sun_path is a RangeError for listen() and connect(), and nothing is made", async () => {
  const { dir } = fresh();
  const path = join(dir, "s".repeat(120));
  const message =
    `a Unix socket's path has at most 107 bytes, this one has ${path.length}: choose a shorter one`;
  await assert.rejects(listen({ transport: "unix", path }), { name: "RangeError", message });
  await assert.rejects(connect({ transport: "unix", path }), { name: "RangeError", message });
  await assert.rejects(serve({ transport: "unix", path }), { name: "RangeError", message });
  // Node would have bound the path cut short.
  assert.deepEqual(readdirSync(dir), []);
  // At the limit it works.
  const longest = join(dir, "s".repeat(107 - dir.length - 1));
  const listener = await listen({ transport: "unix", path: longest });
  listener.close();
  assert.deepEqual(readdirSync(dir), []);
});

test("connect() to a missing socket file: ENOENT; to a stale one: ECONNREFUSED", async () => {
  const { path } = fresh();
  await assert.rejects(connect({ transport: "unix", path }), (err) => {
    assert(err instanceof NetError, String(err));
    assert.equal(err.code, "ENOENT");
    assert.equal(err.message, `cannot connect to ${path}: no such file or directory`);
    return true;
  });
  await staleSocket(path);
  await assert.rejects(connect({ transport: "unix", path }), (err) => {
    assert(err instanceof NetError, String(err));
    assert.equal(err.message, `cannot connect to ${path}: connection refused`);
    return true;
  });
});

test("server and client --unix: the tutorial's story with '' for the unnamed client, the file removed on SIGTERM", async () => {
  const { dir, path } = fresh();
  await staleSocket(path); // Left by a server that was killed: replaced.
  const server = new Program(program("server", dir), ["--unix", path]);
  try {
    await server.waitForLine(new RegExp(`^Listening at ${path}$`));
    const client = await runCommand(program("client", dir), ["--unix", path]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.deepEqual(client.stdout, [
      "Client has been assigned socket name ''",
      "The server said 'Farewell, client'",
    ]);
    await server.waitForLine(/^Reply sent, socket closed$/);
    assert.deepEqual(server.stdout.slice(1, 5), [
      "We have accepted a connection from ''",
      `Socket connects ${path} and ''`,
      "The incoming sixteen-octet message says 'Hi there, server'",
      "Reply sent, socket closed",
    ]);
  } finally {
    assert.equal(await server.stop(), 0);
  }
  assert.deepEqual(server.stderr, []);
  assert.equal(server.stdout.at(-1), "Stopped: 1 served, 0 failed, 0 timed out");
  assert.equal(existsSync(path), false, "removed on shutdown");
  assert.deepEqual(readdirSync(dir), []);
});

test("server --unix --log json and client --unix --json carry the transport", async () => {
  const { dir, path } = fresh();
  const server = new Program(program("server", dir), ["--unix", path, "--log", "json"]);
  try {
    await server.waitForLine(/"event":"listening"/);
    const run = await runCommand(program("client", dir), ["--unix", path, "-n", "20", "--json"]);
    assert.equal(run.code, 0, run.stderr.join("\n"));
    const summary = JSON.parse(run.stdout[0]);
    assert.equal(summary.succeeded, 20);
    assert.equal(summary.transport, "unix");
    const replied = () => server.stdout.filter((line) => line.includes('"replied"')).length;
    await until(() => replied() === 20, () => `20 replies logged: ${server.stdout.join("\n")}`);
  } finally {
    assert.equal(await server.stop(), 0);
  }
  const events = server.stdout.map((line) => JSON.parse(line));
  assert.deepEqual(
    { ...events[0], time: "" },
    { time: "", event: "listening", addr: path, transport: "unix" },
  );
  assert.equal(events[1].event, "accepted");
  assert.equal(events[1].peer, "''");
  const stopped = events.at(-1);
  assert.equal(stopped.event, "stopped");
  assert.equal(stopped.served, 20);
  assert.equal(stopped.transport, "unix");
});

test("server --unix over a regular file: one line, exit 1, the file intact", async () => {
  const { dir, path } = fresh();
  writeFileSync(path, "precious");
  const run = await runCommand(program("server", dir), ["--unix", path]);
  assert.equal(run.code, 1);
  assert.deepEqual(run.stdout, []);
  assert.deepEqual(run.stderr, [
    `server: cannot listen on ${path}: a regular file is there, not a socket — ` +
    "remove it yourself if it is not needed, or choose another path with --unix",
  ]);
  assert.equal(readFileSync(path, "utf8"), "precious");
  assert.deepEqual(readdirSync(dir), ["s.sock"]);
});

test("server --unix where a server listens: one line with what to do, exit 1, its socket untouched", async () => {
  const { dir, path } = fresh();
  const python = survivor(path);
  try {
    await python.waitForLine(/^Listening at /);
    const theirs = identity(path);
    const run = await runCommand(program("server", dir), ["--unix", path]);
    assert.equal(run.code, 1);
    assert.deepEqual(run.stderr, [
      `server: cannot listen on ${path}: a server is listening on it — ` +
      "stop it or choose another path with --unix",
    ]);
    assert.equal(identity(path), theirs);
    assert.equal(decode((await request({ transport: "unix", path })).reply), "Farewell, client");
  } finally {
    await python.stop("SIGKILL");
  }
});

test("--unix with HOST or -p, or a path too long: usage errors, exit 2, both programs", async () => {
  const { dir, path } = fresh();
  const long = `/tmp/${"s".repeat(120)}`;
  const both = "--unix PATH replaces HOST and -p: give one or the other";
  const cases = [
    ["server", ["127.0.0.1", "--unix", path], both],
    ["client", ["--unix", path, "-p", "1060"], both],
    [
      "client",
      ["--unix", long],
      "--unix: a Unix socket's path has at most 107 bytes, this one has 125: choose a shorter one",
    ],
    ["server", ["--unix", ""], "--unix: a Unix socket needs a path"],
  ] as const;
  const runs = await Promise.all(
    cases.map(([name, args]) => runCommand(programCommand(name), [...args])),
  );
  for (const [i, [name, args, message]] of cases.entries()) {
    assert.equal(runs[i].code, 2, `${name} ${args.join(" ")}`);
    assert.deepEqual(runs[i].stdout, []);
    assert.deepEqual(runs[i].stderr, [`${name}: ${message}`, `try '${invokedName(name)} --help'`]);
  }
  assert.deepEqual(readdirSync(dir), []);
});

test("client --unix when no server made the socket file: one line, exit 1", async () => {
  const { dir, path } = fresh();
  const run = await runCommand(program("client", dir), ["--unix", path]);
  assert.equal(run.code, 1);
  assert.deepEqual(run.stderr, [
    `client: cannot connect to ${path}: no such file or directory — ` +
    "is the server running? it creates the socket file",
  ]);
});

test("Deno without --allow-read and --allow-write for the socket: one line naming the flags", {
  skip: !onDeno && "Deno permissions only",
}, async () => {
  const { dir, path } = fresh();
  const [server, client] = await Promise.all([
    runCommand(programCommand("server"), ["--unix", path]),
    runCommand(programCommand("client"), ["--unix", path]),
  ]);
  assert.equal(server.code, 1);
  assert.deepEqual(server.stderr, [
    `server: cannot listen on ${path}: access denied — ` +
    `run deno with --allow-net --allow-read=${dir} --allow-write=${dir}`,
  ]);
  assert.equal(client.code, 1);
  assert.deepEqual(client.stderr, [
    `client: cannot connect to ${path}: access denied — ` +
    `run deno with --allow-net --allow-read=${path} --allow-write=${path}`,
  ]);
  assert.deepEqual(readdirSync(dir), []);
});

test("Python's AF_UNIX client (the tutorial's) against the server --unix", async () => {
  const { dir, path } = fresh();
  const server = new Program(program("server", dir), ["--unix", path]);
  try {
    await server.waitForLine(/^Listening at /);
    const python = tutorial("client", path);
    try {
      assert.equal(await python.exited, 0, python.stderr.join("\n"));
    } finally {
      await python.stop("SIGKILL");
    }
    assert.deepEqual(python.stdout, [
      "Client has been assigned socket name ",
      "The server said b'Farewell, client'",
    ]);
    await server.waitForLine(/^Reply sent, socket closed$/);
    assert(
      server.stdout.includes("We have accepted a connection from ''"),
      server.stdout.join("\n"),
    );
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test("client --unix against Python's AF_UNIX server (the tutorial's)", async () => {
  const { dir, path } = fresh();
  const python = tutorial("server", path);
  try {
    await python.waitForLine(/^Listening at /);
    const client = await runCommand(program("client", dir), ["--unix", path]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.deepEqual(client.stdout, [
      "Client has been assigned socket name ''",
      "The server said 'Farewell, client'",
    ]);
    await python.waitForLine(/^The incoming sixteen-octet message says b'Hi there, server'$/);
    assert(python.stdout.includes("We have accepted a connection from "), python.stdout.join("\n"));
  } finally {
    await python.stop("SIGKILL");
  }
});

test("socat's UNIX-CONNECT against the server --unix: the reply, byte for byte", async () => {
  const { dir, path } = fresh();
  const server = new Program(program("server", dir), ["--unix", path]);
  try {
    await server.waitForLine(/^Listening at /);
    // socat sends stdin, half-closes, and prints what comes back until the
    // server closes.
    const socat = await runCommand(["socat", "-t", "5", "-", `UNIX-CONNECT:${path}`], [], {
      input: "Hi there, server",
    });
    assert.equal(socat.code, 0, socat.stderr.join("\n"));
    assert.deepEqual(socat.stdout, ["Farewell, client"]);
    await server.waitForLine(/^Reply sent, socket closed$/);
    assert(server.stdout.includes("The incoming sixteen-octet message says 'Hi there, server'"));
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test("client --unix against socat's UNIX-LISTEN: the message, byte for byte", async () => {
  const { dir, path } = fresh();
  const got = join(dir, "got");
  // One connection: 16 octets to a file, then the reply (in a script:
  // socat's address syntax takes the reply's comma for an option).
  const script = join(dir, "serve.sh");
  writeFileSync(script, `head -c 16 > ${got}; printf 'Farewell, client'\n`);
  const socat = new Program(["socat", "-t", "5", `UNIX-LISTEN:${path}`], [`EXEC:sh ${script}`]);
  try {
    await until(
      () => existsSync(path),
      () => `socat to listen; ${socat.stderr.join("\n")}`,
      10_000,
    );
    const client = await runCommand(program("client", dir), ["--unix", path]);
    assert.equal(client.code, 0, client.stderr.join("\n"));
    assert.deepEqual(client.stdout, [
      "Client has been assigned socket name ''",
      "The server said 'Farewell, client'",
    ]);
    assert.equal(await socat.exited, 0, socat.stderr.join("\n"));
    assert.equal(readFileSync(got, "utf8"), "Hi there, server");
  } finally {
    await socat.stop("SIGKILL");
  }
});
