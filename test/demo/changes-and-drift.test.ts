// Issue 4, must show: changing one service's env or image replaces that service only;
// a container removed (or stopped) by hand is explained by `plan` and brought back by `deploy`.
import { appendFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { editSiteFile, expectOk, greetings, httpGet, inspect, makeDemoSite, podman, siteContainerNames, snapshot, DEMO_RESOURCES, type DemoSite } from "./demo-site.js";

let site: DemoSite;

beforeAll(async () => {
  site = await makeDemoSite("change");
  // web gets one env var from config, so "change web's env" is a config change of web alone.
  editSiteFile(site, "stepwise.yaml", "    port: ", "    banner: first banner\n    port: ");
  editSiteFile(site, "stepwise.yaml", /(\nservices:\n[\s\S]*?\n    env:\n)/, "$1      DEMO_BANNER: ${config.demo.banner}\n");
  expectOk(await site.cli(["deploy", "--auto-approve"]), "first deploy");
});

/** `plan --json` as step -> action and reason messages. */
async function planOf(demo: DemoSite): Promise<Record<string, { action: string; reasons: string[] }>> {
  const plan = expectOk(await demo.cli(["plan", "--json"]), "plan --json");
  const steps = (JSON.parse(plan.stdout) as { steps: { name: string; action: string; reasons: { message: string }[] }[] }).steps;
  return Object.fromEntries(steps.map((s) => [s.name, { action: s.action, reasons: s.reasons.map((r) => r.message) }]));
}

afterAll(async () => {
  await site?.destroy();
});

describe("changes replace only what they touch", () => {
  it("web's env changed through config (DEMO_BANNER: ${config.demo.banner}) replaces web only; postgres and the migration job keep their containers", async () => {
    const before = await snapshot(site.name);
    expect((await inspect(site.container("web")))!.Config.Env).toContain("DEMO_BANNER=first banner");
    editSiteFile(site, "stepwise.yaml", "banner: first banner", "banner: second banner");

    const plan = await planOf(site);
    expect(plan["service:web"]).toEqual({ action: "run", reasons: ['config demo.banner: "first banner" -> "second banner"'] });
    expect(plan["database"]!.action).toBe("skip");
    expect(plan["job:migrate"]!.action).toBe("skip");

    const deploy = expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy with the new banner");
    expect(deploy.stdout).toContain("Deployed: 1 ran, 3 unchanged.");
    const after = await snapshot(site.name);
    expect(after.web!.id).not.toBe(before.web!.id);
    expect(after.web!.imageId).toBe(before.web!.imageId);
    expect((await inspect(site.container("web")))!.Config.Env).toContain("DEMO_BANNER=second banner");
    expect(after.postgres).toEqual(before.postgres);
    expect(after.migrate).toEqual(before.migrate);
    expect(await greetings(site)).toEqual(["Hello from stepwise"]);
  });

  it("a literal env var added to web in stepwise.yaml replaces web only (the service's definition is an input of its step)", async () => {
    const before = await snapshot(site.name);
    editSiteFile(site, "stepwise.yaml", /(\nservices:\n[\s\S]*?\n    env:\n)/, `$1      DEMO_LITERAL: "literal"\n`);

    const plan = await planOf(site);
    expect(plan["service:web"]).toEqual({ action: "run", reasons: ["services.web changed in stepwise.yaml"] });
    expect(plan["job:migrate"]!.action).toBe("skip");
    expect(plan["database"]!.action).toBe("skip");

    expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy with the literal env var");
    const after = await snapshot(site.name);
    expect(after.web!.id).not.toBe(before.web!.id);
    expect((await inspect(site.container("web")))!.Config.Env).toContain("DEMO_LITERAL=literal");
    expect(after.postgres).toEqual(before.postgres);
    expect(after.migrate).toEqual(before.migrate);
  });

  it("a new greeting (config only the migration job reads) re-runs the job only; web and postgres keep their containers", async () => {
    const before = await snapshot(site.name);
    editSiteFile(site, "stepwise.yaml", "greeting: Hello from stepwise", "greeting: Bonjour from stepwise");

    const plan = expectOk(await site.cli(["plan"]), "plan");
    expect(plan.stdout).toMatch(/run +job:migrate +config demo\.greeting: "Hello from stepwise" -> "Bonjour from stepwise"/);
    expect(plan.stdout).toMatch(/skip +database +unchanged/);

    const deploy = expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy with the new greeting");
    expect(deploy.stdout).toMatch(/ok job:migrate/);
    const after = await snapshot(site.name);
    expect(after.migrate!.id).not.toBe(before.migrate!.id);
    expect(after.postgres).toEqual(before.postgres);
    expect(after.web).toEqual(before.web);
    expect(await greetings(site)).toEqual(["Hello from stepwise", "Bonjour from stepwise"]);
  });

  it("an edited app source rebuilds the image and replaces web; postgres keeps its container", async () => {
    const before = await snapshot(site.name);
    editSiteFile(site, "app/server.js", "<title>stepwise demo</title>", "<title>stepwise demo v2</title>");

    const plan = await planOf(site);
    expect(plan["service:web"]!.action).toBe("run");
    expect(plan["service:web"]!.reasons).toContain("file app/server.js modified");
    // The migration job builds from the same ./app context, so it is rebuilt and re-run too.
    expect(plan["job:migrate"]!.reasons).toEqual(["file app/server.js modified"]);
    expect(plan["database"]!.action).toBe("skip");

    expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy with the edited app");
    const after = await snapshot(site.name);
    expect(after.web!.id).not.toBe(before.web!.id);
    expect(after.web!.imageId).not.toBe(before.web!.imageId);
    expect(after.web!.image).not.toBe(before.web!.image);
    expect(after.web!.image).toMatch(new RegExp(`^localhost/stepwise-${site.name}/web:[0-9a-f]{16}$`));
    expect(after.migrate!.imageId).toBe(after.web!.imageId);
    expect(after.postgres).toEqual(before.postgres);
    expect((await httpGet(site.url)).body).toContain("<title>stepwise demo v2</title>");

    // A file outside the build context is no input of web: nothing runs.
    appendFileSync(path.join(site.dir, "NOTES.md"), "not part of any step\n");
    const again = expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy after an unrelated file");
    expect(again.stdout).toContain("Nothing to do: all 4 steps unchanged.");
    expect(await snapshot(site.name)).toEqual(after);
  });
});

describe("drift: what was changed by hand is explained and repaired", () => {
  it("web removed by hand: plan says it is gone, deploy brings it back, the page answers again", async () => {
    const before = await snapshot(site.name);
    await podman("rm", "-f", site.container("web"));
    await expect(httpGet(site.url, 1000)).rejects.toThrow();

    const plan = expectOk(await site.cli(["plan"]), "plan");
    expect(plan.stdout).toMatch(new RegExp(`run +service:web +drift: container ${site.container("web")} is gone`));
    expect(plan.stdout).toContain("1 to run, 3 unchanged");

    const deploy = expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy after rm -f");
    expect(deploy.stdout).toMatch(/ok service:web/);
    const after = await snapshot(site.name);
    expect(after.web!.id).not.toBe(before.web!.id);
    expect(after.web!.status).toBe("running");
    expect(after.postgres).toEqual(before.postgres);
    expect(after.migrate).toEqual(before.migrate);
    expect(await greetings(site)).toEqual(["Hello from stepwise", "Bonjour from stepwise"]);
    expect(await siteContainerNames(site.name)).toEqual(DEMO_RESOURCES.map((r) => site.container(r)));

    expect(expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy again").stdout).toContain("Nothing to do: all 4 steps unchanged.");
  });

  it("web stopped by hand: plan says it is exited, deploy starts the same container again", async () => {
    const before = await snapshot(site.name);
    await podman("stop", "-t", "2", site.container("web"));

    const plan = expectOk(await site.cli(["plan"]), "plan");
    expect(plan.stdout).toMatch(new RegExp(`run +service:web +drift: container ${site.container("web")} is (exited|stopped)`));

    expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy after stop");
    const after = await snapshot(site.name);
    expect(after.web!.id).toBe(before.web!.id);
    expect(after.web!.status).toBe("running");
    expect(Date.parse(after.web!.startedAt)).toBeGreaterThan(Date.parse(before.web!.startedAt));
    expect(after.postgres).toEqual(before.postgres);
    expect((await httpGet(site.url)).status).toBe(200);
  });

  it("postgres removed by hand: deploy brings it back on the same volume, the rows are still there, web is untouched", async () => {
    const before = await snapshot(site.name);
    await podman("rm", "-f", site.container("postgres"));

    const plan = expectOk(await site.cli(["plan"]), "plan");
    expect(plan.stdout).toMatch(new RegExp(`run +database +drift: container ${site.container("postgres")} is gone`));

    expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy after rm -f postgres");
    const after = await snapshot(site.name);
    expect(after.postgres!.id).not.toBe(before.postgres!.id);
    expect(after.web).toEqual(before.web);
    expect(await greetings(site)).toEqual(["Hello from stepwise", "Bonjour from stepwise"]);
  });
});
