/**
 * The least a node:net server for the exchange can be: read 16 octets,
 * write the reply, close. No deadlines, no cap, no logging, no shutdown:
 * the benchmark compares the npm package's server on Node with it, as it
 * compares server.ts with baseline_deno.ts.
 *
 * Run it: `node bench/baseline_node.mjs [PORT]` (0, the default, picks a
 * free one; prints `Listening at 127.0.0.1:PORT`).
 */
import { createServer } from "node:net";
import process from "node:process";

const reply = Buffer.from("Farewell, client");
const server = createServer((socket) => {
  let got = 0;
  socket.on("data", (chunk) => {
    got += chunk.length;
    if (got >= 16) socket.end(reply);
  });
  socket.on("error", () => socket.destroy());
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`Listening at 127.0.0.1:${server.address().port}`);
});
