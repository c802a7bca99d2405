/**
 * The least a node:net server for the exchange can be: read 16 octets,
 * write the reply, close. No deadlines, no cap, no logging, no shutdown:
 * the benchmark compares the npm package's server on Node with it, as it
 * compares server.ts with baseline_deno.ts.
 *
 * With `--tls CERT KEY` it is a `node:tls` server instead (PEM files), and
 * the same over TLS.
 *
 * Run it: `node bench/baseline_node.mjs [PORT] [--tls CERT KEY]` (0, the
 * default, picks a free one; prints `Listening at 127.0.0.1:PORT`).
 */
import { createServer } from "node:net";
import { readFileSync } from "node:fs";
import process from "node:process";

const reply = Buffer.from("Farewell, client");
const [port, flag, cert, key] = process.argv.slice(2);
const serve = (socket) => {
  let got = 0;
  socket.on("data", (chunk) => {
    got += chunk.length;
    if (got >= 16) socket.end(reply);
  });
  socket.on("error", () => socket.destroy());
};
// node:tls only when asked: the plain server's memory stays node:net's.
const server = flag === "--tls"
  ? (await import("node:tls")).createServer(
    { cert: readFileSync(cert), key: readFileSync(key) },
    serve,
  )
  : createServer(serve);
server.listen(Number(port ?? 0), "127.0.0.1", () => {
  console.log(`Listening at 127.0.0.1:${server.address().port}`);
});
