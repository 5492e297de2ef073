import { readFileSync } from "node:fs";
import path from "node:path";
import { replaceCacheFileSync } from "../files/write-file-atomically.js";

/**
 * Where {@link FingerprintMemo} keeps the fingerprints of the last plan that listed the site's
 * files.
 */
export const FINGERPRINT_MEMO = path.join(".stepwise", "cache", "fingerprints.json");
const VERSION = 2;

interface MemoFile {
  version: number;
  /** The identity of the file inputs the fingerprints were computed with (`SiteFileInputs.identity`). */
  identity: string;
  /** Step name -> [its entries other than files, as `entriesText` gives them (`compactKey`), its fingerprint]. */
  steps: Record<string, [string, string]>;
}

/**
 * The fingerprints a plan computed for the steps with file inputs, with the identity of those
 * inputs and each step's other entries (their text: compared, never hashed). A fingerprint is a function of the two:
 * while both are the same, so is the fingerprint, and the next plan need not list and hash
 * thousands of files to know it. A cache in `.stepwise/cache/`: losing it costs one listing.
 */
export class FingerprintMemo {
  private constructor(
    private readonly file: string,
    private readonly memo: MemoFile | undefined,
  ) {}

  static read(siteDir: string): FingerprintMemo {
    const file = path.join(siteDir, FINGERPRINT_MEMO);
    try {
      const memo = JSON.parse(readFileSync(file, "utf8")) as MemoFile;
      if (memo?.version === VERSION && typeof memo.identity === "string" && memo.steps && typeof memo.steps === "object") return new FingerprintMemo(file, memo);
    } catch {
      // none yet, or unreadable: an empty memo
    }
    return new FingerprintMemo(file, undefined);
  }

  /** The fingerprint recorded for `step` with these file inputs and other entries, if any. */
  lookup(identity: string, step: string, entriesKey: string): string | undefined {
    if (this.memo?.identity !== identity) return undefined;
    const row = this.memo.steps[step];
    return Array.isArray(row) && row[0] === entriesKey && typeof row[1] === "string" ? row[1] : undefined;
  }

  /** Records the fingerprints just computed (written only if they differ from those held). */
  save(identity: string, steps: ReadonlyMap<string, [string, string]>): void {
    const next: MemoFile = { version: VERSION, identity, steps: Object.fromEntries(steps) };
    const text = JSON.stringify(next);
    if (this.memo && JSON.stringify(this.memo) === text) return;
    try {
      replaceCacheFileSync(this.file, text);
    } catch {
      // Only a cache: the next plan lists the files again.
    }
  }
}
