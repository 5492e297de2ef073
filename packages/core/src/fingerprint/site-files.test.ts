import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FileHashCache, RACY_WINDOW_MS } from "./file-hash-cache.js";
import { encodeFileIds } from "../cache/file-ids-cache.js";
import { contentIdOf } from "./hash-worker.js";
import { commitAll, git, initRepo } from "../../../../test/fixtures/git-repo.js";
import { collectSiteFileIds, openSiteFileInputs, selectSiteFiles, type CollectOptions } from "./site-files.js";

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-files-"));
  made.push(dir);
  return dir;
}

function repo(): string {
  return initRepo(tempDir());
}

function write(dir: string, file: string, content: string | Uint8Array): void {
  const absolute = path.join(dir, file);
  mkdirSync(path.dirname(absolute), { recursive: true });
  writeFileSync(absolute, content);
}

function gitHashObject(dir: string, file: string): string {
  return git(dir, "hash-object", "--no-filters", file).trim();
}

function cacheFor(dir: string): FileHashCache {
  return new FileHashCache(dir, path.join(dir, ".stepwise", "cache", "file-ids.bin"));
}

/** One CLI run's worth: a fresh cache object over the site's cache file. */
async function collect(dir: string, globs: Record<string, string[]>, options: CollectOptions = {}): Promise<Record<string, Record<string, string>>> {
  const result = await collectSiteFileIds(dir, new Map(Object.entries(globs)), cacheFor(dir), options);
  return Object.fromEntries([...result].map(([step, files]) => [step, Object.fromEntries(files)]));
}

/** Both ways of computing entries, which must agree. */
async function collectBoth(dir: string, globs: Record<string, string[]>) {
  const viaGit = await collect(dir, globs);
  const viaStat = await collect(dir, globs, { useGit: false });
  expect(viaGit).toEqual(viaStat);
  return viaGit;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("content ids", () => {
  it("are git blob ids, from git's index and from reading the file alike", async () => {
    const dir = repo();
    write(dir, "app/a.txt", "hello\n");
    write(dir, "app/empty.txt", "");
    write(dir, "app/bin.dat", Buffer.from([0, 1, 2, 255, 13, 10]));
    commitAll(dir);
    const files = await collectBoth(dir, { app: ["app/**"] });
    expect(files.app).toEqual({
      "app/a.txt": gitHashObject(dir, "app/a.txt"),
      "app/bin.dat": gitHashObject(dir, "app/bin.dat"),
      "app/empty.txt": "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
    });
    expect(contentIdOf(Buffer.from("hello\n"))).toBe(gitHashObject(dir, "app/a.txt"));
  });

  it("read a file larger than one read buffer in chunks, with the same id git gives", async () => {
    const dir = repo();
    const big = Buffer.alloc(9 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    write(dir, "big/blob.bin", big);
    const files = await collect(dir, { big: ["big/**"] }, { useGit: false });
    expect(files.big!["big/blob.bin"]).toBe(gitHashObject(dir, "big/blob.bin"));
  });

  it("give a symlink the id of its target path, not of what it points to, on both paths", async () => {
    const dir = repo();
    write(dir, "app/real.txt", "real\n");
    symlinkSync("real.txt", path.join(dir, "app/link.txt"));
    commitAll(dir);
    const files = await collectBoth(dir, { app: ["app/**"] });
    expect(files.app!["app/link.txt"]).toBe(`symlink:${contentIdOf(Buffer.from("real.txt"))}`);
    expect(files.app!["app/real.txt"]).toBe(gitHashObject(dir, "app/real.txt"));
  });
});

describe("a no-op plan still sees every change (git work tree)", () => {
  it("an edit that keeps size and mtime", async () => {
    const dir = repo();
    write(dir, "app/config.json", '{"a":1}');
    commitAll(dir);
    const before = await collectBoth(dir, { app: ["app/**"] });
    const { atime, mtime } = statSync(path.join(dir, "app/config.json"));
    write(dir, "app/config.json", '{"a":2}');
    utimesSync(path.join(dir, "app/config.json"), atime, mtime);
    const after = await collectBoth(dir, { app: ["app/**"] });
    expect(after.app!["app/config.json"]).not.toBe(before.app!["app/config.json"]);
    expect(after.app!["app/config.json"]).toBe(gitHashObject(dir, "app/config.json"));
  });

  it("an edit right after the commit, same size, with ctime ignored (git's racily clean entry)", async () => {
    const dir = repo();
    git(dir, "config", "core.trustctime", "false");
    git(dir, "config", "core.checkStat", "minimal");
    write(dir, "app/a.txt", "one");
    // Modified no earlier than the index is written: git must not trust this entry's stat.
    const racy = new Date(Date.now() + 10_000);
    utimesSync(path.join(dir, "app/a.txt"), racy, racy);
    commitAll(dir);
    write(dir, "app/a.txt", "two");
    utimesSync(path.join(dir, "app/a.txt"), racy, racy);
    const files = await collectBoth(dir, { app: ["app/**"] });
    expect(files.app!["app/a.txt"]).toBe(contentIdOf(Buffer.from("two")));
  });

  it("a modified, an added and a removed file", async () => {
    const dir = repo();
    write(dir, "app/keep.txt", "keep");
    write(dir, "app/change.txt", "one");
    write(dir, "app/remove.txt", "bye");
    commitAll(dir);
    await collectBoth(dir, { app: ["app/**"] });
    write(dir, "app/change.txt", "three");
    write(dir, "app/sub/added.txt", "new");
    unlinkSync(path.join(dir, "app/remove.txt"));
    const files = await collectBoth(dir, { app: ["app/**"] });
    expect(Object.keys(files.app!).sort()).toEqual(["app/change.txt", "app/keep.txt", "app/sub/added.txt"]);
    expect(files.app!["app/change.txt"]).toBe(gitHashObject(dir, "app/change.txt"));
    expect(files.app!["app/sub/added.txt"]).toBe(gitHashObject(dir, "app/sub/added.txt"));
  });

  it("a file staged with git add and then edited again", async () => {
    const dir = repo();
    write(dir, "app/a.txt", "v1");
    commitAll(dir);
    write(dir, "app/a.txt", "v2");
    git(dir, "add", "app/a.txt");
    write(dir, "app/a.txt", "v3!");
    const files = await collectBoth(dir, { app: ["app/**"] });
    expect(files.app!["app/a.txt"]).toBe(contentIdOf(Buffer.from("v3!")));
  });

  it("files .gitignore ignores, when a glob selects them (single files and whole directories)", async () => {
    const dir = repo();
    write(dir, ".gitignore", "dist/\n*.log\n");
    write(dir, "src/a.ts", "a");
    write(dir, "src/debug.log", "log");
    write(dir, "dist/deep/bundle.js", "bundle");
    commitAll(dir);
    const files = await collectBoth(dir, { build: ["dist/**", "src/**"] });
    expect(Object.keys(files.build!).sort()).toEqual(["dist/deep/bundle.js", "src/a.ts", "src/debug.log"]);
    expect(files.build!["dist/deep/bundle.js"]).toBe(contentIdOf(Buffer.from("bundle")));
  });

  it("untracked files and wholly untracked directories", async () => {
    const dir = repo();
    write(dir, "app/tracked.txt", "t");
    commitAll(dir);
    write(dir, "app/untracked.txt", "u");
    write(dir, "fresh/deep/x.txt", "x");
    const files = await collectBoth(dir, { app: ["app/*.txt"], fresh: ["fresh/**/*.txt"] });
    expect(Object.keys(files.app!).sort()).toEqual(["app/tracked.txt", "app/untracked.txt"]);
    expect(files.fresh).toEqual({ "fresh/deep/x.txt": contentIdOf(Buffer.from("x")) });
  });

  it("a site never added to its enclosing repository (git lists it as `./`): walked, with no identity to skip on", async () => {
    const parent = repo();
    write(parent, "README", "parent");
    commitAll(parent);
    const dir = path.join(parent, "site");
    write(dir, "app/a.txt", "a");
    write(dir, "top.txt", "t");
    const globs = { app: ["app/**"], all: ["**"] }; // scoped to app/, and the whole site
    const inputs = await openSiteFileInputs(dir, new Map(Object.entries(globs)), cacheFor(dir));
    const files = Object.fromEntries([...(await inputs.collect())].map(([step, stepFiles]) => [step, Object.fromEntries(stepFiles)]));
    expect(files).toEqual(await collect(dir, globs, { useGit: false }));
    expect(Object.keys(files.all!).sort()).toEqual(["app/a.txt", "top.txt"]);
    expect(inputs.identity).toBeUndefined();
  });

  it("assume-unchanged files are read, not trusted from the index", async () => {
    const dir = repo();
    write(dir, "app/a.txt", "v1");
    commitAll(dir);
    git(dir, "update-index", "--assume-unchanged", "app/a.txt");
    write(dir, "app/a.txt", "v2-longer");
    const files = await collectBoth(dir, { app: ["app/**"] });
    expect(files.app!["app/a.txt"]).toBe(contentIdOf(Buffer.from("v2-longer")));
  });

  it("a site in a subdirectory of the repository, with a glob reaching outside the site", async () => {
    const dir = repo();
    write(dir, "shared/lib.txt", "lib");
    write(dir, "sites/prod/app/a.txt", "a");
    commitAll(dir);
    const site = path.join(dir, "sites/prod");
    const files = await collectBoth(site, { app: ["app/**"], shared: ["../../shared/**"] });
    expect(files.app).toEqual({ "app/a.txt": contentIdOf(Buffer.from("a")) });
    expect(files.shared).toEqual({ "../../shared/lib.txt": contentIdOf(Buffer.from("lib")) });
  });

  it("never selects .git, node_modules or .stepwise", async () => {
    const dir = repo();
    write(dir, "app/a.txt", "a");
    write(dir, "app/node_modules/pkg/index.js", "x");
    write(dir, ".stepwise/state.json", "{}");
    commitAll(dir);
    const files = await collectBoth(dir, { all: ["**"] });
    expect(Object.keys(files.all!).sort()).toEqual(["app/a.txt"]);
  });
});

describe("content conversions make git's blob id differ from the bytes: the file is read instead", () => {
  it("a text attribute (.gitattributes) on a file with CRLF line endings", async () => {
    const dir = repo();
    write(dir, ".gitattributes", "*.txt text\n");
    write(dir, "app/crlf.txt", "a\r\nb\r\n");
    write(dir, "app/plain.bin", "x\r\n");
    commitAll(dir);
    const indexBlob = git(dir, "ls-files", "-s", "app/crlf.txt").split(" ")[1];
    const files = await collectBoth(dir, { app: ["app/**"] });
    expect(files.app!["app/crlf.txt"]).toBe(contentIdOf(Buffer.from("a\r\nb\r\n")));
    expect(files.app!["app/crlf.txt"]).not.toBe(indexBlob);
    expect(files.app!["app/plain.bin"]).toBe(contentIdOf(Buffer.from("x\r\n")));
  });

  it("a filter attribute", async () => {
    const dir = repo();
    git(dir, "config", "filter.upper.clean", "tr a-z A-Z");
    git(dir, "config", "filter.upper.smudge", "cat");
    write(dir, ".gitattributes", "*.up filter=upper\n");
    write(dir, "app/x.up", "lower\n");
    commitAll(dir);
    const files = await collectBoth(dir, { app: ["app/**"] });
    expect(files.app!["app/x.up"]).toBe(contentIdOf(Buffer.from("lower\n")));
  });

  it("core.autocrlf", async () => {
    const dir = repo();
    git(dir, "config", "core.autocrlf", "input");
    write(dir, "app/crlf.txt", "a\r\nb\r\n");
    commitAll(dir);
    const files = await collectBoth(dir, { app: ["app/**"] });
    expect(files.app!["app/crlf.txt"]).toBe(contentIdOf(Buffer.from("a\r\nb\r\n")));
  });
});

describe("the stat cache (sites that are not git work trees)", () => {
  it("sees an edit that keeps size and mtime even after the file was cached", async () => {
    const dir = tempDir();
    write(dir, "app/a.txt", "one");
    write(dir, "app/b.txt", "two");
    // Past the racy window, so the first collect caches both files.
    await sleep(2100);
    const first = await collect(dir, { app: ["app/**"] });
    const cache = cacheFor(dir);
    await cache.load();
    expect(cache.size).toBe(2);
    const { atime, mtime } = statSync(path.join(dir, "app/a.txt"));
    write(dir, "app/a.txt", "ONE");
    utimesSync(path.join(dir, "app/a.txt"), atime, mtime);
    const second = await collect(dir, { app: ["app/**"] });
    expect(second.app!["app/a.txt"]).toBe(contentIdOf(Buffer.from("ONE")));
    expect(second.app!["app/b.txt"]).toBe(first.app!["app/b.txt"]);
  });

  it("does not cache a file modified within the racy window", async () => {
    const dir = tempDir();
    write(dir, "app/a.txt", "one");
    await collect(dir, { app: ["app/**"] });
    const cache = cacheFor(dir);
    await cache.load();
    expect(cache.size).toBe(0);
    write(dir, "app/a.txt", "two");
    expect((await collect(dir, { app: ["app/**"] })).app!["app/a.txt"]).toBe(contentIdOf(Buffer.from("two")));
  });

  it("sees added and removed files, and survives a corrupt cache file", async () => {
    const dir = tempDir();
    write(dir, "app/a.txt", "a");
    await collect(dir, { app: ["app/**"] });
    write(dir, "app/new/b.txt", "b");
    unlinkSync(path.join(dir, "app/a.txt"));
    write(dir, ".stepwise/cache/file-ids.bin", "garbage");
    expect(await collect(dir, { app: ["app/**"] })).toEqual({ app: { "app/new/b.txt": contentIdOf(Buffer.from("b")) } });
  });

  it("does not trust a damaged row whose stat still matches the file (a cache is a hint, never authority)", async () => {
    const dir = tempDir();
    write(dir, "app/a.txt", "one");
    const id = contentIdOf(Buffer.from("one"));
    const stat = lstatSync(path.join(dir, "app/a.txt"));
    // A row with the file's stat, as a collection past the racy window leaves it.
    const bytes = encodeFileIds(new Map([["app/a.txt", { size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, ino: stat.ino, id }]]));
    write(dir, ".stepwise/cache/file-ids.bin", bytes);
    expect((await collect(dir, { app: ["app/**"] })).app!["app/a.txt"]).toBe(id);
    // One bit of the id flipped, the stat intact: the file is read again, not given the damaged id.
    const idAt = bytes.indexOf(Buffer.from(id, "hex"));
    expect(idAt).toBeGreaterThan(0);
    bytes[idAt + 3]! ^= 1;
    write(dir, ".stepwise/cache/file-ids.bin", bytes);
    expect((await collect(dir, { app: ["app/**"] })).app!["app/a.txt"]).toBe(id);
  });

  it("hashes many files on worker threads with the same ids as one thread", async () => {
    const dir = tempDir();
    for (let i = 0; i < 700; i++) write(dir, `many/d${i % 7}/f${i}.txt`, `file ${i}\n`.repeat(i % 50));
    const files = await collect(dir, { many: ["many/**"] });
    expect(Object.keys(files.many!)).toHaveLength(700);
    for (const [file, id] of Object.entries(files.many!)) expect(id).toBe(contentIdOf(readFileSync(path.join(dir, file))));
  });

  it("reports an unreadable file instead of skipping it", async () => {
    if (process.getuid?.() === 0) return; // root reads anything
    const dir = tempDir();
    write(dir, "app/secret.txt", "x");
    chmodSync(path.join(dir, "app/secret.txt"), 0);
    await expect(collect(dir, { app: ["app/**"] }, { useGit: false })).rejects.toThrow(/EACCES/);
  });
});

describe("selection", () => {
  it("applies each step's include and exclude globs, and lists files in path order", async () => {
    const dir = repo();
    for (const file of ["a/x.ts", "a/y.js", "a/tmp/z.ts", "b/c/d.json", "b/e.json", "root.txt", ".hidden/h.ts"]) write(dir, file, file);
    commitAll(dir);
    const globs = { s1: ["a/**/*.ts", "!a/tmp/**"], s2: ["b/*.json", "root.txt"], s3: ["**/*.ts"], none: ["!a/**"] };
    const files = await collectBoth(dir, globs);
    expect(Object.keys(files.s1!)).toEqual(["a/x.ts"]);
    expect(Object.keys(files.s2!)).toEqual(["b/e.json", "root.txt"]);
    expect(Object.keys(files.s3!)).toEqual([".hidden/h.ts", "a/tmp/z.ts", "a/x.ts"]);
    expect(files.none).toBeUndefined();
    const selected = await selectSiteFiles(dir, new Map(Object.entries(globs)));
    expect(Object.fromEntries(selected)).toEqual(Object.fromEntries(Object.entries(files).map(([step, ids]) => [step, Object.keys(ids)])));
  });
});

describe("the identity of a site's file inputs", () => {
  const identity = async (dir: string, globs: Record<string, string[]>, collect = false) => {
    const inputs = await openSiteFileInputs(dir, new Map(Object.entries(globs)), cacheFor(dir));
    if (collect) await inputs.collect();
    return inputs.identity;
  };

  it("is known without listing once a collection saw the same listing, and changes with a read file's stat", async () => {
    const dir = repo();
    write(dir, "app/a.txt", "a");
    write(dir, "app/b.txt", "b");
    commitAll(dir);
    write(dir, "app/b.txt", "B"); // modified: read from disk, through the stat cache
    const past = new Date(Date.now() - 3600_000);
    utimesSync(path.join(dir, "app/b.txt"), past, past);
    await sleep(RACY_WINDOW_MS + 100); // b.txt's ctime (now) must be old enough for its stat to be trusted
    const globs = { app: ["app/**"] };
    expect(await identity(dir, globs)).toBeUndefined(); // nothing collected yet
    const collected = await identity(dir, globs, true);
    expect(collected).toEqual(expect.any(String));
    expect(await identity(dir, globs)).toBe(collected);
    expect(await identity(dir, { app: ["app/*.txt"] })).toBeUndefined(); // other globs

    write(dir, "app/b.txt", "X"); // same size, new stat
    expect(await identity(dir, globs)).toBeUndefined();
    expect(await collect(dir, globs)).toEqual({ app: { "app/a.txt": gitHashObject(dir, "app/a.txt"), "app/b.txt": gitHashObject(dir, "app/b.txt") } });
  }, 10_000);

  it("treats a damaged cache file as no cache", async () => {
    const dir = repo();
    write(dir, "app/a.txt", "a");
    commitAll(dir);
    const globs = { app: ["app/**"] };
    await identity(dir, globs, true);
    const cacheFile = path.join(dir, ".stepwise", "cache", "file-inputs.json");
    for (const damaged of ["{", JSON.stringify({ version: 2, listing: "x", globs: "y", read: [1, null] }), "null"]) {
      writeFileSync(cacheFile, damaged);
      expect(await identity(dir, globs)).toBeUndefined();
      expect(await collect(dir, globs)).toEqual({ app: { "app/a.txt": gitHashObject(dir, "app/a.txt") } });
    }
  });

  it("is unknown when a glob reaches into a directory git does not track, or outside git", async () => {
    const dir = repo();
    write(dir, "app/a.txt", "a");
    commitAll(dir);
    write(dir, "app/new/n.txt", "n");
    expect(await identity(dir, { app: ["app/**"] }, true)).toBeUndefined();
    const plain = tempDir();
    write(plain, "app/a.txt", "a");
    expect(await identity(plain, { app: ["app/**"] }, true)).toBeUndefined();
  });
});

