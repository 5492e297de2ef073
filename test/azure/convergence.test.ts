/**
 * The azure target converges like the Podman target: a config change re-runs exactly the steps
 * that read it, a resource deleted behind the tool's back is reported by plan and recreated, and
 * a deploy broken by a failed long-running operation or a 503 storm resumes to the same end.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../fixtures/component-site.js";
import { makeAzureSite, type AzureSite } from "./azure-site.js";
import { writes } from "./harness.js";

const ran = (stdout: string) => [...stdout.matchAll(/^\s*run\s+(\S+)/gm)].map((m) => m[1]).sort();

async function deployed(name: string): Promise<AzureSite> {
  const site = await makeAzureSite(name);
  const first = await site.cli(["deploy", "--auto-approve"]);
  expect(first.code, first.stderr).toBe(0);
  return site;
}

describe("azure: changes, drift and resume", () => {
  beforeAll(assertBuilt);

  it("a config change re-runs exactly the step that reads it", async () => {
    const site = await deployed("cfg");
    site.yaml("  azure.monitoring.retentionDays: 60\n");
    const plan = await site.cli(["plan"]);
    expect(plan.code, plan.stderr).toBe(0);
    // Only monitoring reads the key; its dependants are listed because its outputs are not known
    // before it runs (they do not change, so the dependants write nothing: see below).
    expect(ran(plan.stdout)).toEqual(["app-secrets", "azure:container-apps-environment", "azure:monitoring"]);
    expect(plan.stdout).toMatch(/run\s+azure:monitoring\s+config azure\.monitoring\.retentionDays: 30 -> 60/);
    expect(plan.stdout).toMatch(/run\s+app-secrets\s+upstream azure:monitoring will run/);
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    const put = writes((await site.control.log()).slice(before)).map((e) => `${e.method} ${e.path.split("/providers/").at(-1)}`);
    // Monitoring's outputs did not change, so its dependants (the environment too) did not run.
    expect(put).toEqual(["PUT Microsoft.OperationalInsights/workspaces/log-stepwise-cfg", "PUT Microsoft.Insights/components/appi-stepwise-cfg"]);
    const workspace = await site.control.resource(String(site.state().steps["azure:monitoring"]!.outputs!.workspaceId));
    expect((workspace!.resource.properties as { retentionInDays: number }).retentionInDays).toBe(60);
  });

  it("a key vault deleted behind the tool's back is reported by plan and recreated with its secrets", async () => {
    const site = await deployed("drift");
    const vaultId = String(site.state().steps["azure:key-vault"]!.outputs!.id);
    await site.control.deleteBehindTheBack(vaultId);
    const plan = await site.cli(["plan"]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/run\s+azure:key-vault\s+.*Microsoft\.KeyVault\/vaults kv-drift-[0-9a-f]{6} is gone/);
    expect(plan.stdout).toMatch(/run\s+app-secrets\s+.*key vault secret app-key-[0-9a-f]{6} is gone/);
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    const put = writes((await site.control.log()).slice(before)).map((e) => e.path.split("/providers/").at(-1)!.replace(/[0-9a-f-]{36}$/, "GUID").replace(/-[0-9a-f]{6}/g, ""));
    // The vault took the identity's role assignment on it along: azure:role-assignments puts both
    // back (the other unchanged); the identity itself is untouched.
    expect(put.sort()).toEqual([
      "Microsoft.Authorization/roleAssignments/GUID",
      "Microsoft.Authorization/roleAssignments/GUID",
      "Microsoft.KeyVault/vaults/kv-drift",
      "Microsoft.KeyVault/vaults/kv-drift/secrets/app-key",
      "Microsoft.KeyVault/vaults/kv-drift/secrets/session-secret",
    ]);
    expect((await site.control.resource(vaultId))?.resource).toBeTruthy();
  });

  it("a long-running operation that ends Failed fails its step only; the next deploy resumes and converges", async () => {
    const site = await makeAzureSite("lro");
    await site.control.fault({ lroFail: true, count: 1, pathIncludes: "/registries/" });
    const failed = await site.cli(["deploy", "--auto-approve"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/azure:registry.*Microsoft\.ContainerRegistry\/registries crstepwiselro[0-9a-f]{6}/);
    const state = site.state();
    expect(state.steps["azure:registry"]!.status).toBe("failed");
    expect(state.steps["azure:key-vault"]!.status).toBe("succeeded");
    const before = (await site.control.log()).length;
    const resumed = await site.cli(["deploy", "--auto-approve"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const put = writes((await site.control.log()).slice(before)).map((e) => e.path.split("/providers/").at(-1)!.split("/")[1]);
    // The registry again, and the steps held back by the failure; nothing that had succeeded.
    // The environment runs beside the registry: when the failure stopped it first, it runs now
    // (reads the workspace's key, POST .../workspaces/.../sharedKeys, then PUTs).
    const environmentHeldBack = state.steps["azure:container-apps-environment"]?.status !== "succeeded";
    // The role assignments wait for the registry: they run now. The identity runs beside the
    // registry, like the environment: now only if the failure stopped it first.
    const identityHeldBack = state.steps["azure:identity"]?.status !== "succeeded";
    expect(put.sort()).toEqual(
      ["registries", "roleAssignments", "roleAssignments", "vaults", "vaults", ...(environmentHeldBack ? ["managedEnvironments", "workspaces"] : []), ...(identityHeldBack ? ["userAssignedIdentities"] : [])].sort(),
    );
    const again = await site.cli(["deploy", "--auto-approve"]);
    expect(again.code).toBe(0);
  });

  it("throttling (429 + Retry-After) and a short 503 burst are retried by the SDK's pipeline: the deploy succeeds, each write lands once", async () => {
    const site = await makeAzureSite("throttle");
    await site.control.fault({ status: 429, count: 2, retryAfter: 1, method: "PUT", pathIncludes: "/registries/" });
    await site.control.fault({ status: 503, count: 2, retryAfter: 0, method: "GET", pathIncludes: "/resourcegroups/" });
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    const log = (await site.control.log()).slice(before);
    const registryPuts = log.filter((e) => e.method === "PUT" && /\/registries\/[^/]+$/.test(e.path));
    expect(registryPuts.map((e) => e.status)).toEqual([429, 429, 201]);
    expect(log.filter((e) => e.status === 503)).toHaveLength(2);
    // Every other resource was written exactly once.
    const landed = writes(log).filter((e) => e.status < 300 && e.method === "PUT").map((e) => e.path.toLowerCase());
    expect(new Set(landed).size).toBe(landed.length);
    expect(site.state().steps["azure:registry"]!.status).toBe("succeeded");
  });

  it("a 503 storm longer than the SDK's retries fails the deploy with Azure's message; resume converges", async () => {
    const site = await makeAzureSite("storm");
    await site.control.fault({ status: 503, count: 20, retryAfter: 0, pathIncludes: "/vaults/" });
    const failed = await site.cli(["deploy", "--auto-approve"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("HTTP 503");
    expect(failed.stderr).not.toMatch(/^\s+at /m);
    await site.control.clearFaults();
    const resumed = await site.cli(["deploy", "--auto-approve"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const before = (await site.control.log()).length;
    const noop = await site.cli(["deploy", "--auto-approve"]);
    expect(noop.code).toBe(0);
    expect(writes((await site.control.log()).slice(before))).toEqual([]);
  });
});
