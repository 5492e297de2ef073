/**
 * Removal of what leaves a site, on the real engine with the recorder target fixture (which
 * records every remove() and keeps a pretend world with volumes): services, jobs, a plugin's
 * step whose plugin left `plugins:`, a disabled optional step, objects only the target's labels
 * know; the failure guarantee (a failed remove keeps the state record); approval; volumes kept
 * unless --prune-volumes; --expect-no-changes. Real Podman: test/demo/removal.test.ts.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SiteSession, deploySite, planSite, type DeployOptions, type StateDocument } from "@stepwise/core/engine";
import { runCli } from "./cli-harness.js";
import { assertBuilt, makeComponentSite } from "../fixtures/component-site.js";

const PLUGINS = `target: recorder
plugins:
  - stepwise-target-recorder
  - "@stepwise/step-database"
  - "@stepwise/step-telemetry"
`;
const WORKER = `  worker:
    image: localhost/demo/worker:1
    env:
      DB_HOST: \${outputs.database.host}
    secrets:
      DB_PASSWORD: db_password
`;
const REPORT = `  report:
    image: localhost/demo/report:1
    command: ["report"]
`;
const site = (parts: { plugins?: string; worker?: boolean; report?: boolean; telemetryOff?: boolean } = {}) => `name: removal
preset: dev-mode
${parts.plugins ?? PLUGINS}${parts.telemetryOff ? "steps:\n  telemetry:\n    enabled: false\n" : ""}services:
  web:
    image: localhost/demo/web:1
${parts.worker === false ? "" : WORKER}jobs:
  migrate:
    image: localhost/demo/web:1
    command: ["migrate"]
${parts.report === false ? "" : REPORT}`;

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  delete process.env.STEPWISE_RECORDER_FAIL_REMOVE;
});
beforeAll(assertBuilt);

function makeSite(yaml: string): string {
  const dir = makeComponentSite({ yaml });
  made.push(dir);
  return dir;
}

async function withSession<T>(dir: string, use: (session: SiteSession) => Promise<T>): Promise<T> {
  const session = await SiteSession.open({ dir, env: {} });
  try {
    return await use(session);
  } finally {
    await session.close();
  }
}

const deploy = (dir: string, options: DeployOptions = {}) => withSession(dir, (s) => deploySite(s, { approveRemovals: true, ...options }));
const plan = (dir: string, options: { pruneVolumes?: boolean } = {}) => withSession(dir, (s) => planSite(s, options));
const state = (dir: string) => JSON.parse(readFileSync(path.join(dir, ".stepwise/state.json"), "utf8")) as StateDocument;
const world = (dir: string) => JSON.parse(readFileSync(path.join(dir, "recorder-world.json"), "utf8")) as Record<string, unknown>;
const removalsRecorded = (dir: string) => (JSON.parse(readFileSync(path.join(dir, "recorder.json"), "utf8")) as { removals?: { step: string; name: string; volumes: boolean }[] }).removals ?? [];

describe("removal of what left stepwise.yaml (recorder target, in-process)", () => {
  it("plan lists a deleted service, a deleted job and a removed plugin's step with reasons and the data volume kept; deploy removes them, drops their records, keeps the volume", async () => {
    const dir = makeSite(site());
    const first = await deploy(dir);
    expect(first.status).toBe("ok");
    // The engine records what each step realised, whatever the step put in its outputs.
    expect(state(dir).steps["service:worker"]!.resources).toEqual([{ kind: "service", name: "worker", id: "recorder-service-worker" }]);
    expect(state(dir).steps.database!.resources).toEqual([{ kind: "postgres", name: "postgres", id: "recorder-postgres-postgres", volumes: ["recorder-volume-postgres-data"] }]);

    // Worker and report deleted; the database plugin taken out (nothing references it any more).
    writeFileSync(path.join(dir, "stepwise.yaml"), site({ worker: false, report: false, plugins: PLUGINS.replace('  - "@stepwise/step-database"\n', "") }));
    const planned = await plan(dir);
    // worker read the database's outputs: it goes first.
    expect(planned.removals.map((r) => [r.name, r.reason])).toEqual([
      ["job:report", { kind: "not-in-site" }],
      ["service:worker", { kind: "not-in-site" }],
      ["database", { kind: "plugin-removed", plugin: "@stepwise/step-database" }],
    ]);
    expect(planned.toRemove).toBe(3);
    expect(planned.removals[2]!.volumes).toEqual([{ name: "recorder-volume-postgres-data", resource: "postgres postgres", action: "keep" }]);

    const result = await deploy(dir);
    expect(result.status).toBe("ok");
    expect(result.removed).toEqual(["job:report", "service:worker", "database"]);
    expect(Object.keys(state(dir).steps).sort()).toEqual(["job:migrate", "recorder:network", "service:web", "telemetry"]);
    expect(removalsRecorded(dir).map((r) => [r.name, r.volumes])).toEqual([
      ["report", false],
      ["worker", false],
      ["postgres", false],
    ]);
    expect(Object.keys(world(dir)).sort()).toEqual(["recorder-job-migrate", "recorder-service-web", "recorder-volume-postgres-data"]);
    // Converged: nothing left to remove.
    expect((await plan(dir)).removals).toEqual([]);
  });

  it("--prune-volumes says the data goes and deletes the volume", async () => {
    const dir = makeSite(site());
    await deploy(dir);
    writeFileSync(path.join(dir, "stepwise.yaml"), site({ worker: false, report: false, plugins: PLUGINS.replace('  - "@stepwise/step-database"\n', "") }));
    expect((await plan(dir, { pruneVolumes: true })).removals.find((r) => r.name === "database")!.volumes).toEqual([{ name: "recorder-volume-postgres-data", resource: "postgres postgres", action: "delete" }]);
    expect((await deploy(dir, { pruneVolumes: true })).status).toBe("ok");
    expect(world(dir)["recorder-volume-postgres-data"]).toBeUndefined();
  });

  it("a failed remove keeps the step's state record (the resource is assumed to exist); the next deploy retries and converges", async () => {
    const dir = makeSite(site());
    await deploy(dir);
    writeFileSync(path.join(dir, "stepwise.yaml"), site({ worker: false }));
    process.env.STEPWISE_RECORDER_FAIL_REMOVE = "worker";
    const failed = await deploy(dir);
    expect(failed.status).toBe("failed");
    expect(failed.failed.map((f) => [f.step, f.error.message])).toEqual([["service:worker", "recorder: cannot remove service worker (STEPWISE_RECORDER_FAIL_REMOVE) [stepwise-target-recorder@1.0.0, remove service worker]"]]);
    expect(failed.failed[0]!.error.plugin).toBe("stepwise-target-recorder@1.0.0");
    expect(state(dir).steps["service:worker"]).toBeDefined();
    expect((await plan(dir)).removals.map((r) => r.name)).toEqual(["service:worker"]);

    delete process.env.STEPWISE_RECORDER_FAIL_REMOVE;
    expect((await deploy(dir)).removed).toEqual(["service:worker"]);
    expect(state(dir).steps["service:worker"]).toBeUndefined();
  });

  it("a disabled optional step is removed (its record dropped) and then shows as off; a removal waits for approval", async () => {
    const dir = makeSite(site());
    await deploy(dir);
    writeFileSync(path.join(dir, "stepwise.yaml"), site({ telemetryOff: true }));
    const planned = await plan(dir);
    expect(planned.removals.map((r) => [r.name, r.reason.kind])).toEqual([["telemetry", "disabled"]]);
    expect(planned.disabled).toEqual([]);

    // Not approved: refused before anything runs, naming what would go.
    await expect(deploy(dir, { approveRemovals: false })).rejects.toMatchObject({ code: "REMOVAL_NOT_APPROVED", exitCode: 2, message: expect.stringContaining("telemetry: disabled in stepwise.yaml") });
    // Approved by name (a confirmed preview) for another removal only: still refused.
    await expect(deploy(dir, { approveRemovals: ["service:other"] })).rejects.toMatchObject({ code: "REMOVAL_NOT_APPROVED" });
    expect(state(dir).steps.telemetry).toBeDefined();

    expect((await deploy(dir, { approveRemovals: ["telemetry"] })).removed).toEqual(["telemetry"]);
    const after = await plan(dir);
    expect(after.removals).toEqual([]);
    expect(after.disabled.map((s) => s.name)).toEqual(["telemetry"]);
  });

  it("an object the target made for a step that is gone, with no state record (state lost), is found by its labels", async () => {
    const dir = makeSite(site());
    await deploy(dir);
    writeFileSync(path.join(dir, "stepwise.yaml"), site({ worker: false }));
    rmSync(path.join(dir, ".stepwise/state.json"));
    const planned = await plan(dir);
    expect(planned.removals.map((r) => [r.name, r.record, r.reason.kind])).toEqual([["service:worker", false, "unowned"]]);
    // --no-refresh does not ask the target.
    expect((await withSession(dir, (s) => planSite(s, { refresh: false }))).removals).toEqual([]);
  });
});

describe("removal through the CLI", () => {
  it("plan prints remove lines and the count; --expect-no-changes fails on a removal; deploy without a terminal refuses without --auto-approve (exit 2), removes with it", async () => {
    const dir = makeSite(site());
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);
    writeFileSync(path.join(dir, "stepwise.yaml"), site({ report: false }));

    const planned = await runCli(["plan"], { cwd: dir });
    expect(planned.code).toBe(0);
    expect(planned.stdout).toMatch(/^ {2}remove +job:report +no longer in stepwise\.yaml$/m);
    expect(planned.stdout).toMatch(/^0 to run, 1 to remove, \d+ unchanged$/m);
    const json = JSON.parse((await runCli(["plan", "--json"], { cwd: dir })).stdout) as { removals: { name: string; action: string; reason: { kind: string; message: string } }[]; toRemove: number };
    expect(json.toRemove).toBe(1);
    expect(json.removals).toMatchObject([{ name: "job:report", action: "remove", reason: { kind: "not-in-site", message: "no longer in stepwise.yaml" } }]);

    const expectNone = await runCli(["plan", "--expect-no-changes"], { cwd: dir });
    expect(expectNone.code).toBe(1);
    expect(expectNone.stderr).toContain("--expect-no-changes: 1 removal is pending");

    const refused = await runCli(["deploy"], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("job:report: no longer in stepwise.yaml");
    expect(refused.stderr).toContain("stepwise deploy --auto-approve");
    expect(state(dir).steps["job:report"]).toBeDefined();

    const removed = await runCli(["deploy", "--auto-approve"], { cwd: dir });
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain("removed job:report");
    expect(removed.stdout).toContain("Deployed: 0 ran, 1 removed,");
    expect(state(dir).steps["job:report"]).toBeUndefined();
    expect(existsSync(path.join(dir, "recorder.json"))).toBe(true);
  });
});
