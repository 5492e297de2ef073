#!/usr/bin/env node
// Issue 15 item 4: stepwise's untracked-directory check (packages/core/src/cache/untracked-cache.ts:
// read .stepwise/cache/untracked.json, lstat every directory git walked for it) against git's own
// untracked cache (`core.untrackedCache`, the UNTR index extension), on bench/.work/site, run by
// run interleaved. git's cache lives in the index: it is enabled here on a copy of the index
// (GIT_INDEX_FILE=bench/.work/untracked-index), so the site's own index, which bench/run.mjs
// times `git status` on, stays as it is. Run from the repository root after a build and a
// `stepwise plan` on the site (bench/run.mjs or bench/state-io.mjs): `node bench/untracked.mjs [--runs N]`.
import { spawnSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { interleaved, median } from "./interleave.mjs";
import { build } from "esbuild";

// The check stepwise runs is internal to core (not in its published dist/): bundled from its source for this bench.
const checkModule = path.join(path.dirname(fileURLToPath(import.meta.url)), ".work", "untracked-cache.bench.mjs");
await build({ entryPoints: [path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "packages", "core", "src", "cache", "untracked-cache.ts")], bundle: true, format: "esm", platform: "node", outfile: checkModule, logLevel: "warning" });
const { directoriesUnchanged, untrackedCache } = await import(checkModule);

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const site = path.join(benchDir, ".work", "site");
const ucIndex = path.join(benchDir, ".work", "untracked-index");
const argv = process.argv.slice(2);
const runs = argv.includes("--runs") ? Number(argv[argv.indexOf("--runs") + 1]) : 30;

const git = (env, ...args) => {
  const result = spawnSync("git", args, { cwd: site, env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 1 << 28 });
  if (result.status !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
};
const plain = { GIT_OPTIONAL_LOCKS: "0" };
const withUC = { GIT_OPTIONAL_LOCKS: "0", GIT_INDEX_FILE: ucIndex };
const UC = ["-c", "core.untrackedCache=true"];

const cache = untrackedCache.read(site);
if (!cache || !directoriesUnchanged(site, cache.dirs)) {
  process.stderr.write("bench: run `stepwise plan` in bench/.work/site first: its untracked cache is missing or stale\n");
  process.exit(2);
}
const directories = cache.dirs.split("\n").filter(Boolean).length;
copyFileSync(path.join(site, ".git", "index"), ucIndex);
git({ GIT_INDEX_FILE: ucIndex }, ...UC, "update-index", "--untracked-cache");
git({ GIT_INDEX_FILE: ucIndex }, ...UC, "status", "--porcelain"); // fills the UNTR extension (writes the copied index)
// Whether git's cache served: trace2 counts the directories it opened.
const opendir = (env, ...args) => {
  const result = spawnSync("git", args, { cwd: site, env: { ...process.env, ...env, GIT_TRACE2_PERF: "1" }, encoding: "utf8" });
  const counts = [...result.stderr.matchAll(/opendir:(\d+)/g)].map((m) => m[1]);
  return counts.length ? `opendir ${counts.join("+")}` : "cache not used";
};

const variants = [
  ["stepwise: read untracked.json + lstat its directories (in process)", () => directoriesUnchanged(site, untrackedCache.read(site).dirs) || fail()],
  ["`git ls-files -z -o --directory` (what stepwise runs without its cache)", () => git(plain, "ls-files", "-z", "-o", "--directory")],
  ["the same, untracked cache on", () => git(withUC, ...UC, "ls-files", "-z", "-o", "--directory")],
  ["`git status --porcelain`", () => git(plain, "status", "--porcelain")],
  ["`git status --porcelain`, untracked cache on", () => git(withUC, ...UC, "status", "--porcelain")],
  ["`git status --porcelain -uno` (no untracked listing)", () => git(plain, "status", "--porcelain", "-uno")],
  ["`git --version` (a spawn of git)", () => git(plain, "--version")],
];
function fail() {
  throw new Error("a directory changed during the run");
}
const notes = ["in process", "", opendir(withUC, ...UC, "ls-files", "-z", "-o", "--directory"), opendir(plain, "status", "--porcelain"), opendir(withUC, ...UC, "status", "--porcelain"), "", ""];

const load = os.loadavg();
const times = interleaved(
  variants.map(([, run]) => run),
  runs,
);
const loadAfter = os.loadavg();
const base = median(times[0]);
process.stdout.write(
  [
    "",
    `Untracked check on bench/.work/site (${directories.toLocaleString("en")} directories in stepwise's cache); ${runs} interleaved runs; ${git(plain, "--version").trim()}; load average ${load.map((l) => l.toFixed(2)).join(", ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(", ")} after.`,
    "",
    "| check | median | vs stepwise's | git's untracked cache |",
    "|---|---|---|---|",
    ...variants.map(([name], i) => `| ${name} | ${median(times[i]).toFixed(2)} ms | ${(median(times[i]) / base).toFixed(1)}x | ${notes[i]} |`),
    "",
  ].join("\n"),
);
