import type { ResourceRef, StepContext, StepDefinition, StepOutputs, StepRecord } from "../contracts.js";
import type { SiteStep } from "../context/step-context.js";
import { errors } from "../errors/error-codes.js";
import type { StepwiseError } from "../errors/stepwise-error.js";
import { hashJson } from "../fingerprint/compute-input-fingerprint.js";
import { computeEntries, fingerprintOf, type EntrySources, type StepPlan } from "../plan/compute-plan.js";
import type { PlanReason } from "../plan/plan-reasons.js";
import { mergeResources, recordedRefs, resourceRef } from "../resources/resource-record.js";
import type { SiteSession } from "./site-session.js";
import type { StateWriter } from "./state-writer.js";
import type { StepFiles } from "../fingerprint/step-files.js";
import { listingRef } from "../state/state-listings.js";

/** What applying a step needs of the session. */
export type StepApplier = Pick<SiteSession, "contextFor" | "emitEvent" | "signal" | "redactor" | "wrapPluginError">;

export type AppliedStep =
  | { outcome: "done" }
  | { outcome: "skipped"; reasons: PlanReason[] }
  | { outcome: "failed"; error: StepwiseError };

/**
 * Applies one planned step whose dependencies have ended, recording it in state: a planned skip
 * is skipped; a step planned only because upstream ran is skipped when its fingerprint is what
 * its last success had (early cutoff); otherwise it is recorded `running`, run, and recorded
 * `succeeded` (entries, outputs and their hash) or `failed` (the redacted error), every
 * resource it realised added to those recorded before; each record is journalled (durable)
 * before the step goes on. Emits the step's events. Rejects only when journalling does.
 */
export async function applyStep(session: StepApplier, step: SiteStep, stepPlan: StepPlan, sources: EntrySources, writer: Pick<StateWriter, "state" | "record">): Promise<AppliedStep> {
  const name = step.name;
  const state = writer.state;
  if (stepPlan.action === "skip") return skipped(session, name, stepPlan.reasons);
  const previous = state.steps[name];
  const { entries, files: stepFiles, config } = computeEntries(step, sources);
  const fingerprint = fingerprintOf(entries, stepFiles);
  const onlyUpstream = stepPlan.reasons.every((r) => r.kind === "upstream-will-run" || r.kind === "upstream-changed");
  if (onlyUpstream && previous?.status === "succeeded" && previous.fingerprint === fingerprint) {
    // Early cutoff: everything upstream that ran produced the same outputs as before.
    return skipped(session, name, [{ kind: "upstream-reran-unchanged" }]);
  }
  const startedAt = new Date();
  state.steps[name] = { ...previous, status: "running", plugin: step.pluginId, startedAt: startedAt.toISOString(), finishedAt: undefined, durationMs: undefined, error: undefined } as StepRecord;
  await writer.record(name);
  session.emitEvent({ type: "step-start", step: name, reasons: stepPlan.reasons });
  // Every resource the step realises is recorded, this run's added to the earlier ones, so a
  // step that leaves the site can have all of them removed (see applyRemovals).
  const ensured: ResourceRef[] = [];
  const resourcesAfter = () => {
    const resources = mergeResources(recordedRefs(previous), ensured);
    return resources.length > 0 ? { resources } : {};
  };
  const timing = () => {
    const finishedAt = new Date();
    return { startedAt: startedAt.toISOString(), finishedAt: finishedAt.toISOString(), durationMs: finishedAt.getTime() - startedAt.getTime() };
  };
  try {
    const ctx = await session.contextFor(step, stepFiles.toMap(), (s) => state.steps[s]?.outputs, previous?.outputs, (r) => ensured.push(resourceRef(r)));
    const outputs = await runStep(session, step.definition, ctx);
    const times = timing();
    state.steps[name] = {
      status: "succeeded",
      fingerprint,
      entries,
      ...listingFields(stepFiles),
      config,
      outputs,
      outputsHash: hashJson(outputs),
      ...resourcesAfter(),
      plugin: step.pluginId,
      ...times,
    };
    await writer.record(name);
    session.emitEvent({ type: "step-done", step: name, durationMs: times.durationMs });
    return { outcome: "done" };
  } catch (error) {
    const wrapped = session.signal.aborted
      ? errors.stepInterrupted(name, session.signal.reason, step.pluginId)
      : session.wrapPluginError(error, step.pluginId, name, "run");
    const times = timing();
    state.steps[name] = {
      ...previous,
      ...resourcesAfter(),
      status: "failed",
      plugin: step.pluginId,
      ...times,
      error: { code: wrapped.code, message: session.redactor.redact(wrapped.message) },
    } as StepRecord;
    await writer.record(name);
    session.emitEvent({ type: "step-failed", step: name, error: wrapped, durationMs: times.durationMs });
    return { outcome: "failed", error: wrapped };
  }
}

/**
 * How a step's files are recorded: by the address of their listing, the listing itself inline
 * when it is not known to be in the object store yet (the writer stores it before the write).
 */
function listingFields(files: StepFiles): Pick<StepRecord, "files" | "filesRef"> {
  if (files.ref !== undefined) return { filesRef: files.ref };
  if (files.size === 0) return {};
  const encoded = files.encode();
  return { filesRef: listingRef(encoded), files: encoded };
}

function skipped(session: StepApplier, step: string, reasons: PlanReason[]): AppliedStep {
  session.emitEvent({ type: "step-skip", step, reasons });
  return { outcome: "skipped", reasons };
}

/** Runs a step and checks its outputs: a JSON object (copied, so later mutation cannot reach state) with no secret value. */
async function runStep(session: StepApplier, definition: StepDefinition, ctx: StepContext): Promise<StepOutputs> {
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
