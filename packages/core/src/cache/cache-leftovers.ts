import { readdirSync, statSync, unlinkSync } from "node:fs";
import path from "node:path";
import { isAlive } from "../state/process-alive.js";

/** A cache temp file whose pid is alive this long is a leftover of an earlier process with a reused pid. */
const CACHE_TEMP_MAX_AGE_MS = 60_000;

/** `<file>.<pid>.tmp`: where {@link replaceCacheFile} writes before it renames. */
export const cacheTempName = (file: string, pid = process.pid) => `${file}.${pid}.tmp`;

/**
 * Removes `<name>.<pid>.tmp` of cache writes (see `replaceCacheFile`) whose process is gone,
 * or that are older than a minute (the pid was reused). A live writer's temp file is kept:
 * cache writes take no lock.
 */
export function removeCacheLeftovers(dir: string, now = Date.now()): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // no cache directory (or not a directory): nothing left over
  }
  for (const name of names) {
    const pid = /\.(\d+)\.tmp$/.exec(name)?.[1];
    if (!pid) continue;
    const file = path.join(dir, name);
    if (Number(pid) !== process.pid && (!isAlive(Number(pid)) || olderThan(file, CACHE_TEMP_MAX_AGE_MS, now))) {
      try {
        unlinkSync(file);
      } catch {
        // Already gone (another run cleaned it), or a directory: not ours to remove.
      }
    }
  }
}

function olderThan(file: string, ms: number, now: number): boolean {
  try {
    return now - statSync(file).mtimeMs > ms;
  } catch {
    return false;
  }
}
