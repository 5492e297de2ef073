import type { StateDocument } from "../contracts.js";
import type { SiteSession } from "../engine/site-session.js";
import type { StepPlan } from "./compute-plan.js";

/**
 * Runs the `check` of each step in `plans` (steps that would be skipped), `concurrency` at a
 * time: a drift report, or a check that throws, becomes a reason and the step runs. Checks
 * change nothing; their errors are attributed to the plugin and redacted.
 */
export async function checkDrift(session: SiteSession, state: StateDocument, plans: readonly StepPlan[], concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < plans.length) {
      const plan = plans[next++]!;
      const step = session.steps.get(plan.name)!;
      try {
        const ctx = await session.contextFor(step, plan.files.toMap(), (s) => state.steps[s]?.outputs, state.steps[step.name]?.outputs);
        const drift = await step.definition.check!(ctx);
        if (drift) plan.reasons.push({ kind: "drift", reason: session.redactor.redact(drift.reason) });
      } catch (error) {
        const wrapped = session.wrapPluginError(error, step.pluginId, step.name, "check");
        plan.reasons.push({ kind: "check-failed", message: wrapped.message });
      }
      if (plan.reasons.length > 0) plan.action = "run";
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, plans.length) }, worker));
}
