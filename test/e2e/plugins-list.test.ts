/**
 * `stepwise plugins list` is the command one diagnoses plugins with: it lists each plugin's
 * version, root, core range and compatibility, and its steps with config keys and secrets;
 * a plugin needing another core, or missing, is listed and marked, not the end of the listing.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assertBuilt, makeComponentSite } from "../fixtures/component-site.js";
import { runCli } from "./cli-harness.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function site(extraPlugins: string): string {
  const dir = makeComponentSite({ yaml: `name: listed\nplugins:\n  - stepwise-step-authentik\n${extraPlugins}`, authentik: "link" });
  dirs.push(dir);
  return dir;
}

describe("stepwise plugins list", () => {
  it("shows version, root, core range and each step's config keys and secrets", async () => {
    assertBuilt();
    const dir = site("");
    const list = await runCli(["plugins", "list"], { cwd: dir });
    expect(list.stderr).toBe("");
    expect(list.code).toBe(0);
    expect(list.stdout).toContain("stepwise-step-authentik@0.1.0  core ^0.1.0\n");
    expect(list.stdout).toContain(`  from ${path.join(dir, "node_modules/stepwise-step-authentik")}\n`);
    expect(list.stdout).toContain("  step authentik\n");
    expect(list.stdout).toContain('    config authentik.version  (string, default "2024.12.3")\n');
    expect(list.stdout).toContain("    config authentik.domain  (string, required)\n");
    expect(list.stdout).toContain("    secret authentik_secret_key  generated\n");
    expect(list.stdout).toContain("    secret authentik_admin_password  yours, optional\n");
    const json = JSON.parse((await runCli(["plugins", "list", "--json"], { cwd: dir })).stdout);
    expect(json.plugins[0]).toMatchObject({
      name: "stepwise-step-authentik",
      version: "0.1.0",
      core: "^0.1.0",
      compatible: true,
      problem: null,
      steps: [{ name: "authentik", secrets: [{ name: "authentik_secret_key", generated: true }, { name: "authentik_admin_password", generated: false, required: false }] }],
    });
    expect(json.plugins[0].steps[0].config.map((c: { key: string }) => c.key)).toContain("authentik.port");
  });

  it("lists a plugin for another core and a missing one, marked with the fix, and exits 2", async () => {
    const dir = site("  - stepwise-step-future\n  - stepwise-step-absent\n");
    const future = path.join(dir, "node_modules", "stepwise-step-future");
    mkdirSync(future);
    writeFileSync(
      path.join(future, "package.json"),
      JSON.stringify({ name: "stepwise-step-future", version: "3.0.0", type: "module", exports: "./index.js", peerDependencies: { "@stepwise/core": "^9.0.0" } }),
    );
    writeFileSync(path.join(future, "index.js"), 'export default { meta: { name: "stepwise-step-future", version: "3.0.0" }, steps: [{ name: "future", description: "d", run: async () => ({}) }] };\n');
    expect((await runCli(["plan"], { cwd: dir })).code).toBe(2);
    const list = await runCli(["plugins", "list"], { cwd: dir });
    expect(list.code).toBe(2);
    expect(list.stdout).toContain("stepwise-step-authentik@0.1.0  core ^0.1.0\n");
    expect(list.stdout).toMatch(/stepwise-step-future@3\.0\.0 {2}core \^9\.0\.0 {2}INCOMPATIBLE with core \d+\.\d+\.\d+\n/);
    expect(list.stdout).toContain("  step future\n");
    expect(list.stdout).toContain("stepwise-step-absent  NOT LOADED\n");
    expect(list.stderr).toContain("error: 2 of 3 plugins cannot be used (marked above)");
    const json = JSON.parse((await runCli(["plugins", "list", "--json"], { cwd: dir })).stdout);
    expect(json.plugins.map((p: { name: string; compatible: boolean | null; problem: { code: string } | null }) => [p.name, p.compatible, p.problem?.code ?? null])).toEqual([
      ["stepwise-step-authentik", true, null],
      ["stepwise-step-future", false, "PLUGIN_INCOMPATIBLE"],
      ["stepwise-step-absent", null, "PLUGIN_MISSING"],
    ]);
  });
});
