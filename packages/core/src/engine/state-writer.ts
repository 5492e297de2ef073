import type { StateBackend, StateDocument } from "../contracts.js";
import { CORE_VERSION } from "../version.js";
import { storeInlineListings } from "../state/state-listings.js";

/**
 * Writes one run's state document, one save at a time in the order they were asked for, each
 * a compare-and-swap on the etag the previous write returned: a document someone else changed
 * meanwhile is never overwritten (the backend's `STATE_CONFLICT`). Once a save fails, it and
 * every later one reject with that error, so a run never goes on recording over a lost write.
 */
export class StateWriter {
  private saving: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly backend: StateBackend,
    /** The document the run changes in place; each save writes it as it is when its turn comes. */
    readonly state: StateDocument,
    private etag: string | undefined,
    private readonly siteName: string,
  ) {}

  /** Queues a save: bumps `serial`, stamps `updatedAt`, `writtenBy` and `site`, and writes. */
  save(): Promise<unknown> {
    this.saving = this.saving.then(async () => {
      const state = this.state;
      state.serial += 1;
      state.updatedAt = new Date().toISOString();
      state.writtenBy = CORE_VERSION;
      state.site = this.siteName;
      // Objects first: a written state never refers to a listing that is not stored.
      await storeInlineListings(this.backend, state);
      this.etag = (await this.backend.write(state, this.etag)).etag;
    });
    return this.saving;
  }

  /** Waits for every queued save (rejects as the failed one did). */
  settled(): Promise<unknown> {
    return this.saving;
  }
}
