// Test certificates, made with `openssl` into a temporary folder by the tests
// that need them (none is checked in): a CA, and signed by it a leaf for
// localhost, 127.0.0.1 and ::1, a leaf for another name, and one whose dates
// are in the past (`openssl ca -startdate -enddate`, as OpenSSL 3.0's
// `x509` has no start date option); another CA that signed none of them;
// a self-signed server certificate (basicConstraints CA:FALSE, as rustls
// requires of a server's certificate); and a key that matches no
// certificate. All EC P-256: quick to make.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate file and its key file. */
export interface Pair {
  /** The certificate's path (PEM). */
  cert: string;
  /** Its key's path (PEM, unencrypted). */
  key: string;
}

/** The test certificates' paths, and their text. */
export interface TestCerts {
  /** The folder they are in; {@linkcode removeCerts} deletes it. */
  dir: string;
  /** The CA that signed the leaves (`ca.pem`, `ca.key`). */
  ca: Pair;
  /** A CA that signed nothing here. */
  otherCa: Pair;
  /** For DNS:localhost, IP:127.0.0.1, IP:::1. */
  leaf: Pair;
  /** For DNS:example.invalid only. */
  wrongName: Pair;
  /** For localhost and 127.0.0.1, valid in January 2020 only. */
  expired: Pair;
  /** Self-signed, for localhost and 127.0.0.1: its own CA. */
  selfSigned: Pair;
  /** A key that matches none of the certificates. */
  strayKey: string;
  /** A file's text. */
  text(path: string): string;
}

const SAN = "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1";
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

function openssl(dir: string, args: string[]): void {
  const ran = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
  if (ran.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${ran.stderr}`);
}

/** Makes the certificates into a new temporary folder (about 0.2 s). */
export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "tcp-sixteen-certs-"));
  const pair = (name: string): Pair => ({
    cert: join(dir, `${name}.pem`),
    key: join(dir, `${name}.key`),
  });
  const ca = (name: string, cn: string) =>
    openssl(dir, [
      "req",
      "-x509",
      ...EC,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "3650",
      "-subj",
      `/CN=${cn}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
  ca("ca", "tcp-sixteen test CA");
  ca("other", "tcp-sixteen other CA");
  writeFileSync(
    join(dir, "leaf.ext"),
    `${SAN}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
  );
  writeFileSync(
    join(dir, "wrong.ext"),
    "subjectAltName=DNS:example.invalid\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
  );
  const leaf = (name: string, ext: string, serial: number) => {
    openssl(dir, ["req", ...EC, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", "/CN=x"]);
    openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-set_serial",
      String(serial),
      "-days",
      "3650",
      "-extfile",
      ext,
      "-out",
      `${name}.pem`,
    ]);
  };
  leaf("leaf", "leaf.ext", 2);
  leaf("wrong", "wrong.ext", 3);
  // Dates in the past need `openssl ca`, and its database.
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), "10\n");
  writeFileSync(
    join(dir, "ca.cnf"),
    [
      "[ca]",
      "default_ca = test",
      "[test]",
      "database = index.txt",
      "new_certs_dir = .",
      "serial = serial",
      "default_md = sha256",
      "policy = any",
      "[any]",
      "commonName = supplied",
      "[leaf]",
      SAN,
      "basicConstraints = CA:FALSE",
      "extendedKeyUsage = serverAuth",
      "",
    ].join("\n"),
  );
  openssl(dir, ["req", ...EC, "-keyout", "expired.key", "-out", "expired.csr", "-subj", "/CN=x"]);
  openssl(dir, [
    "ca",
    "-batch",
    "-config",
    "ca.cnf",
    "-cert",
    "ca.pem",
    "-keyfile",
    "ca.key",
    "-in",
    "expired.csr",
    "-out",
    "expired.pem",
    "-startdate",
    "20200101000000Z",
    "-enddate",
    "20200201000000Z",
    "-extensions",
    "leaf",
    "-notext",
  ]);
  openssl(dir, [
    "req",
    "-x509",
    ...EC,
    "-keyout",
    "self.key",
    "-out",
    "self.pem",
    "-days",
    "3650",
    "-subj",
    "/CN=localhost",
    "-addext",
    SAN,
    "-addext",
    "basicConstraints=critical,CA:FALSE",
  ]);
  openssl(dir, [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    "stray.key",
  ]);
  return {
    dir,
    ca: pair("ca"),
    otherCa: pair("other"),
    leaf: pair("leaf"),
    wrongName: pair("wrong"),
    expired: pair("expired"),
    selfSigned: pair("self"),
    strayKey: join(dir, "stray.key"),
    text: (path) => readFileSync(path, "utf8"),
  };
}

/** Deletes the certificates' folder. */
export function removeCerts(certs: TestCerts): void {
  rmSync(certs.dir, { recursive: true, force: true });
}
