import type { StateDocument, StepRecord } from "../contracts.js";
import type { SiteStep } from "../context/step-context.js";
import { notePlanFileInputs, vetoPlanMemo } from "../cache/plan-memo.js";
import { errors } from "../errors/error-codes.js";
import type { SiteSession } from "../engine/site-session.js";
import { planRemovals, targetInventory } from "../engine/removals.js";
import { trace } from "../log/trace.js";
import { MIN_SECRET_LENGTH } from "../log/redactor.js";
import { emptyState } from "../state/state-document.js";
import type { EntrySources, Plan, StepPlan } from "./compute-plan.js";
import { checkDrift } from "./drift-checks.js";
import type { RemovalPlan } from "./orphans.js";
import { planFiles, type PlanFiles } from "./plan-files.js";
import { StateListings } from "../state/state-listings.js";
import { readState } from "../state/state-journal.js";
import { planSteps, settleActions } from "./plan-steps.js";
import { assertNoPluginDowngrade } from "./plugin-downgrade.js";

export interface PlanOptions {
  /** Steps to run whatever their fingerprint says (`--force-step`, repeatable). */
  forceSteps?: readonly string[];
  forceAll?: boolean;
  /** Run drift checks (`check`) for steps that would be skipped. Default true. */
  refresh?: boolean;
  /** Plan as if no state existed (`--reset-state`). */
  resetState?: boolean;
  /** Drift checks and steps run at once. Default 4. */
  concurrency?: number;
  /** Removals also delete the data volumes of what they remove (`--prune-volumes`). */
  pruneVolumes?: boolean;
  /** Run steps whose state a newer version of their plugin wrote (`--allow-plugin-downgrade`). */
  allowPluginDowngrade?: boolean;
}

/** Reads state and plans every step with all its reasons. Takes no lock and writes nothing but caches (`.stepwise/cache/`). */
export async function planSite(session: SiteSession, options: PlanOptions = {}): Promise<Plan> {
  session.assertSiteUsable();
  session.assertConfigValid();
  session.assertNoMissingConfig();
  // A journal a running (or killed) deploy appended is applied: the plan sees what the next deploy will.
  const { state } = await readState(session.stateBackend);
  trace("state read");
  return (await computeSitePlan(session, options.resetState || !state ? emptyState(session.site.name) : state, options)).plan;
}

/**
 * Plans against `state`: the files (memo shortcut or listing), each step's reasons, drift
 * checks, and what left the site. Also returns what the plan read (file hashes and the entry
 * sources over the live `state`), so a deploy computes each step's entries from the same inputs.
 */
export async function computeSitePlan(session: SiteSession, state: StateDocument, options: PlanOptions): Promise<{ plan: Plan; sources: EntrySources }> {
  for (const name of options.forceSteps ?? []) {
    if (!session.steps.has(name)) throw errors.stepUnknown(name, "--force-step", [...session.steps.keys()]);
  }
  await assertNoPluginDowngrade([...session.steps.values(), ...session.disabledSteps], state, options.allowPluginDowngrade === true);
  const [secrets, inputs] = await Promise.all([session.secrets(), session.fileInputs()]);
  const [tooShort] = secrets.tooShort();
  if (tooShort !== undefined) throw errors.secretTooShort(tooShort, MIN_SECRET_LENGTH);
  const refresh = options.refresh !== false;
  // A plan that asks the target, or runs drift checks, reads the world: it cannot be replayed.
  if (refresh && session.target) vetoPlanMemo(`it asks target ${session.target.definition.name} what it made (refresh)`);
  // Read-only, and only when the plan looks at the world (not with --no-refresh).
  const inventory = refresh ? targetInventory(session) : Promise.resolve(undefined);
  const ordered = session.graph.order.map((name) => session.steps.get(name)!);
  const base: Omit<EntrySources, "files"> = {
    config: (key) => session.config.get(key),
    secretFingerprint: (name) => secrets.fingerprint(name),
    upstreamOutputsHash: (step) => state.steps[step]?.outputsHash,
  };
  const listings = new StateListings(session.stateBackend);
  const files = await planFiles(session.site.dir, inputs, ordered, state, base, listings);
  trace("files collected");
  notePlanFileInputs(session.site.dir, inputs.basis);
  const sources: EntrySources = { ...base, files: (step) => files.files(step) };
  const forced = { steps: new Set(options.forceSteps ?? []), all: options.forceAll === true };
  const previousFiles = (record: StepRecord) => listings.previousFiles(record);
  const steps = await planSteps({ order: session.graph.order, steps: session.steps, state, sources, known: files.known, forced, previousFiles });
  files.remember(steps);
  trace("fingerprints compared");
  const needsCheck = refresh ? steps.filter((plan) => plan.action === "skip" && session.steps.get(plan.name)!.definition.check) : [];
  if (needsCheck.length > 0) vetoPlanMemo(`it runs the drift check of ${needsCheck[0]!.name}`);
  await loadFiles(files, steps, needsCheck);
  await checkDrift(session, state, needsCheck, options.concurrency ?? 4);
  settleActions(steps, session.steps);
  // A step that runs is given its files: those the memo shortcut left in the object store are read now.
  await loadFiles(files, steps, steps.filter((plan) => plan.action === "run"));
  const removals = planRemovals(session, state, await inventory, options.pruneVolumes === true);
  return { plan: assemblePlan(steps, session.disabledSteps, removals), sources };
}

/** Reads the listings of `wanted` the memo shortcut left unread, and gives their plans the files. */
async function loadFiles(files: PlanFiles, steps: readonly StepPlan[], wanted: readonly StepPlan[]): Promise<void> {
  if (!wanted.some((plan) => plan.files.unread)) return;
  await files.load(wanted.map((plan) => plan.name));
  for (const plan of steps) if (plan.files.unread) plan.files = files.files(plan.name);
}

/** The plan's totals, and its disabled steps (one that still has a record is listed once, as a removal). */
export function assemblePlan(steps: StepPlan[], disabledSteps: readonly SiteStep[], removals: RemovalPlan[]): Plan {
  return {
    steps,
    disabled: disabledSteps.filter((s) => !removals.some((r) => r.name === s.name)).map((s) => ({ name: s.name, plugin: s.pluginId, description: s.description })),
    removals,
    toRun: steps.filter((s) => s.action === "run").length,
    toRemove: removals.length,
    unchanged: steps.filter((s) => s.action === "skip").length,
  };
}
