/**
 * `service` on Azure: a site service becomes a Container App in the site's environment, running
 * as the site's identity, its secrets Key Vault references, through the built CLI against the
 * local Resource Manager.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../fixtures/component-site.js";
import { makeAzureSite, type AzureSite } from "./azure-site.js";
import { grepBodies, writes } from "./harness.js";

// The registry's name is set so the worker's image can name it.
const services = (greeting: string, extra = "") => `    names:
      registry: crsvcown12345
services:
  web:
    image: mcr.microsoft.com/k8se/quickstart:latest
    dependsOn: [app-secrets]
    env:
      GREETING: ${greeting}
    secrets:
      APP_KEY: app_key
    ports: ["8080:80"]
    healthcheck:
      http: /healthz
      intervalSeconds: 15
  worker:
    image: crsvcown12345.azurecr.io/worker:1
    command: ["--queue", "jobs"]
${extra}`;

const tail = (p: string) => p.split("/providers/").slice(1).join("/providers/");

let site: AzureSite;

describe("azure: services as Container Apps", () => {
  beforeAll(async () => {
    assertBuilt();
    site = await makeAzureSite("svc");
    site.yaml(services("hello"));
  });

  it("a cold deploy makes each app on the environment with the identity; a secret is a Key Vault reference, never a value", async () => {
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).toBe(0);
    const log = await site.control.log();
    const apps = writes(log).filter((e) => e.path.includes("/containerApps/"));
    expect(apps.map((e) => `${e.method} ${tail(e.path)} ${e.status}`).sort()).toEqual(["PUT Microsoft.App/containerApps/web 201", "PUT Microsoft.App/containerApps/worker 201"]);
    const state = site.state();
    const identityId = String(state.steps["azure:identity"]!.outputs!.id);
    const web = JSON.parse(apps.find((e) => e.path.endsWith("/web"))!.requestBody);
    const environmentId = String(state.steps["azure:container-apps-environment"]!.outputs!.id);
    const vaultUri = String(state.steps["azure:key-vault"]!.outputs!.vaultUri);
    expect(web).toMatchObject({
      identity: { type: "UserAssigned", userAssignedIdentities: { [identityId]: {} } },
      properties: {
        environmentId,
        configuration: {
          ingress: { external: true, targetPort: 80 },
          secrets: [{ name: expect.stringMatching(/^app-key-[0-9a-f]{6}$/), keyVaultUrl: expect.stringMatching(new RegExp(`^${vaultUri}secrets/app-key-[0-9a-f]{6}$`)), identity: identityId }],
        },
        template: {
          containers: [{ name: "web", image: "mcr.microsoft.com/k8se/quickstart:latest", probes: [{ type: "Readiness", httpGet: { path: "/healthz", port: 80 }, periodSeconds: 15 }, { type: "Liveness" }] }],
          scale: { minReplicas: 1, maxReplicas: 1 },
        },
      },
    });
    const secretName = web.properties.configuration.secrets[0].name;
    expect(web.properties.template.containers[0].env).toEqual([{ name: "APP_KEY", secretRef: secretName }, { name: "GREETING", value: "hello" }]);
    // A public image needs no registry credentials; the site's own registry is pulled with the identity.
    expect(web.properties.configuration.registries).toBeUndefined();
    const worker = JSON.parse(apps.find((e) => e.path.endsWith("/worker"))!.requestBody);
    expect(worker.properties.configuration.ingress).toBeUndefined();
    expect(worker.properties.template.containers[0].args).toEqual(["--queue", "jobs"]);
    expect(worker.properties.configuration.registries).toEqual([{ server: "crsvcown12345.azurecr.io", identity: identityId }]);
    // The secret's value: in the vault (control API), in its one Key Vault PUT, in no app body, state or output.
    const secretPut = log.find((e) => e.method === "PUT" && /\/secrets\/app-key-/.test(e.path))!;
    const value = (await site.control.resource(secretPut.path))!.secretValue!;
    expect(value).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(grepBodies(log, value).map((e) => `${e.method} ${tail(e.path).replace(/-[0-9a-f]{6}/g, "")}`)).toEqual(["PUT Microsoft.KeyVault/vaults/kv-svc/secrets/app-key"]);
    expect(deploy.stdout + deploy.stderr + JSON.stringify(site.state())).not.toContain(value);
    const outputs = state.steps["service:web"]!.outputs!;
    expect(outputs).toMatchObject({ host: expect.stringMatching(/^web\.cae-stepwise-svc\..+\.azurecontainerapps\.io$/), url: expect.stringMatching(/^https:\/\/web\./), ports: [{ container: 80, host: 443 }] });
    expect(state.steps["service:worker"]!.outputs!.host).toBe("worker");
  });

  it("a second deploy issues no write and reads each app once", async () => {
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    const after = (await site.control.log()).slice(before);
    expect(writes(after)).toEqual([]);
    expect(after.filter((e) => e.path.includes("/containerApps/")).map((e) => tail(e.path)).sort()).toEqual(["Microsoft.App/containerApps/web", "Microsoft.App/containerApps/worker"]);
  });

  it("a changed env re-runs only that service and PUTs only its app", async () => {
    site.yaml(services("bonjour"));
    const plan = await site.cli(["plan"]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/run\s+service:web/);
    expect(plan.stdout).not.toMatch(/run\s+service:worker/);
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    const put = writes((await site.control.log()).slice(before));
    expect(put.map((e) => `${e.method} ${tail(e.path)} ${e.status}`)).toEqual(["PUT Microsoft.App/containerApps/web 200"]);
    expect(JSON.parse(put[0]!.requestBody).properties.template.containers[0].env).toContainEqual({ name: "GREETING", value: "bonjour" });
  });

  it("a rotated secret is stored and the app's running revision restarts onto it; the next deploy writes nothing", async () => {
    const rotate = await site.cli(["secrets", "rotate", "app_key"]);
    expect(rotate.code, rotate.stderr + rotate.stdout).toBe(0);
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).toBe(0);
    const put = writes((await site.control.log()).slice(before));
    // Changing a Key Vault value makes no revision in Container Apps: the running revision is
    // restarted, then the tag of the secrets' versions updated (same body otherwise).
    expect(put.map((e) => `${e.method} ${tail(e.path).replace(/-[0-9a-f]{6}(?=\/|$)/g, "").replace(/web--\w+/, "web--REV")}`)).toEqual([
      "PUT Microsoft.KeyVault/vaults/kv-svc/secrets/app-key",
      "POST Microsoft.App/containerApps/web/revisions/web--REV/restart",
      "PUT Microsoft.App/containerApps/web",
    ]);
    expect(JSON.parse(put[2]!.requestBody).tags["stepwise-secrets"]).toMatch(/^[0-9a-f]{16}$/);
    const mark = (await site.control.log()).length;
    expect((await site.cli(["deploy", "--auto-approve"])).code).toBe(0);
    expect(writes((await site.control.log()).slice(mark))).toEqual([]);
  });

  it("a restart that failed is done by the next deploy (the tag is written after it)", async () => {
    expect((await site.cli(["secrets", "rotate", "app_key"])).code).toBe(0);
    await site.control.fault({ method: "POST", pathIncludes: "/restart", status: 403, count: 1 });
    const failed = await site.cli(["deploy", "--auto-approve"]);
    // A role without the restart action: AZURE_AUTH_FAILED (exit 2), the app's tag not updated.
    expect(failed.code, failed.stderr).toBe(2);
    expect(failed.stderr).toMatch(/The deploying identity may not restart/);
    const before = (await site.control.log()).length;
    const resumed = await site.cli(["deploy", "--auto-approve"]);
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    expect(writes((await site.control.log()).slice(before)).map((e) => `${e.method} ${tail(e.path).replace(/web--\w+/, "web--REV")} ${e.status}`)).toEqual([
      "POST Microsoft.App/containerApps/web/revisions/web--REV/restart 200",
      "PUT Microsoft.App/containerApps/web 200",
    ]);
  });

  it("an app deleted behind the tool's back is reported by plan and made again", async () => {
    const id = String((site.state().steps["service:worker"]!.outputs!.resource as { id: string }).id);
    await site.control.deleteBehindTheBack(id);
    const plan = await site.cli(["plan"]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/run\s+service:worker\s+.*Microsoft\.App\/containerApps worker is gone/);
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(writes((await site.control.log()).slice(before)).map((e) => `${e.method} ${tail(e.path)} ${e.status}`)).toEqual(["PUT Microsoft.App/containerApps/worker 201"]);
  });
});
