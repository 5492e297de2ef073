/**
 * `redis` on Azure: the real `database` step (@stepwise/step-database, `database.redis.enabled`)
 * asks the azure target for Redis, which becomes an Azure Cache for Redis whose access key goes to
 * the site's Key Vault as the step's `redis_password`, through the built CLI against the local
 * Resource Manager. A service that uses `redis_password` gets a Key Vault reference to that key.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../fixtures/component-site.js";
import { makeAzureSite, type AzureSite } from "./azure-site.js";
import { grepBodies, writes } from "./harness.js";

const tail = (p: string) => p.split("/providers/").at(-1)!.replace(/-[0-9a-f]{6}(?=\/|$)/g, "");

/** The site: Redis on, its size from `azure.redis.*`, and an internal worker reading the host, port and key. */
const siteYaml = (size = "") => `  database.redis.enabled: true
${size}services:
  worker:
    image: mcr.microsoft.com/k8se/quickstart:latest
    dependsOn: [database]
    env:
      REDIS_HOST: \${outputs.database.redisHost}
      REDIS_PORT: \${outputs.database.redisPort}
    secrets:
      REDIS_PASSWORD: redis_password
`;

let site: AzureSite;
let cacheId: string;
let key: string;

describe("azure: redis as Azure Cache for Redis", () => {
  beforeAll(async () => {
    assertBuilt();
    site = await makeAzureSite("rd", "", ["@stepwise/step-database"]);
    site.yaml(siteYaml());
  });

  it("a cold deploy makes a Basic C0 cache on TLS only and puts its access key in Key Vault; the key is nowhere else", async () => {
    const deploy = await site.cli(["deploy", "--auto-approve", "--json"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).toBe(0);
    const log = await site.control.log();
    // Microsoft.Cache is registered because the site has a cache (not by azure:prerequisites).
    expect(writes(log).filter((e) => e.path.endsWith("/providers/Microsoft.Cache/register"))).toHaveLength(1);
    const cache = writes(log).filter((e) => e.path.includes("Microsoft.Cache/redis/"));
    expect(cache.map((e) => `${e.method} ${tail(e.path)} ${e.status}`)).toEqual(["PUT Microsoft.Cache/redis/redis-rd-redis 201", "POST Microsoft.Cache/redis/redis-rd-redis/listKeys 200"]);
    cacheId = cache[0]!.path.split("?")[0]!;
    expect(JSON.parse(cache[0]!.requestBody)).toMatchObject({
      location: "westeurope",
      tags: { "stepwise-site": "rd", "stepwise-step": "database" },
      properties: { sku: { name: "Basic", family: "C", capacity: 0 }, enableNonSslPort: false, minimumTlsVersion: "1.2", publicNetworkAccess: "Enabled" },
    });
    const outputs = site.state().steps.database!.outputs!;
    expect(outputs).toMatchObject({ redisEnabled: true, redisPort: 6380, redisPasswordSecret: "redis_password" });
    expect(outputs.redisHost).toMatch(/^redis-rd-redis-[0-9a-f]{6}\.redis\.cache\.windows\.net$/);
    const recorded = (outputs.resources as { kind: string; outputs: Record<string, unknown> }[]).find((r) => r.kind === "redis")!;
    expect(recorded.outputs).toMatchObject({ port: 6380, tls: true, password: { secret: "redis_password" } });

    // The vault secret holds the cache's primary key, tagged as issued by Redis.
    key = (await site.control.resource(cacheId))!.keys.primaryKey!;
    expect(key).toBeTruthy();
    const secretPut = writes(log).find((e) => e.method === "PUT" && /\/secrets\/redis-password-[0-9a-f]{6}$/.test(e.path.split("?")[0]!))!;
    const stored = await site.control.resource(secretPut.path.split("?")[0]!);
    expect(stored!.secretValue).toBe(key);
    expect(stored!.resource).toMatchObject({ tags: { "stepwise-issued-by": "redis", "stepwise-step": "database" } });
    // The worker refers to that secret; its own (generated) value never replaced the key.
    const worker = JSON.parse(writes(log).find((e) => e.path.includes("/containerApps/worker"))!.requestBody);
    expect(worker.properties.configuration.secrets).toEqual([expect.objectContaining({ keyVaultUrl: expect.stringMatching(/\/secrets\/redis-password-[0-9a-f]{6}$/) })]);
    expect(worker.properties.template.containers[0].env).toEqual(expect.arrayContaining([{ name: "REDIS_HOST", value: outputs.redisHost }, { name: "REDIS_PORT", value: "6380" }]));
    // The key: in the listKeys answer and the vault secret's PUT only; not in output, --json or state.
    expect(grepBodies(log, key).map((e) => `${e.method} ${tail(e.path.split("?")[0]!)}`)).toEqual([
      "POST Microsoft.Cache/redis/redis-rd-redis/listKeys",
      expect.stringMatching(/^PUT Microsoft\.KeyVault\/vaults\/kv-rd\/secrets\/redis-password$/),
    ]);
    expect(deploy.stdout + deploy.stderr + JSON.stringify(site.state())).not.toContain(key);
  });

  it("a second deploy issues no PUT, POST or DELETE and reads the cache once", async () => {
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    const after = (await site.control.log()).slice(before);
    expect(writes(after)).toEqual([]);
    expect(after.filter((e) => e.path.includes("Microsoft.Cache/redis"))).toHaveLength(1);
    expect((await site.control.resource(cacheId))!.keys.primaryKey).toBe(key);
  });

  it("a larger SKU re-runs the database step alone (the keys are inputs of the steps asking for redis): plan names the keys, deploy PUTs the cache only", async () => {
    site.yaml(siteYaml("  azure.redis.sku: Standard\n  azure.redis.capacity: 1\n"));
    const plan = await site.cli(["plan"]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/run\s+database\s+config azure\.redis\.capacity: 0 -> 1\s+config azure\.redis\.sku: "Basic" -> "Standard"/);
    // Without a refresh too: the change is in the step's inputs, not only in the drift probe.
    expect((await site.cli(["plan", "--no-refresh"])).stdout).toMatch(/run\s+database\s+config azure\.redis\.capacity/);
    // No foundation step re-runs for it (resourceKind keys are no foundation step's input).
    for (const step of ["azure:prerequisites", "azure:resource-group", "azure:key-vault", "azure:container-apps-environment"]) expect(plan.stdout).toMatch(new RegExp(`skip\\s+${step}`));
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).toBe(0);
    const put = writes((await site.control.log()).slice(before));
    // listKeys is read again when the step runs; the unchanged key is not written.
    expect(put.map((e) => `${e.method} ${tail(e.path.split("?")[0]!)} ${e.status}`)).toEqual(["PUT Microsoft.Cache/redis/redis-rd-redis 200", "POST Microsoft.Cache/redis/redis-rd-redis/listKeys 200"]);
    expect(JSON.parse(put[0]!.requestBody).properties.sku).toEqual({ name: "Standard", family: "C", capacity: 1 });
    const noop = (await site.control.log()).length;
    expect((await site.cli(["deploy", "--auto-approve"])).code).toBe(0);
    expect(writes((await site.control.log()).slice(noop))).toEqual([]);
  });

  it("the site's own redis_password never replaces the key; a key regenerated in Azure is stored by --force-step database", async () => {
    const set = await site.cli(["secrets", "set", "redis_password"], { input: "SiteValueNotTheKey0123456789abcdef\n" });
    expect(set.code, set.stderr).toBe(0);
    let before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).toBe(0);
    // The steps using the secret ran (its fingerprint changed); the cache's key stayed in the vault.
    expect(writes((await site.control.log()).slice(before)).map((e) => `${e.method} ${tail(e.path.split("?")[0]!)}`)).toEqual(["POST Microsoft.Cache/redis/redis-rd-redis/listKeys"]);
    const log = await site.control.log();
    const secretId = writes(log).find((e) => e.method === "PUT" && /\/secrets\/redis-password-[0-9a-f]{6}$/.test(e.path.split("?")[0]!))!.path.split("?")[0]!;
    expect((await site.control.resource(secretId))!.secretValue).toBe(key);
    expect(grepBodies(log, "SiteValueNotTheKey0123456789abcdef")).toEqual([]);

    await site.control.regenerateKeys(cacheId);
    before = (await site.control.log()).length;
    const forced = await site.cli(["deploy", "--auto-approve", "--force-step", "database"]);
    expect(forced.code, forced.stderr + forced.stdout).toBe(0);
    // The new key is stored; the database step's outputs (the key's version) changed, so the
    // worker's step ran and its revision restarted onto the new value (Container Apps reads a
    // changed Key Vault value only into a new or restarted revision).
    expect(writes((await site.control.log()).slice(before)).map((e) => `${e.method} ${tail(e.path.split("?")[0]!)}`.replace(/worker--\w+/, "worker--REV"))).toEqual([
      "POST Microsoft.Cache/redis/redis-rd-redis/listKeys",
      "PUT Microsoft.KeyVault/vaults/kv-rd/secrets/redis-password",
      "POST Microsoft.App/containerApps/worker/revisions/worker--REV/restart",
      "PUT Microsoft.App/containerApps/worker",
    ]);
    key = (await site.control.resource(cacheId))!.keys.primaryKey!;
    expect((await site.control.resource(secretId))!.secretValue).toBe(key);
    expect(forced.stdout + forced.stderr + JSON.stringify(site.state())).not.toContain(key);
  });

  it("a cache deleted behind the tool's back is reported by plan and made again, with its new key in the vault", async () => {
    await site.control.deleteBehindTheBack(cacheId);
    const plan = await site.cli(["plan"]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/run\s+database\s+.*azure cache for redis redis-rd-redis-[0-9a-f]{6} is gone/);
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve", "--json"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    const log = (await site.control.log()).slice(before);
    expect(writes(log).map((e) => `${e.method} ${tail(e.path.split("?")[0]!)}`.replace(/worker--\w+/, "worker--REV"))).toEqual([
      "PUT Microsoft.Cache/redis/redis-rd-redis",
      "POST Microsoft.Cache/redis/redis-rd-redis/listKeys",
      "PUT Microsoft.KeyVault/vaults/kv-rd/secrets/redis-password",
      "POST Microsoft.App/containerApps/worker/revisions/worker--REV/restart",
      "PUT Microsoft.App/containerApps/worker",
    ]);
    const fresh = (await site.control.resource(cacheId))!.keys.primaryKey!;
    expect(fresh).not.toBe(key);
    const secret = writes(log).find((e) => e.method === "PUT" && e.path.includes("/secrets/redis-password"))!.path.split("?")[0]!;
    expect((await site.control.resource(secret))!.secretValue).toBe(fresh);
    expect(deploy.stdout + deploy.stderr + JSON.stringify(site.state())).not.toContain(fresh);
    const all = await site.control.log();
    expect(grepBodies(all, fresh).map((e) => `${e.method} ${tail(e.path.split("?")[0]!)}`)).toEqual(["POST Microsoft.Cache/redis/redis-rd-redis/listKeys", "PUT Microsoft.KeyVault/vaults/kv-rd/secrets/redis-password"]);
  });

  it("a deploy killed (SIGKILL) while Azure makes the cache resumes by waiting for that cache, not making another, and then stores its key", async () => {
    // Deleted behind the back once more: the next deploy makes it (a long-running PUT).
    await site.control.deleteBehindTheBack(cacheId);
    const before = (await site.control.log()).length;
    const child = site.start(["deploy", "--auto-approve"]);
    const exited = new Promise((resolve) => child.on("exit", resolve));
    for (let i = 0; i < 500; i++) {
      if ((await site.control.log()).slice(before).some((e) => e.method === "PUT" && e.path.split("?")[0] === cacheId)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await exited;
    const killed = (await site.control.log()).slice(before);
    expect(killed.filter((e) => e.method === "PUT" && e.path.split("?")[0] === cacheId)).toHaveLength(1);
    const resumed = await site.cli(["deploy", "--auto-approve"]);
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    const after = (await site.control.log()).slice(before + killed.length);
    // No second PUT of the cache (it was being made): the key is read once it is usable and stored.
    const cacheWrites = writes(after).filter((e) => e.path.includes("Microsoft.Cache/redis/")).map((e) => `${e.method} ${tail(e.path.split("?")[0]!)}`);
    expect(cacheWrites).toEqual(["POST Microsoft.Cache/redis/redis-rd-redis/listKeys"]);
    const listKeys = after.findIndex((e) => e.path.split("?")[0]!.endsWith("/listKeys"));
    const lastRead = after.slice(0, listKeys).filter((e) => e.method === "GET" && e.path.split("?")[0] === cacheId).at(-1)!;
    expect(JSON.parse(lastRead.responseBody).properties.provisioningState).toBe("Succeeded");
    const fresh = (await site.control.resource(cacheId))!.keys.primaryKey!;
    const secret = writes(after).find((e) => e.method === "PUT" && e.path.includes("/secrets/redis-password"))!.path.split("?")[0]!;
    expect((await site.control.resource(secret))!.secretValue).toBe(fresh);
    const mark = (await site.control.log()).length;
    expect((await site.cli(["deploy", "--auto-approve"])).code).toBe(0);
    expect(writes((await site.control.log()).slice(mark))).toEqual([]);
  });
});
