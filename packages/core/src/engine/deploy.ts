import type { ResourceRef, StateDocument, StepContext, StepDefinition, StepOutputs, StepRecord } from "../contracts.js";
import { ErrorCode, errors } from "../errors/error-codes.js";
import { ExitCode, StepwiseError, errorMessage } from "../errors/stepwise-error.js";
import { entriesText, hashJson } from "../fingerprint/compute-input-fingerprint.js";
import { compactKey } from "../fingerprint/node-crypto.js";
import { StepFiles } from "../fingerprint/step-files.js";
import { computeEntries, fingerprintOf, reasonsToRun, type EntrySources, type Plan, type StepPlan } from "../plan/compute-plan.js";
import { FingerprintMemo } from "../cache/fingerprint-memo.js";
import type { PlanReason } from "../plan/plan-reasons.js";
import type { SiteStep } from "../context/step-context.js";
import { emptyState } from "../state/state-document.js";
import { secretTooShort } from "../secrets/site-secrets.js";
import { CORE_VERSION } from "../version.js";
import type { SiteSession } from "./site-session.js";
import { trace } from "../log/trace.js";
import { mergeResources, recordedRefs, resourceRef } from "../resources/resource-record.js";
import { applyRemovals, assertRemovalsApproved, planRemovals, targetInventory } from "./removals.js";

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
}

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

const LOCK_RENEW_MS = 30_000;

/** Reads state and plans every step with all its reasons. Takes no lock and writes nothing but caches (`.stepwise/cache/`). */
export async function planSite(session: SiteSession, options: PlanOptions = {}): Promise<Plan> {
  session.assertSiteUsable();
  session.assertConfigValid();
  session.assertNoMissingConfig();
  const { state } = await session.stateBackend.read();
  trace("state read");
  return (await computeSitePlan(session, options.resetState || !state ? emptyState(session.site.name) : state, options)).plan;
}

/**
 * Plans against `state`. Also returns what the plan read (file hashes and the entry sources
 * over the live `state`), so a deploy computes each step's entries from the same inputs.
 */
async function computeSitePlan(
  session: SiteSession,
  state: StateDocument,
  options: PlanOptions,
): Promise<{ plan: Plan; sources: EntrySources }> {
  for (const name of options.forceSteps ?? []) {
    if (!session.steps.has(name)) throw errors.stepUnknown(name, "--force-step", [...session.steps.keys()]);
  }
  const force = new Set(options.forceSteps ?? []);
  const [secrets, inputs] = await Promise.all([session.secrets(), session.fileInputs()]);
  const [tooShort] = secrets.tooShort();
  if (tooShort !== undefined) throw secretTooShort(tooShort);
  const sourcesWith = (files: (step: string) => StepFiles): EntrySources => ({
    config: (key) => session.config.get(key),
    secretFingerprint: (name) => secrets.fingerprint(name),
    files,
    upstreamOutputsHash: (step) => state.steps[step]?.outputsHash,
  });
  // Read-only, and only when the plan looks at the world (not with --no-refresh).
  const inventory = options.refresh !== false ? targetInventory(session) : Promise.resolve(undefined);
  const withFiles = session.graph.order.map((name) => session.steps.get(name)!).filter((step) => step.inputs.files.length > 0);
  const memo = inputs.identity === undefined || withFiles.length === 0 ? undefined : FingerprintMemo.read(session.site.dir);
  // The usual no-op: the file inputs are those the memo's fingerprints were computed with, and
  // each step's last successful run had that fingerprint, so its files are the ones in state.
  const known = memo && knownFingerprints(withFiles, state, sourcesWith(() => StepFiles.EMPTY), (step, entriesKey) => memo.lookup(inputs.identity!, step, entriesKey));
  let files: (step: string) => StepFiles;
  if (known) {
    files = (step) => known.files.get(step) ?? StepFiles.EMPTY;
  } else {
    const collected = await inputs.collect();
    files = (step) => collected.get(step) ?? StepFiles.EMPTY;
  }
  trace("files collected");
  const sources = sourcesWith(files);
  const plans = new Map<string, StepPlan>();
  const needsCheck: StepPlan[] = [];
  const computed = new Map<string, [string, string]>();
  for (const name of session.graph.order) {
    const step = session.steps.get(name)!;
    const { entries, files: stepFiles, config } = computeEntries(step, sources);
    const fingerprint = known?.fingerprints.get(name) ?? fingerprintOf(entries, stepFiles);
    if (!known && step.inputs.files.length > 0) computed.set(name, [compactKey(entriesText(entries)), fingerprint]);
    const reasons = reasonsToRun(state.steps[name], { entries, files: stepFiles, fingerprint }, config, { step: force.has(name), all: options.forceAll === true });
    const neverRun = reasons.some((r) => r.kind === "never-run");
    for (const dep of step.dependsOn) {
      if (!neverRun && plans.get(dep)?.action === "run" && !reasons.some((r) => r.kind === "upstream-changed" && r.step === dep)) {
        reasons.push({ kind: "upstream-will-run", step: dep });
      }
    }
    const plan: StepPlan = {
      name,
      plugin: step.pluginId,
      description: step.description,
      action: reasons.length > 0 ? "run" : "skip",
      reasons,
      fingerprint,
      entries,
      files: stepFiles,
      config,
    };
    plans.set(name, plan);
    if (plan.action === "skip" && step.definition.check && options.refresh !== false) needsCheck.push(plan);
  }
  if (!known && computed.size > 0 && inputs.identity !== undefined) (memo ?? FingerprintMemo.read(session.site.dir)).save(inputs.identity, computed);
  trace("fingerprints compared");
  await runChecks(session, state, needsCheck, options.concurrency ?? 4);
  // A drifted step makes its dependants run too.
  for (const name of session.graph.order) {
    const plan = plans.get(name)!;
    if (plan.action === "run") continue;
    for (const dep of session.steps.get(name)!.dependsOn) {
      if (plans.get(dep)?.action === "run") plan.reasons.push({ kind: "upstream-will-run", step: dep });
    }
    if (plan.reasons.length > 0) plan.action = "run";
    else plan.reasons.push({ kind: "unchanged" });
  }
  const steps = session.graph.order.map((n) => plans.get(n)!);
  const removals = planRemovals(session, state, await inventory, options.pruneVolumes === true);
  const plan: Plan = {
    steps,
    // A disabled step that still has a record is listed once, as a removal.
    disabled: session.disabledSteps.filter((s) => !removals.some((r) => r.name === s.name)).map((s) => ({ name: s.name, plugin: s.pluginId, description: s.description })),
    removals,
    toRun: steps.filter((s) => s.action === "run").length,
    toRemove: removals.length,
    unchanged: steps.filter((s) => s.action === "skip").length,
  };
  return { plan, sources };
}

/**
 * The fingerprints of `steps` (those with file inputs) without listing their files, when the
 * memo knows each for its other entries as they are now, and state records each step's last
 * run as a success with that fingerprint: then the files in state are the files now. Undefined
 * as soon as one step is not so.
 */
function knownFingerprints(
  steps: readonly SiteStep[],
  state: StateDocument,
  sources: EntrySources,
  lookup: (step: string, entriesKey: string) => string | undefined,
): { fingerprints: Map<string, string>; files: Map<string, StepFiles> } | undefined {
  const fingerprints = new Map<string, string>();
  const files = new Map<string, StepFiles>();
  for (const step of steps) {
    const fingerprint = lookup(step.name, compactKey(entriesText(computeEntries(step, sources).entries)));
    const record = state.steps[step.name];
    if (fingerprint === undefined || record?.status !== "succeeded" || record.fingerprint !== fingerprint) return undefined;
    fingerprints.set(step.name, fingerprint);
    files.set(step.name, StepFiles.lazy(record.files ?? ""));
  }
  return { fingerprints, files };
}

async function runChecks(session: SiteSession, state: StateDocument, plans: StepPlan[], concurrency: number): Promise<void> {
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

/**
 * Plans and applies under the state lock: runs the steps that must run as a DAG with bounded
 * concurrency, saving state after every step. On a failure nothing new starts; on interrupt
 * running steps are aborted through their signal. Returns; never exits the process.
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

  const backend = session.stateBackend;
  // Secrets a preview read are read again under the lock: a deploy must not generate over a value set meanwhile.
  const lock = await session.lockSite("deploy");
  trace("state locked");
  let lockLost: unknown;
  const renewal = setInterval(() => {
    lock.renew().catch((error: unknown) => {
      lockLost = error;
      session.interrupt("the state lock was lost");
    });
  }, LOCK_RENEW_MS);
  renewal.unref();
  try {
    await session.assertSecretsRedactable();
    await session.ensureGeneratedSecrets();
    await session.assertRequiredSecrets();
    trace("secrets read");
    const read = await backend.read();
    let etag = read.etag;
    const state: StateDocument = options.resetState || !read.state ? { ...emptyState(session.site.name), ...(read.state ? { lineage: read.state.lineage, serial: read.state.serial } : {}) } : read.state;
    // The files hashed for the plan are the ones the steps then see: one walk per deploy.
    const { plan, sources } = await computeSitePlan(session, state, options);
    session.emitEvent({ type: "plan", plan });
    if (options.expectNoChanges && (plan.toRun > 0 || plan.toRemove > 0)) {
      const changes = [...plan.steps.filter((s) => s.action === "run").map((s) => s.name), ...plan.removals.map((r) => `remove ${r.name}`)];
      throw new StepwiseError(ErrorCode.ChangesPending, `--expect-no-changes: ${pendingChanges(plan)} (${changes.join(", ")}).`, {
        exitCode: ExitCode.StepFailed,
        hint: "stepwise plan   (to see why)",
      });
    }
    assertRemovalsApproved(plan.removals, options.approveRemovals);

    let saving: Promise<unknown> = Promise.resolve();
    const save = (): Promise<unknown> => {
      saving = saving.then(async () => {
        state.serial += 1;
        state.updatedAt = new Date().toISOString();
        state.writtenBy = CORE_VERSION;
        state.site = session.site.name;
        etag = (await backend.write(state, etag)).etag;
      });
      return saving;
    };
    if (options.resetState) await save();

    const result: DeployResult = { plan, status: "ok", ran: [], skipped: [], failed: [], notRun: [], removed: [] };
    const planned = new Map(plan.steps.map((s) => [s.name, s]));
    const outcome = new Map<string, "done" | "skipped" | "failed" | "blocked">();
    const concurrency = Math.max(1, options.concurrency ?? 4);
    const inFlight = new Map<string, Promise<void>>();
    let stopped = false;

    const skip = (name: string, reasons: PlanReason[]) => {
      outcome.set(name, "skipped");
      result.skipped.push(name);
      session.emitEvent({ type: "step-skip", step: name, reasons });
    };
    const execute = async (name: string): Promise<void> => {
      const step = session.steps.get(name)!;
      const stepPlan = planned.get(name)!;
      if (stepPlan.action === "skip") return skip(name, stepPlan.reasons);
      const previous = state.steps[name];
      const { entries, files: stepFiles, config } = computeEntries(step, sources);
      const fingerprint = fingerprintOf(entries, stepFiles);
      const onlyUpstream = stepPlan.reasons.every((r) => r.kind === "upstream-will-run" || r.kind === "upstream-changed");
      if (onlyUpstream && previous?.status === "succeeded" && previous.fingerprint === fingerprint) {
        // Early cutoff: everything upstream that ran produced the same outputs as before.
        return skip(name, [{ kind: "upstream-reran-unchanged" }]);
      }
      const startedAt = new Date();
      state.steps[name] = { ...previous, status: "running", plugin: step.pluginId, startedAt: startedAt.toISOString(), finishedAt: undefined, durationMs: undefined, error: undefined } as StepRecord;
      await save();
      session.emitEvent({ type: "step-start", step: name, reasons: stepPlan.reasons });
      // Every resource the step realises is recorded, this run's added to the earlier ones, so a
      // step that leaves the site can have all of them removed (see applyRemovals).
      const ensured: ResourceRef[] = [];
      const resourcesAfter = () => {
        const resources = mergeResources(recordedRefs(previous), ensured);
        return resources.length > 0 ? { resources } : {};
      };
      try {
        const ctx = await session.contextFor(step, stepFiles.toMap(), (s) => state.steps[s]?.outputs, previous?.outputs, (r) => ensured.push(resourceRef(r)));
        const outputs = await runStep(session, step.definition, ctx);
        const finishedAt = new Date();
        state.steps[name] = {
          status: "succeeded",
          fingerprint,
          entries,
          ...(stepFiles.size > 0 ? { files: stepFiles.encode() } : {}),
          config,
          outputs,
          outputsHash: hashJson(outputs),
          ...resourcesAfter(),
          plugin: step.pluginId,
          startedAt: startedAt.toISOString(),
          finishedAt: finishedAt.toISOString(),
          durationMs: finishedAt.getTime() - startedAt.getTime(),
        };
        await save();
        outcome.set(name, "done");
        result.ran.push(name);
        session.emitEvent({ type: "step-done", step: name, durationMs: finishedAt.getTime() - startedAt.getTime() });
      } catch (error) {
        const interrupted = session.signal.aborted;
        const wrapped = interrupted
          ? new StepwiseError(ErrorCode.Interrupted, `interrupted: ${errorMessage(session.signal.reason)}`, { exitCode: ExitCode.Interrupted, step: name, plugin: step.pluginId })
          : session.wrapPluginError(error, step.pluginId, name, "run");
        const finishedAt = new Date();
        state.steps[name] = {
          ...previous,
          ...resourcesAfter(),
          status: "failed",
          plugin: step.pluginId,
          startedAt: startedAt.toISOString(),
          finishedAt: finishedAt.toISOString(),
          durationMs: finishedAt.getTime() - startedAt.getTime(),
          error: { code: wrapped.code, message: session.redactor.redact(wrapped.message) },
        } as StepRecord;
        await save();
        outcome.set(name, "failed");
        result.failed.push({ step: name, error: wrapped });
        stopped = true;
        session.emitEvent({ type: "step-failed", step: name, error: wrapped, durationMs: finishedAt.getTime() - startedAt.getTime() });
      }
    };

    const pending = new Set(session.graph.order);
    for (;;) {
      if (!stopped && !session.signal.aborted) {
        for (const name of session.graph.order) {
          if (inFlight.size >= concurrency) break;
          if (!pending.has(name)) continue;
          const deps = session.graph.dependencies.get(name)!;
          const blocker = deps.find((d) => outcome.get(d) === "failed" || outcome.get(d) === "blocked");
          if (blocker) {
            pending.delete(name);
            outcome.set(name, "blocked");
            session.emitEvent({ type: "step-blocked", step: name, by: blocker });
            continue;
          }
          if (!deps.every((d) => outcome.get(d) === "done" || outcome.get(d) === "skipped")) continue;
          pending.delete(name);
          const running = execute(name).finally(() => inFlight.delete(name));
          inFlight.set(name, running);
        }
      }
      if (inFlight.size === 0) break;
      await Promise.race(inFlight.values());
    }
    await saving;
    result.notRun = session.graph.order.filter((n) => !outcome.has(n) || outcome.get(n) === "blocked");
    // Removals come last: the steps that stay are updated first (a service that stopped using
    // a removed one is re-run before it goes), and a failed deploy removes nothing.
    if (!stopped && !session.signal.aborted && result.failed.length === 0 && plan.removals.length > 0) {
      const removals = await applyRemovals(session, state, plan.removals, { pruneVolumes: options.pruneVolumes === true, save });
      await saving;
      result.removed = removals.removed;
      result.failed.push(...removals.failed);
    }
    if (lockLost) throw lockLost;
    result.status = session.signal.aborted ? "interrupted" : result.failed.length > 0 ? "failed" : "ok";
    return result;
  } finally {
    clearInterval(renewal);
    await lock.release().catch(() => {});
  }
}

/** `2 steps would run, 1 removal is pending`: what `--expect-no-changes` refuses. */
export function pendingChanges(plan: Pick<Plan, "toRun" | "toRemove">): string {
  const parts: string[] = [];
  if (plan.toRun > 0) parts.push(`${plan.toRun} step${plan.toRun === 1 ? "" : "s"} would run`);
  if (plan.toRemove > 0) parts.push(`${plan.toRemove} removal${plan.toRemove === 1 ? " is" : "s are"} pending`);
  return parts.join(", ");
}

/** Runs a step and checks its outputs: a JSON object (copied, so later mutation cannot reach state) with no secret value. */
async function runStep(session: SiteSession, definition: StepDefinition, ctx: StepContext): Promise<StepOutputs> {
  const name = definition.name;
  const outputs = (await definition.run(ctx)) ?? {};
  if (typeof outputs !== "object" || Array.isArray(outputs)) throw new Error(`step ${name} returned ${JSON.stringify(outputs)}; run must return an object of outputs (or nothing)`);
  const text = JSON.stringify(outputs);
  if (session.redactor.redact(text) !== text) {
    // Outputs are stored in state and shown in plans: a secret value must never get there.
    throw new Error(`step ${name} returned a secret value in its outputs; return a secret reference (its name) instead`);
  }
  return JSON.parse(text) as StepOutputs;
}
