import type { StateDocument, StepRecord } from "../contracts.js";
import type { SiteStep } from "../context/step-context.js";
import { StepFiles } from "../fingerprint/step-files.js";
import { computeEntries, fingerprintOf, needsPreviousFiles, reasonsToRun, type EntrySources, type StepPlan } from "./compute-plan.js";

export interface StepPlanInputs {
  /** Step names, dependencies first. */
  order: readonly string[];
  steps: ReadonlyMap<string, SiteStep>;
  state: StateDocument;
  sources: EntrySources;
  /** Fingerprints already known (the memo shortcut), by step. */
  known?: ReadonlyMap<string, string>;
  /** `--force-step` names and `--force-all`. */
  forced: { steps: ReadonlySet<string>; all: boolean };
  /** The files a record was last run with (undefined: unavailable); read only for a step whose fingerprint changed. */
  previousFiles: (record: StepRecord) => Promise<StepFiles | undefined>;
}

/**
 * Plans every step, dependencies first, from its fingerprint against state: each gets every
 * reason to run, and a step whose dependency will run runs too (unless it has never run: that
 * is reason enough). A step with no reason is planned `skip`, its reasons left empty for the
 * drift check and {@link settleActions}.
 */
export async function planSteps({ order, steps, state, sources, known, forced, previousFiles }: StepPlanInputs): Promise<StepPlan[]> {
  const computed = order.map((name) => {
    const step = steps.get(name)!;
    const { entries, files, config } = computeEntries(step, sources);
    const fingerprint = known?.get(name) ?? fingerprintOf(entries, files);
    const record = state.steps[name];
    // The last listing is read (all at once) only to tell which files changed in a step that runs anyway.
    return { name, step, entries, files, config, fingerprint, previous: needsPreviousFiles(record, fingerprint) ? previousFiles(record) : undefined };
  });
  const plans = new Map<string, StepPlan>();
  for (const { name, step, entries, files, config, fingerprint, previous } of computed) {
    const reasons = reasonsToRun(state.steps[name], { entries, files, fingerprint }, config, { step: forced.steps.has(name), all: forced.all }, previous === undefined ? StepFiles.EMPTY : await previous);
    const neverRun = reasons.some((r) => r.kind === "never-run");
    for (const dep of step.dependsOn) {
      if (!neverRun && plans.get(dep)?.action === "run" && !reasons.some((r) => r.kind === "upstream-changed" && r.step === dep)) {
        reasons.push({ kind: "upstream-will-run", step: dep });
      }
    }
    plans.set(name, { name, plugin: step.pluginId, description: step.description, action: reasons.length > 0 ? "run" : "skip", reasons, fingerprint, entries, files, config });
  }
  return [...plans.values()];
}

/**
 * After the drift checks: a step a drifted one feeds runs too, and a step with still no reason
 * is `unchanged`. `plans` are in dependency order.
 */
export function settleActions(plans: readonly StepPlan[], steps: ReadonlyMap<string, SiteStep>): void {
  const byName = new Map(plans.map((p) => [p.name, p]));
  for (const plan of plans) {
    if (plan.action === "run") continue;
    for (const dep of steps.get(plan.name)!.dependsOn) {
      if (byName.get(dep)?.action === "run") plan.reasons.push({ kind: "upstream-will-run", step: dep });
    }
    if (plan.reasons.length > 0) plan.action = "run";
    else plan.reasons.push({ kind: "unchanged" });
  }
}
