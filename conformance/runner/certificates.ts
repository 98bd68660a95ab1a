// Certificates made at run time with the openssl command, for the TLS cases
// of the suite and the project's tests (spec section 19): a CA, a server
// certificate for localhost, 127.0.0.1 and ::1, a client certificate it
// signed, and a second CA with a client certificate of its own that the
// first CA's server must refuse. Nothing here is ever committed: the keys
// live in a temporary directory removed once they are read.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate and its private key, PEM. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/** What a TLS test needs: two unrelated CAs and certificates signed by them. */
export interface TestCertificates {
  /** The CA that signed `server` and `client`. */
  readonly ca: string;
  /** For localhost, 127.0.0.1 and ::1 (subject CN=strata-test-server). */
  readonly server: KeyPair;
  /** CN=billing, SAN DNS:billing.internal, for client authentication. */
  readonly client: KeyPair;
  /** Another CA, trusted by nobody here. */
  readonly otherCa: string;
  /** A server certificate for the same names, signed by `otherCa`. */
  readonly otherServer: KeyPair;
  /** A client certificate (CN=intruder) signed by `otherCa`. */
  readonly otherClient: KeyPair;
}

/** Why certificates cannot be made here, with the command that fixes it; undefined when openssl runs. */
export function certificatesProblem(): string | undefined {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return undefined;
  } catch {
    return "the openssl command (apt-get install -y openssl)";
  }
}

let made: TestCertificates | undefined;

/** Makes the test certificates once per process (P-256 keys, valid for two days). */
export function testCertificates(): TestCertificates {
  if (made !== undefined) return made;
  const dir = mkdtempSync(join(tmpdir(), "strata-tls-"));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const makeCa = (name: string, cn: string) => openssl("req", "-x509", ...newKey, "-keyout", file(`${name}.key`), "-out", file(`${name}.pem`), "-days", "2", "-subj", `/CN=${cn}`);
  const makeLeaf = (name: string, ca: string, cn: string, extensions: string) => {
    openssl("req", ...newKey, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`), "-subj", `/CN=${cn}`);
    writeFileSync(file(`${name}.ext`), extensions);
    openssl("x509", "-req", "-in", file(`${name}.csr`), "-CA", file(`${ca}.pem`), "-CAkey", file(`${ca}.key`), "-CAcreateserial", "-out", file(`${name}.pem`), "-days", "2", "-extfile", file(`${name}.ext`));
  };
  try {
    makeCa("ca", "Strata Test CA");
    makeCa("other-ca", "Other Test CA");
    const serverNames = "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n";
    makeLeaf("server", "ca", "strata-test-server", serverNames);
    makeLeaf("other-server", "other-ca", "strata-test-server", serverNames);
    makeLeaf("client", "ca", "billing", "subjectAltName=DNS:billing.internal\nextendedKeyUsage=clientAuth\n");
    makeLeaf("other-client", "other-ca", "intruder", "subjectAltName=DNS:intruder.example\nextendedKeyUsage=clientAuth\n");
    const read = (name: string) => readFileSync(file(name), "utf8");
    const pair = (name: string): KeyPair => ({ cert: read(`${name}.pem`), key: read(`${name}.key`) });
    made = { ca: read("ca.pem"), server: pair("server"), client: pair("client"), otherCa: read("other-ca.pem"), otherServer: pair("other-server"), otherClient: pair("other-client") };
    return made;
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(`making test certificates with openssl failed: ${(error as Error).message}\n${stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
