// Issue 4, must show: `kill -9` during a deploy, then deploy again: converges, with no
// duplicate or orphan containers. The deploy is killed at six points, each later than the
// last (steps that finished are skipped by the next run, so the next kill lands further on).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, containersNamedFor, DEMO_RESOURCES, expectOk, greetings, inspect, makeDemoSite, podman, siteContainerNames, type DemoSite } from "./demo-site.js";

let site: DemoSite;

beforeAll(async () => {
  site = await makeDemoSite("kill");
});

afterAll(async () => {
  await site?.destroy();
});

/** Starts `deploy`, SIGKILLs it as soon as its output matches `when`; resolves to what it printed. */
async function deployKilledAt(when: RegExp): Promise<{ killed: boolean; output: string }> {
  const child = site.start(["deploy", "--auto-approve"]);
  let seen = "";
  const watch = (chunk: Buffer) => {
    seen += chunk.toString();
    if (when.test(seen) && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  child.stdout!.on("data", watch);
  child.stderr!.on("data", watch);
  const result = await collect(child);
  return { killed: result.signal === "SIGKILL", output: result.stdout + result.stderr };
}

describe("kill -9 during a deploy", () => {
  it("the next deploy converges: exactly postgres, the migration job and web, labelled, once each; the page answers", async () => {
    const c = (resource: string) => site.container(resource).replace(/[.]/g, "\\.");
    const killPoints = [
      new RegExp(`creating container ${c("postgres")}`),
      /waiting for postgres in/,
      /building image \S+\/migrate:/,
      /running job migrate/,
      /building image \S+\/web:/,
      new RegExp(`creating container ${c("web")}`),
    ];
    for (const point of killPoints) {
      const run = await deployKilledAt(point);
      // Each kill must land mid-deploy, or this test would prove nothing.
      if (!run.killed) throw new Error(`deploy was not killed at ${point}; it printed:\n${run.output}`);
      // Never more than one container per resource, whatever the moment of the kill.
      const names = await containersNamedFor(site.name);
      expect(new Set(names).size).toBe(names.length);
      expect(names.every((n) => DEMO_RESOURCES.some((r) => n === site.container(r)))).toBe(true);
    }

    const final = expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy after six kills");
    expect(final.stdout).not.toContain("FAILED");
    const expected = DEMO_RESOURCES.map((r) => site.container(r));
    expect(await siteContainerNames(site.name)).toEqual(expected);
    expect(await containersNamedFor(site.name)).toEqual(expected);
    expect((await inspect(site.container("postgres")))!.State.Status).toBe("running");
    expect((await inspect(site.container("web")))!.State.Status).toBe("running");
    const job = (await inspect(site.container("migrate")))!;
    expect([job.State.Status, job.State.ExitCode]).toEqual(["exited", 0]);
    // Idempotent migration, however often it was started: one row.
    expect(await greetings(site)).toEqual(["Hello from stepwise"]);

    // Nothing duplicated around the containers either: one network, one data volume, one Podman secret per site secret.
    expect((await podman("network", "ls", "--format", "{{.Name}}")).split("\n").filter((n) => n === `stepwise-${site.name}`)).toHaveLength(1);
    expect((await podman("volume", "ls", "--filter", `label=dev.stepwise.site=${site.name}`, "--format", "{{.Name}}")).split("\n").filter(Boolean)).toEqual([`stepwise-${site.name}-postgres-data`]);
    const secrets = (await podman("secret", "ls", "--format", "{{.Name}}")).split("\n").filter((n) => n.startsWith(`stepwise-${site.name}-secret-`));
    const perSecret = secrets.map((n) => n.slice(`stepwise-${site.name}-secret-`.length).replace(/-[0-9a-f]{12}$/, ""));
    expect(new Set(perSecret).size).toBe(perSecret.length);

    // Converged means converged: the next run has nothing to do and the lock is free.
    const again = expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy once more");
    expect(again.stdout).toContain("Nothing to do: all 4 steps unchanged.");
    const status = expectOk(await site.cli(["status"]), "status");
    expect(status.stdout).not.toContain("locked by");
    for (const step of ["podman:network", "database", "job:migrate", "service:web"]) expect(status.stdout).toMatch(new RegExp(`succeeded +${step} `));
  });
});
