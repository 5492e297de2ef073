// Issue 10, must show: orphan removal against real Podman. A copy of the demo site gets a
// worker service and a second job; then they, the migration job and the database plugin
// leave stepwise.yaml. `plan` lists each with `remove`; `deploy` removes the containers and
// state records, keeps the data volume unless --prune-volumes, and keeps a Podman secret as
// long as a remaining container uses it; a `kill -9` during removal converges on the next run.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, editSiteFile, expectOk, greetings, makeDemoSite, podman, siteContainerNames, type DemoSite } from "./demo-site.js";

let site: DemoSite;
/** The demo's stepwise.yaml with the worker and the report job. */
let withExtras: string;

const IDLE = `["node", "-e", "setInterval(() => {}, 1 << 30)"]`;

beforeAll(async () => {
  site = await makeDemoSite("remove");
  // The worker uses db_password like web: one Podman secret shared by three containers.
  editSiteFile(
    site,
    "stepwise.yaml",
    /^services:\n/m,
    `services:\n  worker:\n    image: \${config.demo.nodeImage}\n    command: ${IDLE}\n    env:\n      PGHOST: \${outputs.database.host}\n    secrets:\n      PGPASSWORD: db_password\n`,
  );
  editSiteFile(site, "stepwise.yaml", /^jobs:\n/m, `jobs:\n  report:\n    image: \${config.demo.nodeImage}\n    command: ["node", "-e", "console.log('report done')"]\n`);
  withExtras = readFileSync(yamlFile(), "utf8");
  expectOk(await site.cli(["deploy", "--auto-approve"]), "first deploy");
  expect(await siteContainerNames(site.name)).toEqual(["migrate", "postgres", "report", "web", "worker"].map((r) => site.container(r)));
});

afterAll(async () => {
  await site?.destroy();
});

const yamlFile = () => path.join(site.dir, "stepwise.yaml");
const volume = () => `stepwise-${site.name}-postgres-data`;
const volumeCreatedAt = async () => (await podman("volume", "inspect", "--format", "{{.CreatedAt}}", volume())).trim();
const volumeExists = async () => (await podman("volume", "ls", "--format", "{{.Name}}")).split("\n").includes(volume());
const dbSecrets = async () => (await podman("secret", "ls", "--format", "{{.Name}}")).split("\n").filter((n) => n.startsWith(`stepwise-${site.name}-secret-db_password-`));
const recordedSteps = () => Object.keys((JSON.parse(readFileSync(path.join(site.dir, ".stepwise/state.json"), "utf8")) as { steps: object }).steps).sort();

/**
 * The site without the database: the database plugin, its config, the worker, both jobs
 * gone; web stays as an idle container that reads nothing of the database.
 */
function writeSiteWithoutDatabase(): void {
  const text = readFileSync(yamlFile(), "utf8");
  const head = text.slice(0, text.search(/^jobs:\n/m)).replace('  - "@stepwise/step-database"\n', "").replace(/^ {2}database:\n(?: {4}.*\n)+/m, "");
  writeFileSync(yamlFile(), `${head}services:\n  web:\n    image: \${config.demo.nodeImage}\n    command: ${IDLE}\n`);
}

describe("what leaves stepwise.yaml is removed from Podman", () => {
  it("plan lists a service, two jobs and the database with remove and why, and says the data volume is kept", async () => {
    writeSiteWithoutDatabase();
    const plan = expectOk(await site.cli(["plan"]), "plan");
    expect(plan.stdout).toMatch(/^ {2}run +service:web +services\.web changed in stepwise\.yaml/m);
    expect(plan.stdout).toMatch(/^ {2}remove +service:worker +no longer in stepwise\.yaml$/m);
    expect(plan.stdout).toMatch(/^ {2}remove +job:report +no longer in stepwise\.yaml$/m);
    expect(plan.stdout).toMatch(/^ {2}remove +job:migrate +no longer in stepwise\.yaml$/m);
    expect(plan.stdout).toMatch(/^ {2}remove +database +plugin @stepwise\/step-database no longer listed$/m);
    expect(plan.stdout).toContain(`volume ${volume()} kept (use --prune-volumes to delete its data)`);
    expect(plan.stdout).toMatch(/^1 to run, 4 to remove, 1 unchanged$/m);
    const pruning = expectOk(await site.cli(["plan", "--prune-volumes"]), "plan --prune-volumes");
    expect(pruning.stdout).toContain(`will delete volume ${volume()} and its data`);

    // Without a terminal and without --auto-approve nothing is removed (exit 2).
    const refused = await site.cli(["deploy"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("database: plugin @stepwise/step-database no longer listed");
    expect(await siteContainerNames(site.name)).toHaveLength(5);
  });

  it("a deploy killed (-9) while removing leaves the record of what it was removing; the next deploy converges: containers, records and the secret gone, the volume kept", async () => {
    const createdAt = await volumeCreatedAt();
    // The worker's process ignores SIGTERM, so its stop waits 10 s: the kill lands mid-removal.
    const child = site.start(["deploy", "--auto-approve"]);
    let seen = "";
    const watch = (chunk: Buffer) => {
      seen += chunk.toString();
      if (/> remove service:worker/.test(seen) && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    };
    child.stdout!.on("data", watch);
    child.stderr!.on("data", watch);
    const killed = await collect(child);
    if (killed.signal !== "SIGKILL") throw new Error(`deploy was not killed during the removal; it printed:\n${killed.stdout}${killed.stderr}`);
    // Removed before the kill: records dropped. Being removed: its record stays, so it is planned again.
    expect(recordedSteps()).toContain("service:worker");
    expect(recordedSteps()).not.toContain("job:report");
    const replan = expectOk(await site.cli(["plan"]), "plan after the kill");
    expect(replan.stdout).toMatch(/^ {2}remove +service:worker /m);
    expect(replan.stdout).toMatch(/^ {2}remove +database /m);
    expect(replan.stdout).not.toMatch(/remove +job:/);

    const deploy = expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy after the kill");
    expect(deploy.stdout).toMatch(/removed database .*container stepwise-\S+-postgres/);
    // The secret went with the last container that used it (postgres), not before.
    expect(deploy.stdout).toMatch(/removed database .*secret stepwise-\S+-secret-db_password-/);
    expect(deploy.stdout).toContain(`volume ${volume()} (data kept; --prune-volumes deletes it)`);
    expect(await siteContainerNames(site.name)).toEqual([site.container("web")]);
    expect(recordedSteps()).toEqual(["podman:network", "service:web"]);
    expect(await dbSecrets()).toEqual([]);
    expect(await volumeCreatedAt()).toBe(createdAt);
    expect(expectOk(await site.cli(["plan", "--expect-no-changes"]), "plan after converging").stdout).toMatch(/^0 to run, 2 unchanged$/m);
  });

  it("the kept volume is the data: the database back in stepwise.yaml reuses it; removed again with --prune-volumes, it is deleted", async () => {
    const createdAt = await volumeCreatedAt();
    writeFileSync(yamlFile(), withExtras);
    expectOk(await site.cli(["deploy", "--auto-approve"]), "deploy with the database back");
    expect(await volumeCreatedAt()).toBe(createdAt);
    expect(await greetings(site)).toEqual(["Hello from stepwise"]);

    writeSiteWithoutDatabase();
    const deploy = expectOk(await site.cli(["deploy", "--auto-approve", "--prune-volumes"]), "deploy --prune-volumes");
    expect(deploy.stdout).toMatch(new RegExp(`removed database .*volume ${volume().replace(/[.]/g, "\\.")}`));
    expect(await volumeExists()).toBe(false);
    expect(await siteContainerNames(site.name)).toEqual([site.container("web")]);
  });
});
