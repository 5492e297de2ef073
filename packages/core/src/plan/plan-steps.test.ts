import { describe, expect, it } from "vitest";
import type { StateDocument, StepRecord } from "../contracts.js";
import type { SiteStep } from "../context/step-context.js";
import { StepFiles } from "../fingerprint/step-files.js";
import { emptyState } from "../state/state-document.js";
import { computeEntries, fingerprintOf, type EntrySources } from "./compute-plan.js";
import { planSteps, settleActions } from "./plan-steps.js";
import { formatReason } from "./plan-reasons.js";

const siteStep = (name: string, dependsOn: string[] = [], config: string[] = []): SiteStep => ({
  name,
  description: name,
  pluginId: "p@1.0.0",
  pluginName: "p",
  definition: { name, description: name, run: async () => ({}) },
  dependsOn,
  inputs: { files: [], config, secrets: [] },
  foundation: false,
});

/** db <- app <- web, and a lone cron; config `db.name` feeds db. */
function site(config: Record<string, string> = { "db.name": "avatar" }) {
  const steps = new Map([siteStep("db", [], ["db.name"]), siteStep("app", ["db"]), siteStep("web", ["app"]), siteStep("cron")].map((s) => [s.name, s]));
  const state: StateDocument = emptyState("site");
  const sources: EntrySources = { config: (key) => config[key], secretFingerprint: () => "", files: () => StepFiles.EMPTY, upstreamOutputsHash: (step) => state.steps[step]?.outputsHash };
  /** Records every step as having succeeded with the inputs it has now. */
  const deployed = () => {
    for (const step of steps.values()) {
      const { entries, files, config: values } = computeEntries(step, sources);
      state.steps[step.name] = { status: "succeeded", plugin: step.pluginId, startedAt: "", fingerprint: fingerprintOf(entries, files), entries, config: values, outputsHash: `sha256:${step.name}` } satisfies StepRecord;
    }
  };
  const plan = (forced: { steps?: string[]; all?: boolean } = {}) =>
    planSteps({ order: ["db", "app", "web", "cron"], steps, state, sources, forced: { steps: new Set(forced.steps ?? []), all: forced.all === true }, previousFiles: async () => StepFiles.EMPTY });
  return { steps, state, deployed, plan, config };
}

const summary = (plans: Awaited<ReturnType<ReturnType<typeof site>["plan"]>>) => Object.fromEntries(plans.map((p) => [p.name, [p.action, ...p.reasons.map((r) => r.kind)].join(" ")]));

describe("planSteps", () => {
  it("a never-run site runs every step for that reason alone", async () => {
    expect(summary(await site().plan())).toEqual({ db: "run never-run", app: "run never-run", web: "run never-run", cron: "run never-run" });
  });

  it("nothing changed: every step is a skip with no reason yet, and settles as unchanged", async () => {
    const s = site();
    s.deployed();
    const plans = await s.plan();
    expect(summary(plans)).toEqual({ db: "skip", app: "skip", web: "skip", cron: "skip" });
    settleActions(plans, s.steps);
    expect(summary(plans)).toEqual({ db: "skip unchanged", app: "skip unchanged", web: "skip unchanged", cron: "skip unchanged" });
  });

  it("a changed config value runs its step with old -> new, and everything downstream because upstream will run", async () => {
    const s = site();
    s.deployed();
    s.config["db.name"] = "avatar2";
    const plans = await s.plan();
    expect(plans[0]!.reasons).toEqual([{ kind: "config-changed", key: "db.name", from: "avatar", to: "avatar2" }]);
    expect(summary(plans)).toEqual({ db: "run config-changed", app: "run upstream-will-run", web: "run upstream-will-run", cron: "skip" });
  });

  it("an upstream whose recorded outputs changed is named once, as upstream-changed", async () => {
    const s = site();
    s.deployed();
    s.state.steps.db = { ...s.state.steps.db!, status: "failed", error: { code: "X", message: "boom" }, outputsHash: "sha256:db-new" };
    expect(summary(await s.plan())).toEqual({ db: "run failed", app: "run upstream-changed", web: "run upstream-will-run", cron: "skip" });
  });

  it("--force-step and --force-all say which", async () => {
    const s = site();
    s.deployed();
    expect((await s.plan({ steps: ["cron"] })).find((p) => p.name === "cron")!.reasons).toEqual([{ kind: "forced", all: false }]);
    expect((await s.plan({ all: true })).map((p) => p.reasons[0])).toEqual(Array(4).fill({ kind: "forced", all: true }));
  });

  it("a fingerprint the memo vouches for is taken as is", async () => {
    const s = site();
    s.deployed();
    const plans = await planSteps({ order: ["db"], steps: s.steps, state: s.state, sources: { config: () => "avatar", secretFingerprint: () => "", files: () => StepFiles.EMPTY, upstreamOutputsHash: () => undefined }, known: new Map([["db", "sha256:memo"]]), forced: { steps: new Set(), all: false }, previousFiles: async () => StepFiles.EMPTY });
    expect(plans[0]!.fingerprint).toBe("sha256:memo");
  });
});

describe("planSteps and the last run's file listing", () => {
  const withFiles = (files: StepFiles) => {
    const step = siteStep("web");
    const stepWithFiles: SiteStep = { ...step, inputs: { ...step.inputs, files: ["src/**"] } };
    const state: StateDocument = emptyState("site");
    const sources: EntrySources = { config: () => undefined, secretFingerprint: () => "", files: () => files, upstreamOutputsHash: () => undefined };
    return { steps: new Map([["web", stepWithFiles]]), state, sources };
  };
  const before = new StepFiles(["src/a.js", "src/b.js"], ["sha256:a", "sha256:b"]);
  const after = new StepFiles(["src/a.js", "src/b.js"], ["sha256:a", "sha256:b2"]);

  it("reads the listing only for a step whose fingerprint changed, and names the files that changed", async () => {
    const s = withFiles(before);
    const { entries } = computeEntries(s.steps.get("web")!, s.sources);
    s.state.steps.web = { status: "succeeded", plugin: "p@1.0.0", startedAt: "", fingerprint: fingerprintOf(entries, before), entries, filesRef: "a".repeat(64) };
    const asked: string[] = [];
    const previousFiles = async (record: StepRecord) => (asked.push(record.filesRef!), before);
    const forced = { steps: new Set<string>(), all: false };
    const unchanged = await planSteps({ order: ["web"], steps: s.steps, state: s.state, sources: s.sources, forced, previousFiles });
    expect([unchanged[0]!.action, asked]).toEqual(["skip", []]);
    const changed = await planSteps({ order: ["web"], steps: s.steps, state: s.state, sources: { ...s.sources, files: () => after }, forced, previousFiles });
    expect([changed[0]!.reasons, asked]).toEqual([[{ kind: "file-changed", path: "src/b.js", change: "modified" }], ["a".repeat(64)]]);
  });

  it("a listing that is unavailable runs the step with that reason, never skips it", async () => {
    const s = withFiles(after);
    const { entries } = computeEntries(s.steps.get("web")!, s.sources);
    s.state.steps.web = { status: "succeeded", plugin: "p@1.0.0", startedAt: "", fingerprint: fingerprintOf(entries, before), entries, filesRef: "a".repeat(64) };
    const [plan] = await planSteps({ order: ["web"], steps: s.steps, state: s.state, sources: s.sources, forced: { steps: new Set(), all: false }, previousFiles: async () => undefined });
    expect([plan!.action, plan!.reasons]).toEqual(["run", [{ kind: "files-unavailable" }]]);
    expect(formatReason(plan!.reasons[0]!)).toContain("recorded file listing is unavailable");
  });
});

describe("settleActions", () => {
  it("a step found drifted by its check makes its dependants run", async () => {
    const s = site();
    s.deployed();
    const plans = await s.plan();
    const app = plans.find((p) => p.name === "app")!;
    app.reasons.push({ kind: "drift", reason: "container is gone" });
    app.action = "run";
    settleActions(plans, s.steps);
    expect(summary(plans)).toEqual({ db: "skip unchanged", app: "run drift", web: "run upstream-will-run", cron: "skip unchanged" });
  });
});
