import { lstatSync } from "node:fs";
import path from "node:path";
import { readContentIds } from "./hash-pool.js";
import { type FileIdRow, readFileIds, writeFileIds } from "../cache/file-ids-cache.js";
import { statLine } from "../cache/stat-line.js";

/**
 * Files whose mtime or ctime is this close to the moment they were hashed are not cached
 * (git's "racily clean" entries): an edit in the same clock tick as the hashing, or on a file
 * system with coarse timestamps, cannot be missed.
 */
export const RACY_WINDOW_MS = 2000;

/**
 * Content ids of site files with a stat cache (size, mtime, ctime, inode), as git's index
 * keeps: a file whose stat is unchanged is not read again. Stored as one compact binary file
 * (`.stepwise/cache/file-ids.bin`, about 75 bytes a file, checksummed: see file-ids-cache.ts),
 * read and written whole; losing or damaging it only costs time.
 */
export class FileHashCache {
  private rows = new Map<string, FileIdRow>();
  private readonly used = new Set<string>();
  private dirty = false;
  private loaded = false;

  constructor(
    private readonly siteDir: string,
    private readonly cacheFile: string,
  ) {}

  /** Rows held (files cached with their stat). */
  get size(): number {
    return this.rows.size;
  }

  async load(): Promise<void> {
    this.loadSync();
  }

  loadSync(): void {
    if (this.loaded) return;
    this.loaded = true;
    this.rows = readFileIds(this.cacheFile) ?? new Map(); // none, or unreadable: start over
  }

  /**
   * Content ids of `files` (site-relative POSIX paths), in order; `undefined` for a file that
   * is not there. Files whose stat matches the cache are not read; the others are read and
   * hashed, in worker threads when there are many.
   */
  async readIds(files: readonly string[]): Promise<(string | undefined)[]> {
    this.loadSync();
    const ids: (string | undefined)[] = new Array(files.length);
    const misses: number[] = [];
    let expectedBytes = 0;
    for (let i = 0; i < files.length; i++) {
      const file = files[i]!;
      this.used.add(file);
      const row = this.rows.get(file);
      if (!row) {
        misses.push(i);
        continue;
      }
      const stat = lstatSync(this.absolute(file), { throwIfNoEntry: false });
      if (stat && stat.size === row.size && stat.mtimeMs === row.mtimeMs && stat.ctimeMs === row.ctimeMs && stat.ino === row.ino) {
        ids[i] = row.id;
        continue;
      }
      if (stat) expectedBytes += stat.size;
      misses.push(i);
    }
    if (misses.length === 0) return ids;
    const startedAt = Date.now();
    const reads = await readContentIds(
      misses.map((i) => this.absolute(files[i]!)),
      { expectedBytes },
    );
    this.dirty = true;
    const racyAfter = startedAt - RACY_WINDOW_MS;
    for (let k = 0; k < misses.length; k++) {
      const file = files[misses[k]!]!;
      const read = reads[k];
      ids[misses[k]!] = read?.id;
      if (read && read.mtimeMs < racyAfter && read.ctimeMs < racyAfter) {
        this.rows.set(file, { size: read.size, mtimeMs: read.mtimeMs, ctimeMs: read.ctimeMs, ino: read.ino, id: read.id });
      } else {
        this.rows.delete(file);
      }
    }
    return ids;
  }

  /**
   * The stat this cache holds for `file` with its content id, as a {@link statLine}, or
   * undefined: not read, gone, or changed too recently to be kept (racy).
   */
  statOf(file: string): string | undefined {
    const row = this.rows.get(file);
    return row && statLine(row);
  }

  /** The {@link statLine} of the file on disk now. */
  currentStat(file: string): string {
    return statLine(lstatSync(this.absolute(file), { throwIfNoEntry: false }));
  }

  /**
   * Writes the cache if anything changed, keeping only the files asked about since it was
   * loaded (atomic rename).
   */
  saveSync(): void {
    for (const file of this.rows.keys()) {
      if (!this.used.has(file)) {
        this.rows.delete(file);
        this.dirty = true;
      }
    }
    if (!this.dirty) return;
    writeFileIds(this.cacheFile, this.rows);
    this.dirty = false;
  }

  /** Plain concatenation: `file` is already a normalised relative path, and path.join's normalising costs microseconds a file. */
  private absolute(file: string): string {
    return this.siteDir.endsWith(path.sep) ? this.siteDir + file : this.siteDir + path.sep + file;
  }
}
