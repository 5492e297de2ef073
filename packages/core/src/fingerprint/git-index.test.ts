import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseGitIndex, readGitIndex } from "./git-index.js";

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const gitEnv = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.invalid", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.invalid", GIT_CONFIG_NOSYSTEM: "1" };
const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8", env: gitEnv, maxBuffer: 1 << 26 });

/** A repository with paths that exercise the format: nesting, UTF-8, a path past the 12-bit name length, a symlink, an executable. */
function repo(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-index-"));
  made.push(dir);
  git(dir, "init", "-q", "-b", "main");
  const files: Record<string, string> = { "a.txt": "a", "app/src/main.ts": "main", "app/src/util.ts": "util", "b/ü/ñ é.txt": "utf8", "z.bin": "\0\x01" };
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  writeFileSync(path.join(dir, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
  execFileSync("ln", ["-s", "a.txt", path.join(dir, "link")]);
  git(dir, "add", "-A");
  // A path longer than the 12-bit name length field (no file system takes it: index only).
  const blob = execFileSync("git", ["hash-object", "-w", "--stdin"], { cwd: dir, input: "deep", encoding: "utf8", env: gitEnv }).trim();
  const long = Array.from({ length: 22 }, (_, i) => `${String(i).padStart(2, "0")}${"d".repeat(198)}`).join("/");
  git(dir, "update-index", "--add", "--cacheinfo", `100644,${blob},${long}/deep.txt`);
  git(dir, "commit", "-q", "-m", "c");
  return dir;
}

/** What `git ls-files -s` says: mode, id and path per entry. */
function lsFiles(dir: string): { paths: string[]; ids: string[]; modes: number[] } {
  const records = git(dir, "-c", "core.quotepath=off", "ls-files", "-s", "-z").split("\0").filter(Boolean);
  const parsed = records.map((r) => ({ mode: parseInt(r.slice(0, 6), 8), id: r.slice(7, 47), path: r.slice(r.indexOf("\t") + 1) }));
  return { paths: parsed.map((e) => e.path), ids: parsed.map((e) => e.id), modes: parsed.map((e) => e.mode) };
}

describe("readGitIndex", () => {
  it.each([2, 3, 4])("reads index format %i as git ls-files -s lists it", (version) => {
    const dir = repo();
    git(dir, "update-index", "--index-version", String(version));
    if (version === 3) git(dir, "update-index", "--skip-worktree", "z.bin"); // an extended flag
    const index = readGitIndex(path.join(dir, ".git", "index"))!;
    expect(index).toBeDefined();
    expect({ paths: index.paths, ids: index.ids, modes: index.modes }).toEqual(lsFiles(dir));
    expect(index.modes).toContain(0o120000);
    expect(index.modes).toContain(0o100755);
    const unusual = [...index.unusual].map((i) => index.paths[i]);
    expect(unusual).toEqual(version === 3 ? ["z.bin"] : []);
  });

  it("marks assume-unchanged and unmerged entries as unusual", () => {
    const dir = repo();
    git(dir, "update-index", "--assume-unchanged", "a.txt");
    git(dir, "checkout", "-q", "-b", "other");
    writeFileSync(path.join(dir, "app/src/main.ts"), "other");
    git(dir, "commit", "-q", "-am", "other");
    git(dir, "checkout", "-q", "main");
    writeFileSync(path.join(dir, "app/src/main.ts"), "mine");
    git(dir, "commit", "-q", "-am", "mine");
    try {
      git(dir, "merge", "-q", "other");
    } catch {
      // the conflict is the point
    }
    const index = readGitIndex(path.join(dir, ".git", "index"))!;
    const unusual = new Set([...index.unusual].map((i) => index.paths[i]));
    expect(unusual).toEqual(new Set(["a.txt", "app/src/main.ts"]));
    expect(index.paths.filter((p) => p === "app/src/main.ts")).toHaveLength(3); // stages 1-3
  });

  it("declines what it does not read: split and sparse indexes, other versions, damage", () => {
    const dir = repo();
    const file = path.join(dir, ".git", "index");
    const bytes = readFileSync(file);
    expect(parseGitIndex(bytes.subarray(0, 100))).toBeUndefined();
    const tooMany = Buffer.from(bytes);
    tooMany.writeUInt32BE(0xffffffff, 8);
    expect(parseGitIndex(tooMany)).toBeUndefined();
    const version5 = Buffer.from(bytes);
    version5.writeUInt32BE(5, 4);
    expect(parseGitIndex(version5)).toBeUndefined();
    git(dir, "update-index", "--split-index");
    expect(readGitIndex(file)).toBeUndefined();
    expect(readGitIndex(path.join(dir, "missing"))).toBeUndefined();
  });
});
