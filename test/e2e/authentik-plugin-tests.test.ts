/**
 * The third-party authentik example carries its own tests (`npm test`: node --test), written as
 * a plugin author would, against `@stepwise/core/testing`. They run here as in that author's
 * checkout: the plugin with `@stepwise/core` installed next to it as a dev dependency (the
 * built package, linked), so the suite fails when they do.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { assertBuilt, authentikPlugin, repoRoot } from "../fixtures/component-site.js";

const checkout = mkdtempSync(path.join(os.tmpdir(), "stepwise-authentik-checkout-"));
afterAll(() => rmSync(checkout, { recursive: true, force: true }));

describe("the authentik example's own tests", () => {
  it("pass with node --test against @stepwise/core/testing", async () => {
    assertBuilt();
    cpSync(authentikPlugin, checkout, { recursive: true, filter: (source) => !source.includes(`${path.sep}node_modules`) });
    mkdirSync(path.join(checkout, "node_modules", "@stepwise"), { recursive: true });
    symlinkSync(path.join(repoRoot, "packages", "core"), path.join(checkout, "node_modules", "@stepwise", "core"), "dir");
    const tests = readdirSync(path.join(checkout, "test")).filter((file) => file.endsWith(".test.js")).map((file) => path.join("test", file));
    expect(tests.length).toBeGreaterThan(0);
    const run = await promisify(execFile)(process.execPath, ["--test", ...tests], { cwd: checkout, encoding: "utf8" }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect(run.stdout + run.stderr).toMatch(/ℹ fail 0/);
    expect("code" in run ? run.code : 0, run.stdout + run.stderr).toBe(0);
  }, 60_000);
});
