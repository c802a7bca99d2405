// The npm package as a user gets it: its module formats, what it ships, and
// its binaries installed from the tarball and run with npx. These run where
// the suite runs against the built package (npm/test), not on Deno.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { connect, listen } from "../mod.ts";
import { Program, runCommand } from "./helpers.ts";

const onDeno = "Deno" in globalThis;
const onBun = "Bun" in globalThis;
/** The package's folder: npm/ when this runs as npm/test/package_test.js. */
const PACKAGE = new URL("..", import.meta.url).pathname;

test("the package loads with require() and with import, with the same API", {
  skip: onDeno && "the npm package's module formats; Deno runs the sources",
}, async () => {
  const name = "tcp-sixteen"; // The package's own name: Node resolves it to itself.
  const require = createRequire(import.meta.url);
  const cjs = require(name);
  const esm = await import(name);
  assert.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).sort());
  assert.equal(typeof require(`${name}/server`).cli, "function");
  assert.equal(typeof require(`${name}/client`).cli, "function");
  const server = await cjs.serve({ port: 0 });
  const { reply } = await cjs.request({ port: server.addr.port });
  assert.equal(new TextDecoder().decode(reply), "Farewell, client");
  assert.equal((await server.shutdown()).served, 1);
});

test("the package gives Bun its own sockets (runtime/bun.ts) and Node node:net (runtime/node.ts)", {
  skip: onDeno && "the npm package's runtime mapping; Deno runs the sources with runtime/deno.ts",
}, async () => {
  // `#runtime` is resolved by the package's `imports`, in either format.
  const file = onBun ? "bun" : "node";
  assert.equal(
    import.meta.resolve("#runtime"),
    new URL(`esm/runtime/${file}.js`, `file://${PACKAGE}`).href,
  );
  assert.equal(
    createRequire(import.meta.url).resolve("#runtime"),
    join(PACKAGE, `cjs/runtime/${file}.cjs`),
  );
  // And the package's modules hand out that file's connections.
  const listener = await listen({ hostname: "127.0.0.1", port: 0 });
  const client = await connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  try {
    assert.equal(server.constructor.name, onBun ? "BunConn" : "NodeConn");
    assert.equal(client.constructor.name, onBun ? "BunConn" : "NodeConn");
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});

test(
  "the tarball ships only the package, installs into an empty folder, and npx runs both programs",
  {
    skip: (onDeno || onBun) &&
      "npm pack and npx: run once, on Node (the Bun run starts the same bins with Bun)",
  },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "tcp-sixteen-"));
    try {
      // A user's npm, not this machine's settings, nor the ones `npm test`
      // passes down as npm_config_* (such as .npmrc's bin-links=false).
      writeFileSync(join(dir, "npmrc"), "");
      const inherited = Object.keys(process.env).filter((key) => /^npm_config_/i.test(key));
      const env = {
        ...Object.fromEntries(inherited.map((key) => [key, undefined])),
        NPM_CONFIG_USERCONFIG: join(dir, "npmrc"),
        NPM_CONFIG_BIN_LINKS: "true",
        NPM_CONFIG_UPDATE_NOTIFIER: "false",
        NPM_CONFIG_FUND: "false",
        NPM_CONFIG_AUDIT: "false",
      };
      const pack = await runCommand(
        ["npm", "pack", "--json", "--pack-destination", dir],
        [PACKAGE],
        {
          env,
        },
      );
      assert.equal(pack.code, 0, pack.stderr.join("\n"));
      const [{ filename, files }] = JSON.parse(pack.stdout.join("\n"));
      const paths: string[] = files.map((f: { path: string }) => f.path);
      for (const path of paths) {
        assert.match(
          path,
          /^(LICENSE|README\.md|package\.json|bin\/tcp-sixteen-(server|client)\.js|(esm|cjs)\/[\w/]+\.(js|d\.ts|cjs|d\.cts))$/,
        );
      }
      for (const path of ["bin/tcp-sixteen-server.js", "esm/mod.js", "cjs/mod.cjs", "LICENSE"]) {
        assert(paths.includes(path), `${path} is not in ${paths.join(", ")}`);
      }

      const app = join(dir, "app");
      mkdirSync(app);
      const install = await runCommand(["npm", "install", "--offline", join(dir, filename)], [], {
        env,
        cwd: app,
      });
      assert.equal(install.code, 0, install.stderr.join("\n"));

      const npx = (program: string) => ["npx", "--no-install", `tcp-sixteen-${program}`];
      const server = new Program(npx("server"), ["-p", "0"], { env, cwd: app, group: true });
      let port: string;
      try {
        [, port] = await server.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/, 20_000);
        const client = await runCommand(npx("client"), ["-p", port], { env, cwd: app });
        assert.equal(client.code, 0, client.stderr.join("\n"));
        assert.match(client.stdout[0], /^Client has been assigned socket name 127\.0\.0\.1:\d+$/);
        assert.equal(client.stdout[1], "The server said 'Farewell, client'");
        await server.waitForLine(/^Reply sent, socket closed$/);
      } finally {
        await server.stop();
      }
      assert.match(server.stdout.at(-1)!, /^Stopped: 1 served, 0 failed, 0 timed out$/);

      const closed = await listen({ hostname: "127.0.0.1", port: 0 });
      closed.close();
      const started = Date.now();
      const refused = await runCommand(npx("client"), ["-p", String(closed.addr.port)], {
        env,
        cwd: app,
      });
      const elapsed = Date.now() - started;
      assert.equal(refused.code, 1);
      assert.deepEqual(refused.stdout, []);
      assert.deepEqual(refused.stderr, [
        `client: cannot connect to 127.0.0.1:${closed.addr.port}: connection refused — ` +
        "is the server running?",
      ]);
      assert(elapsed < 5_000, `npx tcp-sixteen-client took ${elapsed} ms to fail`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
