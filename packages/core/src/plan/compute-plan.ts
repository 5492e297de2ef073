import type { JsonObject, StepRecord } from "../contracts.js";
import { computeInputFingerprint, diffEntries, hashJson, type InputEntries } from "../fingerprint/compute-input-fingerprint.js";
import { StepFiles } from "../fingerprint/step-files.js";
import type { SiteStep } from "../context/step-context.js";
import type { PlanReason } from "./plan-reasons.js";
import type { RemovalPlan } from "./orphans.js";

export interface StepPlan {
  name: string;
  plugin: string;
  description: string;
  action: "run" | "skip";
  reasons: PlanReason[];
  /** Fingerprint of the inputs as they are now (upstream outputs as last recorded). */
  fingerprint: string;
  /** The input entries other than files. */
  entries: InputEntries;
  /** The `file:` entries: the files the step's globs select, with their content ids. */
  files: StepFiles;
  /** Values of the config keys the step reads (non-secret), recorded for old -> new. */
  config: JsonObject;
}

export interface Plan {
  steps: StepPlan[];
  /** Optional steps turned off in stepwise.yaml. */
  disabled: { name: string; plugin: string; description: string }[];
  /** What left the site and `deploy` removes (after the steps that run), in removal order. */
  removals: RemovalPlan[];
  toRun: number;
  toRemove: number;
  unchanged: number;
}

export interface EntrySources {
  config(key: string): import("../contracts.js").JsonValue | undefined;
  secretFingerprint(name: string): string;
  files(step: string): StepFiles;
  /** The outputs hash a dependency has now (recorded, or just produced in this run). */
  upstreamOutputsHash(step: string): string | undefined;
}

export const PENDING = "pending";

/** The input entries of one step (files apart), and the config values they came from. */
export function computeEntries(step: SiteStep, sources: EntrySources): { entries: InputEntries; files: StepFiles; config: JsonObject } {
  const entries: InputEntries = {};
  const config: JsonObject = {};
  entries[`plugin:${step.pluginName}`] = step.pluginId.slice(step.pluginName.length + 1);
  for (const key of step.inputs.config) {
    const value = sources.config(key);
    entries[`config:${key}`] = value === undefined ? "unset" : hashJson(value);
    if (value !== undefined) config[key] = value;
  }
  for (const name of step.inputs.secrets) entries[`secret:${name}`] = sources.secretFingerprint(name);
  for (const dep of step.dependsOn) entries[`step:${dep}`] = sources.upstreamOutputsHash(dep) ?? PENDING;
  if (step.siteInput) entries[`site:${step.siteInput.key}`] = hashJson(step.siteInput.value);
  return { entries, files: step.inputs.files.length > 0 ? sources.files(step.name) : StepFiles.EMPTY, config };
}

/**
 * Why a step must run, comparing its entries now with its last record. An empty list means
 * nothing changed (drift checks and upstream runs are added by the caller).
 */
export function reasonsToRun(
  record: StepRecord | undefined,
  inputs: { entries: InputEntries; files: StepFiles; fingerprint: string },
  config: JsonObject,
  forced: { step: boolean; all: boolean },
  /** The files of the last run (see {@link needsPreviousFiles}); undefined when its listing is unavailable. */
  previousFiles: StepFiles | undefined,
): PlanReason[] {
  const reasons: PlanReason[] = [];
  if (forced.step || forced.all) reasons.push({ kind: "forced", all: forced.all && !forced.step });
  if (!record) return [...reasons, { kind: "never-run" }];
  if (record.status === "failed") reasons.push({ kind: "failed", message: record.error?.message ?? "unknown error" });
  if (record.status === "running") reasons.push({ kind: "interrupted" });
  if (!record.entries) return reasons.length ? reasons : [{ kind: "never-run" }];
  if (record.status !== "succeeded") return reasons;
  // Equal fingerprints are equal entries: the usual no-op plan compares nothing else.
  if (record.fingerprint === inputs.fingerprint) return reasons;
  const { entries } = inputs;
  const diff = diffEntries(record.entries, entries);
  const change = (key: string, kind: "added" | "removed" | "modified"): PlanReason => {
    const colon = key.indexOf(":");
    const type = key.slice(0, colon);
    const name = key.slice(colon + 1);
    switch (type) {
      case "config":
        return { kind: "config-changed", key: name, from: record.config?.[name], to: config[name] };
      case "secret":
        return { kind: "secret-changed", name, from: record.entries?.[key] ?? "unset", to: entries[key] ?? "unset" };
      case "step":
        return { kind: "upstream-changed", step: name };
      case "site":
        return { kind: "definition-changed", path: name };
      default:
        return { kind: "plugin-changed", plugin: name, from: record.entries?.[key], to: entries[key] ?? "(removed)" };
    }
  };
  for (const key of diff.changed) reasons.push(change(key, "modified"));
  for (const key of diff.added) reasons.push(change(key, "added"));
  for (const key of diff.removed) reasons.push(change(key, "removed"));
  if (previousFiles === undefined) {
    // Never a wrong skip: the fingerprint already says the step runs; only the files it ran with are unknown.
    reasons.push({ kind: "files-unavailable" });
    return reasons;
  }
  const files = inputs.files.changesSince(previousFiles);
  for (const path of files.modified) reasons.push({ kind: "file-changed", path, change: "modified" });
  for (const path of files.added) reasons.push({ kind: "file-changed", path, change: "added" });
  for (const path of files.removed) reasons.push({ kind: "file-changed", path, change: "removed" });
  return reasons;
}

/** Whether {@link reasonsToRun} compares files with the last run's: a success whose fingerprint differs. */
export function needsPreviousFiles(record: StepRecord | undefined, fingerprint: string): record is StepRecord {
  return record?.status === "succeeded" && record.entries !== undefined && record.fingerprint !== fingerprint;
}

export function fingerprintOf(entries: InputEntries, files: StepFiles): string {
  return computeInputFingerprint(entries, files);
}
