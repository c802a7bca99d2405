/**
 * The tutorial's protocol and the library's defaults, as constants.
 *
 * @module
 */

/** Where the server listens and the client connects unless told: the
 * loopback address (listening everywhere is an explicit `0.0.0.0`). */
export const DEFAULT_HOST = "127.0.0.1";
/** The tutorial's port. */
export const DEFAULT_PORT = 1060;
/** How many octets each side sends. */
export const MESSAGE_LENGTH = 16;
/** What the client sends. */
export const DEFAULT_MESSAGE = "Hi there, server";
/** What the server replies. */
export const DEFAULT_REPLY = "Farewell, client";
/** How long an exchange may take, in milliseconds: the server's read
 * deadline and the client's timeout. */
export const DEFAULT_TIMEOUT = 10_000;
/** How long the server's lingering close waits for the client to close,
 * in milliseconds. */
export const DEFAULT_LINGER = 2000;
/** How many connections the server holds open at most. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** How long a graceful shutdown lets open exchanges finish, in
 * milliseconds. */
export const DEFAULT_GRACE = 5000;
