/**
 * tcp-sixteen: the classic sixteen-octet TCP exchange. A client sends
 * `Hi there, server`, the server reads exactly 16 octets, replies
 * `Farewell, client` and closes. Exact reads and complete writes
 * ({@linkcode recvAll}, {@linkcode sendAll}) are the lesson: TCP delivers
 * bytes in arbitrary pieces.
 *
 * {@linkcode serve} is a server no bad peer can knock over (deadlines, a
 * connection cap, graceful shutdown); {@linkcode request} is one exchange;
 * {@linkcode load} runs many and summarizes them (errors by kind, rate,
 * latency percentiles). The same code runs on Deno (with `Deno.listen` /
 * `Deno.connect`) and, from the npm package, on Node and Bun.
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

export {
  type ByteSink,
  type ByteSource,
  IncompleteReadError,
  type NodeListener,
  type NodeReadable,
  type NodeWritable,
  NoProgressError,
  type Reader,
  recvAll,
  type RecvAllOptions,
  sendAll,
  type SendAllOptions,
  type Writer,
} from "./recv_all.ts";
export {
  FrameReader,
  type FrameReaderOptions,
  type LengthPrefix,
  LimitExceededError,
  type ReadFrameOptions,
  type ReadOptions,
} from "./frame_reader.ts";
export { writeFrame, type WriteFrameOptions } from "./write_frame.ts";
export { DEFAULT_MAX_MESSAGE, frame, type Framing, FRAMINGS } from "./framing.ts";
export {
  acceptErrorKind,
  type AddrOf,
  type Conn,
  type ConnectOptions,
  type Dialer,
  errorCode,
  formatAddr,
  type Listener,
  type ListenOptions,
  type NetAddr,
  NetError,
  type NetErrorCode,
  type NetOp,
  type TcpAddr,
  type TcpOptions,
  type UnixAddr,
  type UnixOptions,
} from "./net.ts";
export { connect, connectTls, listen, listenTls } from "./runtime/deno.ts";
export {
  checkClientTls,
  checkServerTls,
  isTlsConn,
  type TlsClientOptions,
  type TlsConn,
  type TlsConnectOptions,
  type TlsInfo,
  type TlsListenOptions,
  type TlsOption,
  type TlsServerOptions,
} from "./tls.ts";
export {
  DEFAULT_GRACE,
  DEFAULT_HOST,
  DEFAULT_LINGER,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MESSAGE,
  DEFAULT_PORT,
  DEFAULT_REPLY,
  DEFAULT_TIMEOUT,
  MESSAGE_LENGTH,
} from "./protocol.ts";
export {
  serve,
  type ServedAddr,
  type ServeOptions,
  type Server,
  type ServerEvent,
  type ServerStats,
} from "./serve.ts";
export {
  type Reply,
  request,
  type RequestOptions,
  type Target,
  UnexpectedReplyError,
} from "./request.ts";
export {
  ERROR_KINDS,
  type ErrorKind,
  errorKind,
  type LatencySummary,
  load,
  type LoadOptions,
  type LoadProgress,
  type LoadSummary,
} from "./load.ts";
export { VERSION } from "./version.ts";
