/**
 * The socket file of a listening Unix domain socket, the same on every
 * runtime: `listen()` of `deno.ts`, `node.ts` and `bun.ts` all go through
 * {@linkcode listenUnix}. Nothing here touches a runtime's API: each passes
 * in its own (binding, connecting, three file operations).
 *
 * - What is at the path is never replaced, except a stale socket: a socket
 *   file that a connect is refused on (its server died without removing
 *   it). A live server's socket is `EADDRINUSE`; any other file (a regular
 *   file, a directory, a link...) is `EEXIST`, and is left as it is.
 * - On close the socket file is removed, but only while it is still ours
 *   (the same device and inode, as nginx checks): a server that took the
 *   path over since keeps its socket.
 *
 * Every runtime removes the path it bound when its listener closes (Node's
 * libuv, Bun, and Deno since 2.7 all unlink it unconditionally): closing a
 * server whose path another server has taken over would delete the
 * newcomer's socket. So the runtime binds a fresh name beside the path
 * (`.` and random letters, in the same directory), which is hard-linked to
 * the path (`link(2)` fails rather than replace anything) and unlinked at
 * once: what the runtime removes on close no longer exists. The kernel
 * still names the socket by the name it was bound to (a foreign peer's
 * `getpeername()` shows it); the adapters name the path asked for.
 *
 * @module
 */

import {
  checkUnixPath,
  type Conn,
  errorCode,
  type Listener,
  MAX_UNIX_PATH,
  NetError,
  type NetErrorCode,
  rawCode,
  type UnixAddr,
  type UnixOptions,
} from "../net.ts";

/** What kind of file is at a path, as `lstat(2)` tells it. */
export type FileKind = "socket" | "file" | "directory" | "symlink" | "fifo" | "device";

/** A file as `lstat(2)` sees it: its kind and its identity. */
export interface FileStat {
  /** What kind of file it is (a link is not followed). */
  kind: FileKind;
  /** The device it is on. */
  dev: number;
  /** Its inode on that device. */
  ino: number;
}

/** The file operations a socket file needs, from the runtime. Each throws
 * the runtime's error (with its `code`) on failure. */
export interface SocketFiles {
  /** What is at `path`, not following a link; `undefined` if nothing. */
  lstat(path: string): FileStat | undefined;
  /** `link(2)`: a second name for `existing`; fails with `EEXIST` if
   * `path` exists. */
  link(existing: string, path: string): void;
  /** `unlink(2)`. */
  unlink(path: string): void;
}

/** What {@linkcode listenUnix} takes from a runtime. */
export interface UnixRuntime {
  /** Binds and listens at `path` as it is (the runtime's own listen), the
   * listener and its connections naming their end `name`; rejects with a
   * `NetError` naming `name`. */
  bind(path: string, name: string): Promise<Listener<UnixAddr>>;
  /** The runtime's `connect()`: to ask a socket file whether anything
   * listens on it. */
  connect(options: UnixOptions): Promise<Conn>;
  /** The file operations. */
  files: SocketFiles;
  /** The runtime's errors as the library's codes. */
  codeOf(err: unknown): NetErrorCode;
}

/** How each kind of file is named when it is in the way. */
const IN_THE_WAY: Record<Exclude<FileKind, "socket">, string> = {
  file: "a regular file",
  directory: "a directory",
  symlink: "a symbolic link",
  fifo: "a FIFO",
  device: "a device file",
};

/** Temporary names tried before giving up (each collision is a file that
 * happens to have the random name). */
const BIND_TRIES = 8;
/** Times a stale socket is cleared and the path linked, when another
 * process creates a file there in between. */
const LINK_TRIES = 3;

/**
 * Listens on a Unix domain socket at `path`: a stale socket file there is
 * replaced, anything else there is an error; the file is removed on close
 * while it is still ours.
 *
 * @param path The socket file's path.
 * @param runtime The runtime's listen, connect and file operations.
 * @returns The listener, bound and accepting, named by `path`.
 * @throws {NetError} `EADDRINUSE` if a server listens at `path`, `EEXIST`
 * if another kind of file is there, `ENOENT` if its directory does not
 * exist, `ENOTCAPABLE` if the runtime's permissions deny it (Deno needs
 * `--allow-read` and `--allow-write` for the path's directory, where the
 * temporary name is made).
 * @throws {RangeError} If the path is empty or too long for `sun_path`.
 */
export async function listenUnix(path: string, runtime: UnixRuntime): Promise<Listener<UnixAddr>> {
  checkUnixPath(path);
  const addr: UnixAddr = { transport: "unix", path };
  const { files } = runtime;
  const fail = (err: unknown) =>
    err instanceof NetError || err instanceof RangeError
      ? err
      : new NetError("listen", runtime.codeOf(err), addr, { cause: err });
  const { listener, temporary } = await bindBeside(path, runtime).catch((err) => {
    throw fail(err);
  });
  let ours: FileStat | undefined;
  try {
    ours = files.lstat(temporary);
    for (let tries = 1;; tries++) {
      await clearStale(path, runtime);
      try {
        files.link(temporary, path);
        break;
      } catch (err) {
        // Someone made a file there since it was cleared: look again.
        if (rawCode(err) !== "EEXIST" || tries === LINK_TRIES) throw err;
      }
    }
  } catch (err) {
    listener.close();
    throw fail(err);
  } finally {
    try {
      files.unlink(temporary);
    } catch {
      // Gone already: the runtime removed it when the listener closed.
    }
  }
  return {
    addr,
    accept: () => listener.accept(),
    close() {
      // Before the listener closes: once it is closed, another server may
      // bind the path, and then it is not ours to remove.
      try {
        const now = files.lstat(path);
        if (now && ours && now.dev === ours.dev && now.ino === ours.ino) files.unlink(path);
      } catch {
        // Not ours to remove, or not allowed: it stays, as a stale socket.
      }
      listener.close();
    },
  };
}

/**
 * Has the runtime listen at a fresh name in `path`'s directory.
 *
 * @param path The socket file's path.
 * @param runtime The runtime.
 * @returns The listener (named `path`) and the name it is bound to.
 * @throws {NetError} As the runtime's listen does.
 * @throws {RangeError} If the directory's path leaves no room for a name.
 */
async function bindBeside(
  path: string,
  runtime: UnixRuntime,
): Promise<{ listener: Listener<UnixAddr>; temporary: string }> {
  const dir = path.slice(0, path.lastIndexOf("/") + 1);
  // As long as `sun_path` allows, up to 8 random letters: an existing file
  // with the same name makes the bind fail, and another name is tried.
  const letters = Math.min(8, MAX_UNIX_PATH - 1 - new TextEncoder().encode(dir).length);
  if (letters < 1) {
    throw new RangeError(
      `a Unix socket's directory path has at most ${MAX_UNIX_PATH - 2} bytes: ` +
        "choose a shorter one",
    );
  }
  for (let tries = 1;; tries++) {
    const temporary = `${dir}.${randomLetters(letters)}`;
    try {
      return { listener: await runtime.bind(temporary, path), temporary };
    } catch (err) {
      // Node (libuv) says EACCES where the directory does not exist.
      if (errorCode(err) === "EACCES" && !runtime.files.lstat(dir || ".")) {
        const addr = { transport: "unix", path } as const;
        throw new NetError("listen", "ENOENT", addr, { cause: err });
      }
      if (errorCode(err) !== "EADDRINUSE" || tries === BIND_TRIES) throw err;
    }
  }
}

/**
 * Makes way at `path`: nothing there, or a stale socket (removed) is fine.
 *
 * @param path The socket file's path.
 * @param runtime The runtime.
 * @throws {NetError} `EADDRINUSE` if a server listens there, `EEXIST` if
 * another kind of file is there, or the probe's own failure.
 */
async function clearStale(path: string, runtime: UnixRuntime): Promise<void> {
  const { files } = runtime;
  const addr: UnixAddr = { transport: "unix", path };
  const there = files.lstat(path);
  if (!there) return;
  if (there.kind !== "socket") {
    throw new NetError("listen", "EEXIST", addr, {
      detail: `${IN_THE_WAY[there.kind]} is there, not a socket`,
    });
  }
  let probe: Conn;
  try {
    probe = await runtime.connect({ transport: "unix", path });
  } catch (err) {
    switch (errorCode(err)) {
      case "ECONNREFUSED": {
        // Nothing listens: a stale socket. Removed only if it is still the
        // file that was asked.
        const now = files.lstat(path);
        if (now && now.dev === there.dev && now.ino === there.ino) files.unlink(path);
        return;
      }
      case "ENOENT": // Removed in between.
        return;
      case "ENOTCAPABLE":
      case "EACCES":
        throw new NetError("listen", errorCode(err), addr, { cause: err });
      default: // A server whose backlog is full (EAGAIN), or one we cannot tell.
        throw new NetError("listen", "EADDRINUSE", addr, {
          cause: err,
          detail: "a server is listening on it",
        });
    }
  }
  probe.close();
  throw new NetError("listen", "EADDRINUSE", addr, { detail: "a server is listening on it" });
}

/** `n` random lowercase letters and digits. */
function randomLetters(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(bytes, (b) => (b % 36).toString(36)).join("");
}
