/**
 * Verification on Azure: after a deploy, each public app's FQDN is probed over HTTPS (its health
 * path, else `/`) until it answers; an app that never answers well fails its step (exit 1) with
 * the URL and the last answer. The probe target is a setting (`azure.verify.connectTo`, a
 * connection key: changing it re-runs nothing); here the harness's front door or a local server.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../fixtures/component-site.js";
import { makeAzureSite, type AzureSite } from "./azure-site.js";
import { armHarness, type ArmEnvironment } from "./harness.js";

const services = `services:
  web:
    image: mcr.microsoft.com/k8se/quickstart:latest
    ports: ["8080:80"]
    healthcheck:
      http: /healthz
  api:
    image: mcr.microsoft.com/k8se/quickstart:latest
    ports: ["8081:80"]
  worker:
    image: mcr.microsoft.com/k8se/quickstart:latest
    ports: ["80"]
`;

let env: ArmEnvironment;
let site: AzureSite;
let failing: Server;
const failingSeen: string[] = [];

async function frontDoorRequests(): Promise<{ host: string; path: string }[]> {
  const { request } = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = request(`https://${env.apps}/_control/requests`, { ca: readFileSync(env.caFile, "utf8") }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve(JSON.parse(text)));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("azure: verification of public apps", () => {
  beforeAll(async () => {
    assertBuilt();
    env = await armHarness();
    site = await makeAzureSite("vfy");
    site.yaml(services);
    // A front door whose apps answer 503 (a revision that never becomes ready).
    const tlsDir = path.dirname(env.caFile);
    failing = createServer({ key: readFileSync(path.join(tlsDir, "key.pem")), cert: readFileSync(env.caFile) }, (req, res) => {
      failingSeen.push(`${req.headers.host}${req.url}`);
      res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => failing.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => new Promise<void>((resolve) => (failing ? failing.close(() => resolve()) : resolve())));

  it("a deploy probes each public app's FQDN over HTTPS (the health path when there is one), not the internal ones", async () => {
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).toBe(0);
    const fqdn = (name: string) => String(site.state().steps[`service:${name}`]!.outputs!.fqdn);
    const seen = (await frontDoorRequests()).filter((r) => r.host.includes(".cae-stepwise-vfy."));
    expect(seen.sort((a, b) => a.host.localeCompare(b.host))).toEqual([
      { host: fqdn("api"), path: "/" },
      { host: fqdn("web"), path: "/healthz" },
    ]);
  });

  it("the probe target is a connection setting: changing it re-runs nothing", async () => {
    site.verify = `    verify:\n      connectTo: "127.0.0.1:${(failing.address() as { port: number }).port}"\n      timeoutSeconds: 2\n`;
    site.yaml(services);
    const plan = await site.cli(["plan"]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).not.toMatch(/^\s*run\s/m);
  });

  it("an app that never answers well fails its step (exit 1) with the URL and the last answer", async () => {
    site.yaml(services.replace("/healthz", "/ready"));
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(1);
    const web = site.state().steps["service:web"]!;
    expect(web.error!.code).toBe("AZURE_VERIFY_FAILED");
    expect(deploy.stderr).toMatch(/Service web is not served at https:\/\/web\.cae-stepwise-vfy\.[^ ]+\/ready after 2s \(last answer: HTTP 503\)/);
    expect(deploy.stderr).toContain("az containerapp logs show --name web --resource-group rg-stepwise-vfy");
    expect(failingSeen.filter((s) => s.endsWith("/ready")).length).toBeGreaterThanOrEqual(2);
    expect(deploy.stderr).not.toMatch(/^\s+at /m);
  });
});
