import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AgeSecretBackend, parseState } from "@stepwise/core/engine";
import { describe, expect, it } from "vitest";
import { collect, makeFixtureSite, runCli, startCli } from "./cli-harness.js";

const runsOf = (dir: string) => {
  const file = path.join(dir, "runs.log");
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => l.split(" ")[0]) : [];
};

describe("crash safety", () => {
  it("kill -9 at random points never corrupts state nor records an unfinished step, and the next run converges", async () => {
    const dir = makeFixtureSite();
    const stateFile = path.join(dir, ".stepwise/state.json");
    let everKilledMidStep = false;
    for (let round = 0; round < 20; round++) {
      const child = startCli(["deploy", "--concurrency", "2", "--force-all"], { cwd: dir, env: { FIXTURE_SLEEP_MS: "120" } });
      const done = collect(child);
      const delay = 150 + Math.floor(Math.random() * 700);
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill("SIGKILL");
      const result = await done;
      if (result.signal === "SIGKILL") everKilledMidStep = true;
      if (!existsSync(stateFile)) continue;
      const text = readFileSync(stateFile, "utf8");
      const state = parseState(text, stateFile); // throws if the file is torn or invalid
      const completedRuns = runsOf(dir);
      for (const [name, record] of Object.entries(state.steps)) {
        // A step recorded as succeeded must have finished its work (the fixture logs at the end of run).
        if (record.status === "succeeded") expect(completedRuns, `round ${round}: ${name}`).toContain(name);
      }
    }
    expect(everKilledMidStep).toBe(true);
    const converge = await runCli(["deploy"], { cwd: dir });
    expect(converge.stderr.replace(/warning: Took over a stale state lock: [^\n]*\n/, "")).toBe("");
    expect(converge.code).toBe(0);
    const again = await runCli(["plan", "--json"], { cwd: dir });
    expect(JSON.parse(again.stdout).toRun).toBe(0);
    // Temp files of writes that kill -9 interrupted are removed by the next lock holder.
    expect(readdirSync(path.dirname(stateFile)).filter((f) => f.startsWith("state.json") && f !== "state.json")).toEqual([]);
  }, 180_000);

  it("a lock left by a killed run is taken over with a warning naming the dead pid", async () => {
    const dir = makeFixtureSite();
    const child = startCli(["deploy"], { cwd: dir, env: { FIXTURE_SLEEP_MS: "5000" } });
    const done = collect(child);
    const lockFile = path.join(dir, ".stepwise/state.lock");
    const stateFile = path.join(dir, ".stepwise/state.json");
    const running = () => existsSync(stateFile) && readFileSync(stateFile, "utf8").includes('"running"');
    for (let i = 0; i < 200 && !running(); i++) await new Promise((r) => setTimeout(r, 25));
    child.kill("SIGKILL");
    await done;
    expect(existsSync(lockFile)).toBe(true);
    const status = await runCli(["status"], { cwd: dir });
    expect(status.stdout).toContain(`locked by pid ${child.pid}`);
    expect(status.stdout).toContain("stale");
    const next = await runCli(["deploy"], { cwd: dir });
    expect(next.code).toBe(0);
    expect(next.stderr).toContain(`Took over a stale state lock: its process ${child.pid} is no longer running`);
    expect(next.stdout).toContain("interrupted during last run");
  }, 60_000);

  it("SIGINT aborts running steps, saves state, exits 130, and the next run resumes", async () => {
    const dir = makeFixtureSite();
    const child = startCli(["deploy", "--concurrency", "1"], { cwd: dir, env: { FIXTURE_SLEEP_MS: "4000", FIXTURE_SLEEP_STEP: "build" } });
    const done = collect(child);
    for (let i = 0; i < 200 && !runsOf(dir).includes("prepare"); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGINT");
    const result = await done;
    expect(result.code).toBe(130);
    expect(result.stdout).toContain("Interrupted");
    const state = JSON.parse(readFileSync(path.join(dir, ".stepwise/state.json"), "utf8"));
    expect(state.steps.build.status).toBe("failed");
    expect(state.steps.build.error.code).toBe("INTERRUPTED");
    expect(existsSync(path.join(dir, ".stepwise/state.lock"))).toBe(false);
    const resumed = await runCli(["deploy"], { cwd: dir });
    expect(resumed.code).toBe(0);
    expect(runsOf(dir).filter((r) => r === "prepare")).toHaveLength(1);
  }, 60_000);
});

describe("locking", () => {
  it("two deploys started together: exactly one runs, the other exits 3 naming the holder's pid and host", async () => {
    const dir = makeFixtureSite();
    const a = startCli(["deploy"], { cwd: dir, env: { FIXTURE_SLEEP_MS: "600" } });
    const b = startCli(["deploy"], { cwd: dir, env: { FIXTURE_SLEEP_MS: "600" } });
    const [ra, rb] = await Promise.all([collect(a), collect(b)]);
    const codes = [ra.code, rb.code].sort();
    expect(codes).toEqual([0, 3]);
    const [winner, loser] = ra.code === 0 ? [a, rb] : [b, ra];
    expect(loser.stderr).toContain(`State is locked by pid ${winner.pid} on host ${os.hostname()}`);
    expect(loser.stderr).toContain("fix: wait for that run to finish; if it is gone, run: stepwise state unlock");
    expect(runsOf(dir).sort()).toEqual(["build", "docs", "prepare", "publish"]);
  }, 60_000);

  it("state unlock breaks a lock and says whose it was", async () => {
    const dir = makeFixtureSite();
    const child = startCli(["deploy"], { cwd: dir, env: { FIXTURE_SLEEP_MS: "5000" } });
    const done = collect(child);
    const lockFile = path.join(dir, ".stepwise/state.lock");
    for (let i = 0; i < 100 && !existsSync(lockFile); i++) await new Promise((r) => setTimeout(r, 50));
    const unlock = await runCli(["state", "unlock"], { cwd: dir });
    expect(unlock.code).toBe(0);
    expect(unlock.stdout).toContain(`Removed the state lock held by pid ${child.pid}`);
    child.kill("SIGKILL");
    await done;
  }, 60_000);
});

describe("secrets", () => {
  it("no secret value appears in the state file, the stat cache, --json output or --verbose logs", async () => {
    const dir = makeFixtureSite();
    const outputs: string[] = [];
    const record = (r: { stdout: string; stderr: string }) => outputs.push(r.stdout, r.stderr);
    record(await runCli(["deploy", "--verbose"], { cwd: dir }));
    record(await runCli(["deploy", "--json", "--force-all"], { cwd: dir }));
    record(await runCli(["plan", "--json", "--verbose"], { cwd: dir }));
    record(await runCli(["status", "--json"], { cwd: dir }));
    record(await runCli(["state", "show"], { cwd: dir }));
    record(await runCli(["secrets", "list", "--json"], { cwd: dir }));
    const secrets = await new AgeSecretBackend(dir).readAll();
    const values = [...secrets.values()];
    expect(values.length).toBeGreaterThanOrEqual(2); // api_token and the HMAC key
    const cacheDir = path.join(dir, ".stepwise/cache");
    const cacheFiles = readdirSync(cacheDir).map((f) => path.join(".stepwise/cache", f));
    expect(cacheFiles.length).toBeGreaterThan(0);
    const files = [".stepwise/state.json", ...cacheFiles].map((f) => readFileSync(path.join(dir, f), "latin1"));
    // The fixture logs its token: the log line must be there, redacted.
    expect(outputs.join("\n")).toContain("publishing with token [redacted]");
    for (const value of values) {
      for (const text of [...outputs, ...files]) expect(text.includes(value)).toBe(false);
    }
    expect(statSync(path.join(dir, ".stepwise/secrets.age")).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, ".stepwise/age-identity.txt")).mode & 0o777).toBe(0o600);
  }, 60_000);

  it("secrets set reads stdin (never argv), and a changed secret re-runs exactly the steps that use it", async () => {
    const dir = makeFixtureSite();
    await runCli(["deploy"], { cwd: dir });
    const value = "user-chosen-token-0123456789";
    const set = await runCli(["secrets", "set", "api_token"], { cwd: dir, input: `${value}\n` });
    expect(set.code).toBe(0);
    expect(set.stdout).toContain("Stored api_token");
    const plan = await runCli(["plan"], { cwd: dir });
    expect(plan.stdout).toMatch(/run +publish +secret api_token changed \([0-9a-f]{8} -> [0-9a-f]{8}\)/);
    expect(plan.stdout).toContain("1 to run, 3 unchanged");
    expect(plan.stdout).not.toContain(value);
    expect((await new AgeSecretBackend(dir).readAll()).get("api_token")).toBe(value);
    const unknown = await runCli(["secrets", "set", "nope"], { cwd: dir, input: "x" });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No step owns a secret named "nope"');
  }, 60_000);
});
