/**
 * The programs' TLS flags: the server's `--tls-cert FILE --tls-key FILE`,
 * the client's `--tls`, `--tls-ca FILE` and `--tls-servername NAME`; their
 * files read and checked, and what is wrong with one said in one line.
 *
 * @module
 */

import { rawCode } from "../net.ts";
import {
  pemProblem,
  type TlsClientOptions,
  type TlsOption,
  type TlsServerOptions,
} from "../tls.ts";
import { readTextFile } from "../runtime/deno.ts";
import { type Flag, UsageError } from "./args.ts";
import { Failure } from "./run.ts";

/** The server's TLS flags, for its parser. */
export const SERVER_TLS_FLAGS = {
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
} as const satisfies Record<string, Flag>;

/** The client's TLS flags, for its parser. */
export const CLIENT_TLS_FLAGS = {
  tls: { type: "boolean" },
  "tls-ca": { type: "string" },
  "tls-servername": { type: "string" },
} as const satisfies Record<string, Flag>;

/** TLS with `--unix`. */
const OVER_TCP = "TLS is served over TCP: give HOST and -p, not --unix";

/** A flag, the file it names, and what the file must hold. */
type PemFile = [flag: string, path: string, kind: "certificate" | "key"];

/** Why a file could not be read, as a person says it. */
function unreadable(err: unknown): string {
  switch (rawCode(err)) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory";
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/**
 * Reads the PEM files that TLS flags name, and checks each holds its kind.
 * Deno reads them only with `--allow-read` for them: the message names it,
 * with every path given, so that one run with it suffices.
 *
 * @param files Each flag, its path, and what the file must hold.
 * @returns Each file's text, in order.
 * @throws {Failure} If one cannot be read or is not PEM of its kind.
 */
async function readPems(files: PemFile[]): Promise<string[]> {
  const read = await Promise.allSettled(files.map(([, path]) => readTextFile(path)));
  const paths = files.map(([, path]) => path).join(",");
  const texts: string[] = [];
  for (const [i, [flag, path, kind]] of files.entries()) {
    const result = read[i];
    if (result.status === "rejected") {
      if (rawCode(result.reason) === "ENOTCAPABLE") {
        throw new Failure(
          `reading ${flag} ${path} is not allowed`,
          `run deno with --allow-read=${paths}`,
        );
      }
      throw new Failure(`cannot read ${flag} ${path}: ${unreadable(result.reason)}`);
    }
    const problem = pemProblem(kind, result.value);
    if (problem) throw new Failure(`${flag} ${path} ${problem}`);
    texts.push(result.value);
  }
  return texts;
}

/**
 * The server's TLS, from its flags: both files, or neither.
 *
 * @param values The parsed `--tls-cert` and `--tls-key`.
 * @returns The certificate and key, or `undefined` for plain TCP.
 * @throws {UsageError} If only one of the two is given, or with `--unix`.
 * @throws {Failure} If a file cannot be read or is not PEM.
 */
export async function serverTls(
  values: { "tls-cert"?: string; "tls-key"?: string; unix?: string },
): Promise<TlsServerOptions | undefined> {
  const cert = values["tls-cert"];
  const key = values["tls-key"];
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new UsageError("--tls-cert and --tls-key go together: give both, or neither");
  }
  if (values.unix !== undefined) throw new UsageError(OVER_TCP);
  const [certText, keyText] = await readPems([
    ["--tls-cert", cert, "certificate"],
    ["--tls-key", key, "key"],
  ]);
  return { cert: certText, key: keyText };
}

/**
 * The client's TLS, from its flags: `--tls`, or `--tls-ca` (which implies
 * it), and `--tls-servername` with either.
 *
 * @param values The parsed `--tls`, `--tls-ca` and `--tls-servername`.
 * @returns The TLS option, or `undefined` for plain TCP.
 * @throws {UsageError} If `--tls-servername` is given without TLS, or empty,
 * or TLS with `--unix`.
 * @throws {Failure} If the CA file cannot be read or is not PEM.
 */
export async function clientTls(
  values: { tls?: boolean; "tls-ca"?: string; "tls-servername"?: string; unix?: string },
): Promise<TlsOption | undefined> {
  const ca = values["tls-ca"];
  const servername = values["tls-servername"];
  if (!values.tls && ca === undefined) {
    if (servername !== undefined) throw new UsageError("--tls-servername needs --tls or --tls-ca");
    return undefined;
  }
  if (values.unix !== undefined) throw new UsageError(OVER_TCP);
  if (servername === "") throw new UsageError("--tls-servername needs a name");
  if (ca === undefined && servername === undefined) return true;
  const options: TlsClientOptions = {};
  if (ca !== undefined) [options.ca] = await readPems([["--tls-ca", ca, "certificate"]]);
  if (servername !== undefined) options.servername = servername;
  return options;
}
