// deno bench: recvAll and sendAll over in-memory peers, against the
// tutorial's algorithm (grow the result by concatenation) in the same run.
// Run: deno task bench (or deno bench bench/recv_all_bench.ts).
import { recvAll, sendAll } from "../mod.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** A reader that delivers `length` bytes in chunks of `chunk`, as TCP may. */
function source(length: number, chunk: number) {
  let left = length;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (left === 0) return Promise.resolve(null);
      const n = Math.min(chunk, p.length, left);
      p.fill(7, 0, n);
      left -= n;
      return Promise.resolve(n);
    },
  };
}

/** The tutorial's recv_all: `data += more`, one new buffer per chunk. */
async function naiveRecvAll(
  reader: { read(p: Uint8Array): Promise<number | null> },
  length: number,
): Promise<Uint8Array> {
  let data = new Uint8Array(0);
  while (data.length < length) {
    const more = new Uint8Array(length - data.length);
    const n = await reader.read(more);
    if (!n) throw new Error("socket closed");
    const joined = new Uint8Array(data.length + n);
    joined.set(data);
    joined.set(more.subarray(0, n), data.length);
    data = joined;
  }
  return data;
}

const cases: [string, number, number[]][] = [
  ["16 B", 16, [1, 1460, 65536]],
  ["64 KiB", 64 * KiB, [1, 1460, 65536]],
  ["1 MiB", MiB, [1460, 65536]],
  ["64 MiB", 64 * MiB, [1460, 65536]],
];

for (const [label, length, chunks] of cases) {
  for (const chunk of chunks) {
    const group = `recv ${label} in ${chunk}-byte chunks`;
    // The tutorial's algorithm copies O(n²) bytes: at 64 MiB it would take
    // minutes per iteration, so it is the baseline only up to 1 MiB.
    if (length <= MiB) {
      Deno.bench(
        `naive concatenation, ${label} / ${chunk}`,
        { group, baseline: true },
        async () => {
          await naiveRecvAll(source(length, chunk), length);
        },
      );
    }
    Deno.bench(`recvAll, ${label} / ${chunk}`, { group, baseline: length > MiB }, async () => {
      await recvAll(source(length, chunk), length);
    });
    const buffer = new Uint8Array(length);
    Deno.bench(`recvAll into a reused buffer, ${label} / ${chunk}`, { group }, async () => {
      await recvAll(source(length, chunk), length, { buffer });
    });
  }
}

for (const [label, length] of [["16 B", 16], ["64 KiB", 64 * KiB], ["64 MiB", 64 * MiB]] as const) {
  const bytes = new Uint8Array(length);
  const sink = (chunk: number) => ({
    write: (p: Uint8Array) => Promise.resolve(Math.min(chunk, p.length)),
  });
  for (const chunk of [1460, 65536]) {
    if (length > 16 * chunk * 1024) continue;
    Deno.bench(`sendAll, ${label} / ${chunk}`, { group: `send ${label}` }, async () => {
      await sendAll(sink(chunk), bytes);
    });
  }
}

// Over loopback: a Deno.listen pair on 127.0.0.1, one side sendAll()s the
// message while the other recvAll()s it (a fresh buffer, a reused one, and
// the tutorial's concatenation at 1 MiB, where it still ends). Throughput
// is the size over the time per iteration: 64 MiB in 50 ms is 1.34 GB/s.
// The functions must be declared `async`: deno bench awaits only those, and
// would start the next iteration while a returned promise is pending.

/** Sends `length` bytes over a fresh loopback connection and receives them
 * with `receive`. */
async function overLoopback(
  length: number,
  receive: (conn: Deno.Conn, length: number) => Promise<Uint8Array>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]).finally(() => listener.close());
  try {
    const [, received] = await Promise.all([
      sendAll(client, loopbackMessage.subarray(0, length)),
      receive(server, length),
    ]);
    if (received.length !== length) throw new Error(`received ${received.length} of ${length}`);
  } finally {
    client.close();
    server.close();
  }
}
const loopbackMessage = new Uint8Array(64 * MiB).fill(7);
const reused = new Uint8Array(64 * MiB);
const loopback = { n: 10, warmup: 2 };
for (const [label, length] of [["1 MiB", MiB], ["64 MiB", 64 * MiB]] as const) {
  const group = `recv ${label} over loopback`;
  if (length <= MiB) {
    Deno.bench(
      `naive concatenation, ${label} over loopback`,
      { group, baseline: true, ...loopback },
      async () => await overLoopback(length, naiveRecvAll),
    );
  }
  Deno.bench(
    `recvAll, ${label} over loopback`,
    { group, baseline: length > MiB, ...loopback },
    async () => await overLoopback(length, (conn, n) => recvAll(conn, n)),
  );
  Deno.bench(
    `recvAll into a reused buffer, ${label} over loopback`,
    { group, ...loopback },
    async () => await overLoopback(length, (conn, n) => recvAll(conn, n, { buffer: reused })),
  );
}
