import { describe, expect, it } from "vitest";
import type { StateDocument, StepRecord } from "../contracts.js";
import type { SiteStep } from "../context/step-context.js";
import { StepFiles } from "../fingerprint/step-files.js";
import { emptyState } from "../state/state-document.js";
import { computeEntries, fingerprintOf, type EntrySources } from "./compute-plan.js";
import { planSteps, settleActions } from "./plan-steps.js";

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
    planSteps({ order: ["db", "app", "web", "cron"], steps, state, sources, forced: { steps: new Set(forced.steps ?? []), all: forced.all === true } });
  return { steps, state, deployed, plan, config };
}

const summary = (plans: ReturnType<ReturnType<typeof site>["plan"]>) => Object.fromEntries(plans.map((p) => [p.name, [p.action, ...p.reasons.map((r) => r.kind)].join(" ")]));

describe("planSteps", () => {
  it("a never-run site runs every step for that reason alone", () => {
    expect(summary(site().plan())).toEqual({ db: "run never-run", app: "run never-run", web: "run never-run", cron: "run never-run" });
  });

  it("nothing changed: every step is a skip with no reason yet, and settles as unchanged", () => {
    const s = site();
    s.deployed();
    const plans = s.plan();
    expect(summary(plans)).toEqual({ db: "skip", app: "skip", web: "skip", cron: "skip" });
    settleActions(plans, s.steps);
    expect(summary(plans)).toEqual({ db: "skip unchanged", app: "skip unchanged", web: "skip unchanged", cron: "skip unchanged" });
  });

  it("a changed config value runs its step with old -> new, and everything downstream because upstream will run", () => {
    const s = site();
    s.deployed();
    s.config["db.name"] = "avatar2";
    const plans = s.plan();
    expect(plans[0]!.reasons).toEqual([{ kind: "config-changed", key: "db.name", from: "avatar", to: "avatar2" }]);
    expect(summary(plans)).toEqual({ db: "run config-changed", app: "run upstream-will-run", web: "run upstream-will-run", cron: "skip" });
  });

  it("an upstream whose recorded outputs changed is named once, as upstream-changed", () => {
    const s = site();
    s.deployed();
    s.state.steps.db = { ...s.state.steps.db!, status: "failed", error: { code: "X", message: "boom" }, outputsHash: "sha256:db-new" };
    expect(summary(s.plan())).toEqual({ db: "run failed", app: "run upstream-changed", web: "run upstream-will-run", cron: "skip" });
  });

  it("--force-step and --force-all say which", () => {
    const s = site();
    s.deployed();
    expect(s.plan({ steps: ["cron"] }).find((p) => p.name === "cron")!.reasons).toEqual([{ kind: "forced", all: false }]);
    expect(s.plan({ all: true }).map((p) => p.reasons[0])).toEqual(Array(4).fill({ kind: "forced", all: true }));
  });

  it("a fingerprint the memo vouches for is taken as is", () => {
    const s = site();
    s.deployed();
    const plans = planSteps({ order: ["db"], steps: s.steps, state: s.state, sources: { config: () => "avatar", secretFingerprint: () => "", files: () => StepFiles.EMPTY, upstreamOutputsHash: () => undefined }, known: new Map([["db", "sha256:memo"]]), forced: { steps: new Set(), all: false } });
    expect(plans[0]!.fingerprint).toBe("sha256:memo");
  });
});

describe("settleActions", () => {
  it("a step found drifted by its check makes its dependants run", () => {
    const s = site();
    s.deployed();
    const plans = s.plan();
    const app = plans.find((p) => p.name === "app")!;
    app.reasons.push({ kind: "drift", reason: "container is gone" });
    app.action = "run";
    settleActions(plans, s.steps);
    expect(summary(plans)).toEqual({ db: "skip unchanged", app: "run drift", web: "run upstream-will-run", cron: "skip unchanged" });
  });
});
