/**
 * The azblob test harness: Azurite (from npm, in memory) started by the vitest global setup of
 * the `azblob` project, twice: plain HTTP with an account key (connection strings, SAS), and
 * HTTPS accepting OAuth bearer tokens (`--oauth basic`) from a managed-identity endpoint served
 * here, so DefaultAzureCredential's own code runs. Stopped when the run ends; nothing must
 * already be running.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { makeLoopbackCertificate } from "../azure/arm-server/certificate.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ENV_KEY = "STEPWISE_TEST_AZBLOB";

export interface AzblobEnvironment {
  account: string;
  /** The account key (a secret: tests grep for it). */
  key: string;
  connectionString: string;
  /** Plain HTTP blob service URL: http://127.0.0.1:PORT/ACCOUNT. */
  url: string;
  /** HTTPS blob service URL accepting bearer tokens. */
  oauthUrl: string;
  caFile: string;
  identityEndpoint: string;
  identityHeader: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function startAzurite(account: string, key: string, extra: string[]): Promise<{ port: number; child: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-azurite-"));
  const bin = path.join(repoRoot, "node_modules/azurite/dist/src/blob/main.js");
  const child = spawn(process.execPath, [bin, "--inMemoryPersistence", "--skipApiVersionCheck", "--blobHost", "127.0.0.1", "--blobPort", String(port), ...extra], {
    cwd: dir,
    env: { ...process.env, AZURITE_ACCOUNTS: `${account}:${key}` },
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`Azurite did not start: ${output}`));
    }, 30_000);
    const onData = (data: Buffer) => {
      output += data.toString();
      if (/successfully listen/i.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited (${code}): ${output}`));
    });
  });
  return { port, child, dir };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/**
 * A managed-identity endpoint (App Service protocol, what IDENTITY_ENDPOINT/IDENTITY_HEADER
 * announce) issuing JWTs shaped as Entra ID's for the requested resource: Azurite checks the
 * issuer, audience and lifetime, not the signature.
 */
async function startTokenEndpoint(header: string): Promise<{ url: string; server: Server }> {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const resource = url.searchParams.get("resource");
    if (req.headers["x-identity-header"] !== header || !resource) {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "invalid_request" }));
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const claims = { aud: resource, iss: `https://sts.windows.net/${tenant}/`, iat: now - 60, nbf: now - 60, exp: now + 3600, oid: "00000000-0000-0000-0000-000000000001", tid: tenant };
    const token = `${b64({ alg: "RS256", typ: "JWT" })}.${b64(claims)}.${randomBytes(32).toString("base64url")}`;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ access_token: token, expires_on: String(now + 3600), resource, token_type: "Bearer" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/msi/token`, server };
}

export async function startServers(): Promise<{ env: AzblobEnvironment; stop(): Promise<void> }> {
  const account = "stepwiseci";
  const key = randomBytes(64).toString("base64");
  const tls = await makeLoopbackCertificate();
  const certFile = path.join(tls.dir, "azurite-cert.pem");
  const keyFile = path.join(tls.dir, "azurite-key.pem");
  writeFileSync(certFile, tls.cert);
  writeFileSync(keyFile, tls.key, { mode: 0o600 });
  const plain = await startAzurite(account, key, []);
  const oauth = await startAzurite(account, key, ["--oauth", "basic", "--cert", certFile, "--key", keyFile]);
  const identityHeader = randomBytes(16).toString("hex");
  const identity = await startTokenEndpoint(identityHeader);
  const url = `http://127.0.0.1:${plain.port}/${account}`;
  return {
    env: {
      account,
      key,
      connectionString: `DefaultEndpointsProtocol=http;AccountName=${account};AccountKey=${key};BlobEndpoint=${url};`,
      url,
      oauthUrl: `https://127.0.0.1:${oauth.port}/${account}`,
      caFile: tls.caFile,
      identityEndpoint: identity.url,
      identityHeader,
    },
    async stop() {
      await Promise.all([stopChild(plain.child), stopChild(oauth.child)]);
      await new Promise<void>((resolve) => identity.server.close(() => resolve()));
      for (const dir of [plain.dir, oauth.dir, tls.dir]) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The running servers (started by the global setup). */
export function azblobHarness(): AzblobEnvironment {
  const ready = process.env[ENV_KEY];
  if (!ready) throw new Error(`${ENV_KEY} is not set: run these tests through the azblob project (pnpm exec vitest run --project azblob)`);
  return JSON.parse(ready) as AzblobEnvironment;
}

/** Vitest global setup: start Azurite and the token endpoint once; workers inherit their addresses. */
export async function setup(): Promise<() => Promise<void>> {
  const servers = await startServers();
  process.env[ENV_KEY] = JSON.stringify(servers.env);
  return () => servers.stop();
}
