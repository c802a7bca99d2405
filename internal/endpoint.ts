/**
 * Where a server listens or a client connects, from the options that name
 * it: `serve()`'s and `request()`/`load()`'s are read by the same rules.
 *
 * @module
 */

import type { TcpOptions, UnixOptions } from "../net.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "../protocol.ts";

/** How the options name an address: TCP (the default), or a Unix socket's
 * path. */
export interface Endpoint {
  /** `tcp` (the default) or `unix`. */
  transport?: "tcp" | "unix";
  /** The host, for TCP. */
  hostname?: string;
  /** The port, for TCP. */
  port?: number;
  /** The socket file, for `unix`. */
  path?: string;
}

/**
 * Whether the options name an address at all (so that a listener or a
 * connect function of the caller's cannot be given beside one).
 *
 * @param options The options.
 * @returns `true` if any of `transport`, `hostname`, `port`, `path` is set.
 *
 * @example A listener of one's own, and nothing else
 * ```ts
 * import { namesEndpoint } from "./endpoint.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(namesEndpoint({}), false);
 * assert.equal(namesEndpoint({ port: 0 }), true);
 * ```
 */
export function namesEndpoint(options: Endpoint): boolean {
  return options.transport !== undefined || options.hostname !== undefined ||
    options.port !== undefined || options.path !== undefined;
}

/**
 * The address the options name, with the tutorial's defaults for TCP
 * (`127.0.0.1`, port 1060).
 *
 * @param options The options.
 * @returns TCP options, or a Unix socket's.
 * @throws {RangeError} If a Unix socket is given a host or port, or no
 * path, or TCP is given a path.
 *
 * @example TCP by default, a Unix socket by its path
 * ```ts
 * import { endpointOf } from "./endpoint.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(endpointOf({}), { hostname: "127.0.0.1", port: 1060 });
 * assert.deepEqual(endpointOf({ transport: "unix", path: "/tmp/s.sock" }), {
 *   transport: "unix",
 *   path: "/tmp/s.sock",
 * });
 * assert.throws(() => endpointOf({ path: "/tmp/s.sock" }), RangeError);
 * ```
 */
export function endpointOf(options: Endpoint): TcpOptions | UnixOptions {
  const { transport = "tcp", hostname, port, path } = options;
  if (transport === "unix") {
    if (hostname !== undefined || port !== undefined) {
      throw new RangeError("a Unix socket has a path, not a hostname or port");
    }
    if (!path) throw new RangeError("a Unix socket needs a path");
    return { transport, path };
  }
  if (path !== undefined) throw new RangeError(`a path is for transport "unix"`);
  return { hostname: hostname ?? DEFAULT_HOST, port: port ?? DEFAULT_PORT };
}
