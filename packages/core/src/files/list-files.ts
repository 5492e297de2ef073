import { readdirSync } from "node:fs";
import path from "node:path";

/**
 * Regular files below `dir`, as sorted relative paths with `/` separators (symlinks are not
 * followed). `onDirectory` is told each directory listed (absolute), before it is read.
 */
export function listFilesRecursive(dir: string, prefix = "", onDirectory?: (absolute: string) => void): string[] {
  const out: string[] = [];
  const at = path.join(dir, prefix);
  onDirectory?.(at);
  for (const entry of readdirSync(at, { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFilesRecursive(dir, relative, onDirectory));
    else if (entry.isFile()) out.push(relative);
  }
  return out.sort();
}
