/**
 * The demo site (examples/demo-site) on Azure: the same stepwise.yaml with `target: azure` and
 * the Azure settings, deployed end to end on the local Resource Manager, the local registry and
 * the tests' Podman service (its images are built as the podman target builds them): Postgres
 * flexible server, the migration job started and waited for, the web app verified over HTTPS.
 * A second deploy writes nothing; a deploy killed with SIGKILL during a long-running operation's
 * poll resumes and converges.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, repoRoot } from "../fixtures/component-site.js";
import { demoAppModules } from "../demo/demo-site.js";
import { makeAzureSite, TENANT, type AzureSite } from "./azure-site.js";
import { TEST_REGISTRY, armHarness, writes, type ArmEnvironment } from "./harness.js";

const podman = process.env.STEPWISE_TEST_PODMAN_SOCKET;
const demoSource = path.join(repoRoot, "examples/demo-site");
const tail = (p: string) => p.split("/providers/").slice(1).join("/providers/").replace(/migrate-[0-9a-f]{7}/, "migrate-X");

/** examples/demo-site/stepwise.yaml, its plugins and target switched to Azure, the Azure settings added. */
function azureDemoYaml(site: AzureSite, env: ArmEnvironment, greeting = "Hello from stepwise"): string {
  const yaml = readFileSync(path.join(demoSource, "stepwise.yaml"), "utf8");
  const azure = `config:
  azure:
    subscription: ${site.control.subscription}
    tenantId: ${TENANT}
    location: westeurope
    names:
      registry: ${TEST_REGISTRY}
    verify:
      connectTo: "${env.apps}"
`;
  const next = yaml
    .replace('  - "@stepwise/target-podman"\n', '  - "@stepwise/target-azure"\n')
    .replace(/^target: podman$/m, "target: azure")
    .replace(/^config:\n/m, azure)
    .replace("greeting: Hello from stepwise", `greeting: ${greeting}`);
  for (const needed of ["@stepwise/target-azure", "target: azure", "  azure:", `greeting: ${greeting}`]) if (!next.includes(needed)) throw new Error(`demo stepwise.yaml: could not set ${needed}`);
  return next;
}

let site: AzureSite;
let env: ArmEnvironment;

describe.skipIf(!podman)("azure: the demo site end to end", () => {
  beforeAll(async () => {
    assertBuilt();
    env = await armHarness();
    site = await makeAzureSite("demo", "", ["@stepwise/step-database"]);
    mkdirSync(path.join(site.dir, "app"));
    for (const file of ["Containerfile", "package.json", "server.js", "migrate.js", "db.js"]) cpSync(path.join(demoSource, "app", file), path.join(site.dir, "app", file));
    cpSync(await demoAppModules(), path.join(site.dir, "app/node_modules"), { recursive: true });
    writeFileSync(path.join(site.dir, "stepwise.yaml"), azureDemoYaml(site, env));
  }, 300_000);

  it("a cold deploy makes Postgres, builds and pushes both images, runs the migration and verifies the web app", async () => {
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).toBe(0);
    const log = await site.control.log();
    const made = writes(log).map((e) => `${e.method} ${tail(e.path)}`);
    expect(made.filter((m) => /^PUT Microsoft\.DBforPostgreSQL\/flexibleServers\/psql-demo-postgres-[0-9a-f]{6}$/.test(m))).toHaveLength(1);
    expect(made).toEqual(expect.arrayContaining([
      "PUT Microsoft.App/jobs/migrate",
      "POST Microsoft.App/jobs/migrate/start",
      "PUT Microsoft.App/containerApps/web",
    ]));
    // The migration ran before the web app was made (web dependsOn migrate).
    expect(made.indexOf("POST Microsoft.App/jobs/migrate/start")).toBeLessThan(made.indexOf("PUT Microsoft.App/containerApps/web"));
    const job = JSON.parse(log.find((e) => e.method === "PUT" && e.path.endsWith("/jobs/migrate"))!.requestBody);
    const web = JSON.parse(log.find((e) => e.method === "PUT" && e.path.endsWith("/containerApps/web"))!.requestBody);
    const server = String(site.state().steps["database"]!.outputs!.host);
    expect(server).toMatch(/\.postgres\.database\.azure\.com$/);
    for (const body of [job, web]) {
      const container = body.properties.template.containers[0];
      expect(container.image).toMatch(new RegExp(`^${env.registry.loginServer.replace(/\./g, "\\.")}/stepwise-demo/(web|migrate):[0-9a-f]{16}$`));
      expect(container.env).toContainEqual({ name: "PGHOST", value: server });
      expect(container.env).toContainEqual({ name: "PGPASSWORD", secretRef: expect.stringMatching(/^db-password-[0-9a-f]{6}$/) });
    }
    expect(web.properties.configuration.ingress).toMatchObject({ external: true, targetPort: 3000 });
    expect(Object.entries(site.state().steps).filter(([, step]) => step.status !== "succeeded")).toEqual([]);
    expect(site.state().steps["service:web"]!.outputs!.url).toMatch(/^https:\/\/web\./);
  });

  it("a second deploy issues no PUT, POST or DELETE", async () => {
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(writes((await site.control.log()).slice(before))).toEqual([]);
  });

  it("a deploy killed (SIGKILL) while it polls a long-running PUT resumes and converges", async () => {
    writeFileSync(path.join(site.dir, "stepwise.yaml"), azureDemoYaml(site, env, "Hello again"));
    const before = (await site.control.log()).length;
    const child = site.start(["deploy", "--auto-approve"]);
    const exited = new Promise((resolve) => child.on("exit", resolve));
    for (let i = 0; i < 500; i++) {
      if ((await site.control.log()).slice(before).some((e) => e.method === "PUT" && e.path.endsWith("/jobs/migrate"))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await exited;
    const killed = (await site.control.log()).slice(before);
    expect(killed.filter((e) => e.method === "PUT" && e.path.endsWith("/jobs/migrate"))).toHaveLength(1);
    expect(killed.some((e) => e.path.endsWith("/jobs/migrate/start"))).toBe(false);
    const resumed = await site.cli(["deploy", "--auto-approve"]);
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    const after = (await site.control.log()).slice(before + killed.length);
    expect(after.some((e) => e.path.endsWith("/jobs/migrate/start"))).toBe(true);
    const job = await site.control.resource(String(JSON.parse(killed.find((e) => e.method === "PUT" && e.path.endsWith("/jobs/migrate"))!.responseBody).id));
    expect((job!.resource.properties as { provisioningState: string; template: { containers: { env: { name: string; value?: string }[] }[] } }).provisioningState).toBe("Succeeded");
    expect((job!.resource.properties as { template: { containers: { env: { name: string; value?: string }[] }[] } }).template.containers[0]!.env).toContainEqual({ name: "GREETING", value: "Hello again" });
    const mark = (await site.control.log()).length;
    const again = await site.cli(["deploy", "--auto-approve"]);
    expect(again.code, again.stderr).toBe(0);
    expect(writes((await site.control.log()).slice(mark))).toEqual([]);
  });
});
