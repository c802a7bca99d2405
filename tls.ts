/**
 * TLS for the library's transports: the options (PEM text, as Deno, Node
 * and Bun all take it), their checks, the shape of a TLS connection, and
 * what each runtime's TLS failures mean as one {@linkcode NetErrorCode}.
 *
 * The runtime files (`runtime/deno.ts`, `node.ts`, `bun.ts`) listen and
 * connect over TLS (`listenTls`, `connectTls`); `serve({ tls })`,
 * `request({ tls })` and `load({ tls })` call them. Verification is always
 * on, as Python's `ssl.create_default_context()` and Go's `tls.Config`
 * have it: no option turns it off.
 *
 * Each runtime says why a handshake failed in its own way: Node and Bun
 * with OpenSSL's codes (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
 * `ERR_TLS_CERT_ALTNAME_INVALID`...), Deno (rustls) with an error class and
 * its message only. {@linkcode tlsErrorCode} reads both, here and nowhere
 * else; the rest of the library branches on the code it gives.
 *
 * @module
 */

import {
  type Conn,
  errorCode,
  type NetAddr,
  NetError,
  type NetErrorCode,
  rawCode,
  type TcpAddr,
  type TcpOptions,
} from "./net.ts";

/** What a TLS server presents: its certificate chain and key, as PEM text
 * (the `-----BEGIN CERTIFICATE-----` and `-----BEGIN PRIVATE KEY-----`
 * blocks of the files `openssl` writes). */
export interface TlsServerOptions {
  /** The certificate, and the intermediate ones after it, as PEM. */
  cert: string;
  /** The certificate's private key, as unencrypted PEM. */
  key: string;
}

/** How a TLS client verifies the server. Verification is never off. */
export interface TlsClientOptions {
  /** Certificates to trust (a CA's, or the server's own self-signed one),
   * as PEM. On Node and Bun they replace the runtime's roots, as `curl
   * --cacert` does; Deno's API can only add them to its roots. Default:
   * the runtime's roots (Mozilla's, as each runtime bundles them). */
  ca?: string;
  /** The name sent in SNI and that the certificate must be for. Default:
   * the host connected to (an IP address is checked against the
   * certificate's IP addresses, and sends no SNI). */
  servername?: string;
}

/** A client's TLS option: `true` verifies against the runtime's roots. */
export type TlsOption = true | TlsClientOptions;

/** Where to listen over TLS, and with what certificate. */
export type TlsListenOptions = TcpOptions & {
  /** The certificate and key. */
  tls: TlsServerOptions;
};

/** Where to connect over TLS, how to verify the server, and when to give
 * up (the handshake included). */
export type TlsConnectOptions = TcpOptions & {
  /** How to verify the server. */
  tls: TlsOption;
  /** Gives up connecting, or handshaking, when aborted. */
  signal?: AbortSignal;
};

/** What a finished handshake agreed on, where the runtime tells it (Deno's
 * `Deno.TlsConn` does not: both are `null` there). */
export interface TlsInfo {
  /** The protocol, such as `TLSv1.3`. */
  version: string | null;
  /** The cipher suite's IANA name, such as `TLS_AES_128_GCM_SHA256`. */
  cipher: string | null;
}

/** Both unknown: what Deno's TLS connections report. */
export const UNKNOWN_TLS: TlsInfo = Object.freeze({ version: null, cipher: null });

/**
 * A connection over TLS. A server's connection is handed out as soon as it
 * is accepted, before its handshake, so that one slow handshake never holds
 * the accept loop: `handshake()` finishes it (reads and writes would too).
 * A client's connection is handed out after its handshake.
 *
 * @typeParam A The address type of its transport.
 */
export interface TlsConn<A extends NetAddr = TcpAddr> extends Conn<A> {
  /** Finishes the handshake, if it has not finished, and says what it
   * agreed on. Rejects with the runtime's error if it fails, or if the
   * connection is closed first. */
  handshake(): Promise<TlsInfo>;
}

/**
 * Whether a connection is a {@linkcode TlsConn}.
 *
 * @param conn The connection.
 * @returns Whether it has a handshake to finish.
 *
 * @example A plain connection is not one
 * ```ts
 * import { isTlsConn } from "./tls.ts";
 * import { connect, listen } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const listener = await listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * assert.equal(isTlsConn(conn), false);
 * conn.close();
 * listener.close();
 * ```
 */
export function isTlsConn<A extends NetAddr>(conn: Conn<A>): conn is TlsConn<A> {
  return typeof (conn as Partial<TlsConn<A>>).handshake === "function";
}

/** The PEM blocks each kind of text must have. */
const PEM = {
  certificate: /-----BEGIN CERTIFICATE-----/,
  key: /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----/,
};

/**
 * What is wrong with PEM text, if anything: the check every runtime would
 * make, made first so that each says it in the same words.
 *
 * @param kind What it must hold: a certificate, or a private key.
 * @param text The text.
 * @returns Why it cannot be used, or `undefined` if it looks right.
 *
 * @example A key given where a certificate belongs
 * ```ts
 * import { pemProblem } from "./tls.ts";
 * import assert from "node:assert/strict";
 *
 * const key = "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n";
 * assert.equal(pemProblem("key", key), undefined);
 * assert.equal(
 *   pemProblem("certificate", key),
 *   "is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)",
 * );
 * ```
 */
export function pemProblem(kind: "certificate" | "key", text: string): string | undefined {
  if (kind === "key" && /-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text)) {
    return "is an encrypted key: give it unencrypted (openssl pkey -in KEY -out PLAIN)";
  }
  if (PEM[kind].test(text)) return undefined;
  return kind === "certificate"
    ? "is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)"
    : "is not a PEM private key (no '-----BEGIN PRIVATE KEY-----' line)";
}

/**
 * Checks a server's TLS options.
 *
 * @param tls The certificate and key.
 * @throws {RangeError} If either is not PEM text of its kind.
 *
 * @example Text that is not PEM
 * ```ts
 * import { checkServerTls } from "./tls.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => checkServerTls({ cert: "cert.pem", key: "key.pem" }), RangeError);
 * ```
 */
export function checkServerTls(tls: TlsServerOptions): void {
  for (const [name, kind] of [["cert", "certificate"], ["key", "key"]] as const) {
    const text = tls?.[name];
    const problem = typeof text === "string" ? pemProblem(kind, text) : "is not text";
    if (problem) throw new RangeError(`tls.${name} ${problem}`);
  }
}

/**
 * Checks a client's TLS option.
 *
 * @param tls `true`, or the CA and server name.
 * @throws {RangeError} If `ca` is not PEM certificates or `servername` is
 * empty.
 *
 * @example An empty server name
 * ```ts
 * import { checkClientTls } from "./tls.ts";
 * import assert from "node:assert/strict";
 *
 * checkClientTls(true);
 * assert.throws(() => checkClientTls({ servername: "" }), RangeError);
 * ```
 */
export function checkClientTls(tls: TlsOption): void {
  if (tls === true) return;
  if (typeof tls !== "object" || tls === null) {
    throw new RangeError("tls is true, or an object with ca and servername");
  }
  const problem = tls.ca === undefined ? undefined : pemProblem("certificate", String(tls.ca));
  if (problem) throw new RangeError(`tls.ca ${problem}`);
  if (tls.servername !== undefined && (typeof tls.servername !== "string" || !tls.servername)) {
    throw new RangeError("tls.servername is empty: leave it out to check the host's name");
  }
}

/** OpenSSL's verification codes and Node's own, as Node and Bun set them. */
const OPENSSL_CODES: Record<string, NetErrorCode> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "ECERTUNTRUSTED",
  UNABLE_TO_GET_ISSUER_CERT: "ECERTUNTRUSTED",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "ECERTUNTRUSTED",
  SELF_SIGNED_CERT_IN_CHAIN: "ECERTUNTRUSTED",
  DEPTH_ZERO_SELF_SIGNED_CERT: "ECERTUNTRUSTED",
  CERT_UNTRUSTED: "ECERTUNTRUSTED",
  CERT_REJECTED: "ECERTUNTRUSTED",
  CERT_SIGNATURE_FAILURE: "ECERTUNTRUSTED",
  INVALID_CA: "ECERTUNTRUSTED",
  ERR_TLS_CERT_ALTNAME_INVALID: "ECERTNAME",
  HOSTNAME_MISMATCH: "ECERTNAME",
  CERT_HAS_EXPIRED: "ECERTEXPIRED",
  CERT_NOT_YET_VALID: "ECERTEXPIRED",
  ERR_SSL_WRONG_VERSION_NUMBER: "ENOTTLS",
  ERR_SSL_HTTP_REQUEST: "ENOTTLS",
  ERR_SSL_HTTPS_PROXY_REQUEST: "ENOTTLS",
  ERR_OSSL_X509_KEY_VALUES_MISMATCH: "EKEYMISMATCH",
};

/** Bun gives a record that is not TLS the code `EPROTO` and OpenSSL's
 * reason in its message; Deno (rustls) gives text only. */
const NOT_TLS = /WRONG_VERSION_NUMBER|HTTP_REQUEST|InvalidContentType/;
/** rustls's certificate errors, in Deno's messages. */
const RUSTLS_CERT = /invalid peer certificate/;
const RUSTLS_NAME = /NotValidForName|not valid for name/;
const RUSTLS_DATES = /Expired|expired|NotValidYet|not valid yet/;

/**
 * What a runtime's TLS failure means, as one {@linkcode NetErrorCode}: the
 * certificate not trusted, for another name, or out of its dates; a peer
 * that does not speak TLS; a key that does not match its certificate; any
 * other TLS failure (`ETLS`). Node's and Bun's are read by their OpenSSL
 * code; Deno's, which have none, by their class and message.
 *
 * @param err What the runtime threw or reported.
 * @returns The code, or `undefined` if it is not a TLS failure (a socket
 * error such as `ECONNRESET`, or a bug).
 *
 * @example Node's code for an unknown CA, and Deno's message for it
 * ```ts
 * import { tlsErrorCode } from "./tls.ts";
 * import assert from "node:assert/strict";
 *
 * const node = Object.assign(new Error("unable to verify the first certificate"), {
 *   code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
 * });
 * assert.equal(tlsErrorCode(node), "ECERTUNTRUSTED");
 * const deno = Object.assign(new Error("invalid peer certificate: UnknownIssuer"), {
 *   name: "InvalidData",
 * });
 * assert.equal(tlsErrorCode(deno), "ECERTUNTRUSTED");
 * assert.equal(tlsErrorCode(Object.assign(new Error(), { code: "ECONNRESET" })), undefined);
 * ```
 */
export function tlsErrorCode(err: unknown): NetErrorCode | undefined {
  const code = rawCode(err);
  if (code !== undefined && code in OPENSSL_CODES) return OPENSSL_CODES[code];
  const message = err instanceof Error ? err.message : "";
  const name = err instanceof Error ? err.name : "";
  if (code === "EPROTO" || code?.startsWith("ERR_SSL_") || code?.startsWith("ERR_OSSL_")) {
    return NOT_TLS.test(message) ? "ENOTTLS" : "ETLS";
  }
  if (code !== undefined) return undefined;
  if (RUSTLS_CERT.test(message)) {
    return RUSTLS_NAME.test(message)
      ? "ECERTNAME"
      : RUSTLS_DATES.test(message)
      ? "ECERTEXPIRED"
      : "ECERTUNTRUSTED";
  }
  if (/KeyMismatch/.test(message)) return "EKEYMISMATCH";
  if (name === "InvalidData") return NOT_TLS.test(message) ? "ENOTTLS" : "ETLS";
  return undefined;
}

/**
 * The error a runtime file reports for a peer that closed before the
 * handshake finished, where the runtime reports none (Node: end of stream;
 * Bun: a close without an error).
 *
 * @returns The error, code `EPIPE`.
 */
export function closedDuringHandshake(): Error {
  return Object.assign(new Error("closed by peer during the TLS handshake"), { code: "EPIPE" });
}

/** A peer that closed or reset during a handshake (Deno: `UnexpectedEof`;
 * Node and Bun: `ECONNRESET`, or end of stream). */
function closedEarly(err: unknown): boolean {
  const code = rawCode(err);
  return code === "ECONNRESET" || code === "EPIPE" ||
    (err instanceof Error && err.name === "UnexpectedEof");
}

/**
 * A failed handshake as the library reports it: a {@linkcode NetError}
 * with operation `handshake`, the TLS code, and the same words on every
 * runtime. A peer that closed or reset during the handshake is `EPIPE`
 * ("connection closed by peer") whichever it did: Node cannot tell them
 * apart there.
 *
 * @param err What the runtime threw or reported.
 * @param addr The peer.
 * @param side Which end we are: a client's "not TLS" is the server's
 * answer, a server's is the client's message.
 * @returns The error; a `NetError` is returned as it is.
 *
 * @example A server that answered in plain text
 * ```ts
 * import { handshakeError } from "./tls.ts";
 * import assert from "node:assert/strict";
 *
 * const bun = Object.assign(new Error("SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER"), {
 *   code: "EPROTO",
 * });
 * const addr = { transport: "tcp", hostname: "127.0.0.1", port: 1060 } as const;
 * const err = handshakeError(bun, addr, "client");
 * assert.equal(err.code, "ENOTTLS");
 * assert.equal(
 *   err.message,
 *   "TLS handshake with 127.0.0.1:1060 failed: the server did not answer TLS",
 * );
 * ```
 */
export function handshakeError(
  err: unknown,
  addr: NetAddr | undefined,
  side: "client" | "server",
): NetError {
  if (err instanceof NetError) return err;
  const code = tlsErrorCode(err) ?? (closedEarly(err) ? "EPIPE" : errorCode(err));
  const detail = code === "ENOTTLS"
    ? side === "client" ? "the server did not answer TLS" : "the client did not speak TLS"
    : code === "ETLS"
    ? protocolError(err)
    : undefined;
  return new NetError("handshake", code, addr, { cause: err, detail });
}

/**
 * A TLS failure other than the certificate's, in the same words on every
 * runtime where they can be: an alert from the peer (the other end refused
 * the handshake: Deno says `received fatal alert: UnknownCA`, OpenSSL
 * `tlsv1 alert unknown ca`) as `refused by the peer: unknown ca`; anything
 * else with the runtime's reason, short (OpenSSL's, after the routine that
 * failed, or the message's first line).
 *
 * @param err The runtime's error.
 * @returns What to say after "TLS handshake with PEER failed: ".
 */
function protocolError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const openssl = /routines:[^:]*:([^:\n]+)/.exec(message)?.[1];
  const reason = openssl
    ? openssl.toLowerCase().replaceAll("_", " ").trim()
    : message.split("\n")[0];
  const alert = /received fatal alert: (\w+)/.exec(reason)?.[1]
    .replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase() ??
    /(?:tlsv1|sslv3|tlsv13) alert (.+)/.exec(reason)?.[1];
  return alert ? `refused by the peer: ${alert}` : `TLS protocol error (${reason})`;
}

/**
 * A failure to listen over TLS: the key that does not match its
 * certificate (`EKEYMISMATCH`), a certificate or key the runtime cannot
 * read (`ETLS`), or the socket's own failure (`EADDRINUSE`...).
 *
 * @param err What the runtime threw.
 * @param addr Where it was to listen.
 * @param socketCode The runtime file's code for a socket error.
 * @returns The error.
 *
 * @example Node's key mismatch
 * ```ts
 * import { tlsListenError } from "./tls.ts";
 * import assert from "node:assert/strict";
 *
 * const err = Object.assign(new Error("key values mismatch"), {
 *   code: "ERR_OSSL_X509_KEY_VALUES_MISMATCH",
 * });
 * const addr = { transport: "tcp", hostname: "127.0.0.1", port: 1060 } as const;
 * assert.equal(
 *   tlsListenError(err, addr, () => "EOTHER").message,
 *   "cannot listen on 127.0.0.1:1060: the key does not match the certificate",
 * );
 * ```
 */
export function tlsListenError(
  err: unknown,
  addr: NetAddr,
  socketCode: (err: unknown) => NetErrorCode,
): NetError {
  const code = tlsErrorCode(err);
  if (code === undefined) return new NetError("listen", socketCode(err), addr, { cause: err });
  const detail = code === "EKEYMISMATCH" ? undefined : "the certificate or key cannot be used";
  return new NetError("listen", code === "EKEYMISMATCH" ? code : "ETLS", addr, {
    cause: err,
    detail,
  });
}
