import { lstatSync } from "node:fs";
import path from "node:path";
import { defineJsonCache, isRecord } from "./cache-file.js";
import { STAT_LINE_FIELDS, statLine } from "./stat-line.js";

export interface UntrackedRecord {
  /** The site's path inside the work tree (`StartedListing.prefix`). */
  prefix: string;
  /** The trailing checksum of the git index the listing was made with. */
  index: string;
  /** `<statLine> <path>\n` per directory git walked for it (site-relative, `""` the site). */
  dirs: string;
  /** `git ls-files -z -o --directory` output. */
  untracked: string;
}

/**
 * `untracked.json`: git's untracked listing of the site, kept as git's untracked cache does,
 * with the index it was made for and the stat of every directory git walked for it. Adding,
 * removing or renaming an entry changes its directory's mtime, so while the index and those
 * directories are unchanged, so is the listing. Read by the prefetch, before the CLI loads:
 * this module imports only Node's fs and path.
 */
export const untrackedCache = defineJsonCache<UntrackedRecord>({
  name: "untracked.json",
  version: 3,
  isValid: (value): value is UntrackedRecord =>
    isRecord(value) && typeof value.prefix === "string" && typeof value.index === "string" && typeof value.dirs === "string" && typeof value.untracked === "string",
});

/** The untracked cache of the site if it was kept for this index and prefix (its directories not yet checked: {@link directoriesUnchanged}). */
export function readUntrackedCache(siteDir: string, prefix: string, indexChecksum: string): UntrackedRecord | undefined {
  const cache = untrackedCache.read(siteDir);
  return cache && cache.prefix === prefix && cache.index === indexChecksum ? cache : undefined;
}

/**
 * The directories git walks for the site's untracked listing: the site (`""`) and every
 * directory holding tracked files, with those between (site-relative). Any other directory git
 * lists as one entry (`--directory`), so what happens inside it changes nothing it reports.
 */
export function trackedDirectories(indexPaths: readonly string[], prefix: string): Set<string> {
  const dirs = new Set<string>([""]);
  for (const file of indexPaths) {
    if (!file.startsWith(prefix)) continue;
    for (let slash = file.lastIndexOf("/"); slash > prefix.length; slash = file.lastIndexOf("/", slash - 1)) {
      const dir = file.slice(prefix.length, slash);
      if (dirs.has(dir)) break;
      dirs.add(dir);
    }
  }
  return dirs;
}

/** One line of {@link UntrackedRecord.dirs} for a directory's stat. */
export const untrackedDirLine = (stat: Parameters<typeof statLine>[0], dir: string): string => `${statLine(stat)} ${dir}\n`;

/** Whether every directory of {@link UntrackedRecord.dirs} has the stat recorded there. */
export function directoriesUnchanged(siteDir: string, dirs: string): boolean {
  const base = siteDir.endsWith(path.sep) ? siteDir : siteDir + path.sep;
  for (let at = 0; at < dirs.length; ) {
    let end = dirs.indexOf("\n", at);
    if (end < 0) end = dirs.length;
    let space = at - 1;
    for (let field = 0; field < STAT_LINE_FIELDS; field++) {
      space = dirs.indexOf(" ", space + 1);
      if (space < 0 || space > end) return false;
    }
    let stat;
    try {
      stat = lstatSync(base + dirs.slice(space + 1, end), { throwIfNoEntry: false });
    } catch {
      return false; // ENOTDIR (a directory replaced by a file above it), EACCES: changed
    }
    if (statLine(stat) !== dirs.slice(at, space)) return false;
    at = end + 1;
  }
  return true;
}
