/**
 * `job` on Azure: a Container Apps job (manual trigger) started and waited for to completion
 * through its execution; a failed execution fails the step (exit 1) naming where its logs are;
 * resume runs it again; a deploy killed while waiting resumes by waiting for the same execution.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../fixtures/component-site.js";
import { makeAzureSite, type AzureSite } from "./azure-site.js";
import { grepBodies, writes } from "./harness.js";

const jobs = (greeting: string) => `jobs:
  migrate:
    image: mcr.microsoft.com/k8se/quickstart-jobs:latest
    command: ["migrate", "--up"]
    dependsOn: [app-secrets]
    timeoutSeconds: 300
    env:
      GREETING: ${greeting}
    secrets:
      APP_KEY: app_key
`;

const tail = (p: string) => p.split("/providers/").slice(1).join("/providers/");
const calls = (entries: { method: string; path: string; status: number }[]) => entries.map((e) => `${e.method} ${tail(e.path).replace(/migrate-[0-9a-f]{7}/, "migrate-X")} ${e.status}`);

let site: AzureSite;

describe("azure: jobs as Container Apps jobs", () => {
  beforeAll(async () => {
    assertBuilt();
    site = await makeAzureSite("job");
    site.yaml(jobs("hello"));
  });

  it("a cold deploy makes the job, starts it and waits for its execution to succeed", async () => {
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr + deploy.stdout).toBe(0);
    const log = await site.control.log();
    const job = log.filter((e) => e.path.includes("/jobs/"));
    // The PUT's long-running operation ends with a GET of the job; the execution is polled until it ends.
    expect(calls(job)).toEqual([
      "GET Microsoft.App/jobs/migrate 404",
      "PUT Microsoft.App/jobs/migrate 201",
      "GET Microsoft.App/jobs/migrate 200",
      "POST Microsoft.App/jobs/migrate/start 200",
      "GET Microsoft.App/jobs/migrate/executions/migrate-X 200",
      "GET Microsoft.App/jobs/migrate/executions/migrate-X 200",
    ]);
    expect(job.slice(-2).map((e) => JSON.parse(e.responseBody).properties.status)).toEqual(["Running", "Succeeded"]);
    const body = JSON.parse(job[1]!.requestBody);
    const identityId = String(site.state().steps["azure:identity"]!.outputs!.id);
    expect(body).toMatchObject({
      identity: { type: "UserAssigned", userAssignedIdentities: { [identityId]: {} } },
      properties: {
        configuration: { triggerType: "Manual", replicaTimeout: 300, replicaRetryLimit: 0, manualTriggerConfig: { replicaCompletionCount: 1, parallelism: 1 }, secrets: [{ keyVaultUrl: expect.stringContaining("/secrets/app-key-"), identity: identityId }] },
        template: { containers: [{ name: "migrate", image: "mcr.microsoft.com/k8se/quickstart-jobs:latest", args: ["migrate", "--up"] }] },
      },
    });
    expect(site.state().steps["job:migrate"]!.outputs).toMatchObject({ job: "migrate", exitCode: 0 });
    // The secret's value is in its Key Vault PUT only.
    const secretPut = log.find((e) => e.method === "PUT" && /\/secrets\/app-key-/.test(e.path))!;
    const value = (await site.control.resource(secretPut.path))!.secretValue!;
    expect(grepBodies(log, value)).toHaveLength(1);
  });

  it("a second deploy neither writes nor starts the job", async () => {
    const before = (await site.control.log()).length;
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(writes((await site.control.log()).slice(before))).toEqual([]);
  });

  it("a job deleted behind the tool's back is reported by plan (one GET, no write) and made and run again", async () => {
    const jobId = String((site.state().steps["job:migrate"]!.outputs!.resource as { id: string }).id);
    await site.control.deleteBehindTheBack(jobId);
    const before = (await site.control.log()).length;
    const plan = await site.cli(["plan"]);
    expect(plan.stdout).toMatch(/run\s+job:migrate\s+.*Microsoft\.App\/jobs .* is gone/);
    const planned = (await site.control.log()).slice(before);
    expect(writes(planned)).toEqual([]);
    expect(planned.filter((e) => e.path.includes("/jobs/"))).toHaveLength(1);
    const deploy = await site.cli(["deploy", "--auto-approve"]);
    expect(deploy.code, deploy.stderr).toBe(0);
    expect(writes((await site.control.log()).slice(before)).map((e) => `${e.method} ${tail(e.path).replace(/--?[0-9a-z]+$/, "")}`)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^PUT Microsoft\.App\/jobs\/migrate/), expect.stringMatching(/^POST Microsoft\.App\/jobs\/migrate.*\/start/)]),
    );
    expect((await site.cli(["plan"])).stdout).toMatch(/0 to run/);
  });

  it("an execution that ends Failed fails the step (exit 1) with its logs' location; the next deploy runs the job again", async () => {
    site.yaml(jobs("bonjour"));
    await site.control.fault({ executionFail: true, pathIncludes: "/jobs/migrate", count: 1 });
    const failed = await site.cli(["deploy", "--auto-approve"]);
    expect(failed.code, failed.stderr).toBe(1);
    const state = site.state().steps["job:migrate"]!;
    expect(state.status).toBe("failed");
    expect(state.error!.code).toBe("AZURE_JOB_FAILED");
    expect(failed.stderr).toMatch(/Job migrate: execution migrate-[0-9a-f]{7} ended Failed/);
    expect(failed.stderr).toContain("Log Analytics workspace /subscriptions/");
    expect(failed.stderr).toMatch(/ContainerAppConsoleLogs_CL \| where ContainerGroupName_s startswith 'migrate-[0-9a-f]{7}'/);
    expect(failed.stderr).not.toMatch(/^\s+at /m);
    // The job's definition is current now: the next deploy only starts it again.
    const before = (await site.control.log()).length;
    const resumed = await site.cli(["deploy", "--auto-approve"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(calls(writes((await site.control.log()).slice(before)))).toEqual(["POST Microsoft.App/jobs/migrate/start 200"]);
  });

  it("a deploy killed while it waits for an execution resumes by waiting for that execution, not starting another", async () => {
    site.yaml(jobs("hallo"));
    const before = (await site.control.log()).length;
    const child = site.start(["deploy", "--auto-approve"]);
    const exited = new Promise((resolve) => child.on("exit", resolve));
    for (let i = 0; i < 300; i++) {
      if ((await site.control.log()).slice(before).some((e) => e.path.endsWith("/jobs/migrate/start"))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await exited;
    const killed = (await site.control.log()).slice(before);
    expect(calls(killed.filter((e) => e.path.includes("/executions/")))).toEqual([]);
    const mark = (await site.control.log()).length;
    const resumed = await site.cli(["deploy", "--auto-approve"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    const after = (await site.control.log()).slice(mark);
    expect(writes(after)).toEqual([]);
    expect(calls(after.filter((e) => e.path.includes("/executions")))).toEqual(["GET Microsoft.App/jobs/migrate/executions 200", "GET Microsoft.App/jobs/migrate/executions/migrate-X 200"]);
    expect(resumed.stdout + resumed.stderr).toMatch(/still running from an earlier run/);
  });
});
