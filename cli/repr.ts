/**
 * Peer bytes shown to a person.
 *
 * @module
 */

/**
 * Shows bytes as Python 2 shows a `str`: quoted, with every byte that is not
 * printable ASCII escaped, so a peer cannot write control characters to the
 * operator's terminal.
 *
 * @param bytes The bytes.
 * @returns The quoted text, e.g. `'Hi there, server'`.
 */
export function repr(bytes: Uint8Array): string {
  const quote = bytes.includes(0x27) && !bytes.includes(0x22) ? '"' : "'";
  let out = quote;
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (c === quote || c === "\\") out += "\\" + c;
    else if (c === "\n") out += "\\n";
    else if (c === "\r") out += "\\r";
    else if (c === "\t") out += "\\t";
    else if (b < 0x20 || b > 0x7e) out += "\\x" + b.toString(16).padStart(2, "0");
    else out += c;
  }
  return out + quote;
}
