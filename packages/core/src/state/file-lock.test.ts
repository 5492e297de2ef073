import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { FileStateBackend } from "./file-state-backend.js";
import { UNREADABLE_LOCK_GRACE_MS, currentHolder, describeFoundLock } from "./file-lock.js";

/** A site with `.stepwise/state.lock` holding `content`, last written `ageMs` ago. */
function siteWithLock(content: string, ageMs = 0): { dir: string; lockFile: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-lock-"));
  const lockFile = path.join(dir, ".stepwise/state.lock");
  mkdirSync(path.dirname(lockFile), { recursive: true });
  writeFileSync(lockFile, content);
  const when = new Date(Date.now() - ageMs);
  utimesSync(lockFile, when, when);
  return { dir, lockFile };
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "0"]);
  await new Promise((resolve) => child.on("exit", resolve));
  return child.pid!;
}

describe("an empty or unreadable lock (its creator cannot be identified)", () => {
  it.each([
    ["empty", "", "empty lock file .stepwise/state.lock", "its holder was never written: a process was killed while taking the lock"],
    ["not JSON", "{\"id\": \"x\", \"pi", "unreadable lock file .stepwise/state.lock (15 bytes that are not a lock record)", "names no holder"],
    ["JSON without a holder", JSON.stringify({ id: "x" }), "unreadable lock file .stepwise/state.lock", "names no holder"],
  ])("%s, past its grace: status reports what was found, and the next taker takes it over saying so", async (_case, content, found, why) => {
    const { dir, lockFile } = siteWithLock(content, UNREADABLE_LOCK_GRACE_MS + 1000);
    const warnings: string[] = [];
    const backend = new FileStateBackend(dir, { onStaleLock: (m) => warnings.push(m) });
    const inspected = await backend.inspectLock();
    expect(inspected).toMatchObject({ unreadable: expect.stringContaining(found), stale: expect.stringContaining(why) });
    const lock = await backend.lock(currentHolder("secrets set", { brief: true }), 60_000);
    expect(warnings).toEqual([expect.stringContaining(`Took over a stale state lock: found ${found}`)]);
    expect(warnings[0]).toContain(why);
    expect(await backend.inspectLock()).toMatchObject({ pid: process.pid, operation: "secrets set" });
    await lock.release();
    expect(existsSync(lockFile)).toBe(false);
  });

  it("within its grace it is waited for, not refused, and reported as possibly being written", async () => {
    const { dir, lockFile } = siteWithLock("");
    const backend = new FileStateBackend(dir);
    const inspected = await backend.inspectLock();
    expect(inspected).toEqual({ unreadable: "empty lock file .stepwise/state.lock" });
    expect(describeFoundLock(inspected!)).toBe("empty lock file .stepwise/state.lock, which its creator may be writing right now");
    // Its creator (an older version) finishes and releases while the taker waits.
    setTimeout(() => rmSync(lockFile), 300);
    const started = Date.now();
    const lock = await backend.lock(currentHolder("deploy"), 60_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(UNREADABLE_LOCK_GRACE_MS);
    await lock.release();
  });

  it("state unlock removes it and says what it was", async () => {
    const { dir, lockFile } = siteWithLock("", UNREADABLE_LOCK_GRACE_MS + 1000);
    const removed = await new FileStateBackend(dir).forceUnlock();
    expect(removed).toMatchObject({ unreadable: "empty lock file .stepwise/state.lock" });
    expect(existsSync(lockFile)).toBe(false);
  });
});

describe("lock creation", () => {
  it("of eight takers at once exactly one wins; the others exit 3 naming it, and leave no temp file", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-lock-"));
    const takers = Array.from({ length: 8 }, () => new FileStateBackend(dir));
    const results = await Promise.allSettled(takers.map((t) => t.lock(currentHolder("deploy"), 60_000)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const refusals = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason as { exitCode: number; message: string });
    expect(refusals.map((r) => r.exitCode)).toEqual(Array(7).fill(3));
    for (const refusal of refusals) expect(refusal.message).toContain(`State is locked by pid ${process.pid}`);
    // The lock is written to a temp file and linked into place; every temp file is removed.
    expect(readdirSync(path.join(dir, ".stepwise")).sort()).toEqual(["state.lock"]);
  });

  it("removes temp files of lock writes whose process is dead, and keeps a live one's", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-lock-"));
    const stepwise = path.join(dir, ".stepwise");
    mkdirSync(stepwise, { recursive: true });
    const dead = await deadPid();
    for (const name of [`state.lock.${dead}.0badf00d.new`, `state.lock.${dead}.renew`, `state.lock.${process.pid}.1234abcd.new`]) writeFileSync(path.join(stepwise, name), "{}");
    const lock = await new FileStateBackend(dir).lock(currentHolder("deploy"), 60_000);
    expect(readdirSync(stepwise).sort()).toEqual(["state.lock", `state.lock.${process.pid}.1234abcd.new`]);
    await lock.release();
  });
});

describe("brief holders", () => {
  it("a taker waits for a brief holder (a quick edit) instead of refusing", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-lock-"));
    const brief = await new FileStateBackend(dir).lock(currentHolder("secrets set", { brief: true }), 60_000);
    setTimeout(() => void brief.release(), 300);
    const started = Date.now();
    const lock = await new FileStateBackend(dir).lock(currentHolder("deploy"), 60_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await lock.release();
  });

  it("a deploy's lock is not brief: a quick edit is refused at once with exit 3 naming it", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-lock-"));
    const deploy = await new FileStateBackend(dir).lock(currentHolder("deploy"), 60_000);
    const started = Date.now();
    await expect(new FileStateBackend(dir).lock(currentHolder("secrets set", { brief: true }), 60_000)).rejects.toMatchObject({
      code: "STATE_LOCKED",
      exitCode: 3,
      message: expect.stringContaining(`pid ${process.pid} on host ${os.hostname()} (user ${os.userInfo().username}, deploy since`),
    });
    expect(Date.now() - started).toBeLessThan(1000);
    await deploy.release();
  });
});
