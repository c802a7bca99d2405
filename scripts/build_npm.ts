// Builds the npm package into npm/, as dnt would, from tools on npm:
// TypeScript for ESM and .d.ts, esbuild for the CommonJS copy (both pinned
// in package.json's devDependencies).
//
//   npm/esm/     the library as ES modules, with .d.ts (and web.d.ts: below)
//   npm/cjs/     the same modules as CommonJS (.cjs, .d.cts), for require()
//   npm/bin/     tcp-sixteen-server and tcp-sixteen-client
//   npm/test/    the test suite, compiled against npm/esm (not shipped)
//
// The build ends by type-checking two consumers of the package (one with no
// types but ES2022's, one with @types/node): it fails if they do not compile.
//
// The one difference from the Deno sources is the runtime mapping (as dnt's
// `mappings`): imports of `runtime/deno.ts` become `#runtime`, a subpath
// import that the package's package.json resolves by runtime: the `bun`
// condition to `runtime/bun.ts` (Bun's own sockets), anything else to
// `runtime/node.ts` (node:net). So the package never touches `Deno`, Node
// never loads the Bun file, Bun never loads node:net, and there is still one
// copy of everything else. Both files meet one contract (runtime/types.ts),
// so the types are node.ts's: the .d.ts files name it directly, and need no
// `imports` support from the consumer's TypeScript.
// Run it: deno task build:npm.

import ts from "typescript";
import * as esbuild from "esbuild";
import { RUNTIME, RUNTIMES } from "./runtime_mapping.ts";

const ROOT = new URL("..", import.meta.url);
const OUT = new URL("npm/", ROOT);
/** The project's public repository: package.json's repository, homepage and
 * bugs come from it. UNCONFIRMED: no public URL has been chosen yet; set
 * the real one here (the only place it is written) before publishing. */
const REPOSITORY = "https://github.com/tcp-sixteen/tcp-sixteen";
const STAGE = new URL(".stage/", OUT);
/** What imports of {@linkcode RUNTIME} become in the package. */
const RUNTIME_IMPORT = "#runtime";
const BINS = { "tcp-sixteen-server": "server", "tcp-sixteen-client": "client" } as const;

const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
/** The library's exports. deno.json also exports the programs (`./server`,
 * `./client`), so that `deno run jsr:@tcp-sixteen/tcp-sixteen/server` runs
 * one; the npm package runs them as its bins instead, and keeps its API the
 * library's. */
const exportsMap: Record<string, string> = Object.fromEntries(
  Object.entries(config.exports as Record<string, string>).filter(([, path]) =>
    !Object.values(BINS).some((program) => path === `./${program}.ts`)
  ),
);

/** Relative module specifiers in `import`/`export ... from` clauses. */
const IMPORT = /(\bfrom\s+|\bimport\s*\(?\s*)(["'])(\.{1,2}\/[^"']+)\2/g;

async function write(url: URL, text: string, mode?: number): Promise<void> {
  await Deno.mkdir(new URL(".", url), { recursive: true });
  await Deno.writeTextFile(url, text, mode ? { mode } : {});
}

/** Copies the module graph of the library (from its exports), of the
 * programs and of the runtime files into stage/esm, with imports of the
 * Deno runtime made `#runtime`. */
async function stageLibrary(): Promise<void> {
  const queue = [
    ...Object.values(exportsMap).map((p) => p.replace(/^\.\//, "")),
    ...Object.values(BINS).map((program) => `${program}.ts`),
    ...Object.values(RUNTIMES),
  ];
  const seen = new Set<string>([RUNTIME]);
  while (queue.length > 0) {
    const path = queue.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const source = await Deno.readTextFile(new URL(path, ROOT));
    const text = source.replace(IMPORT, (all, head, quote, spec) => {
      const target = new URL(spec, new URL(path, ROOT)).pathname.slice(ROOT.pathname.length);
      if (!target.endsWith(".ts")) return all;
      if (target === RUNTIME) return `${head}${quote}${RUNTIME_IMPORT}${quote}`;
      queue.push(target);
      return all;
    });
    await write(new URL(`esm/${path}`, STAGE), text);
  }
}

/** Copies the tests into stage/test, importing the staged library. */
async function stageTests(): Promise<void> {
  for await (const entry of Deno.readDir(new URL("tests/", ROOT))) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const source = await Deno.readTextFile(new URL(`tests/${entry.name}`, ROOT));
    const text = source.replace(
      IMPORT,
      (all, head, quote, spec: string) =>
        spec === `../${RUNTIME}`
          ? `${head}${quote}${RUNTIME_IMPORT}${quote}`
          : spec.startsWith("../")
          ? `${head}${quote}../esm/${spec.slice(3)}${quote}`
          : all,
    );
    await write(new URL(`test/${entry.name}`, STAGE), text);
  }
  await Deno.mkdir(new URL("test/fixtures/", OUT), { recursive: true });
  for await (const entry of Deno.readDir(new URL("tests/fixtures/", ROOT))) {
    await Deno.copyFile(
      new URL(`tests/fixtures/${entry.name}`, ROOT),
      new URL(`test/fixtures/${entry.name}`, OUT),
    );
  }
}

/** Type-checks against @types/node and emits ESM (.js, .d.ts) into npm/. */
function compile(): void {
  const files: string[] = [];
  for (const dir of ["esm", "test"]) {
    for (const entry of walk(new URL(`${dir}/`, STAGE))) files.push(entry);
  }
  files.push(new URL("globals.d.ts", STAGE).pathname);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    rewriteRelativeImportExtensions: true,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    types: ["node"],
    typeRoots: [TYPE_ROOTS],
    declaration: true,
    strict: true,
    skipLibCheck: true,
    rootDir: STAGE.pathname,
    outDir: OUT.pathname,
    newLine: ts.NewLineKind.LineFeed,
  };
  const program = ts.createProgram(files, options, cachingHost(options));
  const result = program.emit();
  report([...ts.getPreEmitDiagnostics(program), ...result.diagnostics], STAGE.pathname);
}

const TYPE_ROOTS = new URL("node_modules/@types", ROOT).pathname;

/** The library files (lib.*.d.ts, @types/node) parsed once for the build's
 * programs: the package's and its consumers'. */
const parsed = new Map<string, ts.SourceFile | undefined>();
function cachingHost(options: ts.CompilerOptions): ts.CompilerHost {
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile;
  host.getSourceFile = (file, ...rest) => {
    if (!file.includes("/node_modules/")) return getSourceFile.call(host, file, ...rest);
    if (!parsed.has(file)) parsed.set(file, getSourceFile.call(host, file, ...rest));
    return parsed.get(file);
  };
  return host;
}

/** Fails the build on TypeScript errors, showing them. */
function report(diagnostics: readonly ts.Diagnostic[], dir: string): void {
  if (diagnostics.length === 0) return;
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => dir,
    getNewLine: () => "\n",
  }));
  throw new Error(`tsc: ${diagnostics.length} errors`);
}

/** Type-checks the built package as its consumers will, each as an ES
 * module (esm/*.d.ts) and a CommonJS one (cjs/*.d.cts): with ES2022's types
 * only, neither the DOM lib nor @types/node (web.d.ts declares the Web
 * globals the API names); and with @types/node, passing a net.Socket to
 * recvAll and sendAll. Their files import the package by its name, from
 * inside it. */
async function checkConsumers(): Promise<void> {
  const dir = new URL(".consumer/", OUT);
  const uses = 'export * from "tcp-sixteen";\n' +
    "export const signal: AbortSignal | undefined = undefined;\n";
  await write(new URL("esm.mts", dir), uses);
  await write(new URL("cjs.cts", dir), uses);
  await write(
    new URL("socket.mts", dir),
    'import net from "node:net";\nimport { recvAll, sendAll } from "tcp-sixteen";\n' +
      "const socket = new net.Socket();\n" +
      "export const read = recvAll(socket, 16);\n" +
      "export const written = sendAll(socket, new Uint8Array(16));\n",
  );
  const base: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2022.d.ts"],
    strict: true,
    noEmit: true,
    types: [],
    typeRoots: [TYPE_ROOTS],
  };
  const consumers: [ts.CompilerOptions, string[]][] = [
    [{}, ["esm.mts", "cjs.cts"]],
    [{ types: ["node"] }, ["esm.mts", "cjs.cts", "socket.mts"]],
  ];
  try {
    for (const [options, files] of consumers) {
      const all = { ...base, ...options };
      const program = ts.createProgram(
        files.map((f) => new URL(f, dir).pathname),
        all,
        cachingHost(all),
      );
      // The package's files and the consumer's; not the libraries' (slow).
      const ours = program.getSourceFiles().filter((file) =>
        file.fileName.startsWith(OUT.pathname)
      );
      report([
        ...program.getOptionsDiagnostics(),
        ...program.getGlobalDiagnostics(),
        ...ours.flatMap((file) => [
          ...program.getSyntacticDiagnostics(file),
          ...program.getSemanticDiagnostics(file),
        ]),
      ], dir.pathname);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function* walk(dir: URL): Generator<string> {
  for (const entry of Deno.readDirSync(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* walk(url);
    else yield url.pathname;
  }
}

/** The same modules as CommonJS, file for file (so classes are not
 * duplicated across entry points), and their types as .d.cts. */
async function commonjs(): Promise<void> {
  const esm = new URL("esm/", OUT);
  const modules = [...walk(esm)].filter((f) => f.endsWith(".js"));
  await esbuild.build({
    entryPoints: modules,
    outbase: esm.pathname,
    outdir: new URL("cjs/", OUT).pathname,
    outExtension: { ".js": ".cjs" },
    format: "cjs",
    platform: "node",
    target: "node20",
    bundle: true,
    define: { "import.meta.main": "false" },
    logLevel: "warning",
    plugins: [{
      name: "each-module-its-own-file",
      setup(build) {
        build.onResolve(
          { filter: /^\.\.?\// },
          (args) =>
            args.kind === "entry-point"
              ? undefined
              : { path: args.path.replace(/\.js$/, ".cjs"), external: true },
        );
        // Resolved at run time, by the package's `imports`.
        build.onResolve({ filter: /^#runtime$/ }, (args) => ({ path: args.path, external: true }));
      },
    }],
  });
  await esbuild.stop();
  for (const file of walk(esm)) {
    if (!file.endsWith(".d.ts")) continue;
    const source = typesOfRuntime(await Deno.readTextFile(file), file.slice(esm.pathname.length));
    // tsc leaves the sources' .ts specifiers in .d.ts files.
    await Deno.writeTextFile(file, withExtension(source, ".js"));
    const out = file.replace("/esm/", "/cjs/").replace(/\.d\.ts$/, ".d.cts");
    await write(new URL(`file://${out}`), withExtension(source, ".cjs"));
  }
}

/** The Web globals the API's types name. Declared empty, so that a
 * consumer's types compile with neither the DOM lib nor @types/node; with
 * either, these merge with the real declarations. */
const WEB_GLOBALS = `// The Web globals tcp-sixteen's types name, declared empty so that they
// compile with neither the DOM lib nor @types/node: with either, these merge
// with the real declarations; without, they accept any object.
export {};
declare global {
  interface AbortController {}
  interface AbortSignal {}
  interface ReadableStream<R = any> {}
  interface ReadableStreamBYOBReader {}
}
`;
const WEB_NAMES = /\b(AbortController|AbortSignal|ReadableStream|ReadableStreamBYOBReader)\b/;

/** Writes web.d.ts (and web.d.cts) and references it from every declaration
 * file that names one of its globals. */
async function webGlobals(): Promise<void> {
  await write(new URL("esm/web.d.ts", OUT), WEB_GLOBALS);
  await write(new URL("cjs/web.d.cts", OUT), WEB_GLOBALS);
  for (const dir of ["esm", "cjs"]) {
    for (const file of walk(new URL(`${dir}/`, OUT))) {
      if (!/\.d\.c?ts$/.test(file) || /\/web\.d\.c?ts$/.test(file)) continue;
      const text = await Deno.readTextFile(file);
      if (!WEB_NAMES.test(text)) continue;
      const up = "../".repeat(
        file.slice(new URL(`${dir}/`, OUT).pathname.length).split("/").length - 1,
      );
      const web = `${up || "./"}web.d.${dir === "esm" ? "ts" : "cts"}`;
      await Deno.writeTextFile(file, `/// <reference path="${web}" />\n${text}`);
    }
  }
}

/** `text` with its relative import specifiers ending in `ext`. */
function withExtension(text: string, ext: string): string {
  return text.replace(
    IMPORT,
    (_, head, quote, spec: string) => `${head}${quote}${spec.replace(/\.[jt]s$/, ext)}${quote}`,
  );
}

/** One entry of package.json's `exports`: ESM for import, CJS for require. */
/** The .d.ts `text` of the module at `path` (relative to esm/) with
 * `#runtime` naming node.ts's types, which are every runtime's. */
function typesOfRuntime(text: string, path: string): string {
  const up = path.split("/").length - 1;
  const node = (up === 0 ? "./" : "../".repeat(up)) + RUNTIMES.node;
  return text.replaceAll(`"${RUNTIME_IMPORT}"`, `"${node}"`);
}

/** package.json's `imports`: `#runtime` is bun.ts on Bun, node.ts
 * elsewhere, each in the module format of the module that imports it. */
function runtimeImports() {
  const file = (format: "esm" | "cjs", path: string) =>
    `./${format}/${path.replace(/\.ts$/, format === "esm" ? ".js" : ".cjs")}`;
  const both = (path: string) => ({ import: file("esm", path), require: file("cjs", path) });
  return { [RUNTIME_IMPORT]: { bun: both(RUNTIMES.bun), ...both(RUNTIMES.node) } };
}

function entry(path: string) {
  const base = path.replace(/^\.\//, "").replace(/\.ts$/, "");
  return {
    import: { types: `./esm/${base}.d.ts`, default: `./esm/${base}.js` },
    require: { types: `./cjs/${base}.d.cts`, default: `./cjs/${base}.cjs` },
  };
}

async function packageFiles(): Promise<void> {
  const subpaths = Object.entries(exportsMap).filter(([key]) => key !== ".");
  const pkg = {
    name: "tcp-sixteen",
    version: config.version,
    description: "The classic sixteen-octet TCP client and server: recvAll, sendAll, " +
      "a hardened server and its client, for Node, Bun and Deno.",
    license: config.license,
    type: "module",
    engines: { node: ">=20.19" },
    main: "./cjs/mod.cjs",
    types: "./esm/mod.d.ts",
    exports: {
      ...Object.fromEntries(Object.entries(exportsMap).map(([key, path]) => [key, entry(path)])),
      "./package.json": "./package.json",
    },
    // TypeScript's old `node10` resolution reads no `exports`: this maps
    // the subpaths, if any (`tcp-sixteen/x`), to their types.
    ...(subpaths.length > 0 && {
      typesVersions: {
        "*": Object.fromEntries(
          subpaths.map(([key, path]) => [key.slice(2), [entry(path).import.types]]),
        ),
      },
    }),
    imports: runtimeImports(),
    bin: Object.fromEntries(Object.keys(BINS).map((name) => [name, `./bin/${name}.js`])),
    files: ["esm/", "cjs/", "bin/"],
    keywords: ["tcp", "socket", "recvall", "sendall", "tutorial"],
    repository: { type: "git", url: `git+${REPOSITORY}.git` },
    homepage: `${REPOSITORY}#readme`,
    bugs: { url: `${REPOSITORY}/issues` },
    sideEffects: false,
  };
  await write(new URL("package.json", OUT), JSON.stringify(pkg, null, 2) + "\n");
  for (const [name, program] of Object.entries(BINS)) {
    await write(
      new URL(`bin/${name}.js`, OUT),
      `#!/usr/bin/env node\n// The ${program}'s command line: see README.md.\n` +
        `import { cli } from "../esm/${program}.js";\n\ncli();\n`,
      0o755,
    );
  }
  // The package's README is written for npm users, not this repository's.
  await Deno.copyFile(new URL("README.npm.md", ROOT), new URL("README.md", OUT));
  await Deno.copyFile(new URL("LICENSE", ROOT), new URL("LICENSE", OUT));
}

const started = performance.now();
await Deno.remove(OUT, { recursive: true }).catch(() => {});
await stageLibrary();
await stageTests();
// Node's types do not know Deno's `import.meta.main` (undefined on Node 20,
// false on Bun for an imported module): the bins call cli() themselves.
await write(new URL("globals.d.ts", STAGE), "interface ImportMeta { main?: boolean }\n");
// NodeNext: ESM, and #runtime as node.ts for the type checker.
await write(
  new URL("package.json", STAGE),
  JSON.stringify({ type: "module", imports: { [RUNTIME_IMPORT]: `./esm/${RUNTIMES.node}` } }) +
    "\n",
);
try {
  compile();
} finally {
  await Deno.remove(STAGE, { recursive: true });
}
for (const file of walk(new URL("test/", OUT))) {
  if (file.endsWith(".d.ts")) await Deno.remove(file);
}
await commonjs();
await webGlobals();
await packageFiles();
await checkConsumers();
console.log(
  `build:npm: wrote npm/ (tcp-sixteen@${config.version}) in ${
    Math.round(performance.now() - started)
  } ms`,
);
