import type { StateLock } from "../contracts.js";
import { trace } from "../log/trace.js";

/** A lock not renewed for SITE_LOCK_TTL_MS is stale: a run renews it well before that. */
export const LOCK_RENEW_MS = 30_000;

/** What holding the run lock needs of the session (SiteSession has it). */
export interface RunLockHolder {
  lockSite(operation: string): Promise<StateLock>;
  /** Stops the run: running steps are aborted through their signal. */
  interrupt(reason: string): void;
}

export interface HeldLock {
  /** Throws the renewal's error when the lock was lost while the run held it. */
  assertHeld(): void;
}

/**
 * Runs `work` holding the site lock for `operation`, renewed every `renewMs`. A renewal that
 * fails (the lock was broken or taken over) interrupts the run, and {@link HeldLock.assertHeld}
 * throws its error. The lock is released however `work` ends.
 */
export async function withRunLock<T>(holder: RunLockHolder, operation: string, work: (lock: HeldLock) => Promise<T>, renewMs = LOCK_RENEW_MS): Promise<T> {
  const lock = await holder.lockSite(operation);
  trace("state locked");
  let lockLost: unknown;
  const renewal = setInterval(() => {
    lock.renew().catch((error: unknown) => {
      lockLost = error;
      holder.interrupt("the state lock was lost");
    });
  }, renewMs);
  renewal.unref();
  try {
    return await work({
      assertHeld() {
        if (lockLost) throw lockLost;
      },
    });
  } finally {
    clearInterval(renewal);
    await lock.release().catch(() => {});
  }
}
