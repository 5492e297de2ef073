/**
 * Day 2 on Azure: `status` lists the site's Container Apps (running status, public URL) and jobs
 * (newest execution), `restart` restarts an app's active revision, `down` deletes the resource
 * group after confirmation. Through the built CLI against the local Resource Manager.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../fixtures/component-site.js";
import { makeAzureSite, type AzureSite } from "./azure-site.js";
import { writes } from "./harness.js";

const siteYaml = `services:
  web:
    image: mcr.microsoft.com/k8se/quickstart:latest
    ports: ["8080:80"]
  worker:
    image: mcr.microsoft.com/k8se/quickstart:latest
jobs:
  migrate:
    image: mcr.microsoft.com/k8se/quickstart-jobs:latest
`;

const tail = (p: string) => p.split("/providers/").slice(1).join("/providers/").replace(/--[0-9a-f]{7}/, "--REV");

let site: AzureSite;

describe("azure: status, restart and down", () => {
  beforeAll(async () => {
    assertBuilt();
    site = await makeAzureSite("ops");
    site.yaml(siteYaml);
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).toBe(0);
  });

  it("status lists each app's running status and public URL and the job's last run, writing nothing", async () => {
    const before = (await site.control.log()).length;
    const status = await site.cli(["status", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    const services = (JSON.parse(status.stdout) as { services: { name: string; kind: string; state: string; ports: string[]; image?: string }[] }).services;
    const fqdn = String(site.state().steps["service:web"]!.outputs!.fqdn);
    expect(services).toEqual([
      { name: "migrate", kind: "job", state: "last run succeeded", startedAt: expect.any(String) },
      { name: "web", kind: "service", state: "running", image: "mcr.microsoft.com/k8se/quickstart:latest", ports: [`https://${fqdn}`] },
      { name: "worker", kind: "service", state: "running", image: "mcr.microsoft.com/k8se/quickstart:latest", ports: [] },
    ]);
    expect(writes((await site.control.log()).slice(before))).toEqual([]);
  });

  it("restart NAME restarts that app's active revision; an unknown name is exit 2 naming the site's services", async () => {
    const before = (await site.control.log()).length;
    const restart = await site.cli(["restart", "web"]);
    expect(restart.code, restart.stderr).toBe(0);
    expect(restart.stdout).toContain("Restarted web.");
    expect(writes((await site.control.log()).slice(before)).map((e) => `${e.method} ${tail(e.path)} ${e.status}`)).toEqual(["POST Microsoft.App/containerApps/web/revisions/web--REV/restart 200"]);
    const unknown = await site.cli(["restart", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Site ops has no Container App for service nope (it has: web, worker)");
  });

  it("down asks, then deletes the resource group and everything in it", async () => {
    const refused = await site.cli(["down", "--no-final-backup"], { input: "wrong\n" });
    expect(refused.code).not.toBe(0);
    const groupId = `/subscriptions/${site.control.subscription}/resourceGroups/rg-stepwise-ops`;
    expect(await site.control.resource(groupId)).toBeDefined();
    const down = await site.cli(["down", "--no-final-backup", "--auto-approve"]);
    expect(down.code, down.stderr + down.stdout).toBe(0);
    expect(writes((await site.control.log()).slice(-20)).map((e) => `${e.method} ${e.path.split("/").slice(3).join("/")} ${e.status}`)).toContain("DELETE resourcegroups/rg-stepwise-ops 202");
    expect(await site.control.resource(groupId)).toBeUndefined();
  });
});
