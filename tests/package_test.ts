// The npm package as a user gets it: its module formats, what it ships, and
// its binaries installed from the tarball and run with npx. These run where
// the suite runs against the built package (npm/test), not on Deno.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { connect, listen } from "../mod.ts";
import { endProgramsAfterEach, Program, runCommand } from "./helpers.ts";

endProgramsAfterEach();

const onDeno = "Deno" in globalThis;
const onBun = "Bun" in globalThis;
/** The package's folder: npm/ when this runs as npm/test/package_test.js. */
const PACKAGE = new URL("..", import.meta.url).pathname;
/** The repository's node_modules: the tools the suite runs (tsc, attw...). */
const TOOLS = new URL("../../node_modules/", import.meta.url).pathname;
const onlyOnNode = (onDeno || onBun) && "checks of the built package: run once, on Node";
/** Settings for a user's npm, in `dir`: not this machine's, nor the ones
 * `npm test` passes down as npm_config_* (such as .npmrc's bin-links=false). */
function userNpm(dir: string): Record<string, string | undefined> {
  writeFileSync(join(dir, "npmrc"), "");
  const inherited = Object.keys(process.env).filter((key) => /^npm_config_/i.test(key));
  return {
    ...Object.fromEntries(inherited.map((key) => [key, undefined])),
    NPM_CONFIG_USERCONFIG: join(dir, "npmrc"),
    NPM_CONFIG_BIN_LINKS: "true",
    NPM_CONFIG_UPDATE_NOTIFIER: "false",
    NPM_CONFIG_FUND: "false",
    NPM_CONFIG_AUDIT: "false",
  };
}

/** Packs the package into `dir` with npm: the tarball's name and files. */
async function pack(
  dir: string,
  env: Record<string, string | undefined>,
): Promise<{ filename: string; files: { path: string }[] }> {
  const run = await runCommand(["npm", "pack", "--json", "--pack-destination", dir], [PACKAGE], {
    env,
  });
  assert.equal(run.code, 0, run.stderr.join("\n"));
  return JSON.parse(run.stdout.join("\n"))[0];
}

test("the package loads with require() and with import, with the same API", {
  skip: onDeno && "the npm package's module formats; Deno runs the sources",
}, async () => {
  const name = "tcp-sixteen"; // The package's own name: Node resolves it to itself.
  const require = createRequire(import.meta.url);
  const cjs = require(name);
  const esm = await import(name);
  assert.deepEqual(Object.keys(cjs).sort(), Object.keys(esm).sort());
  // The library only: the programs are the bins, not part of the API.
  assert.equal(esm.cli, undefined);
  assert.equal(esm.main, undefined);
  const pkg = require(`${name}/package.json`); // An export of its own.
  assert.equal(pkg.name, name);
  assert.match(pkg.repository.url, /^git\+https:\/\/\S+\.git$/);
  assert.equal(pkg.homepage, `${pkg.repository.url.slice(4, -4)}#readme`);
  assert.equal(pkg.bugs.url, `${pkg.repository.url.slice(4, -4)}/issues`);
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
      const env = userNpm(dir);
      const { filename, files } = await pack(dir, env);
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
      // Fails, rather than hanging as @deno/shim-deno's connect does; npx on a
      // busy machine takes seconds to start.
      assert(elapsed < 20_000, `npx tcp-sixteen-client took ${elapsed} ms to fail`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("attw and publint --strict find no problem in the packed package", {
  skip: onlyOnNode,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "tcp-sixteen-lint-"));
  try {
    const { filename } = await pack(dir, userNpm(dir));
    const tarball = join(dir, filename);
    const attw = await runCommand(
      [process.execPath, join(TOOLS, "@arethetypeswrong/cli/dist/index.js")],
      [tarball, "--format", "table-flipped", "--no-color"],
      {},
      60_000,
    );
    assert.equal(attw.code, 0, [...attw.stdout, ...attw.stderr].join("\n"));
    assert(attw.stdout.some((line) => line.includes("No problems found")), attw.stdout.join("\n"));
    const { publint } = await import("publint");
    const { formatMessage } = await import("publint/utils");
    const { messages, pkg } = await publint({
      pack: { tarball: new Uint8Array(readFileSync(tarball)).buffer }, // Its folder: the tarball's.
      strict: true,
    });
    assert.deepEqual(messages.map((m) => formatMessage(m, pkg)), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the package's README examples run as written", {
  skip: onDeno && "the npm README's examples: deno test --doc runs them on the sources",
}, async () => {
  const readme = readFileSync(join(PACKAGE, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/^```js( ignore)?\n([\s\S]*?)^```$/gm)].map((m) => m[2]);
  assert(blocks.length >= 3, `${blocks.length} js blocks in README.md`);
  // Inside the package's folder, so that "tcp-sixteen" resolves to it.
  const dir = mkdtempSync(join(PACKAGE, "test", ".readme-"));
  try {
    await Promise.all(blocks.map(async (code, i) => {
      const file = join(dir, `example${i}.${code.includes("require(") ? "cjs" : "mjs"}`);
      writeFileSync(file, code);
      const expected = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
      const run = await runCommand([process.execPath, file], [], {}, 20_000);
      assert.equal(run.code, 0, `example ${i}:\n${code}\n${run.stderr.join("\n")}`);
      assert.deepEqual(run.stdout.filter(Boolean), expected, `example ${i}:\n${code}`);
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
