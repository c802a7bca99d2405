// Byte sources for the reader tests (recvAll, FrameReader): scripted
// in-memory readers and streams that split data exactly as a test asks,
// a reader the test feeds by hand, and a connected pair of net.Sockets.
import { once } from "node:events";
import net from "node:net";

/** A reader that hands out `data` in the given chunk sizes (cycling), then
 * EOF. A size of 0 is a read that returns 0 bytes. Counts its reads, and
 * keeps the buffers it was given to read into. */
export function scripted(data: Uint8Array, sizes: number[]) {
  let at = 0;
  let i = 0;
  const reader = {
    reads: 0,
    /** The `ArrayBuffer` of each read's `p`. */
    buffers: [] as ArrayBufferLike[],
    read(p: Uint8Array): Promise<number | null> {
      reader.reads++;
      reader.buffers.push(p.buffer);
      if (at === data.length) return Promise.resolve(null);
      const n = Math.min(sizes[i++ % sizes.length], p.length, data.length - at);
      p.set(data.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
  return reader;
}

/** A byte stream that enqueues `chunks` one per pull, then closes. */
export function byteStream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      const chunk = chunks.shift();
      if (chunk) controller.enqueue(chunk.slice()); // enqueue transfers its buffer
      else {
        controller.close();
        controller.byobRequest?.respond(0); // Ends a pending BYOB read.
      }
    },
  });
}

/** A reader fed by hand: `push()` bytes (one read returns at most one
 * push), `end()` the stream, `fail()` it. A read waits until one of them. */
export function fed() {
  const queue: (Uint8Array | null | Error)[] = [];
  let waiting: (() => void) | undefined;
  const settle = (item: Uint8Array | null | Error) => {
    queue.push(item);
    waiting?.();
  };
  return {
    /** Reads in flight, started and not yet answered. */
    pending: 0,
    async read(p: Uint8Array): Promise<number | null> {
      this.pending++;
      while (queue.length === 0) await new Promise<void>((resolve) => (waiting = resolve));
      this.pending--;
      const item = queue[0];
      if (item === null) return null;
      if (item instanceof Error) throw queue.shift();
      const n = Math.min(p.length, item.length);
      p.set(item.subarray(0, n));
      if (n === item.length) queue.shift();
      else queue[0] = item.subarray(n);
      return n;
    },
    push: (bytes: Uint8Array) => settle(bytes),
    end: () => settle(null),
    fail: (err: Error) => settle(err),
  };
}

/** A connected pair of sockets on 127.0.0.1: `client` and the server's
 * `peer`. */
export async function socketPair(): Promise<
  { client: net.Socket; peer: net.Socket; close(): void }
> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const accepted = once(server, "connection");
  const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  await once(client, "connect");
  const [peer] = (await accepted) as [net.Socket];
  return {
    client,
    peer,
    close() {
      client.destroy();
      peer.destroy();
      server.close();
    },
  };
}
