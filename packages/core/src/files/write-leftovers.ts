import { readdirSync, unlinkSync } from "node:fs";
import path from "node:path";

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
