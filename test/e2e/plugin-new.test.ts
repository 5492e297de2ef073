/**
 * `stepwise plugin new`: the scaffold, made outside the workspace, tests green with node --test
 * against the built @stepwise/core (linked as its dev dependency), and a site that lists it
 * plans and deploys it from its npm pack tarball with no edits; a second deploy skips it, a
 * changed input file re-runs it.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { assertBuilt, repoRoot } from "../fixtures/component-site.js";
import { runCli } from "./cli-harness.js";

const work = mkdtempSync(path.join(os.tmpdir(), "stepwise-plugin-new-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Links the built core into the package, as `npm install` of its dev dependency would. */
function linkCore(pluginDir: string): void {
  mkdirSync(path.join(pluginDir, "node_modules", "@stepwise"), { recursive: true });
  symlinkSync(path.join(repoRoot, "packages", "core"), path.join(pluginDir, "node_modules", "@stepwise", "core"), "dir");
}

async function nodeTest(cwd: string): Promise<{ code: number; output: string }> {
  const run = await promisify(execFile)(process.execPath, ["--test"], { cwd, encoding: "utf8" }).catch((error: { code: number; stdout: string; stderr: string }) => error);
  return { code: "code" in run ? run.code : 0, output: run.stdout + run.stderr };
}

describe("stepwise plugin new", () => {
  it("scaffolds a step plugin that tests green and deploys in a site without edits", async () => {
    assertBuilt();
    const made = await runCli(["plugin", "new", "stepwise-step-hello", "--dir", path.join(work, "plugins")], { cwd: work });
    expect(made.stderr).toBe("");
    expect(made.code).toBe(0);
    const pluginDir = path.join(work, "plugins", "stepwise-step-hello");
    expect(made.stdout).toContain(`Created step plugin stepwise-step-hello in ${pluginDir}`);
    expect(statSync(pluginDir).mode & 0o777).toBe(0o755);
    const pkg = JSON.parse(readFileSync(path.join(pluginDir, "package.json"), "utf8"));
    const core = JSON.parse(readFileSync(path.join(repoRoot, "packages/core/package.json"), "utf8")) as { version: string };
    expect(pkg).toMatchObject({ type: "module", files: ["src"], exports: { ".": "./src/index.js" }, peerDependencies: { "@stepwise/core": `^${core.version}` } });
    expect(pkg.keywords).toContain("stepwise-plugin");
    expect(pkg.dependencies).toBeUndefined();

    linkCore(pluginDir);
    const tested = await nodeTest(pluginDir);
    expect(tested.output).toMatch(/ℹ pass [1-9]/);
    expect(tested.output).toMatch(/ℹ fail 0/);
    expect(tested.code, tested.output).toBe(0);

    const site = path.join(work, "site");
    mkdirSync(path.join(site, "node_modules"), { recursive: true });
    mkdirSync(path.join(site, "hello"));
    // As docs/writing-a-plugin.md: npm pack, then install the tarball (unpacked as npm would).
    const packed = JSON.parse(await promisify(execFile)("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], { cwd: pluginDir, encoding: "utf8" }).then((r) => r.stdout)) as { filename: string; files: { path: string }[] }[];
    expect(packed[0]!.files.map((f) => f.path).sort()).toEqual(["README.md", "package.json", "src/hello-step.js", "src/index.js"]);
    const installed = path.join(site, "node_modules", "stepwise-step-hello");
    mkdirSync(installed);
    await promisify(execFile)("tar", ["-xzf", path.join(work, packed[0]!.filename), "-C", installed, "--strip-components=1"]);
    writeFileSync(path.join(site, "hello", "a.txt"), "Ada\n");
    writeFileSync(path.join(site, "stepwise.yaml"), "name: hello-site\nplugins:\n  - stepwise-step-hello\n");
    const plan = await runCli(["plan"], { cwd: site });
    expect(plan.stdout).toMatch(/run\s+hello\s+never run/);
    const first = await runCli(["deploy"], { cwd: site });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("Deployed: 1 ran");
    const state = JSON.parse((await runCli(["state", "show", "--json"], { cwd: site })).stdout);
    expect(JSON.stringify(state)).toContain("Hello, Ada!");
    const second = await runCli(["deploy"], { cwd: site });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("Nothing to do: all 1 steps unchanged.");
    writeFileSync(path.join(site, "hello", "b.txt"), "Grace\n");
    expect((await runCli(["plan"], { cwd: site })).stdout).toMatch(/run\s+hello\s+file hello\/b\.txt added/);
  }, 60_000);

  it("scaffolds a target plugin that tests green", async () => {
    const made = await runCli(["plugin", "new", "@acme/stepwise-target-cloud", "--kind", "target", "--dir", work], { cwd: work });
    expect(made.code, made.stderr).toBe(0);
    const pluginDir = path.join(work, "stepwise-target-cloud");
    linkCore(pluginDir);
    const tested = await nodeTest(pluginDir);
    expect(tested.output).toMatch(/ℹ fail 0/);
    expect(tested.code, tested.output).toBe(0);
  }, 60_000);

  it("refuses a bad name or a directory in use, writing nothing", async () => {
    const bad = await runCli(["plugin", "new", "Not A Name", "--dir", work], { cwd: work });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"Not A Name" is not a valid npm package name');
    const taken = await runCli(["plugin", "new", "stepwise-target-cloud", "--dir", work], { cwd: work });
    expect(taken.code).toBe(2);
    expect(taken.stderr).toContain(`${path.join(work, "stepwise-target-cloud")} already exists and is not empty`);
  });
});
