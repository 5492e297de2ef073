import { mkdirSync, readFileSync } from "node:fs";
import { copyFile, open, readdir, readFile, stat, unlink } from "node:fs/promises";
import { witnessFile } from "../cache/plan-memo.js";
import path from "node:path";
import { trace } from "../log/trace.js";
import { writeFileAtomically } from "../files/write-file-atomically.js";
import { removeAtomicWriteLeftovers } from "../files/write-leftovers.js";
import type { BackendContext, FoundLock, JsonObject, LockInfo, LockWaitOptions, StateBackend, StateDocument, StateLock, StateVersion } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { sha256 } from "../fingerprint/compute-input-fingerprint.js";
import { FileLock } from "./file-lock.js";
import { parseState } from "./state-document.js";
import { STATE_HISTORY_KEEP, refuseMigrated } from "./state-migrated.js";

export const STATE_DIR = ".stepwise";

const OBJECT_HASH = /^[0-9a-f]{64}$/;

async function readdirQuietly(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

export interface FileStateBackendOptions {
  /** State file, relative to the site. Default `.stepwise/state.json`. */
  path?: string;
  /** Told when a provably stale lock is taken over. */
  onStaleLock?: (message: string) => void;
}

/**
 * The default state backend: `.stepwise/state.json` next to the site.
 * - Writes are atomic (temp file + fsync + rename): a crash leaves the old or the new file.
 * - Writes are compare-and-swap on a sha256 of the file's bytes.
 * - The lock is `.stepwise/state.lock` (see {@link FileLock}).
 * - The run journal is `.stepwise/journal.jsonl` (one appended, fsync'd line per record).
 * - Objects (file listings) are `.stepwise/objects/<first 2 hex digits>/<other 62>`, each
 *   written once, atomically; rewritten only when its bytes no longer match its name.
 * - Each write first copies the document it replaces to `.stepwise/history/state-<serial>.json`
 *   (the last {@link STATE_HISTORY_KEEP} are kept) for `state history` / `state restore`.
 */
export class FileStateBackend implements StateBackend {
  readonly description: string;
  readonly address: string;
  private readonly file: string;
  private readonly lockFile: FileLock;
  private readonly objectsDir: string;
  private readonly journalFile: string;
  private readonly historyDir: string;

  constructor(siteDir: string, options: FileStateBackendOptions = {}) {
    this.file = path.resolve(siteDir, options.path ?? path.join(STATE_DIR, "state.json"));
    this.description = `file ${path.relative(siteDir, this.file)}`;
    this.address = `file:${path.relative(siteDir, this.file)}`;
    const lockFile = this.file.replace(/\.json$/, "") + ".lock";
    this.lockFile = new FileLock(lockFile, options.onStaleLock, path.relative(siteDir, lockFile));
    this.objectsDir = path.join(path.dirname(this.file), "objects");
    this.journalFile = path.join(path.dirname(this.file), "journal.jsonl");
    this.historyDir = path.join(path.dirname(this.file), "history");
  }

  /** `state-<serial>.json` files of the history directory, newest (highest serial) first. */
  private async historyFiles(): Promise<{ name: string; serial: number }[]> {
    const found: { name: string; serial: number }[] = [];
    for (const name of await readdirQuietly(this.historyDir)) {
      const serial = /^state-(\d+)\.json$/.exec(name)?.[1];
      if (serial !== undefined) found.push({ name, serial: Number(serial) });
    }
    return found.sort((a, b) => b.serial - a.serial);
  }

  async history(): Promise<StateVersion[]> {
    const versions: StateVersion[] = [];
    for (const { name, serial } of await this.historyFiles()) {
      const keptAt = (await stat(path.join(this.historyDir, name)).catch(() => undefined))?.mtime.toISOString() ?? "";
      versions.push({ id: name, serial, keptAt });
    }
    return versions;
  }

  async readVersion(id: string): Promise<StateDocument> {
    if (!/^state-\d+\.json$/.test(id)) throw errors.stateVersionUnknown(this.description, id, (await this.historyFiles()).length);
    const file = path.join(this.historyDir, id);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      throw errors.stateVersionUnknown(this.description, id, (await this.historyFiles()).length);
    }
    return parseState(text, file);
  }

  /** Keeps the document about to be replaced (`text`, serial `serial`), then drops the oldest beyond the limit. */
  private async keepPrevious(serial: number): Promise<void> {
    mkdirSync(this.historyDir, { recursive: true, mode: 0o700 });
    await copyFile(this.file, path.join(this.historyDir, `state-${serial}.json`));
    for (const old of (await this.historyFiles()).slice(STATE_HISTORY_KEEP)) await unlink(path.join(this.historyDir, old.name)).catch(() => {});
  }

  async appendJournal(line: string): Promise<void> {
    mkdirSync(path.dirname(this.journalFile), { recursive: true, mode: 0o700 });
    // One write of the whole line with O_APPEND, then fsync: a crash tears at most the last line.
    const handle = await open(this.journalFile, "a", 0o644);
    try {
      await handle.write(`${line}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async readJournal(): Promise<string | undefined> {
    witnessFile(this.journalFile);
    try {
      // Synchronous, as read(): a plan's other reads keep the thread pool busy, and this one is usually an ENOENT.
      return readFileSync(this.journalFile, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw errors.stateCorrupt(this.journalFile, (error as Error).message);
    }
  }

  async clearJournal(): Promise<void> {
    await unlink(this.journalFile).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
  }

  private objectFile(hash: string): string {
    if (!OBJECT_HASH.test(hash)) throw errors.stateObjectName(hash);
    return path.join(this.objectsDir, hash.slice(0, 2), hash.slice(2));
  }

  async putObject(hash: string, bytes: Uint8Array): Promise<void> {
    const file = this.objectFile(hash);
    const existing = await this.getObject(hash);
    if (existing !== undefined && sha256(existing) === hash) return;
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomically(file, Buffer.from(bytes), { fsync: true, mode: 0o644 });
  }

  async getObject(hash: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.objectFile(hash));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  async listObjects(): Promise<string[]> {
    const hashes: string[] = [];
    for (const prefix of await readdirQuietly(this.objectsDir)) {
      for (const rest of await readdirQuietly(path.join(this.objectsDir, prefix))) hashes.push(prefix + rest);
    }
    return hashes;
  }

  async deleteObject(hash: string): Promise<void> {
    // A name that is no hash (a temp file a killed write left) is removed as well.
    const file = path.join(this.objectsDir, hash.slice(0, 2), hash.slice(2));
    await unlink(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
  }

  async read(options: { allowMigrated?: boolean } = {}): Promise<{ state: StateDocument | undefined; etag: string | undefined }> {
    let bytes: Buffer;
    witnessFile(this.file);
    try {
      // One read: the promise API reads a megabyte-sized state in 512 KiB rounds on the thread pool.
      bytes = readFileSync(this.file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { state: undefined, etag: undefined };
      throw errors.stateCorrupt(this.file, (error as Error).message);
    }
    trace("state file read");
    const state = parseState(bytes.toString("utf8"), this.file);
    trace("state parsed");
    refuseMigrated(state, this.description, options.allowMigrated);
    // The etag is hashed when asked for: a plan never writes, so it never needs one.
    let etag: string | undefined;
    return {
      state,
      get etag() {
        return (etag ??= sha256(bytes));
      },
    };
  }

  async write(state: StateDocument, etag: string | undefined): Promise<{ etag: string }> {
    let current: string | undefined;
    try {
      current = await readFile(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const currentEtag = current === undefined ? undefined : sha256(current);
    if (currentEtag !== etag) throw errors.stateConflict(this.file);
    const text = `${JSON.stringify(state, null, 2)}\n`;
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    if (current !== undefined) await this.keepPrevious(serialOf(current));
    await writeFileAtomically(this.file, text, { fsync: true, mode: 0o644 });
    await this.clearJournal();
    return { etag: sha256(text) };
  }

  async lock(info: Omit<LockInfo, "expiresAt" | "id">, ttlMs: number, options?: LockWaitOptions): Promise<StateLock> {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const lock = await this.lockFile.acquire(info, ttlMs, options);
    // Whoever holds the lock is the only writer of the state file, so its temp files are leftovers.
    removeAtomicWriteLeftovers([this.file]);
    return lock;
  }

  inspectLock(): Promise<FoundLock | undefined> {
    return this.lockFile.inspect();
  }

  forceUnlock(): Promise<FoundLock | undefined> {
    return this.lockFile.forceUnlock();
  }
}

/** The serial of a stored document's text (0 when it names none: only its history file name uses it). */
function serialOf(text: string): number {
  const serial = /"serial":\s*(\d+)/.exec(text)?.[1];
  return serial === undefined ? 0 : Number(serial);
}

export function createFileStateBackend(options: JsonObject, ctx: BackendContext): StateBackend {
  return new FileStateBackend(ctx.siteDir, { path: typeof options.path === "string" ? options.path : undefined, onStaleLock: (message) => ctx.warn(message) });
}
