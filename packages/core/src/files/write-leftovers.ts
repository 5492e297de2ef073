import { readdirSync, statSync, unlinkSync } from "node:fs";
import path from "node:path";
import { isAlive } from "../state/file-lock.js";

/** A cache temp file whose pid is alive this long is a leftover of an earlier process with a reused pid. */
const CACHE_TEMP_MAX_AGE_MS = 60_000;

/**
 * Removes `<file>.<digits>`: the temp file write-file-atomic leaves when its process is killed
 * between writing it and renaming it. Only for files whose every writer holds the site lock,
 * and only called under that lock: then no such temp file can belong to a live write.
 */
export function removeAtomicWriteLeftovers(files: readonly string[]): void {
  const byDir = new Map<string, string[]>();
  for (const file of files) byDir.set(path.dirname(file), [...(byDir.get(path.dirname(file)) ?? []), path.basename(file)]);
  for (const [dir, bases] of byDir) {
    for (const name of listDir(dir)) {
      const dot = name.lastIndexOf(".");
      if (dot > 0 && /^\d+$/.test(name.slice(dot + 1)) && bases.includes(name.slice(0, dot))) removeQuietly(path.join(dir, name));
    }
  }
}

/**
 * Removes `<name>.<pid>.tmp` of cache writes (see `replaceCacheFileSync`) whose process is gone,
 * or that are older than a minute (the pid was reused). A live writer's temp file is kept:
 * cache writes take no lock.
 */
export function removeCacheLeftovers(dir: string, now = Date.now()): void {
  for (const name of listDir(dir)) {
    const pid = /\.(\d+)\.tmp$/.exec(name)?.[1];
    if (!pid) continue;
    const file = path.join(dir, name);
    if (Number(pid) !== process.pid && (!isAlive(Number(pid)) || olderThan(file, CACHE_TEMP_MAX_AGE_MS, now))) removeQuietly(file);
  }
}

function olderThan(file: string, ms: number, now: number): boolean {
  try {
    return now - statSync(file).mtimeMs > ms;
  } catch {
    return false;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone (another run cleaned it), or not ours to remove: either way nothing to do.
  }
}
