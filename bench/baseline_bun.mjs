/**
 * The least a Bun server for the exchange can be: Bun.listen, read 16
 * octets, write the reply, close. No deadlines, no cap, no logging, no
 * shutdown: the benchmark compares the npm package's server on Bun with it,
 * as it compares server.ts with baseline_deno.ts.
 *
 * With `--linger` it closes as the project's servers do by default: after
 * the reply it half-closes (FIN) and closes on the client's end of stream,
 * discarding what comes before it: the same work, to compare them with.
 *
 * With `--tls CERT KEY` it listens over TLS (`Bun.listen` with `tls`, PEM
 * files), and is the same over TLS.
 *
 * Run it: `bun bench/baseline_bun.mjs [PORT] [--linger] [--tls CERT KEY]`
 * (0, the default, picks a free one; prints `Listening at
 * 127.0.0.1:PORT`).
 */
import { readFileSync } from "node:fs";
import process from "node:process";

const reply = new TextEncoder().encode("Farewell, client");
const args = process.argv.slice(3);
const linger = args.includes("--linger");
const tls = args.indexOf("--tls");
const server = Bun.listen({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  allowHalfOpen: linger,
  ...(tls < 0 ? {} : {
    tls: {
      cert: readFileSync(args[tls + 1], "utf8"),
      key: readFileSync(args[tls + 2], "utf8"),
    },
  }),
  socket: {
    open(socket) {
      socket.data = 0;
    },
    data(socket, chunk) {
      if (socket.data < 0) return; // Lingering: discarded.
      socket.data += chunk.length;
      if (socket.data < 16) return;
      // 16 octets always fit a fresh socket's send buffer: end() writes
      // them and closes; write() and shutdown() write them and send FIN.
      if (!linger) return socket.end(reply);
      socket.data = -1;
      socket.write(reply);
      socket.shutdown();
    },
    end(socket) {
      socket.end(); // The client's end of stream: lingering is over.
    },
    error() {
      // The peer left; nothing to report in a benchmark target.
    },
  },
});
console.log(`Listening at 127.0.0.1:${server.port}`);
