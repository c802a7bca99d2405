/**
 * The tutorial's protocol, as constants: the port, and the two
 * sixteen-octet messages.
 *
 * @module
 */

/** The tutorial's port. */
export const DEFAULT_PORT = 1060;
/** How many octets each side sends. */
export const MESSAGE_LENGTH = 16;
/** What the client sends. */
export const DEFAULT_MESSAGE = "Hi there, server";
/** What the server replies. */
export const DEFAULT_REPLY = "Farewell, client";
