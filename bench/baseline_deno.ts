/**
 * The least a Deno server for the exchange can be: Deno.listen, read 16
 * octets, write the reply, close. No deadlines, no cap, no logging, no
 * shutdown. The benchmark compares the project's server with it to see what
 * those cost.
 *
 * Run it: `deno run --allow-net bench/baseline_deno.ts [PORT]` (0, the
 * default, picks a free one; prints `Listening at 127.0.0.1:PORT`).
 *
 * @module
 */

const reply = new TextEncoder().encode("Farewell, client");
const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0] ?? 0) });
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
