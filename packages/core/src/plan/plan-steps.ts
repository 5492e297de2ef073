import type { StateDocument } from "../contracts.js";
import type { SiteStep } from "../context/step-context.js";
import { computeEntries, fingerprintOf, reasonsToRun, type EntrySources, type StepPlan } from "./compute-plan.js";

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
}

/**
 * Plans every step, dependencies first, from its fingerprint against state: each gets every
 * reason to run, and a step whose dependency will run runs too (unless it has never run: that
 * is reason enough). A step with no reason is planned `skip`, its reasons left empty for the
 * drift check and {@link settleActions}.
 */
export function planSteps({ order, steps, state, sources, known, forced }: StepPlanInputs): StepPlan[] {
  const plans = new Map<string, StepPlan>();
  for (const name of order) {
    const step = steps.get(name)!;
    const { entries, files, config } = computeEntries(step, sources);
    const fingerprint = known?.get(name) ?? fingerprintOf(entries, files);
    const reasons = reasonsToRun(state.steps[name], { entries, files, fingerprint }, config, { step: forced.steps.has(name), all: forced.all });
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
