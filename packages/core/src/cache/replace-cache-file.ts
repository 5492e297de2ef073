import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cacheTempName, removeCacheLeftovers } from "./cache-leftovers.js";

/** Cache directories this process already cleaned of killed writers' temp files. */
const cleanedCacheDirs = new Set<string>();

/**
 * Replaces a cache file, synchronously: a temp file next to it, then a rename, so a reader
 * sees the old file or the new one (no fsync: a cache lost in a crash is rebuilt). Creates
 * the directory. Best effort, like every cache: whatever is in the way (a read-only site,
 * `cache/` or the file being something else) leaves the cache unwritten and returns false;
 * it never throws, so a damaged cache costs time, never a failed command. The first write
 * into a directory also removes the temp files that killed writers left there.
 */
export function replaceCacheFile(file: string, data: string | Uint8Array, mode = 0o644): boolean {
  const temp = cacheTempName(file);
  const dir = path.dirname(file);
  if (!cleanedCacheDirs.has(dir)) {
    cleanedCacheDirs.add(dir);
    removeCacheLeftovers(dir);
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(temp, data, { mode });
    renameSync(temp, file);
    return true;
  } catch {
    try {
      rmSync(temp, { force: true, recursive: true });
    } catch {
      // `cache/` is not a directory: there is no temp file to remove.
    }
    return false;
  }
}
