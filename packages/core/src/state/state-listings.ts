import type { StateBackend, StateDocument, StepRecord } from "../contracts.js";
import { sha256 } from "../fingerprint/compute-input-fingerprint.js";
import { StepFiles } from "../fingerprint/step-files.js";

/**
 * Step file listings in the state backend's object store. State keeps each step's listing by
 * its content address (`filesRef`, the sha256 of its encoded text); the listing is an
 * immutable object, written once and shared by every record (and history) that has it.
 */
export class StateListings {
  private readonly cache = new Map<string, Promise<StepFiles | undefined>>();

  constructor(private readonly backend: Pick<StateBackend, "getObject">) {}

  /**
   * The files `record` was last run with: EMPTY when it had none, undefined when its listing
   * is unavailable (no such object, or one whose bytes do not match its address).
   */
  previousFiles(record: StepRecord): Promise<StepFiles | undefined> {
    if (record.files !== undefined) return Promise.resolve(StepFiles.lazy(record.files));
    if (record.filesRef === undefined) return Promise.resolve(StepFiles.EMPTY);
    return this.read(record.filesRef);
  }

  /** The listing stored under `ref`, checked against it; undefined when missing or damaged. */
  read(ref: string): Promise<StepFiles | undefined> {
    let found = this.cache.get(ref);
    if (!found) {
      found = this.backend.getObject(ref).then(
        (bytes) => (bytes !== undefined && sha256(bytes) === ref ? StepFiles.fromStore(ref, Buffer.from(bytes).toString("utf8")) : undefined),
        () => undefined,
      );
      this.cache.set(ref, found);
    }
    return found;
  }
}

/** The content address of an encoded listing. */
export function listingRef(encoded: string): string {
  return sha256(encoded);
}

/**
 * Moves every listing `state` carries inline (a migrated or pushed document, a step that just
 * ran with new files) into the object store, leaving its address. Called before each write:
 * a state never refers to an object that is not stored.
 */
export async function storeInlineListings(backend: Pick<StateBackend, "putObject">, state: StateDocument): Promise<void> {
  for (const record of Object.values(state.steps)) await storeInlineListing(backend, record);
}

/** {@link storeInlineListings} for one record. */
export async function storeInlineListing(backend: Pick<StateBackend, "putObject">, record: StepRecord): Promise<void> {
  if (record.files === undefined) return;
  const ref = listingRef(record.files);
  await backend.putObject(ref, Buffer.from(record.files, "utf8"));
  record.filesRef = ref;
  delete record.files;
}

/**
 * A self-contained copy of `state` with each listing inline (`files` next to `filesRef`): what
 * `state pull` prints and a backup keeps. A listing that is unavailable is left out; a push of
 * the copy then records it as unavailable, and its step runs once.
 */
export async function withInlineListings(backend: Pick<StateBackend, "getObject">, state: StateDocument): Promise<StateDocument> {
  const listings = new StateListings(backend);
  const steps: Record<string, StepRecord> = {};
  for (const [name, record] of Object.entries(state.steps)) {
    const files = record.files === undefined && record.filesRef !== undefined ? await listings.read(record.filesRef) : undefined;
    steps[name] = files ? { ...record, files: files.encode() } : record;
  }
  return { ...state, steps };
}

/** `state` as it is once stored: each inline listing replaced by its address (nothing is written). */
export function withoutInlineListings(state: StateDocument): StateDocument {
  const steps: Record<string, StepRecord> = {};
  for (const [name, record] of Object.entries(state.steps)) {
    if (record.files === undefined) steps[name] = record;
    else {
      const { files, ...rest } = record;
      steps[name] = { ...rest, filesRef: listingRef(files) };
    }
  }
  return { ...state, steps };
}

/**
 * Removes every object `state` does not refer to (and leftovers of killed object writes).
 * Only the lock holder calls it, after its last state write: no writer can be adding a
 * reference meanwhile. A `plan` reading the state just replaced may find an old listing gone:
 * it then explains a change as "recorded file listing is unavailable", never skips wrongly
 * (fingerprints decide, listings only explain). Returns how many objects were removed.
 */
export async function collectGarbage(backend: Pick<StateBackend, "listObjects" | "deleteObject">, state: StateDocument): Promise<number> {
  const kept = new Set<string>();
  for (const record of Object.values(state.steps)) if (record.filesRef !== undefined) kept.add(record.filesRef);
  let removed = 0;
  for (const hash of await backend.listObjects()) {
    if (kept.has(hash)) continue;
    await backend.deleteObject(hash);
    removed++;
  }
  return removed;
}
