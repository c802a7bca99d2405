/**
 * The least a Bun server for the exchange can be: Bun.listen, read 16
 * octets, write the reply, close. No deadlines, no cap, no logging, no
 * shutdown: the benchmark compares the npm package's server on Bun with it,
 * as it compares server.ts with baseline_deno.ts.
 *
 * Run it: `bun bench/baseline_bun.mjs [PORT]` (0, the default, picks a free
 * one; prints `Listening at 127.0.0.1:PORT`).
 */
import process from "node:process";

const reply = new TextEncoder().encode("Farewell, client");
const server = Bun.listen({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  socket: {
    open(socket) {
      socket.data = 0;
    },
    data(socket, chunk) {
      socket.data += chunk.length;
      // 16 octets always fit a fresh socket's send buffer: end() writes
      // them and closes.
      if (socket.data >= 16) socket.end(reply);
    },
    error() {
      // The peer left; nothing to report in a benchmark target.
    },
  },
});
console.log(`Listening at 127.0.0.1:${server.port}`);
