// The main job, shown: starts the server on a free port, runs the client
// against it, prints both sides' output, then stops the server with SIGTERM.
// Run it: deno task demo (or npm run demo).

const decoder = new TextDecoder();
const root = new URL("..", import.meta.url);

function program(name: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", new URL(`${name}.ts`, root).pathname, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

/** Prints a program's stdout lines with a prefix; resolves to the first. */
function relay(child: Deno.ChildProcess, prefix: string): { first: Promise<string> } {
  let resolveFirst!: (line: string) => void;
  const first = new Promise<string>((resolve) => (resolveFirst = resolve));
  (async () => {
    let rest = "";
    for await (const chunk of child.stdout) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        console.log(`${prefix} ${line}`);
        resolveFirst(line);
      }
    }
    resolveFirst("");
  })();
  return { first };
}

const server = program("server", ["-p", "0"]);
const listening = await relay(server, "[server]").first;
const port = listening.match(/:(\d+)$/)?.[1];
if (!port) {
  console.error("demo: the server did not start; see its message above");
  Deno.exit(1);
}
const client = program("client", ["-p", port]);
relay(client, "[client]");
const { code } = await client.status;
await new Promise((resolve) => setTimeout(resolve, 100)); // Let the server log.
server.kill("SIGTERM");
const stopped = await server.status;
Deno.exit(code || stopped.code);
