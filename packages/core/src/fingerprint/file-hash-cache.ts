import { lstatSync, readFileSync } from "node:fs";
import path from "node:path";
import { readContentIds } from "./hash-pool.js";
import { SYMLINK_PREFIX } from "./hash-worker.js";
import { replaceCacheFileSync } from "../files/write-file-atomically.js";

/**
 * Files whose mtime or ctime is this close to the moment they were hashed are not cached
 * (git's "racily clean" entries): an edit in the same clock tick as the hashing, or on a file
 * system with coarse timestamps, cannot be missed.
 */
export const RACY_WINDOW_MS = 2000;

const MAGIC = 0x43465753; // "SWFC" little-endian
const FORMAT_VERSION = 2;
const HEADER_BYTES = 12;
const ID_BYTES = 20;
/** Per row after the path: kind (1), size, mtimeMs, ctimeMs, ino (4 x f64), id (20). */
const ROW_FIXED_BYTES = 2 + 1 + 32 + ID_BYTES;

interface CacheRow {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  /** Content id as the fingerprint records it (hex, `symlink:` prefixed for links). */
  id: string;
}

/**
 * Content ids of site files with a stat cache (size, mtime, ctime, inode), as git's index
 * keeps: a file whose stat is unchanged is not read again. Stored as one compact binary file
 * (about 70 bytes a file), read and written whole; losing it only costs time.
 */
export class FileHashCache {
  private readonly rows = new Map<string, CacheRow>();
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
    let data: Buffer;
    try {
      data = readFileSync(this.cacheFile);
    } catch {
      return; // no cache yet
    }
    try {
      this.decode(data);
    } catch {
      this.rows.clear(); // unreadable: start over
    }
  }

  private decode(data: Buffer): void {
    if (data.length < HEADER_BYTES || data.readUInt32LE(0) !== MAGIC || data.readUInt32LE(4) !== FORMAT_VERSION) return;
    const count = data.readUInt32LE(8);
    let at = HEADER_BYTES;
    for (let i = 0; i < count; i++) {
      const length = data.readUInt16LE(at);
      const file = data.toString("utf8", at + 2, at + 2 + length);
      at += 2 + length;
      const symlink = data[at] === 1;
      const row: CacheRow = {
        size: data.readDoubleLE(at + 1),
        mtimeMs: data.readDoubleLE(at + 9),
        ctimeMs: data.readDoubleLE(at + 17),
        ino: data.readDoubleLE(at + 25),
        id: (symlink ? SYMLINK_PREFIX : "") + data.toString("hex", at + 33, at + 33 + ID_BYTES),
      };
      at += ROW_FIXED_BYTES - 2;
      if (at > data.length) throw new Error("truncated stat cache");
      this.rows.set(file, row);
    }
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
   * The stat this cache holds for `file` with its content id (`<size> <mtimeMs> <ctimeMs> <ino>`),
   * or undefined: not read, gone, or changed too recently to be kept (racy).
   */
  statOf(file: string): string | undefined {
    const row = this.rows.get(file);
    return row && statText(row);
  }

  /** The same line for the file on disk now (`-` when it is not there). */
  currentStat(file: string): string {
    const stat = lstatSync(this.absolute(file), { throwIfNoEntry: false });
    return stat ? statText(stat) : "-";
  }

  /** Content id of each file; a missing file maps to `missing`. */
  async hashFiles(files: readonly string[]): Promise<Map<string, string>> {
    const ids = await this.readIds(files);
    return new Map(files.map((file, i) => [file, ids[i] ?? "missing"]));
  }

  /**
   * Writes the cache if anything changed, keeping only the files asked about since it was
   * loaded (atomic rename).
   */
  async save(): Promise<void> {
    this.saveSync();
  }

  saveSync(): void {
    for (const file of this.rows.keys()) {
      if (!this.used.has(file)) {
        this.rows.delete(file);
        this.dirty = true;
      }
    }
    if (!this.dirty) return;
    const paths: Buffer[] = [];
    let total = HEADER_BYTES;
    for (const file of this.rows.keys()) {
      const bytes = Buffer.from(file, "utf8");
      paths.push(bytes);
      total += ROW_FIXED_BYTES + bytes.length;
    }
    const data = Buffer.allocUnsafe(total);
    data.writeUInt32LE(MAGIC, 0);
    data.writeUInt32LE(FORMAT_VERSION, 4);
    data.writeUInt32LE(this.rows.size, 8);
    let at = HEADER_BYTES;
    let i = 0;
    for (const row of this.rows.values()) {
      const bytes = paths[i++]!;
      data.writeUInt16LE(bytes.length, at);
      bytes.copy(data, at + 2);
      at += 2 + bytes.length;
      const symlink = row.id.startsWith(SYMLINK_PREFIX);
      data[at] = symlink ? 1 : 0;
      data.writeDoubleLE(row.size, at + 1);
      data.writeDoubleLE(row.mtimeMs, at + 9);
      data.writeDoubleLE(row.ctimeMs, at + 17);
      data.writeDoubleLE(row.ino, at + 25);
      data.write(symlink ? row.id.slice(SYMLINK_PREFIX.length) : row.id, at + 33, ID_BYTES, "hex");
      at += ROW_FIXED_BYTES - 2;
    }
    replaceCacheFileSync(this.cacheFile, data);
    this.dirty = false;
  }

  /** Plain concatenation: `file` is already a normalised relative path, and path.join's normalising costs microseconds a file. */
  private absolute(file: string): string {
    return this.siteDir.endsWith(path.sep) ? this.siteDir + file : this.siteDir + path.sep + file;
  }
}

/** The stat fields the cache keys a file by, as one line: a cached row and a fresh lstat give equal lines for an unchanged file. */
function statText(stat: { size: number; mtimeMs: number; ctimeMs: number; ino: number }): string {
  return `${stat.size} ${stat.mtimeMs} ${stat.ctimeMs} ${stat.ino}`;
}
