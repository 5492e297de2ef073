/**
 * `postgres` on Azure: the real `database` step (@stepwise/step-database) asks the azure target for
 * its server, which becomes a PostgreSQL flexible server with the app and SSO databases and the
 * "Azure services" firewall rule, through the built CLI against the local Resource Manager.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../fixtures/component-site.js";
import { makeAzureSite, type AzureSite } from "./azure-site.js";
import { grepBodies, writes } from "./harness.js";

const tail = (p: string) => p.split("/providers/").at(-1)!.replace(/-[0-9a-f]{6}(?=\/|$)/g, "");

let site: AzureSite;

describe("azure: postgres as a flexible server", () => {
  beforeAll(async () => {
    assertBuilt();
    site = await makeAzureSite("pg", "", ["@stepwise/step-database"]);
  });

  it("a cold deploy makes the server with the databases and firewall rule; outputs say how to reach it", async () => {
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).toBe(0);
    const log = await site.control.log();
    const pg = writes(log).filter((e) => e.path.includes("DBforPostgreSQL/flexibleServers"));
    expect(pg.map((e) => `${e.method} ${tail(e.path)} ${e.status}`)).toEqual([
      "PUT Microsoft.DBforPostgreSQL/flexibleServers/psql-pg-postgres 201",
      "PUT Microsoft.DBforPostgreSQL/flexibleServers/psql-pg-postgres/databases/app 201",
      "PUT Microsoft.DBforPostgreSQL/flexibleServers/psql-pg-postgres/databases/sso 201",
      "PUT Microsoft.DBforPostgreSQL/flexibleServers/psql-pg-postgres/firewallRules/AllowAllAzureServicesAndResourcesWithinAzureIps 201",
    ]);
    expect(writes(log).some((e) => e.path.endsWith("/providers/Microsoft.DBforPostgreSQL/register"))).toBe(true);
    const outputs = site.state().steps.database!.outputs!;
    expect(outputs).toMatchObject({ port: 5432, user: "app", databases: ["app", "sso"], passwordSecret: "db_password" });
    expect(outputs.host).toMatch(/^psql-pg-postgres-[0-9a-f]{6}\.postgres\.database\.azure\.com$/);
    const server = await site.control.resource(pg[0]!.path);
    expect(server!.resource).toMatchObject({ sku: { tier: "Burstable" }, tags: { "stepwise-site": "pg", "stepwise-step": "database" }, properties: { administratorLogin: "app", version: "16" } });
    // The password reached the server (write-only: only the control API shows it) ...
    const password = server!.secretValue!;
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(JSON.stringify(server!.resource)).not.toContain(password);
    // ... and is in no other request or response body, nor in the CLI's output or state.
    expect(grepBodies(log, password).map((e) => `${e.method} ${tail(e.path)}`)).toEqual(["PUT Microsoft.DBforPostgreSQL/flexibleServers/psql-pg-postgres"]);
    expect(deploy.stdout + deploy.stderr + JSON.stringify(site.state())).not.toContain(password);
  });

  it("a second deploy issues no PUT, POST or DELETE and reads the server once", async () => {
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    const after = (await site.control.log()).slice(before);
    expect(writes(after)).toEqual([]);
    expect(after.filter((e) => e.path.includes("flexibleServers"))).toHaveLength(1);
  });

  it("a server deleted behind the tool's back is reported by plan and made again", async () => {
    const id = String((site.state().steps.database!.outputs!.resources as { id: string }[])[0]!.id);
    await site.control.deleteBehindTheBack(id);
    const plan = await site.cli(["plan"]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/run\s+database\s+.*postgres flexible server psql-pg-postgres-[0-9a-f]{6} is gone/);
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(writes((await site.control.log()).slice(before)).map((e) => tail(e.path).split("/").slice(-2).join("/"))).toEqual([
      "flexibleServers/psql-pg-postgres",
      "databases/app",
      "databases/sso",
      "firewallRules/AllowAllAzureServicesAndResourcesWithinAzureIps",
    ]);
  });

  it("a rotated password is PUT again and nothing else; a PUT that ends Failed fails the step and the next deploy resumes", async () => {
    const rotate = await site.cli(["secrets", "set", "db_password"], { input: "RotatedPassword0123456789abcdefXY\n" });
    expect(rotate.code, rotate.stderr).toBe(0);
    await site.control.fault({ lroFail: true, count: 1, pathIncludes: "/flexibleServers/" });
    const failed = await site.cli(["deploy", "--auto-approve"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/database.*Microsoft\.DBforPostgreSQL\/flexibleServers psql-pg-postgres-[0-9a-f]{6}/);
    expect(failed.stderr).not.toContain("RotatedPassword");
    expect(site.state().steps.database!.status).toBe("failed");
    const before = (await site.control.log()).length;
    const resumed = await site.cli(["deploy", "--auto-approve"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const put = writes((await site.control.log()).slice(before));
    expect(put.map((e) => tail(e.path))).toEqual(["Microsoft.DBforPostgreSQL/flexibleServers/psql-pg-postgres"]);
    expect((await site.control.resource(put[0]!.path))!.secretValue).toBe("RotatedPassword0123456789abcdefXY");
    const after = (await site.control.log()).length;
    const noop = await site.cli(["deploy", "--auto-approve"]);
    expect(noop.code, noop.stderr).toBe(0);
    expect(writes((await site.control.log()).slice(after))).toEqual([]);
  });
});
