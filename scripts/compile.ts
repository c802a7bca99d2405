// Builds standalone binaries of the two programs with `deno compile`:
// dist/tcp-sixteen-server and dist/tcp-sixteen-client, with --allow-net and
// no other permission.
//
// deno compile appends the program to `denort`, Deno's runtime without its
// tooling, which it downloads from Deno's release server unless DENORT_BIN
// names a local copy. This script never downloads by surprise: without
// DENORT_BIN it stops, unless told `--download` (needs internet).
// Run it: deno task compile [--download].

const ROOT = new URL("..", import.meta.url);
const PROGRAMS = ["server", "client"] as const;

const denort = Deno.env.get("DENORT_BIN");
const download = Deno.args.includes("--download");
if (!denort && !download) {
  console.error(
    "compile: DENORT_BIN is not set — deno compile needs the denort runtime: set DENORT_BIN " +
      `to a denort binary of Deno ${Deno.version.deno}, or pass --download to let deno ` +
      "compile fetch it (needs internet)",
  );
  Deno.exit(1);
}

for (const program of PROGRAMS) {
  const output = new URL(`dist/tcp-sixteen-${program}`, ROOT).pathname;
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "--allow-net",
      // The programs import no npm package: leave out node_modules, which
      // deno compile otherwise embeds whole (Deno, Bun, tsc: 230 MB).
      "--exclude",
      new URL("node_modules", ROOT).pathname,
      "--output",
      output,
      new URL(`${program}.ts`, ROOT).pathname,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(`compile: deno compile of ${program}.ts failed (exit ${code}); see above`);
    Deno.exit(1);
  }
}
console.log(`compile: wrote ${PROGRAMS.map((p) => `dist/tcp-sixteen-${p}`).join(", ")}`);
