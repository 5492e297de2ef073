import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { computeInputFingerprint, diffEntries, type InputEntries } from "./compute-input-fingerprint.js";
import { FileHashCache } from "./file-hash-cache.js";
import { collectSiteFileIds } from "./site-files.js";

const key = fc.tuple(fc.constantFrom("file", "config", "secret", "step", "plugin"), fc.string({ minLength: 1, maxLength: 12 })).map(([kind, name]) => `${kind}:${name}`);
const value = fc.oneof(fc.stringMatching(/^[0-9a-f]{40}$/), fc.string({ maxLength: 20 }));
const entriesArb = fc.dictionary(key, value, { maxKeys: 30 });

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed || 1;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) >>> 0;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("computeInputFingerprint", () => {
  it("does not depend on the order entries were added", () => {
    fc.assert(
      fc.property(entriesArb, fc.integer(), (entries, seed) => {
        const reordered = Object.fromEntries(shuffled(Object.entries(entries), seed));
        expect(computeInputFingerprint(reordered)).toBe(computeInputFingerprint(entries));
      }),
    );
  });

  it("changes when any entry is added, removed or changed", () => {
    fc.assert(
      fc.property(entriesArb, key, value, (entries, extraKey, newValue) => {
        const base = computeInputFingerprint(entries);
        if (!(extraKey in entries)) expect(computeInputFingerprint({ ...entries, [extraKey]: newValue })).not.toBe(base);
        for (const existing of Object.keys(entries)) {
          const { [existing]: dropped, ...rest } = entries;
          expect(computeInputFingerprint(rest)).not.toBe(base);
          if (dropped !== newValue) expect(computeInputFingerprint({ ...entries, [existing]: newValue })).not.toBe(base);
        }
      }),
    );
  });

  it("keeps key and value apart: moving characters across the boundary changes it", () => {
    expect(computeInputFingerprint({ "file:ab": "c" })).not.toBe(computeInputFingerprint({ "file:a": "bc" }));
  });

  // The value the earlier one-update-per-part implementation gave: recorded fingerprints stay valid.
  it("is a fixed function of the entries (the same on every machine and in every version)", () => {
    expect(computeInputFingerprint({ "file:app/a.txt": "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391", "config:db.name": "x", "plugin:p": "1.0.0" })).toBe(
      "6c635cd2b7a31cefa38647ec87fbed90a52a6fbcaa53122d19149fc5d3905505",
    );
  });

  it("agrees with diffEntries: equal fingerprints exactly when nothing was added, removed or changed", () => {
    fc.assert(
      fc.property(entriesArb, entriesArb, (a, b) => {
        const diff = diffEntries(a, b);
        const same = diff.added.length + diff.removed.length + diff.changed.length === 0;
        expect(computeInputFingerprint(a) === computeInputFingerprint(b)).toBe(same);
      }),
    );
  });
});

describe("file entries in fingerprints", () => {
  const roots: string[] = [];
  afterAll(() => {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });

  /** The same tree written under a different absolute path each time. */
  function site(files: Record<string, string>): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-fpsite-"));
    roots.push(dir);
    for (const [file, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), content);
    }
    return dir;
  }

  async function fingerprints(dir: string, globs: [string, string[]][]): Promise<Record<string, string>> {
    const ids = await collectSiteFileIds(dir, new Map(globs), new FileHashCache(dir, path.join(dir, ".stepwise", "cache", "ids.bin")), { useGit: false });
    const out: Record<string, string> = {};
    for (const [step, files] of ids) {
      const entries: InputEntries = {};
      for (const [file, id] of files) entries[`file:${file}`] = id;
      out[step] = computeInputFingerprint(entries);
    }
    return out;
  }

  const tree = fc.dictionary(
    fc.tuple(fc.constantFrom("a", "b", "a/c", "b/d/e"), fc.stringMatching(/^[a-z]{1,6}\.(ts|json|txt)$/)).map(([d, f]) => `${d}/${f}`),
    fc.string({ maxLength: 40 }),
    { minKeys: 1, maxKeys: 12 },
  );
  const globList = fc.subarray(["a/**", "b/**/*.ts", "**/*.json", "a/*.txt", "!a/c/**", "b/d/**"], { minLength: 1 });

  it("are stable across runs and site locations, and independent of glob and step order", async () => {
    await fc.assert(
      fc.asyncProperty(tree, globList, fc.integer(), async (files, globs, seed) => {
        const steps: [string, string[]][] = [
          ["one", globs],
          ["two", ["**"]],
        ];
        const here = await fingerprints(site(files), steps);
        const elsewhere = await fingerprints(site(files), shuffled(steps, seed).map(([s, g]) => [s, shuffled(g, seed + 1)]));
        expect(elsewhere).toEqual(here);
        const again = await fingerprints(site(files), steps);
        expect(again).toEqual(here);
      }),
      { numRuns: 25 },
    );
  });

  it("change when any selected file changes", async () => {
    await fc.assert(
      fc.asyncProperty(tree, fc.nat(), async (files, pick) => {
        const dir = site(files);
        const before = await fingerprints(dir, [["all", ["**"]]]);
        const names = Object.keys(files);
        const victim = names[pick % names.length]!;
        writeFileSync(path.join(dir, victim), `${files[victim]}!`);
        const after = await fingerprints(dir, [["all", ["**"]]]);
        expect(after.all).not.toBe(before.all);
      }),
      { numRuns: 25 },
    );
  });
});
