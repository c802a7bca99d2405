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

/** Prints a program's stdout lines with a prefix: `first` is the first
 * line, `done` settles once the last is printed. */
function relay(
  child: Deno.ChildProcess,
  prefix: string,
): { first: Promise<string>; done: Promise<void> } {
  let resolveFirst!: (line: string) => void;
  const first = new Promise<string>((resolve) => (resolveFirst = resolve));
  const done = (async () => {
    let rest = "";
    for await (const chunk of child.stdout) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        console.log(`${prefix} ${line}`);
        resolveFirst(line);
      }
    }
    if (rest) console.log(`${prefix} ${rest}`);
    resolveFirst(rest);
  })();
  return { first, done };
}

const server = program("server", ["-p", "0"]);
const serverOutput = relay(server, "[server]");
const listening = await serverOutput.first;
const port = listening.match(/:(\d+)$/)?.[1];
if (!port) {
  console.error("demo: the server did not start; see its message above");
  Deno.exit(1);
}
const client = program("client", ["-p", port]);
const clientOutput = relay(client, "[client]");
const { code } = await client.status;
await new Promise((resolve) => setTimeout(resolve, 100)); // Let the server log.
server.kill("SIGTERM");
const stopped = await server.status;
// Their last lines may still be on their way through the pipes.
await Promise.all([serverOutput.done, clientOutput.done]);
Deno.exit(code || stopped.code);
