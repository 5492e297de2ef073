import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { conversionPaths, openGitListing, prefetchGitListing, readGitListing } from "./git-listing.js";
import { cachePath } from "../cache/cache-file.js";
import { markFileInputs, NO_FILE_INPUTS } from "../cache/no-file-inputs.js";
import { untrackedCache } from "../cache/untracked-cache.js";

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const gitEnv = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.invalid", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.invalid", GIT_CONFIG_NOSYSTEM: "1" };
const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", env: gitEnv });

function repo(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-git-"));
  made.push(dir);
  git(dir, "init", "-q", "-b", "main");
  git(dir, "config", "core.autocrlf", "false");
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "-m", "c");
  return dir;
}

describe("readGitListing", () => {
  it("gives clean tracked files with their blob ids and lists what must be read", async () => {
    const dir = repo({ "a/x.txt": "x", "a/y.txt": "y", "b/z.txt": "z" });
    writeFileSync(path.join(dir, "a/y.txt"), "changed");
    writeFileSync(path.join(dir, "a/new.txt"), "n");
    mkdirSync(path.join(dir, "fresh"));
    writeFileSync(path.join(dir, "fresh/f.txt"), "f");
    const listing = await readGitListing(dir);
    expect(listing).toBeDefined();
    expect(listing!.cleanPaths).toEqual(["a/x.txt", "b/z.txt"]);
    expect(listing!.cleanIds[0]).toBe(git(dir, "hash-object", "a/x.txt").trim());
    expect(listing!.readPaths.sort()).toEqual(["a/new.txt", "a/y.txt"]);
    expect(listing!.walkDirs).toEqual(["fresh"]);
    expect(listing!.attributesPresent).toBe(false);
  });

  it("lists paths relative to a site in a subdirectory, and nothing above it", async () => {
    const dir = repo({ "top.txt": "t", "site/app/a.txt": "a" });
    const listing = await readGitListing(path.join(dir, "site"));
    expect(listing!.cleanPaths).toEqual(["app/a.txt"]);
  });

  it("gives the same listing from the index file as from git ls-files: linked worktree, split index, skip-worktree, conflict", async () => {
    const dir = repo({ "a/x.txt": "x", "a/y.txt": "y", "b/z.txt": "z", "c/gone.txt": "g", "m.txt": "base" });
    writeFileSync(path.join(dir, "a/y.txt"), "changed");
    writeFileSync(path.join(dir, "a/new.txt"), "n");
    git(dir, "update-index", "--skip-worktree", "c/gone.txt");
    rmSync(path.join(dir, "c/gone.txt"));
    const expected = {
      cleanPaths: ["a/x.txt", "b/z.txt", "m.txt"],
      cleanIds: ["x", "z", "base"].map((text) => execFileSync("git", ["hash-object", "--stdin"], { input: text, encoding: "utf8" }).trim()),
      readPaths: ["a/new.txt", "a/y.txt"],
      walkDirs: [],
      attributesPresent: false,
    };
    const sorted = (listing: Awaited<ReturnType<typeof readGitListing>>) => ({ ...listing!, readPaths: [...listing!.readPaths].sort() });
    expect(sorted(await readGitListing(dir))).toEqual(expected);
    git(dir, "update-index", "--split-index"); // the index reader declines: git ls-files lists it
    expect(sorted(await readGitListing(dir))).toEqual(expected);

    const worktree = path.join(dir, "..", `${path.basename(dir)}-wt`);
    made.push(worktree);
    git(dir, "worktree", "add", "-q", worktree);
    const inWorktree = await readGitListing(worktree);
    expect(inWorktree!.cleanPaths).toEqual(["a/x.txt", "a/y.txt", "b/z.txt", "c/gone.txt", "m.txt"]);

    // A conflicted file is read, whatever the index's stages say.
    git(worktree, "checkout", "-q", "-b", "other");
    writeFileSync(path.join(worktree, "m.txt"), "theirs");
    git(worktree, "commit", "-q", "-am", "theirs");
    git(worktree, "checkout", "-q", "--detach", "main");
    writeFileSync(path.join(worktree, "m.txt"), "ours");
    git(worktree, "commit", "-q", "-am", "ours");
    expect(() => git(worktree, "merge", "-q", "other")).toThrow();
    const conflicted = await readGitListing(worktree);
    expect(conflicted!.cleanPaths).not.toContain("m.txt");
    expect(conflicted!.readPaths).toContain("m.txt");
  });

  it("is undefined outside a work tree, and when core.autocrlf converts", async () => {
    const plain = mkdtempSync(path.join(os.tmpdir(), "stepwise-nogit-"));
    made.push(plain);
    expect(await readGitListing(plain)).toBeUndefined();
    const dir = repo({ "a.txt": "a" });
    git(dir, "config", "core.autocrlf", "true");
    expect(await readGitListing(dir)).toBeUndefined();
  });

  it("flags attributes, and names the files they convert", async () => {
    const dir = repo({ "sub/.gitattributes": "*.txt text\n*.bin -text\n", "sub/a.txt": "a", "sub/b.bin": "b", "c.md": "c" });
    const listing = await readGitListing(dir);
    expect(listing!.attributesPresent).toBe(true);
    expect(await conversionPaths(dir, ["sub/a.txt", "sub/b.bin", "c.md"])).toEqual(new Set(["sub/a.txt"]));
  });

  it("flags attributes above a site in a subdirectory", async () => {
    const dir = repo({ ".gitattributes": "* text=auto\n", "site/a.txt": "a" });
    expect((await readGitListing(path.join(dir, "site")))!.attributesPresent).toBe(true);
  });

  it("a prefetched listing is used once; the next read lists the tree as it is then", async () => {
    const dir = repo({ "a.txt": "a" });
    prefetchGitListing(dir);
    await new Promise((resolve) => setTimeout(resolve, 200));
    writeFileSync(path.join(dir, "b.txt"), "b");
    const first = await readGitListing(dir);
    expect(first!.readPaths).toEqual([]);
    const second = await readGitListing(dir);
    expect(second!.readPaths).toEqual(["b.txt"]);
  });

  it("is not prefetched for a site whose last plan found no file inputs", async () => {
    const dir = repo({ "a.txt": "a" });
    markFileInputs(dir, false);
    expect(existsSync(cachePath(dir, NO_FILE_INPUTS))).toBe(true);
    prefetchGitListing(dir); // skipped: the read below lists the tree as it is after the write
    await new Promise((resolve) => setTimeout(resolve, 200));
    writeFileSync(path.join(dir, "b.txt"), "b");
    expect((await readGitListing(dir))!.readPaths).toEqual(["b.txt"]);
    markFileInputs(dir, true);
    expect(existsSync(cachePath(dir, NO_FILE_INPUTS))).toBe(false);
  });

  it("stops looking for a repository at GIT_CEILING_DIRECTORIES, as git does", async () => {
    const dir = repo({ "inner/a.txt": "a" });
    const saved = process.env.GIT_CEILING_DIRECTORIES;
    process.env.GIT_CEILING_DIRECTORIES = dir;
    try {
      expect(await readGitListing(path.join(dir, "inner"))).toBeUndefined();
      expect(await readGitListing(dir)).toBeDefined();
    } finally {
      if (saved === undefined) delete process.env.GIT_CEILING_DIRECTORIES;
      else process.env.GIT_CEILING_DIRECTORIES = saved;
    }
  });

  it("with a scope, lists and stats only those directories, and still sees attributes above them", async () => {
    const dir = repo({ "app/a.txt": "a", "app/deep/b.txt": "b", "other/c.txt": "c" });
    writeFileSync(path.join(dir, "other/new.txt"), "n");
    writeFileSync(path.join(dir, "app/deep/new.txt"), "n");
    const listing = await readGitListing(dir, ["app/deep"]);
    expect(listing!.cleanPaths).toEqual(["app/deep/b.txt"]);
    expect(listing!.readPaths).toEqual(["app/deep/new.txt"]);
    expect(listing!.attributesPresent).toBe(false);
    writeFileSync(path.join(dir, "app/.gitattributes"), "*.txt text\n");
    expect((await readGitListing(dir, ["app/deep"]))!.attributesPresent).toBe(true);
    expect((await readGitListing(dir, []))!.cleanPaths).toEqual([]);
  });

  it("with a scope, keeps a submodule that is exactly a scope directory (one index entry, `lib`)", async () => {
    const upstream = repo({ "x.txt": "x" });
    const dir = repo({ "app/a.txt": "a" });
    git(dir, "-c", "protocol.file.allow=always", "submodule", "add", "-q", upstream, "lib");
    expect((await readGitListing(dir, ["lib"]))!.walkDirs).toEqual(["lib"]);
    expect((await readGitListing(dir))!.walkDirs).toEqual(["lib"]);
  });

  it("lists a site git collapses to one untracked directory (`./`) as the site itself, to walk", async () => {
    const parent = repo({ README: "parent" });
    for (const site of ["site", "outer/site"]) {
      mkdirSync(path.join(parent, site, "app"), { recursive: true });
      writeFileSync(path.join(parent, site, "app/a.txt"), "a");
      expect((await readGitListing(path.join(parent, site)))!.walkDirs).toEqual([""]);
      expect((await readGitListing(path.join(parent, site), ["app"]))!.walkDirs).toEqual(["app"]);
    }
  });
});

/** Sets the mtime of every directory under `dir` (but .git) an hour back: none is "racily" new. */
function backdateDirs(dir: string): void {
  const past = new Date(Date.now() - 3600_000);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory() && entry.name !== ".git") backdateDirs(path.join(dir, entry.name));
  }
  utimesSync(dir, past, past);
}

describe("openGitListing", () => {
  it("has an identity that changes with the index and with what git reports modified or untracked", async () => {
    const dir = repo({ "a/x.txt": "x", "b/y.txt": "y" });
    const identity = async () => (await openGitListing(dir))!.identity;
    const first = await identity();
    expect(first).toEqual(expect.any(String));
    expect(await identity()).toBe(first);
    writeFileSync(path.join(dir, "a/x.txt"), "changed");
    const modified = await identity();
    expect(modified).not.toBe(first);
    writeFileSync(path.join(dir, "b/new.txt"), "n");
    const untracked = await identity();
    expect(untracked).not.toBe(modified);
    git(dir, "add", "-A");
    expect(await identity()).not.toBe(untracked);
  });

  it("keeps its identity through a listing by git ls-files, for an index this reader declines", async () => {
    const dir = repo({ "a/x.txt": "x" });
    git(dir, "update-index", "--split-index");
    const handle = (await openGitListing(dir))!;
    const before = handle.identity;
    expect(before).toEqual(expect.any(String));
    expect((await handle.listing())!.cleanPaths).toEqual(["a/x.txt"]);
    expect(handle.identity).toBe(before);
    expect((await openGitListing(dir))!.identity).toBe(before);
  });

  it("keeps the untracked listing while no directory git walked changed, and lists again when one did", async () => {
    const dir = repo({ "a/x.txt": "x", "a/deep/y.txt": "y", "b/z.txt": "z" });
    writeFileSync(path.join(dir, "a/loose.txt"), "l");
    mkdirSync(path.join(dir, "fresh"));
    mkdirSync(path.join(dir, ".stepwise")); // as after a first run: the cache's own directory changes nothing walked
    backdateDirs(dir);
    expect((await readGitListing(dir))!.readPaths).toEqual(["a/loose.txt"]);
    const cacheFile = cachePath(dir, untrackedCache.name);
    const cache = untrackedCache.read(dir)!;
    expect(cache.dirs.split("\n").filter(Boolean).map((line: string) => line.split(" ").slice(4).join(" ")).sort()).toEqual(["", "a", "a/deep", "b"]);

    // Served from the cache: a planted entry shows, and git is not asked.
    writeFileSync(cacheFile, untrackedCache.encode({ ...cache, untracked: `${cache.untracked}a/planted.txt\0` }));
    expect((await readGitListing(dir))!.readPaths).toEqual(["a/loose.txt", "a/planted.txt"]);
    // A file in a wholly untracked directory leaves the listing as it is (the directory is one entry).
    writeFileSync(path.join(dir, "fresh/f.txt"), "f");
    expect((await readGitListing(dir))!.walkDirs).toEqual([".stepwise", "fresh"]);

    // A new file in a walked directory changes its mtime: git lists again.
    writeFileSync(path.join(dir, "a/deep/new.txt"), "n");
    const listing = (await readGitListing(dir))!;
    expect(listing.readPaths.sort()).toEqual(["a/deep/new.txt", "a/loose.txt"]);
    // That directory changed just now: the new listing is not kept (it could miss a change in the same tick).
    expect(existsSync(cacheFile) && readFileSync(cacheFile, "utf8").includes("a/deep/new.txt")).toBe(false);
  });

  it("does not take the untracked listing kept for another index", async () => {
    const dir = repo({ "a/x.txt": "x" });
    writeFileSync(path.join(dir, "a/loose.txt"), "l");
    mkdirSync(path.join(dir, ".stepwise"));
    backdateDirs(dir);
    expect((await readGitListing(dir))!.readPaths).toEqual(["a/loose.txt"]);
    expect(existsSync(cachePath(dir, untrackedCache.name))).toBe(true);
    git(dir, "add", "a/loose.txt"); // no directory changes, the index does
    const listing = (await readGitListing(dir))!;
    expect(listing.readPaths).toEqual([]);
    expect(listing.cleanPaths).toEqual(["a/loose.txt", "a/x.txt"]);
  });
});
