/**
 * The azure target deployed through the built CLI and the real SDK clients (DefaultAzureCredential
 * through the managed-identity endpoint, @azure/arm-resources) against the local Resource Manager.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../fixtures/component-site.js";
import { makeAzureSite, FOUNDATION, type AzureSite } from "./azure-site.js";
import { grepBodies, writes } from "./harness.js";

let site: AzureSite;

describe("azure: deploy the foundation and the site's secrets", () => {
  beforeAll(async () => {
    assertBuilt();
    site = await makeAzureSite("shop");
  });

  it("a cold deploy registers providers, creates every resource, and stores secrets in Key Vault", async () => {
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).toBe(0);
    const log = await site.control.log();
    const put = writes(log).map((e) => `${e.method} ${e.path} ${e.status}`);
    expect(put.filter((l) => l.includes("/register"))).toHaveLength(7);
    const sub = `/subscriptions/${site.control.subscription}`;
    expect(put).toContain(`PUT ${sub}/resourcegroups/rg-stepwise-shop 201`);
    const state = site.state();
    for (const step of [...FOUNDATION, "app-secrets"]) expect(state.steps[step]?.status, step).toBe("succeeded");
    const vault = state.steps["azure:key-vault"]!.outputs!;
    expect(vault.vaultUri).toMatch(/^https:\/\/kv-shop-[0-9a-f]{6}\.vault\.azure\.net\/$/);
    expect(state.steps["azure:registry"]!.outputs!.loginServer).toMatch(/^crstepwiseshop[0-9a-f]{6}\.azurecr\.io$/);
    const group = await site.control.resource(`${sub}/resourceGroups/rg-stepwise-shop`);
    expect(group?.resource.tags).toMatchObject({ "stepwise-site": "shop" });
    // The secret's value is in the vault (readable only through the control API), nowhere else.
    const secretPuts = log.filter((e) => e.method === "PUT" && e.path.includes("/secrets/"));
    expect(secretPuts.map((e) => e.path.split("/").at(-1)).sort()).toEqual(["app-key-" + secretPuts.find((e) => e.path.includes("app-key"))!.path.split("-").at(-1), expect.stringMatching(/^session-secret-[0-9a-f]{6}$/)]);
    const stored = await site.control.resource(secretPuts[0]!.path);
    expect(stored?.secretValue).toMatch(/^[A-Za-z0-9]{40}$/);
    const value = stored!.secretValue!;
    expect(grepBodies(log, value).every((e) => e.method === "PUT" && e.path.includes("/vaults/") && e.path.includes("/secrets/"))).toBe(true);
    expect(deploy.stdout + deploy.stderr).not.toContain(value);
  });

  it("the Container Apps environment logs to the workspace; its shared key is only in the key read and the environment's PUT", async () => {
    const log = await site.control.log();
    const environment = site.state().steps["azure:container-apps-environment"]!.outputs!;
    expect(environment.defaultDomain).toMatch(/^cae-stepwise-shop\..+\.azurecontainerapps\.io$/);
    const stored = await site.control.resource(String(environment.id));
    const workspaceId = String(site.state().steps["azure:monitoring"]!.outputs!.workspaceId);
    const key = (await site.control.resource(workspaceId))!.keys.primarySharedKey!;
    expect(key.length).toBeGreaterThan(40);
    expect(stored!.secretValue).toBe(key);
    expect(stored!.resource).toMatchObject({ properties: { appLogsConfiguration: { destination: "log-analytics", logAnalyticsConfiguration: { customerId: site.state().steps["azure:monitoring"]!.outputs!.workspaceCustomerId } } } });
    expect(JSON.stringify(stored!.resource)).not.toContain(key);
    expect(grepBodies(log, key).map((e) => `${e.method} ${e.path.split("/providers/").at(-1)}`)).toEqual([
      "POST Microsoft.OperationalInsights/workspaces/log-stepwise-shop/sharedKeys",
      "PUT Microsoft.App/managedEnvironments/cae-stepwise-shop",
    ]);
    expect(JSON.stringify(site.state())).not.toContain(key);
  });

  it("a second deploy issues no PUT, POST or DELETE", async () => {
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    const after = (await site.control.log()).slice(before);
    expect(writes(after)).toEqual([]);
    // At most one read per step: 6 foundation resources, the role assignments listed once, the vault's secrets listed once.
    expect(after.length).toBeLessThanOrEqual(8);
    expect(after.filter((e) => /\/roleAssignments$/.test(e.path)).map((e) => new URLSearchParams(e.query).get("$filter"))).toEqual([expect.stringMatching(/^principalId eq '[0-9a-f-]{36}'/)]);
    expect(after.filter((e) => /\/vaults\/[^/]+\/secrets/.test(e.path)).map((e) => `${e.method} ${e.path.split("/").at(-1)}`)).toEqual(["GET secrets"]);
  });

  it("the apps' identity may read the vault's secrets and pull from the registry; a deleted assignment is drift and is made again", async () => {
    const state = site.state();
    const identity = state.steps["azure:identity"]!.outputs!;
    expect(identity).toMatchObject({ name: "id-stepwise-shop", principalId: expect.stringMatching(/^[0-9a-f-]{36}$/), clientId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const sub = `/subscriptions/${site.control.subscription}`;
    const puts = writes(await site.control.log()).filter((e) => e.path.includes("Microsoft.Authorization") || e.path.includes("Microsoft.ManagedIdentity/userAssignedIdentities"));
    const scopes = { [String(state.steps["azure:key-vault"]!.outputs!.id)]: "4633458b-17de-408a-b874-0445c86b69e6", [String(state.steps["azure:registry"]!.outputs!.id)]: "7f951dda-4ed3-4680-a7ca-43fe172d538d" };
    expect(puts.map((e) => `${e.path.split("/providers/").slice(1).join("/providers/").replace(/[0-9a-f-]{36}$/, "GUID")} ${e.status}`)).toEqual([
      "Microsoft.ManagedIdentity/userAssignedIdentities/id-stepwise-shop 201",
      expect.stringMatching(/^Microsoft\.KeyVault\/vaults\/kv-shop-[0-9a-f]{6}\/providers\/Microsoft\.Authorization\/roleAssignments\/GUID 201$/),
      expect.stringMatching(/^Microsoft\.ContainerRegistry\/registries\/crstepwiseshop[0-9a-f]{6}\/providers\/Microsoft\.Authorization\/roleAssignments\/GUID 201$/),
    ]);
    for (const put of puts.slice(1)) {
      const assignment = (await site.control.resource(put.path))!.resource as { properties: Record<string, string> };
      expect(assignment.properties).toMatchObject({ principalId: identity.principalId, principalType: "ServicePrincipal", roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${scopes[assignment.properties.scope!]}` });
    }
    expect(puts[0]!.path.startsWith(`${sub}/`)).toBe(true);
    await site.control.deleteBehindTheBack(puts[2]!.path);
    const plan = await site.cli(["plan"]);
    expect(plan.stdout).toMatch(/run\s+azure:role-assignments\s+.*role assignment AcrPull of id-stepwise-shop is gone/);
    expect(plan.stdout).toMatch(/skip\s+azure:identity/);
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    // The remaining assignment is PUT again unchanged (200); the deleted one is made (201); the identity is not touched.
    expect(writes((await site.control.log()).slice(before)).map((e) => `${e.path.split("/").at(-2)} ${e.status}`)).toEqual(["roleAssignments 200", "roleAssignments 201"]);
    expect(site.state().steps["azure:identity"]!.outputs!.principalId).toBe(identity.principalId);
  });

  it("an identity deleted behind the tool's back is made again and the new principal gets both roles", async () => {
    const old = site.state().steps["azure:identity"]!.outputs!;
    await site.control.deleteBehindTheBack(String(old.id));
    const plan = await site.cli(["plan"]);
    expect(plan.stdout).toMatch(/run\s+azure:identity\s+.*userAssignedIdentities id-stepwise-shop is gone/);
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    const principalId = site.state().steps["azure:identity"]!.outputs!.principalId;
    expect(principalId).not.toBe(old.principalId);
    const made = writes((await site.control.log()).slice(before)).filter((e) => /roleAssignments|userAssignedIdentities/.test(e.path));
    expect(made.map((e) => `${e.path.split("/").at(-2)} ${e.status}`)).toEqual(["userAssignedIdentities 201", "roleAssignments 201", "roleAssignments 201"]);
    for (const put of made.slice(1)) expect(((await site.control.resource(put.path))!.resource as { properties: { principalId: string } }).properties.principalId).toBe(principalId);
    const again = await site.cli(["plan"]);
    expect(again.stdout).toMatch(/0 to run/);
  });

  it("no secret value is in any logged request or response body but its Key Vault PUT, nor in state or --json output", async () => {
    const log = await site.control.log();
    const secretPuts = log.filter((e) => e.method === "PUT" && /\/vaults\/[^/]+\/secrets\//.test(e.path));
    const values: string[] = [];
    for (const put of secretPuts) values.push((await site.control.resource(put.path))!.secretValue!);
    expect(values).toHaveLength(2);
    const plan = await site.cli(["plan", "--json"]);
    expect(plan.code, plan.stderr).toBe(0);
    const state = readFileSync(path.join(site.dir, ".stepwise/state.json"), "utf8");
    for (const value of values) {
      expect(value.length).toBeGreaterThanOrEqual(40);
      const elsewhere = grepBodies(log, value).filter((e) => !secretPuts.includes(e));
      expect(elsewhere.map((e) => `${e.method} ${e.path}`)).toEqual([]);
      expect(state).not.toContain(value);
      expect(plan.stdout + plan.stderr).not.toContain(value);
    }
  });

  it("an environment deleted behind the tool's back is reported by plan and made again with a fresh key read", async () => {
    const id = String(site.state().steps["azure:container-apps-environment"]!.outputs!.id);
    await site.control.deleteBehindTheBack(id);
    const plan = await site.cli(["plan"]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/run\s+azure:container-apps-environment\s+.*Microsoft\.App\/managedEnvironments cae-stepwise-shop is gone/);
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(writes((await site.control.log()).slice(before)).map((e) => `${e.method} ${e.path.split("/providers/").at(-1)}`)).toEqual([
      "POST Microsoft.OperationalInsights/workspaces/log-stepwise-shop/sharedKeys",
      "PUT Microsoft.App/managedEnvironments/cae-stepwise-shop",
    ]);
  });

  it("--force-step with the same key PUTs nothing; after the workspace key is regenerated it PUTs the new key", async () => {
    const workspaceId = String(site.state().steps["azure:monitoring"]!.outputs!.workspaceId);
    const environmentId = String(site.state().steps["azure:container-apps-environment"]!.outputs!.id);
    const force = () => site.cli(["deploy", "--auto-approve", "--force-step", "azure:container-apps-environment"]);
    let before = (await site.control.log()).length;
    expect((await force()).code).toBe(0);
    expect(writes((await site.control.log()).slice(before)).map((e) => e.method)).toEqual(["POST"]);
    await site.control.regenerateKeys(workspaceId);
    before = (await site.control.log()).length;
    const forced = await force();
    expect(forced.code, forced.stderr).toBe(0);
    expect(writes((await site.control.log()).slice(before)).map((e) => e.method)).toEqual(["POST", "PUT"]);
    const key = (await site.control.resource(workspaceId))!.keys.primarySharedKey!;
    expect((await site.control.resource(environmentId))!.secretValue).toBe(key);
  });
});
