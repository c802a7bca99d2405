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
