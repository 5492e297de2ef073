import { readFileSync, writeFileSync, appendFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeFixtureSite, runCli } from "./cli-harness.js";

const runs = (dir: string) => {
  try {
    return readFileSync(path.join(dir, "runs.log"), "utf8").trim().split("\n").filter(Boolean).map((l) => l.split(" ")[0]);
  } catch {
    return [];
  }
};
const state = (dir: string) => JSON.parse(readFileSync(path.join(dir, ".stepwise/state.json"), "utf8"));

describe("deploy lifecycle through the built CLI", () => {
  it("runs everything first, skips everything second, and re-runs exactly what an edited file affects", async () => {
    const dir = makeFixtureSite();
    const first = await runCli(["deploy"], { cwd: dir });
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(runs(dir).sort()).toEqual(["build", "docs", "prepare", "publish"]);
    expect(first.stdout).toContain("Deployed: 4 ran, 0 unchanged.");

    const second = await runCli(["deploy"], { cwd: dir });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/skip +prepare +unchanged/);
    expect(second.stdout).toContain("Nothing to do: all 4 steps unchanged.");
    expect(runs(dir)).toHaveLength(4);

    appendFileSync(path.join(dir, "src", "util.js"), "export const y = 2;\n");
    const plan = await runCli(["plan"], { cwd: dir });
    expect(plan.stdout).toMatch(/run +prepare +file src\/util\.js modified/);
    expect(plan.stdout).toMatch(/run +build +upstream prepare will run/);
    expect(plan.stdout).toMatch(/skip +docs +unchanged/);
    expect(plan.stdout).toContain("3 to run, 1 unchanged");

    const third = await runCli(["deploy"], { cwd: dir });
    expect(third.code).toBe(0);
    expect(runs(dir).slice(4).sort()).toEqual(["build", "prepare", "publish"]);

    // A file excluded by a negative glob is not an input.
    writeFileSync(path.join(dir, "src", "scratch.tmp"), "ignored");
    expect((await runCli(["plan"], { cwd: dir })).stdout).toContain("0 to run, 4 unchanged");
  });

  it("explains config changes old -> new and re-runs only the owner and its dependants", async () => {
    const dir = makeFixtureSite();
    await runCli(["deploy"], { cwd: dir });
    const plan = await runCli(["plan", "--set", "app.greeting=bonjour"], { cwd: dir });
    expect(plan.stdout).toContain('config app.greeting: "hello" -> "bonjour"');
    expect(plan.stdout).toMatch(/skip +prepare/);
    const json = JSON.parse((await runCli(["plan", "--json", "--set", "app.greeting=bonjour"], { cwd: dir })).stdout);
    const build = json.steps.find((s: { name: string }) => s.name === "build");
    expect(build.action).toBe("run");
    expect(build.reasons[0]).toMatchObject({ kind: "config-changed", key: "app.greeting", from: "hello", to: "bonjour" });
    expect(json.steps.map((s: { name: string; action: string }) => `${s.name}:${s.action}`)).toEqual(["docs:skip", "prepare:skip", "build:run", "publish:run"]);
  });

  it("--force-step runs one step (and what depends on it), --force-all runs everything", async () => {
    const dir = makeFixtureSite();
    await runCli(["deploy"], { cwd: dir });
    const forced = await runCli(["deploy", "--force-step", "build"], { cwd: dir });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/run +build +forced \(--force-step\)/);
    // build's outputs did not change, so publish is cut off early.
    expect(runs(dir).slice(4)).toEqual(["build"]);
    expect(forced.stdout).toContain("publish: skipped, upstream re-ran, outputs unchanged");

    const all = await runCli(["deploy", "--force-all"], { cwd: dir });
    expect(all.code).toBe(0);
    expect(runs(dir).slice(5).sort()).toEqual(["build", "docs", "prepare", "publish"]);

    const unknown = await runCli(["deploy", "--force-step", "nope"], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown step "nope" (referenced by --force-step)');
  });

  it("a plugin's own bug names the plugin and hook; --verbose and --json carry its stack", async () => {
    const dir = makeFixtureSite();
    const plain = await runCli(["deploy", "--concurrency", "1"], { cwd: dir, env: { FIXTURE_BUG_STEP: "build" } });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain("step build failed: TypeError: Cannot read properties of undefined (reading 'name') [stepwise-plugin-fixture@1.0.0, run]");
    expect(plain.stderr).toContain("fix: a bug or an unhandled case in stepwise-plugin-fixture: run again with --verbose");
    expect(plain.stderr).not.toMatch(/^\s+at /m);
    expect(state(dir).steps.build).toMatchObject({ status: "failed", error: { code: "PLUGIN_ERROR" } });

    const verbose = await runCli(["deploy", "--verbose"], { cwd: dir, env: { FIXTURE_BUG_STEP: "build" } });
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/^ +at .*stepwise-plugin-fixture\/index\.js:\d+/m);

    const json = await runCli(["deploy", "--json"], { cwd: dir, env: { FIXTURE_BUG_STEP: "build" } });
    expect(json.code).toBe(1);
    const error = (JSON.parse(json.stdout) as { failed: { step: string; error: Record<string, string> }[] }).failed[0]!.error;
    expect(error).toMatchObject({ code: "PLUGIN_ERROR", plugin: "stepwise-plugin-fixture@1.0.0", step: "build", hook: "run" });
    expect(error.stack).toMatch(/stepwise-plugin-fixture\/index\.js:\d+/);
  });

  it("a failing step exits 1, records the error, starts nothing after it, and the next run resumes from it", async () => {
    const dir = makeFixtureSite();
    const failed = await runCli(["deploy", "--concurrency", "1"], { cwd: dir, env: { FIXTURE_FAIL_STEP: "build" } });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("step build failed: build failed on purpose");
    expect(failed.stdout).toContain("it resumes from build");
    expect(state(dir).steps.build).toMatchObject({ status: "failed", error: { message: expect.stringContaining("failed on purpose") } });
    expect(state(dir).steps.publish).toBeUndefined();
    expect(runs(dir)).not.toContain("publish");

    const plan = await runCli(["plan"], { cwd: dir });
    expect(plan.stdout).toMatch(/run +build +failed last run: build failed on purpose/);
    expect(plan.stdout).toMatch(/skip +prepare/);

    const resumed = await runCli(["deploy"], { cwd: dir });
    expect(resumed.code).toBe(0);
    expect(runs(dir).filter((r) => r === "prepare")).toHaveLength(1);
    expect(runs(dir).filter((r) => r === "build")).toHaveLength(1);
    expect(runs(dir)).toContain("publish");
    expect((await runCli(["plan"], { cwd: dir })).stdout).toContain("0 to run");
  });

  it("--dry-run changes nothing and --expect-no-changes fails when work is pending", async () => {
    const dir = makeFixtureSite();
    const dry = await runCli(["deploy", "--dry-run"], { cwd: dir });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("Dry run: nothing was changed. 4 steps would run.");
    expect(runs(dir)).toEqual([]);
    const expectNone = await runCli(["deploy", "--expect-no-changes"], { cwd: dir });
    expect(expectNone.code).toBe(1);
    expect(expectNone.stderr).toContain("--expect-no-changes: 4 steps would run");
    expect(runs(dir)).toEqual([]);
    await runCli(["deploy"], { cwd: dir });
    expect((await runCli(["plan", "--expect-no-changes"], { cwd: dir })).code).toBe(0);
  });

  it("--reset-state runs everything again", async () => {
    const dir = makeFixtureSite();
    await runCli(["deploy"], { cwd: dir });
    const reset = await runCli(["deploy", "--reset-state"], { cwd: dir });
    expect(reset.code).toBe(0);
    expect(runs(dir)).toHaveLength(8);
  });
});
