// node:readline over a net.Socket, as a reader for bench/frame.ts: counts
// lines until the end and prints {"messages": N, "seconds": S}. `events`
// counts its 'line' events (synchronous, the fastest way to use it);
// `for-await` iterates the interface, as Node's documentation shows.
//   node bench/frame_readline.mjs events|for-await PORT
import { once } from "node:events";
import net from "node:net";
import process from "node:process";
import readline from "node:readline";

const [how, port] = process.argv.slice(2);
const socket = net.connect(Number(port), "127.0.0.1");
await once(socket, "connect");
const start = performance.now();
let count = 0;
const lines = readline.createInterface({ input: socket, crlfDelay: Infinity });
if (how === "for-await") {
  for await (const _ of lines) count++;
} else {
  lines.on("line", () => count++);
  await once(lines, "close");
}
const seconds = (performance.now() - start) / 1000;
console.log(JSON.stringify({ messages: count, seconds }));
