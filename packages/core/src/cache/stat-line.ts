import type { Stats } from "node:fs";

/**
 * The one way a cache records a file's or directory's stat: `<size> <ino> <mtime> <ctime>`, times
 * in whole milliseconds, `- - - -` for a path that is not there. Equal lines: unchanged, as far
 * as the cache can tell.
 *
 * Whole milliseconds are enough because every cache keeps only stats older than the racy window
 * (2 s, `RACY_WINDOW_MS`) when they were taken, so any later change sets a later time; and an
 * edit that sets the times back (`utimes`) still sets the ctime to now. Integers also print in a
 * third of the time of fractional milliseconds, which matters 1,700 times a plan (the untracked
 * cache's directories). The git index's stat, compared within one listing, is the same line:
 * git replaces the index by renaming a new file over it, which changes the inode.
 */
export function statLine(stat: Pick<Stats, "size" | "ino" | "mtimeMs" | "ctimeMs"> | undefined): string {
  return stat ? `${stat.size} ${stat.ino} ${Math.trunc(stat.mtimeMs)} ${Math.trunc(stat.ctimeMs)}` : MISSING_STAT;
}

/** {@link statLine} of a path that is not there. */
export const MISSING_STAT = "- - - -";

/** The number of space-separated fields of a {@link statLine} (what follows it on a line starts after this many spaces). */
export const STAT_LINE_FIELDS = 4;
