import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { FileStateBackend } from "./file-state-backend.js";
import { currentHolder } from "./file-lock.js";
import { emptyState, STATE_VERSION } from "./state-document.js";
import { STATE_HISTORY_KEEP } from "./state-migrated.js";

const tempSite = () => mkdtempSync(path.join(os.tmpdir(), "stepwise-state-"));

describe("file state backend", () => {
  it(`keeps the document each write replaces, the last ${STATE_HISTORY_KEEP} of them, numbered by serial`, async () => {
    const dir = tempSite();
    const backend = new FileStateBackend(dir);
    let etag: string | undefined;
    for (let serial = 0; serial < STATE_HISTORY_KEEP + 3; serial++) etag = (await backend.write({ ...emptyState("demo"), serial }, etag)).etag;
    const history = await backend.history();
    expect(history).toHaveLength(STATE_HISTORY_KEEP);
    expect(history[0]).toMatchObject({ id: `state-${STATE_HISTORY_KEEP + 1}.json`, serial: STATE_HISTORY_KEEP + 1 });
    expect(history.at(-1)!.serial).toBe(2);
    expect((await backend.readVersion(history.at(-1)!.id)).serial).toBe(2);
    await expect(backend.readVersion("../state.json")).rejects.toMatchObject({ code: "STATE_VERSION_UNKNOWN", exitCode: 2 });
  });

  it("round-trips a document and refuses a write based on a stale read (compare-and-swap)", async () => {
    const dir = tempSite();
    const a = new FileStateBackend(dir);
    const b = new FileStateBackend(dir);
    expect(await a.read()).toEqual({ state: undefined, etag: undefined });
    const doc = emptyState("demo");
    const { etag } = await a.write(doc, undefined);
    const read = await b.read();
    expect(read.state).toEqual(doc);
    expect(read.etag).toBe(etag);
    await b.write({ ...doc, serial: 1 }, read.etag);
    await expect(a.write({ ...doc, serial: 2 }, etag)).rejects.toMatchObject({ code: "STATE_CONFLICT", exitCode: 2 });
    await expect(a.write(doc, undefined)).rejects.toMatchObject({ code: "STATE_CONFLICT" });
    expect(JSON.parse(readFileSync(path.join(dir, ".stepwise/state.json"), "utf8")).serial).toBe(1);
  });

  it("refuses a newer format version, migrates an older one, and reports corrupt files with the fixing command", async () => {
    const dir = tempSite();
    const file = path.join(dir, ".stepwise/state.json");
    mkdirSync(path.dirname(file), { recursive: true });
    const backend = new FileStateBackend(dir);
    writeFileSync(file, JSON.stringify({ stateVersion: STATE_VERSION + 1, steps: {} }));
    await expect(backend.read()).rejects.toMatchObject({ code: "STATE_TOO_NEW", message: expect.stringContaining(`format version ${STATE_VERSION + 1}`) });
    writeFileSync(file, JSON.stringify({ steps: { web: { status: "succeeded", plugin: "p@1", startedAt: "x" } } }));
    const migrated = await backend.read();
    expect(migrated.state).toMatchObject({ stateVersion: STATE_VERSION, serial: 0, steps: { web: { status: "succeeded" } } });
    // Version 1 kept each file as a `file:` entry; version 2 keeps them as one string per step.
    writeFileSync(
      file,
      JSON.stringify({ stateVersion: 1, steps: { web: { status: "succeeded", plugin: "p@1", startedAt: "x", fingerprint: "f", entries: { "file:b.txt": "22", "config:x": "c1", "file:a.txt": "11" } } } }),
    );
    expect((await backend.read()).state?.steps.web).toMatchObject({ fingerprint: "f", entries: { "config:x": "c1" }, files: "11 a.txt\n22 b.txt\n" });
    writeFileSync(file, '{"stateVersion": 1, "steps": {');
    await expect(backend.read()).rejects.toMatchObject({ code: "STATE_CORRUPT", hint: expect.stringContaining("--reset-state") });
    writeFileSync(file, JSON.stringify({ stateVersion: 1, steps: { web: { status: "maybe" } } }));
    await expect(backend.read()).rejects.toMatchObject({ code: "STATE_CORRUPT", message: expect.stringContaining('step "web" has status "maybe"') });
  });
});

describe("crash leftovers", () => {
  it("removes temp files of an interrupted atomic write when the lock is taken", async () => {
    const dir = tempSite();
    mkdirSync(path.join(dir, ".stepwise"), { recursive: true });
    writeFileSync(path.join(dir, ".stepwise/state.json.2787860295"), "{half");
    writeFileSync(path.join(dir, ".stepwise/state.json.notes"), "not ours");
    const lock = await new FileStateBackend(dir).lock(currentHolder("deploy"), 60_000);
    expect(existsSync(path.join(dir, ".stepwise/state.json.2787860295"))).toBe(false);
    expect(existsSync(path.join(dir, ".stepwise/state.json.notes"))).toBe(true);
    await lock.release();
  });
});

describe("file lock", () => {
  it("refuses a live holder with exit 3 naming pid, host and operation; release frees it", async () => {
    const dir = tempSite();
    const backend = new FileStateBackend(dir);
    const lock = await backend.lock(currentHolder("deploy"), 60_000);
    await expect(new FileStateBackend(dir).lock(currentHolder("deploy"), 60_000)).rejects.toMatchObject({
      code: "STATE_LOCKED",
      exitCode: 3,
      message: expect.stringContaining(`pid ${process.pid} on host ${os.hostname()}`),
    });
    await lock.renew();
    await lock.release();
    const again = await backend.lock(currentHolder("deploy"), 60_000);
    await again.release();
    expect(existsSync(path.join(dir, ".stepwise/state.lock"))).toBe(false);
  });

  it("takes over a lock whose process is dead on this host, and reports why", async () => {
    const dir = tempSite();
    const child = spawn(process.execPath, ["-e", "0"]);
    await new Promise((resolve) => child.on("exit", resolve));
    const warnings: string[] = [];
    const backend = new FileStateBackend(dir, { onStaleLock: (m) => warnings.push(m) });
    const dead = await new FileStateBackend(dir).lock({ ...currentHolder("deploy"), pid: child.pid! }, 60_000);
    expect(dead.info.pid).toBe(child.pid);
    expect((await backend.inspectLock())?.stale).toContain(`process ${child.pid} is no longer running`);
    const lock = await backend.lock(currentHolder("deploy"), 60_000);
    expect(warnings).toEqual([expect.stringContaining(`its process ${child.pid} is no longer running`)]);
    await expect(dead.renew()).rejects.toMatchObject({ code: "STATE_LOCKED" });
    await lock.release();
  });

  it("refuses an expired lock of another host as stale (exit 2) until `state unlock`", async () => {
    const dir = tempSite();
    const file = path.join(dir, ".stepwise/state.lock");
    mkdirSync(path.dirname(file), { recursive: true });
    const info = { id: "x", operation: "deploy", pid: 1, host: "elsewhere", user: "ci", startedAt: "2026-01-01T00:00:00Z", expiresAt: "2026-01-01T00:02:00Z" };
    writeFileSync(file, JSON.stringify(info));
    const backend = new FileStateBackend(dir);
    await expect(backend.lock(currentHolder("deploy"), 60_000)).rejects.toMatchObject({
      code: "STATE_LOCK_STALE",
      exitCode: 2,
      hint: expect.stringContaining("stepwise state unlock"),
      message: expect.stringContaining("pid 1 on host elsewhere"),
    });
    expect(await backend.forceUnlock()).toMatchObject({ host: "elsewhere" });
    const lock = await backend.lock(currentHolder("deploy"), 60_000);
    await lock.release();
  });
});
