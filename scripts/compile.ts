// Builds standalone binaries of the two programs, tcp-sixteen-server and
// tcp-sixteen-client, into dist/ (or --out DIR): one file each, which runs
// with no Deno, Node or Bun installed, with the flags, output and exit codes
// of `deno run --allow-net server.ts` / `client.ts`.
//
// Two routes, by what is at hand:
// - `deno compile`, when DENORT_BIN names a local denort (Deno's runtime
//   without its tooling; deno compile appends the program to it), or with
//   --download, which lets deno compile fetch one (needs internet).
// - Otherwise `bun build --compile`, with the Bun that `npm ci` installs: it
//   needs no download (the binary is that Bun with the program inside). What
//   it compiles is each program as the npm package runs it on Bun
//   (runtime/bun.ts, Bun's own sockets, for runtime/deno.ts), bundled by
//   esbuild from the sources into one file; npm/ is not used, so this can
//   run while the package is being built.
//
// Each binary is built into a temporary folder, run once (`--version` must
// print our version), and only then moved into place: a bad DENORT_BIN (the
// deno binary itself builds binaries that behave as the Deno CLI) stops with
// one line and exit 1, leaving nothing behind.
// Run it: deno task compile [--download] [--out DIR].

import { parseArgs } from "node:util";
import * as esbuild from "esbuild";
import { VERSION } from "../version.ts";
import { RUNTIME, RUNTIMES } from "./runtime_mapping.ts";

const ROOT = new URL("..", import.meta.url);
const PROGRAMS = ["server", "client"] as const;
const BUN = new URL("node_modules/bun/bin/bun.exe", ROOT).pathname;

/** A failure the user can act on: one line on stderr, then exit 1 (2 for
 * a usage error, as the programs do). */
class CompileError extends Error {
  constructor(message: string, readonly code = 1) {
    super(message);
  }
}
function fail(message: string, code?: number): never {
  throw new CompileError(message, code);
}

/** Runs a command; resolves to its exit code and its lines of stderr, up
 * to a Rust backtrace (RUST_BACKTRACE=1 adds one). */
async function run(
  command: string,
  args: string[],
  ms = 120_000,
): Promise<{ code: number; stdout: string; errors: string[] }> {
  const child = new Deno.Command(command, {
    args,
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), ms);
  try {
    const { code, stdout, stderr } = await child.output();
    const lines = new TextDecoder().decode(stderr).split("\n").map((l) => l.trim());
    const backtrace = lines.indexOf("Stack backtrace:");
    return {
      code,
      stdout: new TextDecoder().decode(stdout),
      errors: lines.slice(0, backtrace < 0 ? undefined : backtrace).filter(Boolean),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Why a build failed, in one line, from the tool's stderr: a denort that
 * deno compile could not download (--download offline) says so, and what
 * to do instead; otherwise its last line (deno compile's innermost cause). */
function whyFailed(route: string, program: string, code: number, errors: string[]): string {
  // deno compile: "1: error sending request for url (URL): ...", then its
  // causes, innermost last ("4: failed to lookup address information: ...").
  const last = (errors.at(-1) ?? "").replace(/^\d+: /, "");
  const url = errors.join("\n").match(/error sending request for url \((\S+)\)/)?.[1];
  if (!url) return `${route} of the ${program} failed (exit ${code}): ${last}`;
  return `--download needs the internet: could not download denort from ${url} (${last}) — ` +
    "offline, leave out --download to build with Bun, or set DENORT_BIN to a local denort";
}

/** Bundles a program as the npm package runs it on Bun (runtime/bun.ts,
 * Bun's own sockets, in place of runtime/deno.ts) into one ES module, `dir/tcp-sixteen-PROGRAM.mjs`:
 * what Bun compiles, and whose name the program's help shows. */
async function bundle(program: string, dir: string): Promise<string> {
  const outfile = `${dir}/tcp-sixteen-${program}.mjs`;
  const replaced = new Map([
    [new URL(RUNTIME, ROOT).pathname, new URL(RUNTIMES.bun, ROOT).pathname],
  ]);
  try {
    await esbuild.build({
      stdin: {
        contents: `import { cli } from "./${program}.ts";\n\ncli();\n`,
        resolveDir: ROOT.pathname,
        sourcefile: `tcp-sixteen-${program}.ts`,
        loader: "ts",
      },
      bundle: true,
      format: "esm",
      platform: "node",
      target: "esnext",
      // The entry calls cli(): the module's own `if (import.meta.main)` must not.
      define: { "import.meta.main": "false" },
      outfile,
      logLevel: "silent",
      plugins: [{
        name: "runtime-mapping",
        setup(build) {
          build.onResolve({ filter: /^\.\.?\// }, (args) => {
            const to = replaced.get(new URL(args.path, `file://${args.resolveDir}/`).pathname);
            return to ? { path: to } : undefined;
          });
        },
      }],
    });
  } catch (err) {
    // "Build failed with 1 error:", then each error: say the first.
    const [, first] = (err as Error).message.split("\n");
    fail(`esbuild could not bundle ${program}.ts: ${first ?? (err as Error).message}`);
  }
  return outfile;
}

/** Checks that a built binary is our program: `--version` prints VERSION.
 * Returns what is wrong, or undefined. */
async function checkBinary(path: string): Promise<string | undefined> {
  let result;
  try {
    result = await run(path, ["--version"], 10_000);
  } catch (err) {
    return `it does not start (${(err as Error).message})`;
  }
  const first = result.stdout.split("\n")[0].trim();
  const ours = new RegExp(`(^|\\s)${VERSION.replaceAll(".", "\\.")}(\\s|$)`);
  if (result.code === 0 && ours.test(first) && !/^deno \d/.test(first)) return undefined;
  const shown = first ? `printed '${first.slice(0, 60)}'` : "printed nothing";
  return `its --version ${shown} (exit ${result.code}), not tcp-sixteen ${VERSION}`;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: { download: { type: "boolean" }, out: { type: "string" } },
      strict: true,
    }));
  } catch (err) {
    const message = (err as Error).message.split("\n")[0];
    fail(`${message} (usage: deno task compile [--download] [--out DIR])`, 2);
  }
  // deno task runs in deno.json's folder: a relative --out is from where it
  // was invoked (INIT_CWD).
  const cwd = Deno.env.get("INIT_CWD") ?? Deno.cwd();
  const outDir = values.out
    ? new URL(values.out, `file://${cwd}/`).pathname.replace(/\/$/, "")
    : new URL("dist", ROOT).pathname;
  const denort = Deno.env.get("DENORT_BIN");
  const route = denort || values.download ? "deno compile" : "bun build --compile";

  if (denort && !(await Deno.stat(denort).catch(() => undefined))?.isFile) {
    fail(
      `DENORT_BIN=${denort} is not a file — set it to a denort binary of Deno ` +
        `${Deno.version.deno}, or unset it to build with Bun`,
    );
  }
  if (route === "bun build --compile" && !(await Deno.stat(BUN).catch(() => undefined))) {
    fail(
      `Bun is not installed (${BUN}) — run npm ci, or set DENORT_BIN to build with deno compile`,
    );
  }

  // A folder made for this build goes again if the build fails.
  const made = !(await Deno.stat(outDir).catch(() => undefined));
  await Deno.mkdir(outDir, { recursive: true });
  const temp = await Deno.makeTempDir({ dir: outDir, prefix: ".compile-" });
  let built = false;
  try {
    // Bun's builds at once (a second or two each); deno compile's one after
    // the other, so that a bad DENORT_BIN stops at the first. Every build
    // ends before the folder is removed.
    const build = async (program: string) => {
      const output = `${temp}/tcp-sixteen-${program}`;
      const args = route === "deno compile"
        ? [
          "compile",
          "--allow-net",
          // The programs import no npm package: leave out node_modules, which
          // deno compile otherwise embeds whole (Deno, Bun, tsc: 230 MB).
          "--exclude",
          new URL("node_modules", ROOT).pathname,
          "--output",
          output,
          new URL(`${program}.ts`, ROOT).pathname,
        ]
        : [
          "build",
          "--compile",
          // Bytecode: starts in about 2/3 of the time, for 2 MB more.
          "--bytecode",
          "--format=esm",
          // The binary must not change with the folder it runs in.
          "--no-compile-autoload-dotenv",
          "--no-compile-autoload-bunfig",
          "--outfile",
          output,
          await bundle(program, temp),
        ];
      const tool = route === "deno compile" ? Deno.execPath() : BUN;
      const { code, errors } = await run(tool, args);
      if (code !== 0) fail(whyFailed(route, program, code, errors));
      const problem = await checkBinary(output);
      if (problem && denort) {
        fail(
          `DENORT_BIN=${denort} is not a denort of Deno ${Deno.version.deno}: the ${program} built ` +
            `with it is not ours (${problem}) — set DENORT_BIN to denort, or unset it to build with Bun`,
        );
      }
      if (problem) fail(`the ${program} built by ${route} is not ours: ${problem}`);
    };
    if (route === "deno compile") {
      for (const program of PROGRAMS) await build(program);
    } else {
      const builds = await Promise.allSettled(PROGRAMS.map(build));
      await esbuild.stop();
      const failed = builds.find((b): b is PromiseRejectedResult => b.status === "rejected");
      if (failed) throw failed.reason;
    }
    for (const program of PROGRAMS) {
      await Deno.rename(`${temp}/tcp-sixteen-${program}`, `${outDir}/tcp-sixteen-${program}`);
    }
    built = true;
  } finally {
    await Deno.remove(temp, { recursive: true });
    if (!built && made) await Deno.remove(outDir);
  }

  const size = Deno.statSync(`${outDir}/tcp-sixteen-server`).size;
  const shown = outDir.startsWith(ROOT.pathname) ? outDir.slice(ROOT.pathname.length) : outDir;
  console.log(
    `compile: wrote ${PROGRAMS.map((p) => `${shown}/tcp-sixteen-${p}`).join(" and ")} ` +
      `with ${route} (${Math.round(size / 1e6)} MB each)`,
  );
}

try {
  await main();
} catch (err) {
  if (!(err instanceof CompileError)) throw err;
  console.error(`compile: ${err.message}`);
  Deno.exit(err.code);
}
