import { describe, expect, it } from "vitest";
import type { StateDocument, StepDefinition } from "../contracts.js";
import type { SiteStep } from "../context/step-context.js";
import { errors } from "../errors/error-codes.js";
import { StepFiles } from "../fingerprint/step-files.js";
import { Redactor } from "../log/redactor.js";
import { computeEntries, fingerprintOf, type EntrySources, type StepPlan } from "../plan/compute-plan.js";
import type { PlanReason } from "../plan/plan-reasons.js";
import { emptyState } from "../state/state-document.js";
import type { EngineEvent } from "./engine-events.js";
import { applyStep, type StepApplier } from "./apply-step.js";

const RECORD = { plugin: "p@1.0.0", startedAt: "2026-01-01T00:00:00.000Z" };
const SECRET = "s3cret-value-that-is-long-enough";

function fixture(run: StepDefinition["run"]) {
  const definition: StepDefinition = { name: "app", description: "app", run };
  const step: SiteStep = { name: "app", description: "app", pluginId: "p@1.0.0", pluginName: "p", definition, dependsOn: ["db"], inputs: { files: [], config: [], secrets: [] }, foundation: false };
  const upstream = { hash: "sha256:db-outputs-1" };
  const sources: EntrySources = { config: () => undefined, secretFingerprint: () => "", files: () => StepFiles.EMPTY, upstreamOutputsHash: () => upstream.hash };
  const state: StateDocument = emptyState("site");
  const saved: StateDocument[] = [];
  const events: EngineEvent[] = [];
  const redactor = new Redactor();
  redactor.add(SECRET);
  const session: StepApplier = {
    contextFor: async () => ({}) as never,
    emitEvent: (event) => events.push(event),
    signal: new AbortController().signal,
    redactor,
    wrapPluginError: (error) => errors.pluginError(error, "p@1.0.0", "app", (text) => redactor.redact(text), "run"),
  };
  const writer = { state, record: async () => void saved.push(structuredClone(state)) };
  const plan = (reasons: PlanReason[]): StepPlan => ({ name: "app", plugin: "p@1.0.0", description: "app", action: "run", reasons, fingerprint: "", entries: {}, files: StepFiles.EMPTY, config: {} });
  const fingerprintNow = () => {
    const { entries, files } = computeEntries(step, sources);
    return fingerprintOf(entries, files);
  };
  const apply = (reasons: PlanReason[]) => applyStep(session, step, plan(reasons), sources, writer);
  return { state, saved, events, upstream, fingerprintNow, apply };
}

describe("applyStep", () => {
  it("early cutoff: a step planned only because upstream runs is skipped when upstream's outputs came out the same", async () => {
    let runs = 0;
    const f = fixture(async () => {
      runs += 1;
      return { url: "http://app" };
    });
    f.state.steps.app = { ...RECORD, status: "succeeded", fingerprint: f.fingerprintNow(), outputs: { url: "http://app" } };
    expect(await f.apply([{ kind: "upstream-will-run", step: "db" }])).toEqual({ outcome: "skipped", reasons: [{ kind: "upstream-reran-unchanged" }] });
    expect(runs).toBe(0);
    expect(f.saved).toHaveLength(0);
    expect(f.events).toEqual([{ type: "step-skip", step: "app", reasons: [{ kind: "upstream-reran-unchanged" }] }]);

    f.upstream.hash = "sha256:db-outputs-2";
    expect(await f.apply([{ kind: "upstream-will-run", step: "db" }])).toEqual({ outcome: "done" });
    expect(runs).toBe(1);
    expect(f.saved.map((s) => s.steps.app!.status)).toEqual(["running", "succeeded"]);
    expect(f.state.steps.app).toMatchObject({ status: "succeeded", fingerprint: f.fingerprintNow(), outputs: { url: "http://app" }, entries: { "step:db": "sha256:db-outputs-2" } });
    expect(f.events.map((e) => e.type)).toEqual(["step-skip", "step-start", "step-done"]);
  });

  it("a reason of its own (not upstream) runs the step even with an unchanged fingerprint", async () => {
    const f = fixture(async () => ({}));
    f.state.steps.app = { ...RECORD, status: "succeeded", fingerprint: f.fingerprintNow() };
    expect(await f.apply([{ kind: "forced", all: false }])).toEqual({ outcome: "done" });
  });

  it("a failed run is recorded failed with the redacted error, keeping the previous outputs", async () => {
    const f = fixture(async () => {
      throw new Error(`could not connect with ${SECRET}`);
    });
    f.state.steps.app = { ...RECORD, status: "succeeded", fingerprint: "old", outputs: { url: "http://old" } };
    const applied = await f.apply([{ kind: "never-run" }]);
    expect(applied).toMatchObject({ outcome: "failed", error: { code: "PLUGIN_ERROR", plugin: "p@1.0.0", step: "app" } });
    expect(f.state.steps.app).toMatchObject({ status: "failed", outputs: { url: "http://old" }, error: { code: "PLUGIN_ERROR" } });
    expect(JSON.stringify(f.saved)).not.toContain(SECRET);
    expect(f.events.map((e) => e.type)).toEqual(["step-start", "step-failed"]);
  });

  it("outputs holding a secret value fail the step and never reach state", async () => {
    const f = fixture(async () => ({ token: SECRET }));
    expect(await f.apply([{ kind: "never-run" }])).toMatchObject({ outcome: "failed" });
    expect(f.state.steps.app).toMatchObject({ status: "failed" });
    expect(JSON.stringify(f.saved)).not.toContain(SECRET);
  });
});
