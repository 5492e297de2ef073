import { nodeCrypto } from "../fingerprint/node-crypto.js";
import { readFileSync } from "node:fs";
import { open, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import type { LockInfo, StateLock } from "../contracts.js";
import { ErrorCode } from "../errors/error-codes.js";
import { ExitCode, StepwiseError } from "../errors/stepwise-error.js";

/** Facts about this process that go into a lock it takes. */
export function currentHolder(operation: string): Omit<LockInfo, "expiresAt" | "id"> {
  let user = "unknown";
  try {
    user = os.userInfo().username;
  } catch {
    user = process.env.USER ?? "unknown";
  }
  return { operation, pid: process.pid, host: os.hostname(), user, startedAt: new Date().toISOString(), pidStartTime: processStartTime(process.pid) };
}

/** Linux start time of a process (clock ticks since boot), to tell a reused pid from the holder. */
export function processStartTime(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return fields[19];
  } catch {
    return undefined;
  }
}

/**
 * Why a lock is stale, or `undefined` when its holder may still be running.
 * `provable` is true when the holder is certainly gone (its pid is dead on this host), so the
 * lock may be taken over without asking; an expired lock from another host is not provable.
 */
export function assessLock(info: LockInfo, now = Date.now()): { reason: string; provable: boolean } | undefined {
  if (info.host === os.hostname()) {
    if (!isAlive(info.pid)) return { reason: `its process ${info.pid} is no longer running on ${info.host}`, provable: true };
    const start = processStartTime(info.pid);
    if (info.pidStartTime && start && start !== info.pidStartTime) {
      return { reason: `process ${info.pid} on ${info.host} is a different process than the one that took the lock`, provable: true };
    }
  }
  if (Date.parse(info.expiresAt) < now) return { reason: `it expired at ${info.expiresAt} without being renewed`, provable: false };
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function describeHolder(info: LockInfo): string {
  return `pid ${info.pid} on host ${info.host} (user ${info.user}, ${info.operation} since ${info.startedAt})`;
}

export function lockedError(info: LockInfo, location: string): StepwiseError {
  return new StepwiseError(ErrorCode.StateLocked, `State is locked by ${describeHolder(info)}.`, {
    exitCode: ExitCode.Locked,
    location,
    hint: "wait for that run to finish; if it is gone, run: stepwise state unlock",
    details: { holder: info },
  });
}

export function staleLockError(info: LockInfo, reason: string, location: string): StepwiseError {
  return new StepwiseError(ErrorCode.StateLockStale, `State lock ${location} is stale: held by ${describeHolder(info)}, but ${reason}.`, {
    location,
    hint: "make sure that run is really gone, then: stepwise state unlock",
    details: { holder: info },
  });
}

/**
 * An exclusive lock file (`O_CREAT|O_EXCL`) holding {@link LockInfo}. A lock whose holder is
 * provably dead on this host is taken over (with `onStale` told why); an expired lock of
 * another host is refused as stale (exit 2); a live one is refused as held (exit 3).
 */
export class FileLock {
  constructor(
    private readonly file: string,
    private readonly onStale: (message: string) => void = () => {},
  ) {}

  async acquire(holder: Omit<LockInfo, "expiresAt" | "id">, ttlMs: number): Promise<StateLock> {
    const info: LockInfo = { id: nodeCrypto().randomUUID(), ...holder, expiresAt: new Date(Date.now() + ttlMs).toISOString() };
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const handle = await open(this.file, "wx", 0o644);
        try {
          await handle.writeFile(JSON.stringify(info, null, 2));
          await handle.sync();
        } finally {
          await handle.close();
        }
        return this.handleFor(info, ttlMs);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const current = await this.read();
      if (!current) {
        // Being written by its taker right now, or half-written by a crash: wait, then judge by age.
        if (await this.olderThan(this.file, 5000)) await unlink(this.file).catch(() => {});
        else await sleep(50);
        continue;
      }
      const stale = assessLock(current);
      if (!stale) throw lockedError(current, this.file);
      if (!stale.provable) throw staleLockError(current, stale.reason, this.file);
      if (await this.breakIfStill(current.id)) this.onStale(`Took over a stale state lock: ${stale.reason}.`);
      else await sleep(50);
    }
    const current = await this.read();
    if (current) throw lockedError(current, this.file);
    throw new StepwiseError(ErrorCode.StateLocked, `Could not take the state lock ${this.file}.`, { exitCode: ExitCode.Locked, hint: "run the command again" });
  }

  async read(): Promise<LockInfo | undefined> {
    try {
      const info = JSON.parse(await readFile(this.file, "utf8")) as LockInfo;
      return typeof info.id === "string" && typeof info.pid === "number" ? info : undefined;
    } catch {
      return undefined;
    }
  }

  /** Removes the lock whatever its holder; returns what was removed. */
  async forceUnlock(): Promise<LockInfo | undefined> {
    const current = await this.read();
    await unlink(this.file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
    return current;
  }

  /**
   * Removes the lock only if it still has `id`. A `.break` guard file makes two processes
   * that both saw the same stale lock take turns, so neither removes the other's fresh lock.
   */
  private async breakIfStill(id: string): Promise<boolean> {
    const guard = `${this.file}.break`;
    let handle;
    try {
      handle = await open(guard, "wx");
    } catch {
      if (await this.olderThan(guard, 10_000)) await unlink(guard).catch(() => {});
      return false;
    }
    try {
      const current = await this.read();
      if (current?.id !== id) return false;
      await unlink(this.file);
      return true;
    } finally {
      await handle.close();
      await unlink(guard).catch(() => {});
    }
  }

  private async olderThan(file: string, ms: number): Promise<boolean> {
    try {
      return Date.now() - (await stat(file)).mtimeMs > ms;
    } catch {
      return false;
    }
  }

  private handleFor(info: LockInfo, ttlMs: number): StateLock {
    let released = false;
    const self = this;
    const current = { ...info };
    return {
      get info() {
        return current;
      },
      async renew() {
        if (released) return;
        const onDisk = await self.read();
        if (onDisk?.id !== current.id) {
          throw new StepwiseError(ErrorCode.StateLocked, `The state lock ${self.file} was broken by someone else during this run.`, {
            exitCode: ExitCode.Locked,
            hint: "check who ran `stepwise state unlock`; then run again",
          });
        }
        current.expiresAt = new Date(Date.now() + ttlMs).toISOString();
        const temp = `${self.file}.${process.pid}.renew`;
        await writeFile(temp, JSON.stringify(current, null, 2));
        await rename(temp, self.file);
      },
      async release() {
        if (released) return;
        released = true;
        const onDisk = await self.read();
        if (onDisk?.id === current.id) await unlink(self.file).catch(() => {});
      },
    };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
