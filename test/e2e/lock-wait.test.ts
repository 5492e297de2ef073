// --lock-wait with the file backend: a second deploy waits for the first, naming it, then runs.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { collect, makeFixtureSite, runCli, startCli } from "./cli-harness.js";

describe("--lock-wait (file state)", () => {
  it("waits for the deploy holding the lock, says whose it is, then runs; without it, exit 3", async () => {
    const dir = makeFixtureSite();
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);
    const first = startCli(["deploy", "--force-step", "docs"], { cwd: dir, env: { FIXTURE_SLEEP_MS: "2500", FIXTURE_SLEEP_STEP: "docs" } });
    const firstDone = collect(first);
    const lockFile = path.join(dir, ".stepwise/state.lock");
    while (!existsSync(lockFile) || !readFileSync(lockFile, "utf8").includes(`"pid": ${first.pid}`)) await new Promise((r) => setTimeout(r, 50));
    const refused = await runCli(["deploy"], { cwd: dir });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(`State is locked by pid ${first.pid} `);
    const waited = await runCli(["deploy", "--force-step", "docs", "--lock-wait", "1m"], { cwd: dir });
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stderr).toContain(`Waiting up to 60 s for the state lock held by pid ${first.pid} `);
    expect((await firstDone).code).toBe(0);
    expect(readFileSync(path.join(dir, "runs.log"), "utf8").split("\n").filter((l) => l === "docs")).toHaveLength(3);
  });

  it("a duration it cannot read is exit 2 naming the flag", async () => {
    const dir = makeFixtureSite();
    const bad = await runCli(["deploy", "--lock-wait", "soon"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--lock-wait expects a duration such as 30s, 5m or 1h, got "soon"');
  });
});
