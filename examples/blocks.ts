// The book's blocks ("Foundations of Python Network Programming", chapter
// 5, blocks.py) with tcp-sixteen's framing: the client sends a few blocks
// and an empty one to end; the server prints each block until the empty
// one. A block is its length as a 4-byte big-endian unsigned integer (the
// book's struct.Struct('!I')), then its bytes: this program and the book's
// talk to each other in both directions.
//
//   deno run --allow-net examples/blocks.ts server [HOST] [-p PORT]
//   deno run --allow-net examples/blocks.ts client [HOST] [-p PORT]
//
// HOST defaults to 127.0.0.1 and PORT to 1060 (0: a free one, for the
// server). Exit status: 0 done, 1 a network failure, 2 a usage error.

import { type Conn, connect, formatAddr, FrameReader, listen, writeFrame } from "../mod.ts";

const BLOCKS = [
  "Beautiful is better than ugly.",
  "Explicit is better than implicit.",
  "Simple is better than complex.",
];

/** Serves one connection, as the book's server does. */
async function server(hostname: string, port: number): Promise<void> {
  const listener = await listen({ hostname, port });
  console.log(`Listening at ${formatAddr(listener.addr)}`);
  let conn: Conn;
  try {
    conn = await listener.accept();
  } finally {
    listener.close();
  }
  try {
    const peer = conn.remoteAddr;
    console.log(`Accepted connection from ${peer ? formatAddr(peer) : "a peer that has left"}`);
    await conn.closeWrite(); // The server only listens (the book's SHUT_WR).
    const reader = new FrameReader(conn);
    while (true) {
      const block = await reader.readFrame({ prefix: 4 });
      if (block === null) throw new Error("the client left before its empty block");
      if (block.length === 0) break; // The empty block: the end.
      console.log(`Block says: ${JSON.stringify(new TextDecoder().decode(block))}`);
    }
  } finally {
    conn.close();
  }
}

/** Sends the blocks, then the empty one. */
async function client(hostname: string, port: number): Promise<void> {
  const conn = await connect({ hostname, port });
  try {
    for (const text of BLOCKS) {
      await writeFrame(conn, new TextEncoder().encode(text), { prefix: 4 });
    }
    await writeFrame(conn, new Uint8Array(0), { prefix: 4 });
  } finally {
    conn.close();
  }
}

const USAGE = "usage: blocks.ts server|client [HOST] [-p PORT]";

/** `server|client [HOST] [-p PORT]`, or a usage error. */
function parse(args: string[]): { role: string; hostname: string; port: number } {
  const [role, ...rest] = args;
  if (role !== "server" && role !== "client") {
    throw new UsageError(`the first argument is server or client, got '${role ?? ""}'`);
  }
  const hosts: string[] = [];
  let port = 1060;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] !== "-p") hosts.push(rest[i]);
    else if (!/^\d{1,5}$/.test(rest[++i] ?? "") || (port = Number(rest[i])) > 65535) {
      throw new UsageError(`-p takes a port from 0 to 65535, got '${rest[i] ?? ""}'`);
    }
  }
  if (hosts.length > 1) throw new UsageError(`unexpected argument '${hosts[1]}'`);
  return { role, hostname: hosts[0] ?? "127.0.0.1", port };
}

class UsageError extends Error {}

try {
  const { role, hostname, port } = parse(Deno.args);
  await (role === "server" ? server(hostname, port) : client(hostname, port));
} catch (err) {
  console.error(`blocks: ${err instanceof Error ? err.message : err}`);
  if (err instanceof UsageError) console.error(USAGE);
  Deno.exit(err instanceof UsageError ? 2 : 1);
}
