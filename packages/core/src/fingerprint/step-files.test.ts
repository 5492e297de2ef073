import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { computeInputFingerprint, diffEntries, type InputEntries } from "./compute-input-fingerprint.js";
import { StepFiles } from "./step-files.js";

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
// Paths with the characters the state form escapes, and ones that sort around "file:".
const pathArb = fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.constantFrom("a\nb", "c\\d", "\\n", "e\\", "f i/le", "é/ü.txt"));
const filesArb = fc.dictionary(pathArb, fc.stringMatching(/^[0-9a-f]{40}$/), { maxKeys: 20 }).map((record) => {
  const paths = Object.keys(record).sort(byCodeUnit);
  return new StepFiles(paths, paths.map((p) => record[p]!));
});
const otherKey = fc.tuple(fc.constantFrom("config", "secret", "step", "plugin", "site", "fil", "filex", "f"), fc.string({ maxLength: 8 })).map(([kind, name]) => `${kind}:${name}`);
const otherEntries = fc.dictionary(otherKey, fc.string({ maxLength: 20 }), { maxKeys: 10 });

function asEntries(files: StepFiles): InputEntries {
  return Object.fromEntries([...files].map(([file, id]) => [`file:${file}`, id]));
}

describe("StepFiles", () => {
  it("fingerprints as if every file were a file: entry of the map", () => {
    fc.assert(
      fc.property(otherEntries, filesArb, (entries, files) => {
        expect(computeInputFingerprint(entries, files)).toBe(computeInputFingerprint({ ...entries, ...asEntries(files) }));
      }),
    );
  });

  it("reads back what it writes, whatever the paths hold", () => {
    fc.assert(
      fc.property(filesArb, (files) => {
        const back = StepFiles.decode(files.encode());
        expect(back.paths).toEqual(files.paths);
        expect(back.ids).toEqual(files.ids);
      }),
    );
  });

  it("reports the same changes as a diff of the entries", () => {
    fc.assert(
      fc.property(filesArb, filesArb, (before, after) => {
        const changes = after.changesSince(before);
        const diff = diffEntries(asEntries(before), asEntries(after));
        const strip = (keys: string[]) => keys.map((k) => k.slice("file:".length)).sort(byCodeUnit);
        expect(changes).toEqual({ added: strip(diff.added), removed: strip(diff.removed), modified: strip(diff.changed) });
      }),
    );
  });

  it("reads a hand-edited line without an id as a file with an empty id, so the step runs", () => {
    const files = StepFiles.decode("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391 a.txt\nbroken\n\n");
    expect([...files]).toEqual([
      ["a.txt", "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"],
      ["broken", ""],
    ]);
  });

  it("keeps one line per file in state, readable as text", () => {
    expect(new StepFiles(["a b/c.txt", "x\ny"], ["1111", "2222"]).encode()).toBe("1111 a b/c.txt\n2222 x\\ny\n");
  });

  it("read lazily from state's form, are the same files, and encode back to it unread", () => {
    const text = "1111 a.txt\n2222 b/c.txt\n";
    const lazy = StepFiles.lazy(text);
    expect(lazy.encode()).toBe(text);
    expect(lazy.size).toBe(2);
    expect([...lazy]).toEqual([...StepFiles.decode(text)]);
    expect(lazy.fingerprintText()).toBe(StepFiles.decode(text).fingerprintText());
    expect(StepFiles.lazy("")).toBe(StepFiles.EMPTY);
  });
});

