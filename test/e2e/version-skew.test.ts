/**
 * A plugin written for a newer core than the installed one: `plan` refuses it (exit 2) and the
 * fix it names is upgrading stepwise, not the plugin (which is already ahead).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { assertBuilt } from "../fixtures/component-site.js";
import { repoRoot, runCli } from "./cli-harness.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe("core version skew", () => {
  it("plan with a plugin needing core >=99 says to upgrade stepwise, and exits 2", async () => {
    assertBuilt();
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-skew-"));
    dirs.push(dir);
    mkdirSync(path.join(dir, "node_modules"));
    symlinkSync(path.join(repoRoot, "test/fixtures/plugins/stepwise-step-from-the-future"), path.join(dir, "node_modules", "stepwise-step-from-the-future"), "dir");
    writeFileSync(path.join(dir, "stepwise.yaml"), "name: skewed\nplugins:\n  - stepwise-step-from-the-future\n");
    const plan = await runCli(["plan"], { cwd: dir });
    expect(plan.code).toBe(2);
    expect(plan.stderr).toContain("needs @stepwise/core >=99, but this stepwise runs @stepwise/core ");
    expect(plan.stderr).toContain("this stepwise is older than the plugin needs");
    expect(plan.stderr).toContain('fix: npm install @stepwise/cli@latest   (or @stepwise/core@">=99")');
    expect(plan.stderr).not.toContain("npm install stepwise-step-from-the-future");
    expect(plan.stderr).not.toMatch(/\n\s+at /); // no stack
  });
});
