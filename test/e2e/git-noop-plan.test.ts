import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { backdate, git } from "../fixtures/git-repo.js";
import { makeFixtureSite, runCli } from "./cli-harness.js";

const runs = (dir: string) => readFileSync(path.join(dir, "runs.log"), "utf8").trim().split("\n").filter(Boolean);
const state = (dir: string) => JSON.parse(readFileSync(path.join(dir, ".stepwise/state.json"), "utf8"));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A no-op plan that took its fingerprints from the memo never reads git's index. */
async function plan(dir: string) {
  const result = await runCli(["plan"], { cwd: dir, env: { STEPWISE_TRACE: "1" } });
  expect(result.code).toBe(0);
  return { stdout: result.stdout, readIndex: result.stderr.includes("git index read") };
}

describe("a no-op plan in a git work tree", () => {
  it("reuses its fingerprints while git sees no change, and still sees every change to a file input", async () => {
    const dir = makeFixtureSite();
    // Everything a deploy creates at the top of the site exists before the tree is backdated,
    // so the directories git walks are old enough for the untracked listing to be kept.
    mkdirSync(path.join(dir, ".stepwise"));
    writeFileSync(path.join(dir, "runs.log"), "");
    git(dir, "init", "-q", "-b", "main");
    git(dir, "config", "core.autocrlf", "false");
    writeFileSync(path.join(dir, ".gitignore"), "node_modules/\nruns.log\n");
    backdate(dir);
    git(dir, "add", "-A");
    git(dir, "commit", "-q", "-m", "site");

    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);
    expect(runs(dir)).toHaveLength(4);
    const prepared = state(dir).steps.prepare.outputs;
    expect(prepared.files).toBe(2);

    // Nothing changed: the index is not read at all.
    const quiet = await plan(dir);
    expect(quiet.stdout).toContain("0 to run, 4 unchanged");
    expect(quiet.readIndex).toBe(false);
    expect(readFileSync(path.join(dir, ".stepwise/cache/untracked.json"), "utf8")).toContain('"untracked"');

    // A forced step gets its files from state, the same files a listing would give it.
    expect((await runCli(["deploy", "--force-step", "prepare"], { cwd: dir })).code).toBe(0);
    expect(runs(dir).at(-1)).toBe("prepare");
    expect(state(dir).steps.prepare.outputs).toEqual(prepared);

    // An edit to a tracked file: git reports it modified.
    appendFileSync(path.join(dir, "src", "util.js"), "export const y = 2;\n");
    const edited = await plan(dir);
    expect(edited.stdout).toMatch(/run +prepare +file src\/util\.js modified/);
    expect(edited.readIndex).toBe(true);
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);

    // Once the edit is old enough to be trusted (RACY_WINDOW_MS), the modified file's stat
    // stands for its content: the plan is quiet again, and a same-size edit is still seen.
    await sleep(2100);
    expect((await plan(dir)).stdout).toContain("0 to run, 4 unchanged");
    const quietAgain = await plan(dir);
    expect(quietAgain.readIndex).toBe(false);
    const util = path.join(dir, "src", "util.js");
    writeFileSync(util, readFileSync(util, "utf8").replace("y = 2", "y = 3"));
    expect((await plan(dir)).stdout).toMatch(/run +prepare +file src\/util\.js modified/);
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);

    // A new untracked file in a tracked directory changes that directory: git lists it again.
    writeFileSync(path.join(dir, "src", "extra.js"), "export const z = 1;\n");
    expect((await plan(dir)).stdout).toMatch(/run +prepare +file src\/extra\.js added/);
    // ...and one in a new directory, which git lists as a whole.
    rmSync(path.join(dir, "src", "extra.js"));
    mkdirSync(path.join(dir, "src", "lib"));
    writeFileSync(path.join(dir, "src", "lib", "deep.js"), "export const d = 1;\n");
    expect((await plan(dir)).stdout).toMatch(/run +prepare +file src\/lib\/deep\.js added/);
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);

    // Committing changes the index, not the files: the plan lists them again and finds nothing to do.
    git(dir, "add", "-A");
    git(dir, "commit", "-q", "-m", "more");
    expect((await plan(dir)).stdout).toContain("0 to run, 4 unchanged");

    // Damaged caches are no caches: the plan lists the files again.
    const cacheDir = path.join(dir, ".stepwise/cache");
    for (const name of readdirSync(cacheDir)) writeFileSync(path.join(cacheDir, name), name.endsWith(".json") ? '{"version":2,"steps":[1],"read":[null],"dirs":7}' : "\0garbage");
    const damaged = await runCli(["plan"], { cwd: dir });
    expect(damaged.stderr).toBe("");
    expect(damaged.stdout).toContain("0 to run, 4 unchanged");

    // A deleted tracked file.
    rmSync(path.join(dir, "docs", "index.md"));
    expect((await plan(dir)).stdout).toMatch(/run +docs +file docs\/index\.md removed/);
    expect(statSync(path.join(dir, ".stepwise/cache/fingerprints.json")).isFile()).toBe(true);
  }, 60_000);
});
