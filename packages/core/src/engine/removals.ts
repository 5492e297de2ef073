import type { RemoveResult, StateDocument, TargetInventoryEntry } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { StepwiseError } from "../errors/stepwise-error.js";
import { findOrphans, formatRemovalReason, type RemovalPlan } from "../plan/orphans.js";
import type { SiteSession } from "./site-session.js";

/**
 * What the site's target finds labelled for the site, or undefined when the site has no
 * target, the target cannot list, or listing failed (then a warning says so and the plan
 * relies on state alone).
 */
export async function targetInventory(session: SiteSession): Promise<TargetInventoryEntry[] | undefined> {
  if (!session.target) return undefined;
  try {
    const target = await session.connectTarget();
    if (!target.inventory) return undefined;
    return await target.inventory({ signal: session.signal });
  } catch (error) {
    const wrapped = session.wrapPluginError(error, session.target.plugin.id, undefined, "inventory");
    session.emitEvent({ type: "warning", message: `could not list what target ${session.target.definition.name} made for the site (${wrapped.message}); removals are planned from state only` });
    return undefined;
  }
}

/** The removals of a plan: what left the site since `state` was written (see {@link findOrphans}). */
export function planRemovals(session: SiteSession, state: StateDocument, inventory: readonly TargetInventoryEntry[] | undefined, pruneVolumes: boolean): RemovalPlan[] {
  return findOrphans({
    state,
    steps: new Set(session.steps.keys()),
    disabled: new Set(session.disabledSteps.map((s) => s.name)),
    plugins: new Set(session.plugins.map((p) => p.name)),
    inventory,
    pruneVolumes,
  });
}

/**
 * Removals destroy what a person may still want: they run only when approved, by name (what
 * the person saw in a preview and confirmed) or all at once (`--auto-approve`).
 */
export function assertRemovalsApproved(removals: readonly RemovalPlan[], approved: boolean | readonly string[] | undefined): void {
  const missing = approved === true ? [] : removals.filter((r) => !(Array.isArray(approved) && approved.includes(r.name)));
  if (missing.length === 0) return;
  throw errors.removalNotApproved(missing.map((r) => ({ name: r.name, reason: formatRemovalReason(r.reason), volumes: r.volumes.filter((v) => v.action === "delete").map((v) => v.name) })));
}

export interface RemovalOutcome {
  removed: string[];
  failed: { step: string; error: StepwiseError }[];
}

/**
 * Removes each planned removal in order: every resource through the target's `remove`, then
 * (only when all of them are gone) the state record, saved at once. A removal that throws keeps
 * its record and stops the rest, so a retry, or the next run after a `kill -9`, finds it again.
 */
export async function applyRemovals(
  session: SiteSession,
  state: StateDocument,
  removals: readonly RemovalPlan[],
  options: { pruneVolumes: boolean; save: () => Promise<unknown> },
): Promise<RemovalOutcome> {
  const outcome: RemovalOutcome = { removed: [], failed: [] };
  for (const removal of removals) {
    if (session.signal.aborted) break;
    const started = Date.now();
    session.emitEvent({ type: "remove-start", step: removal.name, reason: removal.reason });
    let hook = "remove";
    try {
      const done: RemoveResult = { removed: [], kept: [] };
      if (removal.resources.length > 0) {
        const target = await session.connectTarget();
        if (!target.remove) {
          throw errors.targetUnsupported(
            session.target?.definition.name,
            `cannot remove resources; ${removal.name} still has ${removal.resources.map((r) => `${r.kind} ${r.name}`).join(", ")}.`,
            "remove them with the platform's own tools, or put the step back into stepwise.yaml",
            removal.name,
          );
        }
        for (const ref of removal.resources) {
          session.signal.throwIfAborted();
          hook = `remove ${ref.kind} ${ref.name}`;
          const result = await target.remove(ref, { volumes: options.pruneVolumes }, { step: removal.name, signal: session.signal, log: session.logger(removal.name) });
          done.removed.push(...result.removed);
          done.kept.push(...result.kept);
        }
      }
      if (removal.record) {
        delete state.steps[removal.name];
        await options.save();
      }
      outcome.removed.push(removal.name);
      session.emitEvent({ type: "remove-done", step: removal.name, removed: done.removed, kept: done.kept, durationMs: Date.now() - started });
    } catch (error) {
      const wrapped = session.signal.aborted
        ? errors.stepInterrupted(removal.name, session.signal.reason)
        : session.wrapPluginError(error, session.target?.plugin.id ?? removal.plugin ?? "", removal.name, hook);
      outcome.failed.push({ step: removal.name, error: wrapped });
      session.emitEvent({ type: "remove-failed", step: removal.name, error: wrapped, durationMs: Date.now() - started });
      break;
    }
  }
  return outcome;
}
