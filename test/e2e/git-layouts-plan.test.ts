import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { addSubmodule, backdate, commitAll, initRepo } from "../fixtures/git-repo.js";
import { fixturePlugin, makeFixtureSite, runCli } from "./cli-harness.js";

// A site git does not list file by file (never added to the enclosing repository, ignored by
// it, a submodule of it) must still plan a step whose declared file changed: a deployer that
// skips changed code is the worst failure it can have. Each site gets a second edit after
// plans have left their caches (untracked listing, file-inputs identity, fingerprint memo).

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-layout-e2e-"));
  made.push(dir);
  return dir;
}

/** The fixture site, moved to `to`. */
function fixtureSiteAt(to: string): string {
  const site = makeFixtureSite();
  made.push(site);
  mkdirSync(path.dirname(to), { recursive: true });
  renameSync(site, to);
  return to;
}

/** A parent repository with `committed` in it, and the fixture site at `siteAt` under it, never added. */
function neverAdded(committed: Record<string, string>, siteAt: string): string {
  const parent = initRepo(tempDir());
  for (const [file, text] of Object.entries(committed)) writeFileSync(path.join(parent, file), text);
  commitAll(parent);
  return fixtureSiteAt(path.join(parent, siteAt));
}

const LAYOUTS: Record<string, () => string> = {
  "untracked inside a parent repository": () => neverAdded({ README: "parent\n" }, "site"),
  "under an untracked directory of a parent repository": () => neverAdded({ README: "parent\n" }, "sites/one"),
  "ignored by the parent's .gitignore": () => neverAdded({ ".gitignore": "/site/\n" }, "site"),
  "a submodule of a parent repository": () => {
    const upstream = fixtureSiteAt(path.join(tempDir(), "upstream"));
    writeFileSync(path.join(upstream, ".gitignore"), "node_modules/\nruns.log\n");
    commitAll(initRepo(upstream));
    const parent = initRepo(tempDir());
    commitAll(parent);
    addSubmodule(parent, upstream, "site");
    commitAll(parent);
    const site = path.join(parent, "site");
    mkdirSync(path.join(site, "node_modules"));
    symlinkSync(fixturePlugin, path.join(site, "node_modules", "stepwise-plugin-fixture"), "dir");
    return site;
  },
};

async function cli(dir: string, command: "plan" | "deploy") {
  const result = await runCli([command], { cwd: dir });
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return result.stdout;
}

const prepared = (dir: string) => JSON.parse(readFileSync(path.join(dir, ".stepwise/state.json"), "utf8")).steps.prepare.outputs;

describe("a site git lists as one directory or as a submodule", () => {
  for (const [layout, make] of Object.entries(LAYOUTS)) {
    it(`${layout}: an edited input file makes its step run, also after plans left their caches`, async () => {
      const dir = make();
      // The tree is old, so the untracked listing is kept and the caches are all in play.
      mkdirSync(path.join(dir, ".stepwise"), { recursive: true });
      backdate(dir);
      await cli(dir, "deploy");
      expect(prepared(dir).files).toBe(2); // src/main.js, src/util.js: none silently ignored

      appendFileSync(path.join(dir, "src", "util.js"), "export const y = 2;\n");
      expect(await cli(dir, "plan")).toMatch(/run +prepare +file src\/util\.js modified/);
      await cli(dir, "deploy");

      expect(await cli(dir, "plan")).toContain("0 to run");
      expect(await cli(dir, "plan")).toContain("0 to run"); // now with every cache a plan writes
      expect(existsSync(path.join(dir, ".stepwise/cache/untracked.json"))).toBe(true);

      const util = path.join(dir, "src", "util.js");
      writeFileSync(util, readFileSync(util, "utf8").replace("y = 2", "y = 3")); // same size
      expect(await cli(dir, "plan")).toMatch(/run +prepare +file src\/util\.js modified/);
      writeFileSync(path.join(dir, "src", "added.js"), "export const a = 1;\n");
      expect(await cli(dir, "plan")).toMatch(/run +prepare +file src\/util\.js modified\n +file src\/added\.js added/);
      await cli(dir, "deploy");
      expect(prepared(dir).files).toBe(3);
      expect(await cli(dir, "plan")).toContain("0 to run");
    }, 60_000);
  }
});
