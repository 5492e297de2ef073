import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeFixtureSite, repoRoot, runCli } from "./cli-harness.js";

const fixture = path.join(repoRoot, "packages/core/src/state/fixtures/state-v2-719ee91.json");
const stateOf = (dir: string) => JSON.parse(readFileSync(path.join(dir, ".stepwise", "state.json"), "utf8"));
const objects = (dir: string) => {
  const root = path.join(dir, ".stepwise", "objects");
  return existsSync(root) ? readdirSync(root).flatMap((prefix) => readdirSync(path.join(root, prefix)).map((rest) => prefix + rest)) : [];
};

/** The fixture site with the state 719ee91 wrote for it (format 2). */
function migratedSite(): string {
  const dir = makeFixtureSite();
  mkdirSync(path.join(dir, ".stepwise"), { recursive: true });
  copyFileSync(fixture, path.join(dir, ".stepwise", "state.json"));
  return dir;
}

describe("state format 3", () => {
  it("a format-2 state from 719ee91 plans as a no-op, and the next save writes format 3 with its listings as objects", async () => {
    const dir = migratedSite();
    const plan = await runCli(["plan", "--json"], { cwd: dir });
    expect(plan.stderr).toBe("");
    // The fixture carries no secrets (an age identity has no place in the repository): publish's
    // token is unset here, and that is its only reason. Every other fingerprint matches.
    const reasons = Object.fromEntries((JSON.parse(plan.stdout).steps as { name: string; reasons: { kind: string; name?: string }[] }[]).map((s) => [s.name, s.reasons.map((r) => `${r.kind}${r.name ? ` ${r.name}` : ""}`)]));
    expect(reasons).toEqual({ docs: ["unchanged"], prepare: ["unchanged"], build: ["unchanged"], publish: ["secret-changed api_token"] });

    const deploy = await runCli(["deploy", "--force-step", "docs"], { cwd: dir });
    expect(deploy.code).toBe(0);
    const state = stateOf(dir);
    expect(state.stateVersion).toBe(3);
    const refs = Object.values(state.steps as Record<string, { files?: string; filesRef?: string }>).flatMap((s) => (s.filesRef ? [s.filesRef] : []));
    expect(Object.values(state.steps).some((s) => (s as { files?: string }).files !== undefined)).toBe(false);
    expect(objects(dir).sort()).toEqual([...refs].sort());
    expect(JSON.parse((await runCli(["plan", "--json"], { cwd: dir })).stdout)).toMatchObject({ toRun: 0 });
  });

  it("a missing listing costs a run with a clear reason, never a wrong skip; the run stores it again and collects garbage", async () => {
    const dir = migratedSite();
    await runCli(["deploy"], { cwd: dir });
    rmSync(path.join(dir, ".stepwise", "objects"), { recursive: true });
    writeFileSync(path.join(dir, "src", "main.js"), "console.log('changed');\n");
    const plan = await runCli(["plan"], { cwd: dir });
    expect(plan.stdout).toMatch(/run +prepare +files changed\? the recorded file listing is unavailable/);
    expect(plan.stdout).toMatch(/skip +docs/);
    expect((await runCli(["deploy"], { cwd: dir })).code).toBe(0);
    const before = objects(dir);
    writeFileSync(path.join(dir, "src", "main.js"), "console.log('again');\n");
    expect((await runCli(["plan"], { cwd: dir })).stdout).toMatch(/run +prepare +file src\/main.js modified/);
    await runCli(["deploy"], { cwd: dir });
    const after = objects(dir);
    expect(after).toHaveLength(before.length);
    expect(after).not.toEqual(before);
  });

  it("state pull carries the listings inline; pushing it back is a no-op, and a push stores them", async () => {
    const dir = migratedSite();
    await runCli(["deploy", "--force-all"], { cwd: dir });
    const pulled = await runCli(["state", "pull"], { cwd: dir });
    expect(pulled.stdout).toContain("src/main.js");
    writeFileSync(path.join(dir, "pulled.json"), pulled.stdout);
    expect((await runCli(["state", "push", "pulled.json"], { cwd: dir })).stdout).toContain("Nothing to push");
    const stored = objects(dir).sort();
    rmSync(path.join(dir, ".stepwise", "objects"), { recursive: true });
    rmSync(path.join(dir, ".stepwise", "state.json"));
    const pushed = await runCli(["state", "push", "pulled.json"], { cwd: dir });
    expect(pushed.code).toBe(0);
    expect(objects(dir).sort()).toEqual(stored);
    expect(JSON.parse((await runCli(["plan", "--json"], { cwd: dir })).stdout)).toMatchObject({ toRun: 0 });
  });
});
