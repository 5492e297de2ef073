import { defineJsonCache, isRecord, isStringPair } from "./cache-file.js";

interface MemoFile {
  /** The identity of the file inputs the fingerprints were computed with (`SiteFileInputs.identity`). */
  identity: string;
  /** Step name -> [its entries other than files, as `entriesText` gives them (`compactKey`), its fingerprint]. */
  steps: Record<string, [string, string]>;
}

/** `fingerprints.json`: see {@link FingerprintMemo}. */
export const fingerprintMemoCache = defineJsonCache<MemoFile>({
  name: "fingerprints.json",
  version: 2,
  isValid: (value): value is MemoFile =>
    isRecord(value) &&
    typeof value.identity === "string" &&
    isRecord(value.steps) &&
    Object.values(value.steps).every(isStringPair),
});

/**
 * The fingerprints a plan computed for the steps with file inputs, with the identity of those
 * inputs and each step's other entries (their text: compared, never hashed). A fingerprint is
 * a function of the two: while both are the same, so is the fingerprint, and the next plan
 * need not list and hash thousands of files to know it. Losing it costs one listing.
 */
export class FingerprintMemo {
  private constructor(
    private readonly siteDir: string,
    private readonly memo: MemoFile | undefined,
  ) {}

  static read(siteDir: string): FingerprintMemo {
    return new FingerprintMemo(siteDir, fingerprintMemoCache.read(siteDir));
  }

  /** The fingerprint recorded for `step` with these file inputs and other entries, if any. */
  lookup(identity: string, step: string, entriesKey: string): string | undefined {
    if (this.memo?.identity !== identity) return undefined;
    const row = Object.hasOwn(this.memo.steps, step) ? this.memo.steps[step] : undefined;
    return row?.[0] === entriesKey ? row[1] : undefined;
  }

  /** Records the fingerprints just computed (written only if they differ from those held). */
  save(identity: string, steps: ReadonlyMap<string, [string, string]>): void {
    const next: MemoFile = { identity, steps: Object.fromEntries(steps) };
    if (this.memo && JSON.stringify(this.memo) === JSON.stringify(next)) return;
    fingerprintMemoCache.write(this.siteDir, next);
  }
}
