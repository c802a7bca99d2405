/**
 * The least a Deno server for the exchange can be: Deno.listen, read 16
 * octets, write the reply, close. No deadlines, no cap, no logging, no
 * shutdown. The benchmark compares the project's server with it to see what
 * those cost.
 *
 * With `--tls CERT KEY` it listens with `Deno.listenTls` instead (PEM
 * files), and is the same over TLS.
 *
 * Run it: `deno run --allow-net [--allow-read] bench/baseline_deno.ts [PORT]
 * [--tls CERT KEY]` (0, the default, picks a free one; prints `Listening at
 * 127.0.0.1:PORT`).
 *
 * @module
 */

const reply = new TextEncoder().encode("Farewell, client");
const port = Number(Deno.args[0] ?? 0);
const tls = Deno.args[1] === "--tls";
const listener = tls
  ? Deno.listenTls({
    hostname: "127.0.0.1",
    port,
    cert: Deno.readTextFileSync(Deno.args[2]),
    key: Deno.readTextFileSync(Deno.args[3]),
  })
  : Deno.listen({ hostname: "127.0.0.1", port });
console.log(`Listening at 127.0.0.1:${listener.addr.port}`);

async function handle(conn: Deno.Conn): Promise<void> {
  const message = new Uint8Array(16);
  try {
    let got = 0;
    while (got < 16) {
      const n = await conn.read(message.subarray(got));
      if (n === null) return;
      got += n;
    }
    // 16 octets always fit a fresh socket's send buffer: one write.
    await conn.write(reply);
  } catch {
    // The peer left; nothing to report in a benchmark target.
  } finally {
    conn.close();
  }
}

for await (const conn of listener) handle(conn);
