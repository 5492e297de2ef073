import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A self-signed certificate for 127.0.0.1/localhost; `caFile` is what NODE_EXTRA_CA_CERTS points at. */
export interface LoopbackCertificate {
  key: string;
  cert: string;
  caFile: string;
  dir: string;
}

/**
 * Makes a fresh key and self-signed certificate with `openssl` (argument array, no shell), valid
 * for `127.0.0.1` and `localhost`. Node cannot mint X.509 certificates itself; openssl is on the
 * test machines (Debian `openssl`).
 */
export async function makeLoopbackCertificate(): Promise<LoopbackCertificate> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-arm-tls-"));
  const keyFile = path.join(dir, "key.pem");
  const certFile = path.join(dir, "cert.pem");
  await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-addext", "basicConstraints=critical,CA:TRUE",
  ]);
  return { key: readFileSync(keyFile, "utf8"), cert: readFileSync(certFile, "utf8"), caFile: certFile, dir };
}
