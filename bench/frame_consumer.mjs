// FrameReader as a reader for bench/frame.ts, on whichever runtime runs
// it: the library is imported from MODULE (../mod.ts on Deno, the npm
// package's ../npm/esm/mod.js on Node and Bun). Reads until the end and
// prints {"messages": N, "seconds": S}.
//
//   frame_consumer.mjs MODULE lines|lines-copy|frames|frames-copy conn|socket PORT
//   frame_consumer.mjs MODULE alloc|await
//
// conn reads the library's connect(); socket a node:net Socket. The -copy
// modes copy each message (slice()), as a reader returning a fresh array
// per message would. In memory, alloc counts new 64 KiB buffers (the buffer
// FrameReader takes when one is used up), await the awaits of a resolved
// promise in a loop: the most any reader resolving a promise per message
// can do on this runtime.
import { once } from "node:events";
import process from "node:process";

const [module, mode, source, port] = process.argv.slice(2);
const { connect, FrameReader } = await import(new URL(module, import.meta.url).href);

/** The measurement, in a function as real code runs (a top-level loop is
 * slower on some runtimes). */
async function main() {
  if (mode === "alloc" || mode === "await") {
    const view = new Uint8Array(32);
    const next = () => Promise.resolve(view);
    const start = performance.now();
    let count = 0;
    let keep = 0;
    while (performance.now() - start < 1000) {
      if (mode === "alloc") { for (let i = 0; i < 100; i++) keep ^= new Uint8Array(65536)[i]; }
      else for (let i = 0; i < 100; i++) keep ^= (await next()).length;
      count += 100;
    }
    const seconds = (performance.now() - start) / 1000;
    console.log(JSON.stringify({ messages: count, seconds, keep }));
  } else {
    let from;
    if (source === "socket") {
      const { default: net } = await import("node:net");
      from = net.connect(Number(port), "127.0.0.1");
      await once(from, "connect");
    } else from = await connect({ hostname: "127.0.0.1", port: Number(port) });
    const reader = new FrameReader(from);
    const start = performance.now();
    let count = 0;
    let keep = 0;
    if (mode === "lines") { while ((await reader.readLine()) !== null) count++; }
    else if (mode === "lines-copy") {
      for (let line; (line = await reader.readLine()) !== null; count++) keep ^= line.slice()[0];
    } else if (mode === "frames") { while ((await reader.readFrame()) !== null) count++; }
    else if (mode === "frames-copy") {
      for (let frame; (frame = await reader.readFrame()) !== null; count++) {
        keep ^= frame.slice()[0];
      }
    } else throw new Error(`unknown mode ${mode}`);
    const seconds = (performance.now() - start) / 1000;
    if (source === "socket") from.destroy();
    else from.close();
    console.log(JSON.stringify({ messages: count, seconds, keep }));
  }
}

await main();
