/**
 * The file operations a Unix socket's file needs (`socket_file.ts`), over
 * `node:fs`: Node and Bun both run it, so `node.ts` and `bun.ts` share it.
 *
 * @module
 */

import { linkSync, lstatSync, type Stats, unlinkSync } from "node:fs";
import type { FileKind, SocketFiles } from "./socket_file.ts";

/** `lstat`, `link` and `unlink` as {@linkcode SocketFiles} has them. */
export const nodeFiles: SocketFiles = {
  lstat(path) {
    const stats = lstatSync(path, { throwIfNoEntry: false });
    return stats && { kind: kindOf(stats), dev: stats.dev, ino: stats.ino };
  },
  link: linkSync,
  unlink: unlinkSync,
};

/** The kind of file `lstat` found. */
function kindOf(stats: Stats): FileKind {
  if (stats.isSocket()) return "socket";
  if (stats.isFile()) return "file";
  if (stats.isDirectory()) return "directory";
  if (stats.isSymbolicLink()) return "symlink";
  return stats.isFIFO() ? "fifo" : "device";
}
