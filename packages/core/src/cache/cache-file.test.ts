import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CORE_VERSION } from "../version.js";
import { cachePath, type JsonCache } from "./cache-file.js";
import { bytesChecksum } from "./checksum.js";
import { coreRangesCache } from "./core-ranges-cache.js";
import { decodeFileIds, encodeFileIds, FILE_IDS, readFileIds, writeFileIds, type FileIdRow } from "./file-ids-cache.js";
import { fileInputsCache } from "./file-inputs-cache.js";
import { fingerprintMemoCache } from "./fingerprint-memo.js";
import { siteParseCache } from "./site-parse-cache.js";
import { untrackedCache } from "./untracked-cache.js";
import { statLine } from "./stat-line.js";

const tempSite = () => mkdtempSync(path.join(os.tmpdir(), "stepwise-cache-"));

/** Every JSON cache file with a value of the shape it holds. */
const samples: [JsonCache<never>, unknown][] = [
  [siteParseCache as JsonCache<never>, { key: "k", site: { name: "demo", plugins: [], config: { "é": "ü" } } }],
  [coreRangesCache as JsonCache<never>, { core: CORE_VERSION, ranges: ["^0.1.0", ">=0.1 <1"] }],
  [untrackedCache as JsonCache<never>, { prefix: "site/", index: "ab".repeat(20), dirs: "4096 12 1700000000000 1700000000000 \n", untracked: "a.txt\0dir/\0" }],
  [fileInputsCache as JsonCache<never>, { listing: "l", globs: "[]", read: [["a.txt", "1 2 3 4"]] }],
  [fingerprintMemoCache as JsonCache<never>, { identity: "i", steps: { app: ["entries", "f".repeat(64)] } }],
];

describe.each(samples.map(([cache, value]) => ({ name: cache.name, cache, value })))("cache file $name", ({ cache, value }) => {
  const write = (dir: string, bytes: Uint8Array | string) => {
    mkdirSync(path.dirname(cachePath(dir, cache.name)), { recursive: true });
    writeFileSync(cachePath(dir, cache.name), bytes);
  };

  it("reads back what it wrote, and nothing when there is none", () => {
    const dir = tempSite();
    expect(cache.read(dir)).toBeUndefined();
    expect(cache.write(dir, value as never)).toBe(true);
    expect(cache.read(dir)).toEqual(value);
  });

  it("ignores another version or another cache's file", () => {
    const dir = tempSite();
    const text = cache.encode(value as never).toString("utf8");
    write(dir, text.replace(`${cache.name} ${cache.version} `, `${cache.name} ${cache.version + 1} `));
    expect(cache.read(dir)).toBeUndefined();
    write(dir, text.replace(`${cache.name} `, `other.json `));
    expect(cache.read(dir)).toBeUndefined();
    write(dir, JSON.stringify(value)); // the format before the header line
    expect(cache.read(dir)).toBeUndefined();
  });

  it("ignores data that does not match its checksum, even when it is valid JSON of the right shape", () => {
    const dir = tempSite();
    const text = cache.encode(value as never).toString("utf8");
    const newline = text.indexOf("\n");
    const changed = JSON.stringify(value).replace(/"[^"]*"(?=[,}\]])/, '"changed"');
    expect(changed).not.toBe(JSON.stringify(value));
    write(dir, `${text.slice(0, newline)}\n${changed}`);
    expect(cache.read(dir)).toBeUndefined();
  });

  it("ignores any truncation and any single damaged byte", () => {
    const bytes = cache.encode(value as never);
    for (let length = 0; length < bytes.length; length++) expect(cache.decode(bytes.subarray(0, length))).toBeUndefined();
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const damaged = Buffer.from(bytes);
        damaged[at]! ^= xor;
        expect(cache.decode(damaged)).toBeUndefined();
      }),
    );
  });

  it("ignores garbage and a valid envelope around the wrong shape", () => {
    const dir = tempSite();
    for (const garbage of ["", "\n", "{not json", "null", "\0\0\0\0", `stepwise-cache ${cache.name} ${cache.version} 0\n{}`]) {
      write(dir, garbage);
      expect(cache.read(dir)).toBeUndefined();
    }
    for (const wrong of [null, [], "text", 5, {}, { ...(value as object), extra: 1, [Object.keys(value as object)[0]!]: 5 }]) {
      const body = Buffer.from(JSON.stringify(wrong));
      write(dir, Buffer.concat([Buffer.from(`stepwise-cache ${cache.name} ${cache.version} ${bytesChecksum(body)}\n`), body]));
      expect(cache.read(dir)).toBeUndefined();
    }
  });

  it("neither reads nor writes through a directory in its place, and never throws", () => {
    const dir = tempSite();
    mkdirSync(cachePath(dir, cache.name), { recursive: true });
    expect(cache.read(dir)).toBeUndefined();
    expect(cache.write(dir, value as never)).toBe(false);
    rmSync(path.join(dir, ".stepwise"), { recursive: true });
    writeFileSync(path.join(dir, ".stepwise"), "a file where the directory goes");
    expect(cache.read(dir)).toBeUndefined();
    expect(cache.write(dir, value as never)).toBe(false);
  });
});

describe("the stat cache file (file-ids.bin)", () => {
  const rows = new Map<string, FileIdRow>([
    ["a.txt", { size: 3, mtimeMs: 1_700_000_000_123.456, ctimeMs: 1_700_000_000_789.5, ino: 42, id: "0123456789abcdef0123456789abcdef01234567" }],
    ["dir/link", { size: 6, mtimeMs: 1, ctimeMs: 2, ino: 2 ** 40, id: "symlink:89abcdef0123456789abcdef0123456789abcdef" }],
    ["ünïcode/ファイル", { size: 0, mtimeMs: 0, ctimeMs: 0, ino: 0, id: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391" }],
  ]);

  it("reads back what it wrote (also empty, and from an unaligned buffer)", () => {
    expect(decodeFileIds(encodeFileIds(rows))).toEqual(rows);
    expect(decodeFileIds(encodeFileIds(new Map()))).toEqual(new Map());
    const bytes = encodeFileIds(rows);
    const unaligned = Buffer.alloc(bytes.length + 3).subarray(3);
    bytes.copy(unaligned);
    expect(decodeFileIds(unaligned)).toEqual(rows);
    const dir = tempSite();
    expect(writeFileIds(cachePath(dir, FILE_IDS), rows)).toBe(true);
    expect(readFileIds(cachePath(dir, FILE_IDS))).toEqual(rows);
  });

  it("trusts no row of a damaged file: any single damaged byte, any truncation, another version", () => {
    const bytes = encodeFileIds(rows);
    for (let length = 0; length < bytes.length; length++) expect(decodeFileIds(bytes.subarray(0, length))).toBeUndefined();
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const damaged = Buffer.from(bytes);
        damaged[at]! ^= xor;
        expect(decodeFileIds(damaged)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
    const otherVersion = Buffer.from(bytes);
    otherVersion.writeUInt32LE(otherVersion.readUInt32LE(4) + 1, 4);
    expect(decodeFileIds(otherVersion)).toBeUndefined();
  });

  it("reads nothing from garbage or a directory, and does not write through a directory", () => {
    const dir = tempSite();
    const file = cachePath(dir, FILE_IDS);
    mkdirSync(path.dirname(file), { recursive: true });
    for (const garbage of ["", "garbage", "\0".repeat(64), "SWFC".repeat(16)]) {
      writeFileSync(file, garbage);
      expect(readFileIds(file)).toBeUndefined();
    }
    rmSync(file);
    mkdirSync(file);
    expect(readFileIds(file)).toBeUndefined();
    expect(writeFileIds(file, rows)).toBe(false);
    expect(statSync(file).isDirectory()).toBe(true);
  });
});

describe("the stat line", () => {
  it("is one format: size, inode, whole milliseconds; and dashes for a missing path", () => {
    expect(statLine({ size: 10, ino: 7, mtimeMs: 1_700_000_000_123.9, ctimeMs: 1_700_000_000_456.2 })).toBe("10 7 1700000000123 1700000000456");
    expect(statLine(undefined)).toBe("- - - -");
  });
});
