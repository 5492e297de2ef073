/**
 * State written by a newer version of a plugin than the installed one: `plan` and `deploy`
 * refuse (exit 2) naming the plugin, both versions, its steps and the fix, instead of running
 * the older version's steps over what the newer one made; `--allow-plugin-downgrade` runs them.
 * An upgrade (the usual direction) plans as before.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../fixtures/component-site.js";
import { copyPlugin, makeFixtureSite, runCli } from "./cli-harness.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** Sets the installed fixture plugin's version (package.json and meta). */
function installVersion(site: string, version: string): void {
  const dir = path.join(site, "node_modules", "stepwise-plugin-fixture");
  for (const file of ["package.json", "index.js"]) {
    const text = readFileSync(path.join(dir, file), "utf8");
    writeFileSync(path.join(dir, file), text.replace(/"version": "[^"]+"|version: "[^"]+"/, (found) => found.replace(/"[^"]+"$/, `"${version}"`)));
  }
}

describe("a plugin older than the one that wrote state", () => {
  it("plan and deploy refuse with exit 2 naming the plugin, versions and fix; --allow-plugin-downgrade runs its steps", async () => {
    assertBuilt();
    const site = makeFixtureSite();
    dirs.push(site);
    const installed = path.join(site, "node_modules", "stepwise-plugin-fixture");
    rmSync(installed);
    copyPlugin(installed);
    installVersion(site, "1.2.0");
    const first = await runCli(["deploy"], { cwd: site });
    expect(first.code, first.stderr).toBe(0);

    installVersion(site, "1.10.0"); // an upgrade (1.10 > 1.2, as semver compares, not as strings)
    const upgraded = await runCli(["plan"], { cwd: site });
    expect(upgraded.code, upgraded.stderr).toBe(0);
    expect(upgraded.stdout).toContain("plugin stepwise-plugin-fixture 1.2.0 -> 1.10.0");
    expect((await runCli(["deploy"], { cwd: site })).code).toBe(0);

    installVersion(site, "1.2.0");
    for (const command of ["plan", "deploy"]) {
      const refused = await runCli([command], { cwd: site });
      expect(refused.code, command).toBe(2);
      expect(refused.stderr).toContain("State was written by newer plugin versions than the site has installed");
      expect(refused.stderr).toMatch(/stepwise-plugin-fixture: state was written by 1\.10\.0, 1\.2\.0 is installed \(steps [a-z]/);
      expect(refused.stderr).toContain("fix: npm install stepwise-plugin-fixture@1.10.0   (the versions that wrote the state), or re-run with --allow-plugin-downgrade");
      expect(refused.stderr).not.toMatch(/\n\s+at /);
    }
    const json = await runCli(["plan", "--json"], { cwd: site });
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: "PLUGIN_DOWNGRADE" });

    const allowed = await runCli(["deploy", "--allow-plugin-downgrade"], { cwd: site });
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout).toContain("ran");
    // State now records 1.2.0: the next plan is an ordinary one.
    expect((await runCli(["plan"], { cwd: site })).code).toBe(0);
  });
});
