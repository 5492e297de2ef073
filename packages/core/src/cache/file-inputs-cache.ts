import { defineJsonCache, isRecord, isStringPair } from "./cache-file.js";

export interface FileInputsRecord {
  /** The identity of the git listing the collection used (`GitListingHandle.identity`). */
  listing: string;
  /** The steps' globs, as `openSiteFileInputs` serialises them. */
  globs: string;
  /** `[path, statLine]` of each file the collection read from disk rather than taking from git's index. */
  read: [string, string][];
}

/**
 * `file-inputs.json`: what the last collection of file inputs depended on. While the listing and
 * globs are the same and every file read from disk has the same stat, the file inputs are the
 * same (`SiteFileInputs.identity`), and the plan need not list them.
 */
export const fileInputsCache = defineJsonCache<FileInputsRecord>({
  name: "file-inputs.json",
  version: 3,
  isValid: (value): value is FileInputsRecord =>
    isRecord(value) &&
    typeof value.listing === "string" &&
    typeof value.globs === "string" &&
    Array.isArray(value.read) &&
    value.read.every(isStringPair),
});
