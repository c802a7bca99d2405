// The JSR package as a Deno user gets it: what `deno publish` would publish,
// and the programs run by their export names (`jsr:@scope/name/server`)
// from a registry on 127.0.0.1 that serves only those files, as JSR would
// (JSR itself is not reachable from here).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { endProgramsAfterEach, onDeno, Program, runCommand } from "./helpers.ts";

endProgramsAfterEach();

const ROOT = new URL("..", import.meta.url).pathname;
const skip = !onDeno && "the JSR package: Deno only";

/** What `deno publish --dry-run` would publish, as paths from the root
 * (run once, for both tests). */
let publishing: Promise<string[]> | undefined;
function published(): Promise<string[]> {
  return publishing ??= dryRun();
}

async function dryRun(): Promise<string[]> {
  const run = await runCommand([process.execPath, "publish", "--dry-run", "--allow-dirty"], [], {
    cwd: ROOT,
  }, 120_000);
  const output = [...run.stdout, ...run.stderr];
  assert.equal(run.code, 0, output.join("\n"));
  const prefix = `file://${ROOT}`;
  return output.map((line) => line.trim()).filter((line) => line.startsWith(prefix))
    .map((line) => line.slice(prefix.length).replace(/ \(.*\)$/, ""));
}

/**
 * A JSR registry on 127.0.0.1 with one version of the package: the files
 * given, and deno.json's name, version and exports, laid out as JSR's
 * registry API lays them out (`meta.json`, `VERSION_meta.json` with the
 * files' checksums, `VERSION/PATH`). Anything else is 404.
 */
async function registry(files: string[]): Promise<{ url: string; server: Server }> {
  const config = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));
  const [scope, name] = config.name.slice(1).split("/");
  const base = `/${config.name}/`;
  const bodies = new Map(files.map((path) => [path, readFileSync(join(ROOT, path))]));
  const manifest = Object.fromEntries(
    [...bodies].map(([path, body]) => [`/${path}`, {
      size: body.length,
      checksum: `sha256-${createHash("sha256").update(body).digest("hex")}`,
    }]),
  );
  const routes = new Map<string, Uint8Array | string>([
    [
      `${base}meta.json`,
      JSON.stringify({ scope, name, latest: config.version, versions: { [config.version]: {} } }),
    ],
    [`${base}${config.version}_meta.json`, JSON.stringify({ manifest, exports: config.exports })],
    ...[...bodies].map(([path, body]) => [`${base}${config.version}/${path}`, body] as const),
  ]);
  const server = createServer((req, res) => {
    const body = routes.get(req.url ?? "");
    res.statusCode = body === undefined ? 404 : 200;
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, server };
}

test(
  "deno publish would publish the library, runtime/deno.ts, the two programs, README and LICENSE only",
  {
    skip,
  },
  async () => {
    const files = await published();
    for (const path of files) {
      assert.match(
        path,
        /^(LICENSE|README\.md|deno\.json|[a-z_]+\.ts|cli\/[a-z_]+\.ts|internal\/[a-z_]+\.ts|runtime\/(deno|socket_file|types)\.ts)$/,
        `${path} is published`,
      );
    }
    for (const path of ["mod.ts", "server.ts", "client.ts", "runtime/deno.ts", "cli/run.ts"]) {
      assert(files.includes(path), `${path} is not in ${files.join(", ")}`);
    }
  },
);

test(
  "the JSR package's ./server and ./client exports run the programs: an exchange, a clean stop",
  {
    skip,
  },
  async () => {
    const config = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));
    const { url, server: jsr } = await registry(await published());
    // Outside the repository (its deno.json would resolve the package to the
    // sources), with a Deno cache of its own.
    const home = mkdtempSync(join(tmpdir(), "tcp-sixteen-jsr-"));
    const deno = (program: string) => [
      process.execPath,
      "run",
      "--allow-net",
      `jsr:${config.name}/${program}`,
    ];
    const options = { cwd: home, env: { JSR_URL: url, DENO_DIR: join(home, "deno") } };
    const server = new Program(deno("server"), ["-p", "0"], options);
    try {
      const [, port] = await server.waitForLine(/^Listening at 127\.0\.0\.1:(\d+)$/, 60_000);
      const client = await runCommand(deno("client"), ["-p", port], options, 60_000);
      assert.equal(client.code, 0, client.stderr.join("\n"));
      assert.equal(client.stdout[1], "The server said 'Farewell, client'");
      await server.waitForLine(/^Reply sent, socket closed$/);
    } finally {
      assert.equal(await server.stop("SIGTERM"), 0, server.stderr.join("\n"));
      jsr.close();
      rmSync(home, { recursive: true, force: true });
    }
    assert.equal(server.stdout.at(-1), "Stopped: 1 served, 0 failed, 0 timed out");
  },
);
