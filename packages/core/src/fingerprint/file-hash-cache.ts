import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";

/** Files whose mtime is this close to the moment they were hashed are not cached (git's "racy clean"). */
const RACY_WINDOW_MS = 1000;
const CACHE_VERSION = 1;
const STREAM_THRESHOLD = 32 * 1024 * 1024;
const READ_CONCURRENCY = 16;

type CacheRow = [size: number, mtimeMs: number, ctimeMs: number, ino: number, hash: string];

interface CacheFile {
  version: number;
  files: Record<string, CacheRow>;
}

/**
 * Content hashes of site files with a stat cache (size, mtime, ctime, inode), as git's index
 * keeps: a file whose stat is unchanged is not read again. A file is cached only when it
 * was last modified well before it was hashed, so an edit in the same clock tick as the
 * hashing cannot be missed.
 */
export class FileHashCache {
  private readonly rows = new Map<string, CacheRow>();
  private dirty = false;
  private loaded = false;

  constructor(
    private readonly siteDir: string,
    private readonly cacheFile: string,
  ) {}

  async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    try {
      const parsed = JSON.parse(await readFile(this.cacheFile, "utf8")) as CacheFile;
      if (parsed.version !== CACHE_VERSION) return;
      for (const [file, row] of Object.entries(parsed.files)) this.rows.set(file, row);
    } catch {
      // No cache, or an unreadable one: it is only a cache.
    }
  }

  /** sha256 of each file (relative POSIX paths); a missing file maps to `missing`. */
  async hashFiles(files: readonly string[]): Promise<Map<string, string>> {
    await this.load();
    const result = new Map<string, string>();
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const file = files[next++]!;
        result.set(file, await this.hashOne(file));
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, files.length) }, worker));
    return result;
  }

  private async hashOne(file: string): Promise<string> {
    const absolute = path.join(this.siteDir, file);
    let stat;
    try {
      stat = await lstat(absolute, { bigint: false });
    } catch {
      return "missing";
    }
    const cached = this.rows.get(file);
    if (cached && cached[0] === stat.size && cached[1] === stat.mtimeMs && cached[2] === stat.ctimeMs && cached[3] === stat.ino) {
      return cached[4];
    }
    const startedAt = Date.now();
    const hash = stat.isSymbolicLink() ? hashText(`symlink`) : stat.size > STREAM_THRESHOLD ? await hashStream(absolute) : hashBuffer(await readFile(absolute));
    if (stat.mtimeMs < startedAt - RACY_WINDOW_MS && stat.ctimeMs < startedAt - RACY_WINDOW_MS) {
      this.rows.set(file, [stat.size, stat.mtimeMs, stat.ctimeMs, stat.ino, hash]);
    } else {
      this.rows.delete(file);
    }
    this.dirty = true;
    return hash;
  }

  /** Writes the cache if anything changed (atomic rename; losing it only costs time). */
  async save(): Promise<void> {
    if (!this.dirty) return;
    const files: Record<string, CacheRow> = {};
    for (const [file, row] of this.rows) files[file] = row;
    await mkdir(path.dirname(this.cacheFile), { recursive: true });
    const temp = `${this.cacheFile}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify({ version: CACHE_VERSION, files } satisfies CacheFile));
    await rename(temp, this.cacheFile);
    this.dirty = false;
  }
}

function hashBuffer(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function hashText(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

async function hashStream(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
