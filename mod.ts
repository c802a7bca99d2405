/**
 * tcp-sixteen: the classic sixteen-octet TCP exchange. A client sends
 * `Hi there, server`, the server reads exactly 16 octets, replies
 * `Farewell, client` and closes. Exact reads and complete writes
 * ({@linkcode recvAll}, {@linkcode sendAll}) are the lesson: TCP delivers
 * bytes in arbitrary pieces.
 *
 * {@linkcode load} runs many exchanges against a server and summarizes them
 * (errors by kind, rate, latency percentiles): the client's load mode.
 *
 * The same code runs on Deno (with `Deno.listen` / `Deno.connect`) and, from
 * the npm package, on Node and Bun.
 *
 * @example An exchange on a free port
 * ```ts
 * import { request, serve } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const server = await serve({ port: 0 });
 * const { reply } = await request({ port: server.addr.port });
 * assert.equal(new TextDecoder().decode(reply), "Farewell, client");
 * await server.shutdown();
 * ```
 *
 * @module
 */

export * from "./recv_all.ts";
export {
  acceptErrorKind,
  bareHost,
  type Conn,
  type ConnectOptions,
  errorCode,
  formatAddr,
  type Listener,
  type ListenOptions,
  type NetAddr,
  NetError,
  type NetErrorCode,
  type NetOp,
  toNetError,
} from "./net.ts";
export { connect, listen } from "./runtime/deno.ts";
export * from "./protocol.ts";
export {
  serve,
  type ServeOptions,
  type Server,
  type ServerEvent,
  type ServerStats,
} from "./server.ts";
export { type Reply, request, type RequestOptions } from "./client.ts";
export {
  ERROR_KINDS,
  type ErrorKind,
  errorKind,
  Histogram,
  type LatencySummary,
  load,
  type LoadCounts,
  type LoadOptions,
  type LoadProgress,
  type LoadSummary,
  summarize,
} from "./load.ts";
export { VERSION } from "./version.ts";
