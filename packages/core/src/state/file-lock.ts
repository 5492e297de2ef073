import { nodeCrypto } from "../fingerprint/node-crypto.js";
import { readFileSync } from "node:fs";
import { link, open, readdir, rename, stat, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { isAlive } from "./process-alive.js";
import type { FoundLock, JsonObject, LockInfo, LockWaitOptions, StateLock } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import type { StepwiseError } from "../errors/stepwise-error.js";

/**
 * How long a lock file may be unreadable (empty, half-written) before it counts as abandoned.
 * Older versions created it and wrote it in two system calls; a kill -9 between them left it
 * empty. This version never shows an unwritten lock (see {@link FileLock}).
 */
export const UNREADABLE_LOCK_GRACE_MS = 3000;
/** How long a taker waits for a {@link LockInfo.brief} holder before refusing (exit 3). */
export const BRIEF_HOLDER_WAIT_MS = 5000;
const POLL_MS = 60;
/** How often a taker waiting with `--lock-wait` looks again. */
export const LOCK_WAIT_POLL_MS = 250;

/**
 * Whether a taker that found the live holder `info` keeps waiting (a brief holder for
 * {@link BRIEF_HOLDER_WAIT_MS}, anyone for `options.waitMs`), telling `options.onWait` once per
 * holder. Shared by every backend's lock.
 */
export class LockWaiter {
  private readonly started = Date.now();
  private toldAbout: string | undefined;

  constructor(private readonly options: LockWaitOptions = {}) {}

  /** The latest moment a taker keeps trying at all. */
  get deadline(): number {
    return this.started + Math.max(BRIEF_HOLDER_WAIT_MS + UNREADABLE_LOCK_GRACE_MS + 2000, this.options.waitMs ?? 0);
  }

  /** How long to sleep before trying again, or undefined to refuse now. */
  waitFor(info: LockInfo): number | undefined {
    const waited = Date.now() - this.started;
    if (info.brief && waited < BRIEF_HOLDER_WAIT_MS) return POLL_MS;
    if (this.options.waitMs === undefined || waited >= this.options.waitMs) return undefined;
    if (this.toldAbout !== info.id) {
      this.toldAbout = info.id;
      this.options.onWait?.(describeHolder(info));
    }
    return LOCK_WAIT_POLL_MS;
  }
}

/** Facts about this process that go into a lock it takes. */
export function currentHolder(operation: string, options: { brief?: boolean } = {}): Omit<LockInfo, "expiresAt" | "id"> {
  let user = "unknown";
  try {
    user = os.userInfo().username;
  } catch {
    user = process.env.USER ?? "unknown";
  }
  return {
    operation,
    pid: process.pid,
    host: os.hostname(),
    user,
    startedAt: new Date().toISOString(),
    pidStartTime: processStartTime(process.pid),
    ...(options.brief ? { brief: true } : {}),
  };
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

export function describeHolder(info: LockInfo): string {
  return `pid ${info.pid} on host ${info.host} (user ${info.user}, ${info.operation} since ${info.startedAt})`;
}

/** One line for any lock as found, the same in every command (status, state unlock, errors, warnings). */
export function describeFoundLock(found: FoundLock): string {
  if ("unreadable" in found) return found.stale ? `${found.unreadable}; ${found.stale}` : `${found.unreadable}, which its creator may be writing right now`;
  return `${describeHolder(found)}${found.stale ? `; stale: ${found.stale}` : ""}`;
}

export function lockedError(info: LockInfo, location: string): StepwiseError {
  return errors.stateLocked(location, describeHolder(info), { holder: info as unknown as JsonObject });
}

export function staleLockError(info: LockInfo, reason: string, location: string): StepwiseError {
  return errors.stateLockStale(location, describeHolder(info), reason, { holder: info as unknown as JsonObject });
}

/** What is in the lock file, with the file's identity so a takeover removes only what was judged. */
type Examined =
  | { kind: "held"; info: LockInfo; identity: string }
  | { kind: "unreadable"; found: { unreadable: string; stale?: string }; identity: string };

/**
 * An exclusive lock file holding {@link LockInfo}. It appears complete or not at all: the
 * record is written to a temp file that is then hard-linked to the lock's name (`link` fails
 * with EEXIST when the lock exists: `O_EXCL` with content). A lock whose holder is provably
 * dead on this host is taken over (with `onStale` told why), as is an unreadable lock older
 * than {@link UNREADABLE_LOCK_GRACE_MS}; an expired lock of another host is refused as stale
 * (exit 2); a live one is refused as held (exit 3), after waiting up to
 * {@link BRIEF_HOLDER_WAIT_MS} when its holder is brief.
 */
export class FileLock {
  private readonly label: string;

  constructor(
    private readonly file: string,
    private readonly onStale: (message: string) => void = () => {},
    /** How messages name the lock file (e.g. relative to the site). */
    label?: string,
  ) {
    this.label = label ?? file;
  }

  async acquire(holder: Omit<LockInfo, "expiresAt" | "id">, ttlMs: number, options: LockWaitOptions = {}): Promise<StateLock> {
    const info: LockInfo = { id: nodeCrypto().randomUUID(), ...holder, expiresAt: new Date(Date.now() + ttlMs).toISOString() };
    const waiter = new LockWaiter(options);
    // Long enough to outwait an unreadable lock's grace, a brief holder and --lock-wait; then refuse, never spin.
    const giveUpAt = waiter.deadline;
    let last: Examined | undefined;
    while (Date.now() < giveUpAt) {
      if (await this.create(info)) {
        await this.removeLeftovers();
        return this.handleFor(info, ttlMs);
      }
      last = await this.examine();
      if (!last) continue; // released in between: try again
      if (last.kind === "unreadable") {
        if (!last.found.stale) await sleep(POLL_MS);
        else await this.takeOver(last, `found ${last.found.unreadable}; ${last.found.stale}`);
        continue;
      }
      const stale = assessLock(last.info);
      if (!stale) {
        const pause = waiter.waitFor(last.info);
        if (pause === undefined) throw lockedError(last.info, this.file);
        await sleep(pause);
        continue;
      }
      if (!stale.provable) throw staleLockError(last.info, stale.reason, this.file);
      await this.takeOver(last, stale.reason);
    }
    if (last?.kind === "held") throw lockedError(last.info, this.file);
    throw errors.stateLockBusy(this.label, last?.kind === "unreadable" ? last.found.unreadable : undefined);
  }

  /** The lock as found, judged: a holder (stale or not), or an unreadable file (stale after its grace). */
  async inspect(): Promise<FoundLock | undefined> {
    const examined = await this.examine();
    if (!examined) return undefined;
    if (examined.kind === "unreadable") return examined.found;
    const stale = assessLock(examined.info);
    return stale ? { ...examined.info, stale: stale.reason } : examined.info;
  }

  /** The holder, when the lock file exists and holds a readable record. */
  async read(): Promise<LockInfo | undefined> {
    const examined = await this.examine();
    return examined?.kind === "held" ? examined.info : undefined;
  }

  /** Removes the lock whatever it holds; returns what was removed. */
  async forceUnlock(): Promise<FoundLock | undefined> {
    const found = await this.inspect();
    await unlink(this.file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
    return found;
  }

  /** Creates the lock with its content in one step; false when it exists. */
  private async create(info: LockInfo): Promise<boolean> {
    const temp = `${this.file}.${process.pid}.${nodeCrypto().randomBytes(4).toString("hex")}.new`;
    const handle = await open(temp, "wx", 0o644);
    try {
      await handle.writeFile(JSON.stringify(info, null, 2));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, this.file);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return false;
      // A file system without hard links: exclusive create, then write (two steps, as before).
      if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "ENOSYS") return this.createInTwoSteps(info);
      throw error;
    } finally {
      await unlink(temp).catch(() => {});
    }
  }

  private async createInTwoSteps(info: LockInfo): Promise<boolean> {
    let handle;
    try {
      handle = await open(this.file, "wx", 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
    try {
      await handle.writeFile(JSON.stringify(info, null, 2));
      await handle.sync();
    } finally {
      await handle.close();
    }
    return true;
  }

  private async examine(): Promise<Examined | undefined> {
    let handle;
    try {
      handle = await open(this.file, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw errors.stateLockNotAFile(this.label, stats.isDirectory() ? "a directory" : "not a regular file");
      const text = await handle.readFile("utf8");
      const identity = `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
      const info = parseLockInfo(text);
      if (info) return { kind: "held", info, identity };
      const what = text.trim() === "" ? `empty lock file ${this.label}` : `unreadable lock file ${this.label} (${stats.size} bytes that are not a lock record)`;
      const age = Date.now() - stats.mtimeMs;
      if (age < UNREADABLE_LOCK_GRACE_MS) return { kind: "unreadable", found: { unreadable: what }, identity };
      const when = new Date(stats.mtimeMs).toISOString();
      const stale =
        text.trim() === ""
          ? `it was created at ${when} and its holder was never written: a process was killed while taking the lock`
          : `it was last written at ${when} and names no holder, so no run can be holding it`;
      return { kind: "unreadable", found: { unreadable: what, stale }, identity };
    } finally {
      await handle.close();
    }
  }

  private async takeOver(judged: Examined, reason: string): Promise<void> {
    if (await this.breakIfStill(judged.identity)) this.onStale(`Took over a stale state lock: ${reason}.`);
    else await sleep(POLL_MS);
  }

  /**
   * Removes the lock only if it is still the file that was judged. A `.break` guard file makes
   * two processes that both saw the same stale lock take turns, so neither removes the
   * other's fresh lock.
   */
  private async breakIfStill(identity: string): Promise<boolean> {
    const guard = `${this.file}.break`;
    let handle;
    try {
      handle = await open(guard, "wx");
    } catch {
      if (await olderThan(guard, 10_000)) await unlink(guard).catch(() => {});
      return false;
    }
    try {
      if ((await this.examine())?.identity !== identity) return false;
      await unlink(this.file);
      return true;
    } finally {
      await handle.close();
      await unlink(guard).catch(() => {});
    }
  }

  /** Temp files of lock writes (`.new`, `.renew`) whose process was killed before it removed them. */
  private async removeLeftovers(): Promise<void> {
    const dir = path.dirname(this.file);
    const base = path.basename(this.file);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.startsWith(`${base}.`)) continue;
      const pid = /^\.(\d+)\.(?:[0-9a-f]+\.new|renew)$/.exec(name.slice(base.length))?.[1];
      if (pid && !isAlive(Number(pid))) await unlink(path.join(dir, name)).catch(() => {});
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
          throw errors.stateLockBroken(self.file);
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

/** A lock record, or `undefined` for anything that does not name its holder completely. */
function parseLockInfo(text: string): LockInfo | undefined {
  let info: Partial<LockInfo>;
  try {
    info = JSON.parse(text) as Partial<LockInfo>;
  } catch {
    return undefined;
  }
  if (info === null || typeof info !== "object") return undefined;
  const named = (["id", "operation", "host", "user", "startedAt", "expiresAt"] as const).every((key) => typeof info[key] === "string");
  return named && Number.isSafeInteger(info.pid) && info.pid! > 0 ? (info as LockInfo) : undefined;
}

async function olderThan(file: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(file)).mtimeMs > ms;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
