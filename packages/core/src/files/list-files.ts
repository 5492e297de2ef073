import { readdirSync } from "node:fs";
import path from "node:path";

/** Regular files below `dir`, as sorted relative paths with `/` separators (symlinks are not followed). */
export function listFilesRecursive(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFilesRecursive(dir, relative));
    else if (entry.isFile()) out.push(relative);
  }
  return out.sort();
}
