import type { StateDocument } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { StepwiseError } from "../errors/stepwise-error.js";
import type { Plan } from "../plan/compute-plan.js";
import { computeSitePlan, planSite, type PlanOptions } from "../plan/plan-site.js";
import { emptyState } from "../state/state-document.js";
import { readState } from "../state/state-journal.js";
import type { SiteSession } from "./site-session.js";
import { trace } from "../log/trace.js";
import { applyRemovals, assertRemovalsApproved } from "./removals.js";
import { applyDag, notRun } from "./apply-dag.js";
import { applyStep } from "./apply-step.js";
import { withRunLock } from "./run-lock.js";
import { StateWriter } from "./state-writer.js";
import { collectGarbage } from "../state/state-listings.js";

export { planSite } from "../plan/plan-site.js";
export type { PlanOptions } from "../plan/plan-site.js";

export interface DeployOptions extends PlanOptions {
  /** Plan only: take no lock, write nothing, run nothing. */
  dryRun?: boolean;
  /** Refuse to apply when the plan has anything to run or remove (exit 1). */
  expectNoChanges?: boolean;
  /**
   * Removals the user approved: `true` for all (`--auto-approve`), or the names a confirmed
   * preview listed. A plan with any other removal is refused (exit 2) before anything runs.
   */
  approveRemovals?: boolean | readonly string[];
}

export interface DeployResult {
  plan: Plan;
  status: "ok" | "failed" | "interrupted" | "dry-run";
  ran: string[];
  skipped: string[];
  failed: { step: string; error: StepwiseError }[];
  /** Steps that were not started because something they depend on failed, or the run stopped. */
  notRun: string[];
  /** Removals done: their resources removed and their state records dropped. */
  removed: string[];
}

/**
 * Plans and applies under the state lock: runs the steps that must run as a DAG with bounded
 * concurrency, saving state after every step, then the approved removals. On a failure nothing
 * new starts; on interrupt running steps are aborted through their signal. Returns; never exits
 * the process.
 */
export async function deploySite(session: SiteSession, options: DeployOptions = {}): Promise<DeployResult> {
  trace("deploy started");
  session.assertSiteUsable();
  session.assertConfigValid();
  session.assertNoMissingConfig();
  if (options.dryRun) {
    await session.assertRequiredSecrets();
    const plan = await planSite(session, options);
    session.emitEvent({ type: "plan", plan });
    return { plan, status: "dry-run", ran: [], skipped: [], failed: [], notRun: plan.steps.filter((s) => s.action === "run").map((s) => s.name), removed: [] };
  }
  // Secrets a preview read are read again under the lock: a deploy must not generate over a value set meanwhile.
  return withRunLock(session, "deploy", async (lock) => {
    await session.assertSecretsRedactable();
    await session.ensureGeneratedSecrets();
    await session.assertRequiredSecrets();
    trace("secrets read");
    const writer = await openStateWriter(session, options.resetState === true);
    // The files hashed for the plan are the ones the steps then see: one walk per deploy.
    const { plan, sources } = await computeSitePlan(session, writer.state, options);
    session.emitEvent({ type: "plan", plan });
    assertNoChangesExpected(plan, options.expectNoChanges === true);
    assertRemovalsApproved(plan.removals, options.approveRemovals);
    if (options.resetState) await writer.save();

    const result: DeployResult = { plan, status: "ok", ran: [], skipped: [], failed: [], notRun: [], removed: [] };
    const planned = new Map(plan.steps.map((s) => [s.name, s]));
    const outcomes = await applyDag({
      order: session.graph.order,
      dependencies: session.graph.dependencies,
      concurrency: options.concurrency ?? 4,
      signal: session.signal,
      execute: async (name) => {
        const applied = await applyStep(session, session.steps.get(name)!, planned.get(name)!, sources, writer);
        if (applied.outcome === "done") result.ran.push(name);
        else if (applied.outcome === "skipped") result.skipped.push(name);
        else result.failed.push({ step: name, error: applied.error });
        return applied.outcome;
      },
      onBlocked: (step, by) => session.emitEvent({ type: "step-blocked", step, by }),
    });
    await writer.settled();
    // The fold: the run's journalled records become the state in one write (which clears the journal).
    if (writer.unsaved) await writer.save();
    result.notRun = notRun(session.graph.order, outcomes);
    // Removals come last: the steps that stay are updated first (a service that stopped using
    // a removed one is re-run before it goes), and a failed deploy removes nothing.
    if (!session.signal.aborted && result.failed.length === 0 && plan.removals.length > 0) {
      const removals = await applyRemovals(session, writer.state, plan.removals, { pruneVolumes: options.pruneVolumes === true, save: () => writer.save() });
      await writer.settled();
      result.removed = removals.removed;
      result.failed.push(...removals.failed);
    }
    lock.assertHeld();
    // Every save of this run is written: listings no record refers to any more go (under the lock;
    // one that cannot be removed costs only space).
    await collectGarbage(session.stateBackend, writer.state).catch(() => 0);
    result.status = session.signal.aborted ? "interrupted" : result.failed.length > 0 ? "failed" : "ok";
    return result;
  });
}

/**
 * Reads state for a deploy (`--reset-state`: a new document keeping lineage and serial) and
 * the writer that saves it. Under the lock: a journal a killed run left is folded into the
 * state now (written), or cleared when it continues no state there is.
 */
async function openStateWriter(session: SiteSession, reset: boolean): Promise<StateWriter> {
  const read = await readState(session.stateBackend);
  const state: StateDocument = reset || !read.state ? { ...emptyState(session.site.name), ...(read.state ? { lineage: read.state.lineage, serial: read.state.serial } : {}) } : read.state;
  const writer = new StateWriter(session.stateBackend, state, read.etag, session.site.name);
  if (read.journal.applied > 0 && !reset) await writer.save();
  else if (read.journal.found) await session.stateBackend.clearJournal();
  return writer;
}

/** `--expect-no-changes`: refuses (exit 1) a plan with anything to run or remove, naming it. */
function assertNoChangesExpected(plan: Plan, expectNoChanges: boolean): void {
  if (!expectNoChanges || (plan.toRun === 0 && plan.toRemove === 0)) return;
  const changes = [...plan.steps.filter((s) => s.action === "run").map((s) => s.name), ...plan.removals.map((r) => `remove ${r.name}`)];
  throw errors.changesPending(pendingChanges(plan), changes);
}

/** `2 steps would run, 1 removal is pending`: what `--expect-no-changes` refuses. */
export function pendingChanges(plan: Pick<Plan, "toRun" | "toRemove">): string {
  const parts: string[] = [];
  if (plan.toRun > 0) parts.push(`${plan.toRun} step${plan.toRun === 1 ? "" : "s"} would run`);
  if (plan.toRemove > 0) parts.push(`${plan.toRemove} removal${plan.toRemove === 1 ? " is" : "s are"} pending`);
  return parts.join(", ");
}
