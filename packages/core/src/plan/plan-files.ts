import type { StateDocument } from "../contracts.js";
import type { SiteStep } from "../context/step-context.js";
import { entriesText } from "../fingerprint/compute-input-fingerprint.js";
import { compactKey } from "../fingerprint/node-crypto.js";
import type { SiteFileInputs } from "../fingerprint/site-files.js";
import { StepFiles } from "../fingerprint/step-files.js";
import { computeEntries, type EntrySources, type StepPlan } from "./compute-plan.js";
import { FingerprintMemo } from "../cache/fingerprint-memo.js";
import type { StateListings } from "../state/state-listings.js";

/** The files a plan gives each step, and how it came by them. */
export interface PlanFiles {
  files(step: string): StepFiles;
  /**
   * The fingerprints of the steps with file inputs when the memo vouched for them (no file was
   * listed); undefined when the files were listed and hashed.
   */
  readonly known: ReadonlyMap<string, string> | undefined;
  /** Records the fingerprints a plan computed from listed files, for the next plan (nothing when the memo served). */
  remember(plans: readonly StepPlan[]): void;
  /**
   * Reads the files of `steps` that the memo shortcut left in the object store, before
   * anything looks at them (a drift check, a step that runs). A listing that is unavailable
   * makes it list the site's files after all.
   */
  load(steps: readonly string[]): Promise<void>;
}

/**
 * The files of every step with file inputs. The usual no-op takes the memo shortcut: the file
 * inputs are those the memo's fingerprints were computed with, and each step's last successful
 * run had that fingerprint, so its files are the ones in state and nothing is listed. Otherwise
 * the files are collected (git's index, or one walk and the stat cache).
 */
export async function planFiles(
  siteDir: string,
  inputs: SiteFileInputs,
  steps: readonly SiteStep[],
  state: StateDocument,
  sources: Omit<EntrySources, "files">,
  listings: Pick<StateListings, "read">,
): Promise<PlanFiles> {
  const withFiles = steps.filter((step) => step.inputs.files.length > 0);
  const identity = inputs.identity;
  const memo = identity === undefined || withFiles.length === 0 ? undefined : FingerprintMemo.read(siteDir);
  const known = memo && knownFingerprints(withFiles, state, { ...sources, files: () => StepFiles.EMPTY }, (step, entriesKey) => memo.lookup(identity!, step, entriesKey));
  if (known) {
    let files: ReadonlyMap<string, StepFiles> = known.files;
    return {
      files: (step) => files.get(step) ?? StepFiles.EMPTY,
      known: known.fingerprints,
      remember: () => {},
      async load(names) {
        const unread = names.filter((name) => files.get(name)?.unread);
        const read = await Promise.all(unread.map((name) => listings.read(files.get(name)!.ref!)));
        if (read.some((stepFiles) => stepFiles === undefined)) files = await inputs.collect();
        else files = new Map([...files, ...unread.map((name, i) => [name, read[i]!] as const)]);
      },
    };
  }
  const collected = await inputs.collect();
  return {
    files: (step) => collected.get(step) ?? StepFiles.EMPTY,
    known: undefined,
    load: async () => {},
    remember(plans) {
      const withFilesNames = new Set(withFiles.map((s) => s.name));
      const computed = new Map<string, [string, string]>();
      for (const plan of plans) if (withFilesNames.has(plan.name)) computed.set(plan.name, [compactKey(entriesText(plan.entries)), plan.fingerprint]);
      // After collecting, the identity names what was collected.
      if (computed.size > 0 && inputs.identity !== undefined) (memo ?? FingerprintMemo.read(siteDir)).save(inputs.identity, computed);
    },
  };
}

/**
 * The fingerprints of `steps` (those with file inputs) without listing their files, when the
 * memo knows each for its other entries as they are now, and state records each step's last
 * run as a success with that fingerprint: then the files in state are the files now. Undefined
 * as soon as one step is not so.
 */
export function knownFingerprints(
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
    files.set(step.name, record.files !== undefined ? StepFiles.lazy(record.files) : record.filesRef !== undefined ? StepFiles.stored(record.filesRef) : StepFiles.EMPTY);
  }
  return { fingerprints, files };
}
