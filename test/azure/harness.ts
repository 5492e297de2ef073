/**
 * The Azure test harness: a managed-identity token endpoint and the local Resource Manager
 * (test/azure/arm-server), started once by the vitest global setup (test/azure/vitest.config.ts)
 * or, when a file runs without it (the unit project), by the first {@link armHarness} call in
 * that worker. Tests reach the server's log and faults over its `/_control/` API, so both ways
 * behave the same.
 */
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, createServer as createHttpsServer, request } from "node:https";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { ArmServer, type Fault, type LogEntry } from "./arm-server/arm-server.js";
import { makeLoopbackCertificate } from "./arm-server/certificate.js";
import { IdentityEndpoint } from "./arm-server/identity-endpoint.js";

/** What a test needs to point the CLI at the servers. */
export interface ArmEnvironment {
  armUrl: string;
  caFile: string;
  identityEndpoint: string;
  identityHeader: string;
  /** The local registry standing in for ACR (a site must name its registry {@link TEST_REGISTRY} to push to it). */
  registry: { loginServer: string; passwordFile: string };
  /** host:port of the apps' front door: an HTTPS server answering every app's FQDN (sites set azure.verify.connectTo to it). */
  apps: string;
}

/** The registry name whose admin user the local registry's token service knows (listCredentials answers it as the username). */
export const TEST_REGISTRY = "crstepwisetest";

const scripts = path.resolve(import.meta.dirname, "../../scripts/azure");

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Debian's docker-registry on 127.0.0.1 over TLS (scripts/azure/start-registry.sh), with the
 * server's certificate and token auth whose realm is the local Resource Manager's token service;
 * stopped (and Podman's trust of it removed) by `stop`, and on exit.
 */
async function startRegistry(tls: { dir: string }, realm: string): Promise<{ loginServer: string; stop(): void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-registry-"));
  const stop = () => execFileSync(path.join(scripts, "stop-registry.sh"), [dir], { stdio: "ignore" });
  process.once("exit", stop);
  const loginServer = execFileSync(path.join(scripts, "start-registry.sh"), [dir, path.join(tls.dir, "cert.pem"), path.join(tls.dir, "key.pem"), String(await freePort()), realm], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  return { loginServer, stop };
}

const ENV_KEY = "STEPWISE_TEST_ARM";
let local: Promise<{ env: ArmEnvironment; stop(): Promise<void> }> | undefined;

/**
 * Where the tests' Container Apps are "served": HTTPS with the harness certificate, 200 for any
 * path of any Host, each request recorded (`GET /_control/requests` lists them).
 */
async function startFrontDoor(tls: { key: string; cert: string }): Promise<{ address: string; stop(): Promise<void> }> {
  const seen: { host: string; path: string }[] = [];
  const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    if (req.url === "/_control/requests") return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(seen));
    seen.push({ host: String(req.headers.host), path: String(req.url) });
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function startServers(): Promise<{ env: ArmEnvironment; stop(): Promise<void> }> {
  const tls = await makeLoopbackCertificate();
  const identity = new IdentityEndpoint();
  await identity.start();
  // The registry's admin password: for the tests' own reads of the registry (registryTags), 0600.
  const password = randomBytes(18).toString("base64url");
  const passwordFile = path.join(tls.dir, "registry-admin-password");
  writeFileSync(passwordFile, password, { mode: 0o600 });
  const arm = new ArmServer(tls, identity.tokens, { world: { registry: { name: TEST_REGISTRY, loginServer: "", password } } });
  await arm.start();
  const registry = await startRegistry(tls, `${arm.url}/oauth2/token`);
  arm.attachRegistry(registry.loginServer);
  const apps = await startFrontDoor(tls);
  return {
    env: { armUrl: arm.url, caFile: tls.caFile, identityEndpoint: identity.url, identityHeader: identity.header, registry: { loginServer: registry.loginServer, passwordFile }, apps: apps.address },
    async stop() {
      await apps.stop();
      await arm.stop();
      await identity.stop();
      registry.stop();
      rmSync(tls.dir, { recursive: true, force: true });
    },
  };
}

/** The running servers (started here when no global setup did). */
export async function armHarness(): Promise<ArmEnvironment> {
  const ready = process.env[ENV_KEY];
  if (ready) return JSON.parse(ready) as ArmEnvironment;
  local ??= startServers();
  return (await local).env;
}

/** Environment for a CLI child process: trust the server's certificate, find the identity endpoint. */
export function cliAzureEnv(env: ArmEnvironment): Record<string, string> {
  return { NODE_EXTRA_CA_CERTS: env.caFile, IDENTITY_ENDPOINT: env.identityEndpoint, IDENTITY_HEADER: env.identityHeader };
}

/** A client of the server's control API for one subscription (each test file makes its own). */
export class ArmControl {
  readonly subscription: string;
  private readonly agent: Agent;

  constructor(
    readonly env: ArmEnvironment,
    subscription = randomUUID(),
  ) {
    this.subscription = subscription;
    // The test process trusts the certificate explicitly (NODE_EXTRA_CA_CERTS is read only at start).
    this.agent = new Agent({ ca: readCa(env.caFile) });
  }

  async createSubscription(): Promise<void> {
    await this.call("POST", "/_control/subscriptions");
  }

  async log(): Promise<LogEntry[]> {
    return (await this.call("GET", "/_control/log")) as LogEntry[];
  }

  async fault(fault: Omit<Fault, "subscription">): Promise<void> {
    await this.call("POST", "/_control/faults", fault);
  }

  async clearFaults(): Promise<void> {
    await this.call("DELETE", "/_control/faults");
  }

  async resource(id: string): Promise<{ resource: Record<string, unknown>; secretValue?: string; keys: Record<string, string> } | undefined> {
    return (await this.call("GET", `/_control/resource`, undefined, { id })) as { resource: Record<string, unknown>; secretValue?: string; keys: Record<string, string> } | undefined;
  }

  /** Regenerates the keys a resource's actions answer (a workspace's shared keys ...). */
  async regenerateKeys(id: string): Promise<void> {
    await this.call("DELETE", `/_control/keys`, undefined, { id });
  }

  /** What the registry's token service was asked (all tests'), and every refresh token it issued. */
  async registryLog(): Promise<{ log: { method: string; path: string; grant?: string; user?: string; scope: string[]; status: number; issued?: string }[]; issued: string[] }> {
    return (await this.call("GET", "/_control/registry-log")) as never;
  }

  /** From now on, tokens for repositories below `prefix` grant pull only (no AcrPush there). */
  async denyRegistryPush(prefix: string): Promise<void> {
    await this.call("POST", "/_control/registry-deny", { prefix });
  }

  /** Console lines the container of the app `id` writes: served by its log stream, and to every stream following it now. */
  async appLog(id: string, lines: readonly string[]): Promise<{ followers: number }> {
    return (await this.call("POST", "/_control/app-log", { id, lines })) as { followers: number };
  }

  async deleteBehindTheBack(id: string): Promise<void> {
    await this.call("DELETE", `/_control/resource`, undefined, { id });
  }

  private call(method: string, path: string, body?: unknown, query: Record<string, string> = {}): Promise<unknown> {
    const url = new URL(path, this.env.armUrl);
    url.searchParams.set("subscription", this.subscription);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return new Promise((resolve, reject) => {
      const req = request(url, { method, agent: this.agent }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve(res.statusCode === 404 ? undefined : text ? JSON.parse(text) : undefined));
      });
      req.on("error", reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
}

/** Writes (PUT/POST/PATCH/DELETE) in a log slice. */
export function writes(log: readonly LogEntry[]): LogEntry[] {
  return log.filter((e) => e.method !== "GET" && e.method !== "HEAD");
}

/** Log entries whose request or response body contains `needle`. */
export function grepBodies(log: readonly LogEntry[], needle: string): LogEntry[] {
  return log.filter((e) => e.requestBody.includes(needle) || e.responseBody.includes(needle));
}

function readCa(file: string): string {
  return readFileSync(file, "utf8");
}

/** Vitest global setup: start both servers once; workers inherit their addresses through the environment. */
export async function setup(): Promise<() => Promise<void>> {
  const servers = await startServers();
  process.env[ENV_KEY] = JSON.stringify(servers.env);
  return () => servers.stop();
}
