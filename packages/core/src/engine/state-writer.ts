import type { StateBackend, StateDocument } from "../contracts.js";
import { CORE_VERSION } from "../version.js";
import { journalHeader, journalRecord } from "../state/state-journal.js";
import { storeInlineListing, storeInlineListings } from "../state/state-listings.js";

/**
 * Records one run's state, one operation at a time in the order they were asked for:
 * - {@link record} appends a step's record to the run journal (one small durable line);
 * - {@link save} writes the whole document (the fold: it also clears the journal),
 *   compare-and-swap on the etag the previous write returned: a document someone else
 *   changed meanwhile is never overwritten (the backend's `STATE_CONFLICT`).
 * Once an operation fails, it and every later one reject with that error, so a run never goes
 * on recording over a lost write.
 */
export class StateWriter {
  private saving: Promise<unknown> = Promise.resolve();
  /** Records appended since the last write (the journal holds them). */
  private journalled = 0;

  constructor(
    private readonly backend: StateBackend,
    /** The document the run changes in place; each operation uses it as it is when its turn comes. */
    readonly state: StateDocument,
    private etag: string | undefined,
    private readonly siteName: string,
  ) {}

  /** Whether records were journalled since the last write: the run must {@link save} before it ends. */
  get unsaved(): boolean {
    return this.journalled > 0;
  }

  /**
   * Queues the journalling of `step`'s record as it is in {@link state}: a new file listing goes
   * to the object store first. The first record after a write starts the journal with the
   * state it continues; a state never written yet is written first, so a journal always
   * continues a state that exists.
   */
  record(step: string): Promise<unknown> {
    this.saving = this.saving.then(async () => {
      if (this.etag === undefined) await this.writeNow();
      const record = this.state.steps[step];
      if (!record) return;
      await storeInlineListing(this.backend, record);
      if (this.journalled === 0) await this.backend.appendJournal(journalHeader(this.state));
      await this.backend.appendJournal(journalRecord(step, record));
      this.journalled += 1;
    });
    return this.saving;
  }

  /** Queues a write: bumps `serial`, stamps `updatedAt`, `writtenBy` and `site`, and writes. */
  save(): Promise<unknown> {
    this.saving = this.saving.then(() => this.writeNow());
    return this.saving;
  }

  private async writeNow(): Promise<void> {
    const state = this.state;
    state.serial += 1;
    state.updatedAt = new Date().toISOString();
    state.writtenBy = CORE_VERSION;
    state.site = this.siteName;
    // Objects first: a written state never refers to a listing that is not stored.
    await storeInlineListings(this.backend, state);
    this.etag = (await this.backend.write(state, this.etag)).etag;
    this.journalled = 0;
  }

  /** Waits for every queued operation (rejects as the failed one did). */
  settled(): Promise<unknown> {
    return this.saving;
  }
}
