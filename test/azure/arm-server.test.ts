/**
 * The local Resource Manager keeps the ARM contract the target relies on: api-version checks,
 * registration, 201 vs 200, 404 shapes, long-running PUTs polled through Azure-AsyncOperation,
 * injected faults, and example requests from the REST specs accepted with the documented status.
 */
import { readFileSync, readdirSync } from "node:fs";
import { Agent, request } from "node:https";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ArmControl, armHarness, grepBodies, type ArmEnvironment } from "./harness.js";

let env: ArmEnvironment;
let control: ArmControl;
let agent: Agent;
let token: string;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

function call(method: string, pathAndQuery: string, body?: unknown, auth = true): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(pathAndQuery, env.armUrl), { method, agent, headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const sub = () => `/subscriptions/${control.subscription}`;

beforeAll(async () => {
  env = await armHarness();
  control = new ArmControl(env);
  await control.createSubscription();
  agent = new Agent({ ca: readFileSync(env.caFile, "utf8") });
  const reply = await fetch(`${env.identityEndpoint}?api-version=2019-08-01&resource=https://management.azure.com`, { headers: { "x-identity-header": env.identityHeader } });
  token = ((await reply.json()) as { access_token: string }).access_token;
});

describe("local ARM server", () => {
  it("refuses a token it did not issue and a request without api-version", async () => {
    expect((await call("GET", `${sub()}/resourcegroups/x?api-version=2025-04-01`, undefined, false)).status).toBe(401);
    const missing = await call("GET", `${sub()}/resourcegroups/x`);
    expect(missing.status).toBe(400);
    expect(missing.body.error.code).toBe("MissingApiVersionParameter");
    const invalid = await call("GET", `${sub()}/resourcegroups/x?api-version=2099-01-01`);
    expect(invalid.body.error.code).toBe("InvalidApiVersionParameter");
    // A version valid for resource groups is not valid for Key Vault.
    const vault = await call("GET", `${sub()}/resourcegroups/x/providers/Microsoft.KeyVault/vaults/kv1?api-version=2025-04-01`);
    expect(vault.body.error.code).toBe("InvalidApiVersionParameter");
  });

  it("creates a group with 201, updates with 200, and 404s what is missing", async () => {
    expect((await call("GET", `${sub()}/resourcegroups/rg1?api-version=2025-04-01`)).body.error.code).toBe("ResourceGroupNotFound");
    expect((await call("PUT", `${sub()}/resourcegroups/rg1?api-version=2025-04-01`, { location: "westeurope" })).status).toBe(201);
    const again = await call("PUT", `${sub()}/resourcegroups/rg1?api-version=2025-04-01`, { location: "westeurope", tags: { a: "b" } });
    expect(again.status).toBe(200);
    expect(again.body.tags).toEqual({ a: "b" });
    expect((await call("PUT", `${sub()}/resourcegroups/rg1?api-version=2025-04-01`, {})).body.error.code).toBe("LocationRequired");
  });

  it("requires the provider to be registered, then runs a long-running PUT to Succeeded", async () => {
    const vaultPath = `${sub()}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv-test1?api-version=2026-02-01`;
    const body = { location: "westeurope", properties: { tenantId: "00000000-0000-0000-0000-000000000000", sku: { family: "A", name: "standard" } } };
    expect((await call("PUT", vaultPath, body)).body.error.code).toBe("MissingSubscriptionRegistration");
    const registering = await call("POST", `${sub()}/providers/Microsoft.KeyVault/register?api-version=2025-04-01`);
    expect(registering.body.registrationState).toBe("Registering");
    expect((await call("GET", `${sub()}/providers/Microsoft.KeyVault?api-version=2025-04-01`)).body.registrationState).toBe("Registered");
    const created = await call("PUT", vaultPath, body);
    expect(created.status).toBe(201);
    expect(created.body.properties.provisioningState).toBe("RegisteringDns");
    const status = String(created.headers["azure-asyncoperation"]);
    expect(created.headers["retry-after"]).toBe("1");
    expect((await call("GET", status.slice(env.armUrl.length))).body.status).toBe("InProgress");
    expect((await call("GET", status.slice(env.armUrl.length))).body.status).toBe("Succeeded");
    expect((await call("GET", vaultPath)).body.properties.provisioningState).toBe("Succeeded");
  });

  it("injects 429/503 with Retry-After and long-running operations that end Failed", async () => {
    await control.fault({ status: 429, count: 1, retryAfter: 2, pathIncludes: "/resourcegroups/rg1" });
    const throttled = await call("GET", `${sub()}/resourcegroups/rg1?api-version=2025-04-01`);
    expect(throttled.status).toBe(429);
    expect(throttled.headers["retry-after"]).toBe("2");
    expect((await call("GET", `${sub()}/resourcegroups/rg1?api-version=2025-04-01`)).status).toBe(200);
    await call("POST", `${sub()}/providers/Microsoft.ContainerRegistry/register?api-version=2025-04-01`);
    await call("GET", `${sub()}/providers/Microsoft.ContainerRegistry?api-version=2025-04-01`);
    await control.fault({ lroFail: true, count: 1, pathIncludes: "registries/crfail" });
    const put = await call("PUT", `${sub()}/resourceGroups/rg1/providers/Microsoft.ContainerRegistry/registries/crfail1?api-version=2025-04-01`, { location: "westeurope", sku: { name: "Basic" } });
    const status = String(put.headers["azure-asyncoperation"]).slice(env.armUrl.length);
    await call("GET", status);
    const failed = await call("GET", status);
    expect(failed.body.status).toBe("Failed");
    expect(failed.body.error.code).toBeTruthy();
  });

  it("never returns a Key Vault secret's value and logs bodies for the grep", async () => {
    const secret = `${sub()}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv-test1/secrets/s1?api-version=2026-04-01`;
    const put = await call("PUT", secret, { properties: { value: "hunter2-secret-value" } });
    expect(put.status).toBe(201);
    expect(JSON.stringify(put.body)).not.toContain("hunter2");
    expect(JSON.stringify((await call("GET", secret)).body)).not.toContain("hunter2");
    const hits = grepBodies(await control.log(), "hunter2-secret-value");
    expect(hits.map((e) => `${e.method} ${e.path}`)).toEqual([`PUT ${sub()}/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv-test1/secrets/s1`]);
  });

  it("role assignments: an extension resource of an existing scope, GUID names, same PUT again 200, 409 for a second assignment of the same role or a changed principal", async () => {
    for (const ns of ["Microsoft.KeyVault", "Microsoft.ManagedIdentity"]) await call("POST", `${sub()}/providers/${ns}/register?api-version=2025-04-01`);
    for (const ns of ["Microsoft.KeyVault", "Microsoft.ManagedIdentity"]) await call("GET", `${sub()}/providers/${ns}?api-version=2025-04-01`);
    await call("PUT", `${sub()}/resourcegroups/rg-ra?api-version=2025-04-01`, { location: "westeurope" });
    const identity = await call("PUT", `${sub()}/resourceGroups/rg-ra/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-one?api-version=2026-05-31`, { location: "westeurope" });
    expect(identity.status).toBe(201);
    const principalId = identity.body.properties.principalId;
    expect(principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call("PUT", `${sub()}/resourceGroups/rg-ra/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-one?api-version=2026-05-31`, { location: "westeurope", tags: { a: "b" } })).body.properties.principalId).toBe(principalId);
    const vault = `${sub()}/resourceGroups/rg-ra/providers/Microsoft.KeyVault/vaults/kv-ra`;
    const role = `${sub()}/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6`;
    const body = { properties: { roleDefinitionId: role, principalId, principalType: "ServicePrincipal" } };
    const ra = (name: string) => `${vault}/providers/Microsoft.Authorization/roleAssignments/${name}?api-version=2022-04-01`;
    const name = "0a6c0a3c-2d0e-4b6b-9b7f-1c2d3e4f5a6b";
    expect((await call("PUT", ra(name), body)).body.error.code).toBe("ResourceNotFound");
    await call("PUT", `${vault}?api-version=2026-02-01`, { location: "westeurope", properties: { tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47", sku: { family: "A", name: "standard" } } });
    expect((await call("PUT", ra("not-a-guid"), body)).body.error.code).toBe("InvalidResourceName");
    const created = await call("PUT", ra(name), body);
    expect(created.status).toBe(201);
    expect(created.body.properties).toMatchObject({ principalId, scope: vault });
    expect((await call("PUT", ra(name), body)).status).toBe(200);
    expect((await call("GET", ra(name))).status).toBe(200);
    const twice = await call("PUT", ra("1a6c0a3c-2d0e-4b6b-9b7f-1c2d3e4f5a6b"), body);
    expect([twice.status, twice.body.error.code]).toEqual([409, "RoleAssignmentExists"]);
    const moved = await call("PUT", ra(name), { properties: { ...body.properties, principalId: "2a6c0a3c-2d0e-4b6b-9b7f-1c2d3e4f5a6b" } });
    expect([moved.status, moved.body.error.code]).toEqual([409, "RoleAssignmentUpdateNotPermitted"]);
    // RoleAssignments_ListForResourceGroup: a principal's assignments at, above or below the group; atScope() only at or above.
    const list = (filter?: string) => call("GET", `${sub()}/resourceGroups/rg-ra/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01${filter === undefined ? "" : `&$filter=${encodeURIComponent(filter)}`}`);
    expect((await list(`principalId eq '${principalId}'`)).body.value.map((a: { name: string }) => a.name)).toEqual([name]);
    expect((await list("principalId eq '2a6c0a3c-2d0e-4b6b-9b7f-1c2d3e4f5a6b'")).body.value).toEqual([]);
    expect((await list("atScope()")).body.value).toEqual([]);
    expect((await list()).body.value).toHaveLength(1);
    const bad = await list("roleDefinitionId eq 'x'");
    expect([bad.status, bad.body.error.code]).toEqual([400, "InvalidFilter"]);
    expect((await call("GET", `${sub()}/resourceGroups/rg-ra/providers/Microsoft.Authorization/roleAssignments?api-version=2099-01-01`)).body.error.code).toBe("InvalidApiVersionParameter");
    // Deleting the scope deletes its assignments.
    await call("DELETE", `${vault}?api-version=2026-02-01`);
    expect((await call("GET", ra(name))).status).toBe(404);
  });

  it("answers the specs' example PUTs with a status the example documents and the same top-level shape", async () => {
    const roots = [path.resolve(import.meta.dirname, "../../../shared/arm-examples"), "/work/shared/arm-examples", path.join(import.meta.dirname, "arm-examples")];
    const examples: { file: string; json: any }[] = [];
    for (const root of roots) {
      let providers: string[] = [];
      try {
        providers = readdirSync(root).filter((p) => p.startsWith("Microsoft."));
      } catch {
        continue;
      }
      for (const p of providers) {
        for (const v of readdirSync(path.join(root, p))) {
          for (const f of readdirSync(path.join(root, p, v))) {
            const file = `${p}/${v}/${f}`;
            if (f.endsWith(".json") && !examples.some((e) => e.file === file)) examples.push({ file, json: JSON.parse(readFileSync(path.join(root, p, v, f), "utf8")) });
          }
        }
      }
    }
    const cases: Record<string, (params: any) => string> = {
      "Microsoft.Resources/2025-04-01/CreateResourceGroup.json": (q) => `resourcegroups/${q.resourceGroupName}`,
      "Microsoft.OperationalInsights/2026-03-01/WorkspacesCreate.json": (q) => `resourcegroups/${q.resourceGroupName}/providers/Microsoft.OperationalInsights/workspaces/${q.workspaceName}`,
      "Microsoft.Insights/2020-02-02/ComponentsCreate.json": (q) => `resourceGroups/${q.resourceGroupName}/providers/Microsoft.Insights/components/${q.resourceName}`,
      "Microsoft.ContainerRegistry/2025-04-01/RegistryCreate.json": (q) => `resourceGroups/${q.resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/${q.registryName}`,
      "Microsoft.KeyVault/2026-02-01/createVault.json": (q) => `resourceGroups/${q.resourceGroupName}/providers/Microsoft.KeyVault/vaults/${q.vaultName}`,
      "Microsoft.KeyVault/2026-04-01/createSecret.json": (q) => `resourceGroups/${q.resourceGroupName}/providers/Microsoft.KeyVault/vaults/${q.vaultName}/secrets/${q.secretName}`,
      "Microsoft.App/2025-07-01/ManagedEnvironments_CreateOrUpdate.json": (q) => `resourceGroups/${q.resourceGroupName}/providers/Microsoft.App/managedEnvironments/${q.environmentName}`,
      "Microsoft.DBforPostgreSQL/2025-08-01/ServerCreate.json": (q) => `resourceGroups/${q.resourceGroupName}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${q.serverName}`,
      "Microsoft.DBforPostgreSQL/2025-08-01/DatabaseCreate.json": (q) => `resourceGroups/${q.resourceGroupName}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${q.serverName}/databases/${q.databaseName}`,
      "Microsoft.DBforPostgreSQL/2025-08-01/FirewallRuleCreate.json": (q) => `resourceGroups/${q.resourceGroupName}/providers/Microsoft.DBforPostgreSQL/flexibleServers/${q.serverName}/firewallRules/${q.firewallRuleName}`,
      "Microsoft.App/2025-07-01/ContainerApps_CreateOrUpdate.json": (q) => `resourceGroups/${q.resourceGroupName}/providers/Microsoft.App/containerApps/${q.containerAppName}`,
      "Microsoft.App/2025-07-01/Job_CreateorUpdate.json": (q) => `resourceGroups/${q.resourceGroupName}/providers/Microsoft.App/jobs/${q.jobName}`,
      "Microsoft.Cache/2024-11-01/RedisCacheCreate.json": (q) => `resourceGroups/${q.resourceGroupName}/providers/Microsoft.Cache/redis/${q.name}`,
      "Microsoft.ManagedIdentity/2026-05-31/IdentityCreate.json": (q) => `resourceGroups/${q.resourceGroupName}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${q.resourceName}`,
      // The example's scope is a Cosmos DB account, a type this server does not know: the same assignment on a vault.
      "Microsoft.Authorization/2022-04-01/RoleAssignments_CreateForResource.json": (q) => `resourceGroups/testrg/providers/Microsoft.KeyVault/vaults/kv-scope/providers/Microsoft.Authorization/roleAssignments/${q.roleAssignmentName}`,
    };
    const registered = ["Microsoft.OperationalInsights", "Microsoft.Insights", "Microsoft.DBforPostgreSQL", "Microsoft.App", "Microsoft.ManagedIdentity", "Microsoft.Cache"];
    for (const ns of registered) {
      await call("POST", `${sub()}/providers/${ns}/register?api-version=2025-04-01`);
      await call("GET", `${sub()}/providers/${ns}?api-version=2025-04-01`);
    }
    let checked = 0;
    for (const [file, route] of Object.entries(cases)) {
      const example = examples.find((e) => e.file === file);
      if (!example) continue;
      const q = example.json.parameters;
      const bodyParam = Object.keys(q).find((k) => typeof q[k] === "object");
      const group = q.resourceGroupName ?? "testrg";
      if (!file.includes("ResourceGroup")) await call("PUT", `${sub()}/resourcegroups/${group}?api-version=2025-04-01`, { location: "westus" });
      if (file.includes("ContainerApps_") || file.includes("Job_")) {
        // The app's environment, as the environment example makes it.
        const environment = examples.find((e) => e.file === "Microsoft.App/2025-07-01/ManagedEnvironments_CreateOrUpdate.json")!.json.parameters;
        await call("PUT", `${sub()}/resourceGroups/${group}/providers/Microsoft.App/managedEnvironments/demokube?api-version=2025-07-01`, environment.environmentEnvelope);
      }
      if (file.includes("RoleAssignments")) {
        const vault = examples.find((e) => e.file === "Microsoft.KeyVault/2026-02-01/createVault.json")!.json.parameters;
        await call("PUT", `${sub()}/resourceGroups/${group}/providers/Microsoft.KeyVault/vaults/kv-scope?api-version=2026-02-01`, { ...vault.parameters });
      }
      if (file.includes("createSecret")) {
        const vault = examples.find((e) => e.file === "Microsoft.KeyVault/2026-02-01/createVault.json")!.json.parameters;
        await call("PUT", `${sub()}/resourceGroups/${group}/providers/Microsoft.KeyVault/vaults/${q.vaultName}?api-version=2026-04-01`, { ...vault.parameters });
      }
      // Ids in a body name the example's subscription: they are this test's subscription here.
      const body = bodyParam && q.subscriptionId ? JSON.parse(JSON.stringify(q[bodyParam]).replaceAll(q.subscriptionId, control.subscription)) : bodyParam ? q[bodyParam] : undefined;
      const reply = await call("PUT", `${sub()}/${route(q)}?api-version=${q["api-version"]}`, body);
      expect(Object.keys(example.json.responses), file).toContain(String(reply.status));
      const documented = example.json.responses[String(reply.status)].body;
      if (documented) expect(Object.keys(reply.body).sort(), file).toEqual(expect.arrayContaining(Object.keys(documented).filter((k) => k !== "systemData" && k !== "etag" && k !== "managedBy").sort()));
      checked++;
    }
    expect(checked).toBe(Object.keys(cases).length);
    // A POST action: the workspace's shared keys, as WorkspacesGetSharedKeys.json documents them.
    const keysExample = examples.find((e) => e.file === "Microsoft.OperationalInsights/2025-07-01/WorkspacesGetSharedKeys.json")!.json;
    const workspace = examples.find((e) => e.file === "Microsoft.OperationalInsights/2026-03-01/WorkspacesCreate.json")!.json.parameters;
    const keys = await call("POST", `${sub()}/resourcegroups/${workspace.resourceGroupName}/providers/Microsoft.OperationalInsights/workspaces/${workspace.workspaceName}/sharedKeys?api-version=${keysExample.parameters["api-version"]}`);
    expect(keys.status).toBe(200);
    expect(Object.keys(keys.body).sort()).toEqual(Object.keys(keysExample.responses["200"].body).sort());
    // The registry's admin credentials, as RegistryListCredentials.json documents them (the example registry has its admin user on).
    const credentialsExample = examples.find((e) => e.file === "Microsoft.ContainerRegistry/2025-04-01/RegistryListCredentials.json")!.json;
    const registry = (name: string) => `${sub()}/resourceGroups/${credentialsExample.parameters.resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/${name}`;
    const credentials = await call("POST", `${registry(credentialsExample.parameters.registryName)}/listCredentials?api-version=${credentialsExample.parameters["api-version"]}`);
    expect(credentials.status).toBe(200);
    expect(credentials.body.username).toBe(credentialsExample.parameters.registryName);
    expect(credentials.body.passwords.map((p: { name: string }) => p.name)).toEqual(credentialsExample.responses["200"].body.passwords.map((p: { name: string }) => p.name));
    // A job's start (Job_Start.json: 200 { name, id }), its execution (Job_Execution_Get.json) and the list (Job_Executions_Get.json).
    const startExample = examples.find((e) => e.file === "Microsoft.App/2025-07-01/Job_Start.json")!.json;
    const job = `${sub()}/resourceGroups/${startExample.parameters.resourceGroupName}/providers/Microsoft.App/jobs/${startExample.parameters.jobName}`;
    const started = await call("POST", `${job}/start?api-version=${startExample.parameters["api-version"]}`);
    expect(Object.keys(startExample.responses)).toContain(String(started.status));
    expect(Object.keys(started.body).sort()).toEqual(Object.keys(startExample.responses["200"].body).sort());
    expect(started.body.id).toBe(`${job}/executions/${started.body.name}`);
    const executionExample = examples.find((e) => e.file === "Microsoft.App/2025-07-01/Job_Execution_Get.json")!.json.responses["200"].body;
    const execution = await call("GET", `${started.body.id}?api-version=2025-07-01`);
    expect(Object.keys(execution.body)).toEqual(expect.arrayContaining(Object.keys(executionExample)));
    expect(Object.keys(execution.body.properties)).toEqual(expect.arrayContaining(["status", "startTime", "template"]));
    expect(execution.body.properties.status).toBe("Running");
    const listExample = examples.find((e) => e.file === "Microsoft.App/2025-07-01/Job_Executions_Get.json")!.json.responses["200"].body;
    const list = await call("GET", `${job}/executions?api-version=2025-07-01`);
    expect(Object.keys(list.body).sort()).toEqual(Object.keys(listExample).sort());
    expect(list.body.value.map((e: { name: string }) => e.name)).toEqual([started.body.name]);
    // Polled on, it ends Succeeded with an end time; executions cannot be PUT.
    const ended = await call("GET", `${started.body.id}?api-version=2025-07-01`);
    expect([ended.body.properties.status, typeof ended.body.properties.endTime]).toEqual(["Succeeded", "string"]);
    expect((await call("PUT", `${started.body.id}?api-version=2025-07-01`, { properties: {} })).status).toBe(400);
    // A cache's keys (RedisCacheListKeys.json), its GET (RedisCacheGet.json's shape), and keys that go with a deleted cache (RedisCacheDelete.json: 200/202/204).
    const listKeysExample = examples.find((e) => e.file === "Microsoft.Cache/2024-11-01/RedisCacheListKeys.json")!.json;
    const cacheCreate = examples.find((e) => e.file === "Microsoft.Cache/2024-11-01/RedisCacheCreate.json")!.json.parameters;
    const cache = `${sub()}/resourceGroups/${cacheCreate.resourceGroupName}/providers/Microsoft.Cache/redis/${cacheCreate.name}`;
    const cacheKeys = await call("POST", `${cache}/listKeys?api-version=${listKeysExample.parameters["api-version"]}`);
    expect([cacheKeys.status, Object.keys(cacheKeys.body).sort()]).toEqual([200, Object.keys(listKeysExample.responses["200"].body).sort()]);
    const getExample = examples.find((e) => e.file === "Microsoft.Cache/2024-11-01/RedisCacheGet.json")!.json.responses["200"].body;
    const gotCache = await call("GET", `${cache}?api-version=2024-11-01`);
    expect(Object.keys(gotCache.body)).toEqual(expect.arrayContaining(Object.keys(getExample)));
    expect(gotCache.body.properties).toMatchObject({ hostName: `${cacheCreate.name}.redis.cache.windows.net`, port: 6379, sslPort: 6380 });
    const deleteExample = examples.find((e) => e.file === "Microsoft.Cache/2024-11-01/RedisCacheDelete.json")!.json;
    expect(Object.keys(deleteExample.responses)).toContain(String((await call("DELETE", `${cache}?api-version=2024-11-01`)).status));
    const body = { location: "westus", properties: { sku: { name: "Basic", family: "C", capacity: 0 } } };
    await call("PUT", `${cache}?api-version=2024-11-01`, body);
    expect((await call("POST", `${cache}/listKeys?api-version=2024-11-01`)).body.primaryKey).not.toBe(cacheKeys.body.primaryKey);
    // The spec's rules: the sku is required and consistent; names have no "--".
    expect((await call("PUT", `${cache}x?api-version=2024-11-01`, { location: "westus", properties: {} })).status).toBe(400);
    expect((await call("PUT", `${cache}x?api-version=2024-11-01`, { location: "westus", properties: { sku: { name: "Basic", family: "P", capacity: 0 } } })).status).toBe(400);
    expect((await call("PUT", `${cache}--x?api-version=2024-11-01`, body)).body.error.code).toBe("InvalidResourceName");
    // With the admin user off, the service answers no credentials.
    await call("PUT", `${registry("myRegistryNoAdmin")}?api-version=2025-04-01`, { location: "westus", sku: { name: "Basic" }, properties: { adminUserEnabled: false } });
    const refused = await call("POST", `${registry("myRegistryNoAdmin")}/listCredentials?api-version=2025-04-01`);
    expect([refused.status, refused.body.error.code]).toEqual([400, "AdminUserDisabled"]);
  });

  it("a Container App's getAuthtoken and replicas answer as ContainerApps_GetAuthToken.json and Replicas_List.json; its log stream takes only that token", async () => {
    const example = (file: string) => JSON.parse(readFileSync(path.join(import.meta.dirname, "arm-examples", file), "utf8"));
    await call("POST", `${sub()}/providers/Microsoft.App/register?api-version=2025-04-01`);
    await call("GET", `${sub()}/providers/Microsoft.App?api-version=2025-04-01`);
    await call("PUT", `${sub()}/resourcegroups/rg-logs?api-version=2025-04-01`, { location: "westeurope" });
    const environment = `${sub()}/resourceGroups/rg-logs/providers/Microsoft.App/managedEnvironments/cae-logs`;
    await call("PUT", `${environment}?api-version=2025-07-01`, { location: "westeurope", properties: {} });
    const app = `${sub()}/resourceGroups/rg-logs/providers/Microsoft.App/containerApps/hello`;
    const created = await call("PUT", `${app}?api-version=2025-07-01`, { location: "westeurope", properties: { environmentId: environment, template: { containers: [{ name: "hello92", image: "mcr.microsoft.com/k8se/quickstart:latest" }] } } });
    expect(created.status).toBe(201);
    // The new revision is ready once the PUT's operation succeeded (until then there is no ready one).
    expect(created.body.properties.latestReadyRevisionName).toBeUndefined();
    const operation = new URL(String(created.headers["azure-asyncoperation"]));
    while ((await call("GET", `${operation.pathname}${operation.search}`)).body.status !== "Succeeded");
    const ready = (await call("GET", `${app}?api-version=2025-07-01`)).body.properties;
    expect(ready.latestReadyRevisionName).toBe(ready.latestRevisionName);
    expect(ready.eventStreamEndpoint).toBe(`${env.armUrl}/_logstream${sub()}/resourceGroups/rg-logs/containerApps/hello/eventstream`);

    const tokenExample = example("Microsoft.App/2025-07-01/ContainerApps_GetAuthToken.json").responses["200"].body;
    const auth = await call("POST", `${app}/getAuthtoken?api-version=2025-07-01`);
    expect(auth.status).toBe(200);
    expect(Object.keys(auth.body).sort()).toEqual(Object.keys(tokenExample).sort());
    expect(Object.keys(auth.body.properties).sort()).toEqual(Object.keys(tokenExample.properties).sort());
    expect([auth.body.id, auth.body.type]).toEqual([app, tokenExample.type]);
    expect((await call("POST", `${sub()}/resourceGroups/rg-logs/providers/Microsoft.App/containerApps/nope/getAuthtoken?api-version=2025-07-01`)).status).toBe(404);

    const replicasExample = example("Microsoft.App/2025-01-01/Replicas_List.json").responses["200"].body;
    const revision = String(ready.latestRevisionName);
    const replicas = await call("GET", `${app}/revisions/${revision}/replicas?api-version=2025-07-01`);
    expect(replicas.status).toBe(200);
    expect(replicas.body.value).toHaveLength(1);
    const [replica] = replicas.body.value;
    expect(Object.keys(replica).sort()).toEqual(Object.keys(replicasExample.value[0]).sort());
    expect(replica.id).toBe(`${app}/revisions/${revision}/replicas/${replica.name}`);
    expect(Object.keys(replicasExample.value[0].properties)).toEqual(expect.arrayContaining(Object.keys(replica.properties)));
    expect(replica.properties.containers.map((c: { name: string; ready: boolean }) => [c.name, c.ready])).toEqual([["hello92", true]]);
    expect((await call("PUT", `${replica.id}?api-version=2025-07-01`, { properties: {} })).status).toBe(400);

    // The stream at the eventStreamEndpoint host: only the app's token, the documented tail range, the lines put.
    await control.appLog(app, ["one", "two", "three"]);
    const stream = `/_logstream${sub()}/resourceGroups/rg-logs/containerApps/hello/revisions/${revision}/replicas/${replica.name}/containers/hello92/logstream`;
    const get = async (query: string, bearer: string) => {
      const reply = await fetchTls("GET", `${stream}?${query}`, undefined, { authorization: `Bearer ${bearer}` });
      return [reply.status, reply.status === 200 ? reply.text : JSON.parse(reply.text).error.code];
    };
    expect(await get("tailLines=2&follow=false&output=text", auth.body.properties.token)).toEqual([200, "two\nthree\n"]);
    expect(await get("tailLines=2", token)).toEqual([401, "Unauthorized"]);
    expect(await get("tailLines=301", auth.body.properties.token)).toEqual([400, "BadRequest"]);
    expect((await fetchTls("GET", stream.replace("/containers/hello92/", "/containers/other/"), undefined, { authorization: `Bearer ${auth.body.properties.token}` })).status).toBe(404);
    // Resource Manager does not take the log-stream token.
    expect((await fetchTls("GET", `${app}?api-version=2025-07-01`, undefined, { authorization: `Bearer ${auth.body.properties.token}` })).status).toBe(401);
  });

  it("the registry's token service: the exchange takes only an issued Entra token for its own service, the token endpoint only its refresh tokens", async () => {
    const post = async (p: string, form: Record<string, string>, type = "application/x-www-form-urlencoded") => {
      const reply = await fetchTls("POST", p, new URLSearchParams(form).toString(), { "content-type": type });
      return { status: reply.status, body: JSON.parse(reply.text) };
    };
    const service = env.registry.loginServer;
    expect((await post("/oauth2/exchange", { grant_type: "access_token", service, access_token: "not-issued" })).status).toBe(401);
    expect((await post("/oauth2/exchange", { grant_type: "access_token", service: "other.azurecr.io", access_token: token })).status).toBe(400);
    expect((await post("/oauth2/exchange", { grant_type: "password", service, access_token: token })).body.errors[0].code).toBe("UNSUPPORTED_GRANT_TYPE");
    expect((await post("/oauth2/exchange", { grant_type: "access_token", service, access_token: token }, "application/json")).status).toBe(400);
    const exchanged = await post("/oauth2/exchange", { grant_type: "access_token", service, access_token: token, tenant: "t" });
    expect(exchanged.status).toBe(200);
    const refresh = String(exchanged.body.refresh_token);
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
    const scope = `service=${encodeURIComponent(service)}&scope=${encodeURIComponent("repository:stepwise-x/web:pull,push")}`;
    expect((await fetchTls("GET", `/oauth2/token?${scope}`, undefined, basic("00000000-0000-0000-0000-000000000000", "wrong"))).status).toBe(401);
    expect((await fetchTls("GET", `/oauth2/token?${scope}`, undefined, {})).status).toBe(401);
    const granted = await fetchTls("GET", `/oauth2/token?${scope}`, undefined, basic("00000000-0000-0000-0000-000000000000", refresh));
    expect(granted.status).toBe(200);
    const jwt = String((JSON.parse(granted.text) as { token: string }).token).split(".");
    expect(JSON.parse(Buffer.from(jwt[0]!, "base64url").toString())).toMatchObject({ alg: "ES256", x5c: [expect.any(String)] });
    expect(JSON.parse(Buffer.from(jwt[1]!, "base64url").toString())).toMatchObject({ iss: "stepwise-test-acr", aud: service, access: [{ type: "repository", name: "stepwise-x/web", actions: ["pull", "push"] }] });
    // The OAuth2 form of the same: a refresh_token grant.
    expect((await post("/oauth2/token", { grant_type: "refresh_token", service, scope: "repository:stepwise-x/web:pull", refresh_token: refresh })).status).toBe(200);
    // A denied prefix: pull only.
    await control.denyRegistryPush("stepwise-denied/");
    const denied = await fetchTls("GET", `/oauth2/token?service=${encodeURIComponent(service)}&scope=${encodeURIComponent("repository:stepwise-denied/web:pull,push")}`, undefined, basic("00000000-0000-0000-0000-000000000000", refresh));
    expect(JSON.parse(Buffer.from(String((JSON.parse(denied.text) as { token: string }).token).split(".")[1]!, "base64url").toString()).access[0].actions).toEqual(["pull"]);
    // None of it is in Resource Manager's request log; the registry log holds no token.
    expect(grepBodies(await control.log(), refresh)).toEqual([]);
    expect(JSON.stringify((await control.registryLog()).log)).not.toContain(refresh);
  });
});

function fetchTls(method: string, pathAndQuery: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(pathAndQuery, env.armUrl), { method, agent, headers }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}
