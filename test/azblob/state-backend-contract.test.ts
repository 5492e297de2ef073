// One suite, two backends: every guarantee of the StateBackend contract (packages/core/src/contracts.ts)
// is checked against the file backend and against azblob on Azurite, with the same cases.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FileStateBackend, STATE_HISTORY_KEEP, currentHolder, emptyState, isStepwiseError, type StateBackend, type StateDocument } from "@stepwise/core/engine";
import { createAzblobBackend } from "../../packages/state-azblob/src/azblob-backend.js";
import { azblobHarness } from "./harness.js";

const ctx = (warnings: string[] = []) => ({ siteDir: os.tmpdir(), siteName: "contract", warn: (m: string) => warnings.push(m) });

async function fileBackend(): Promise<StateBackend> {
  return new FileStateBackend(mkdtempSync(path.join(os.tmpdir(), "stepwise-contract-")));
}

async function azblobBackend(): Promise<StateBackend> {
  const env = azblobHarness();
  return createAzblobBackend({ container: "contract", blob: `${randomUUID()}/state.json`, leaseSeconds: 15 }, ctx(), { STEPWISE_AZBLOB_CONNECTION_STRING: env.connectionString });
}

function doc(serial: number, site = "contract"): StateDocument {
  return { ...emptyState(site), lineage: "0b6f7f4e-0000-4000-8000-000000000000", serial, steps: { web: { status: "succeeded", plugin: "p@1.0.0", startedAt: "2026-01-01T00:00:00.000Z", config: { serial } } } };
}

async function code(promise: Promise<unknown>): Promise<{ code: string; exitCode: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isStepwiseError(error)) return { code: error.code, exitCode: error.exitCode, message: error.message };
    throw error;
  }
  throw new Error("expected a StepwiseError");
}

const hash = (n: number) => n.toString(16).padStart(64, "0");

describe.each([
  ["file", fileBackend],
  ["azblob", azblobBackend],
])("StateBackend contract: %s", (_name, make) => {
  it("reads nothing before the first write, then what was written", async () => {
    const backend = await make();
    expect(await backend.read()).toMatchObject({ state: undefined, etag: undefined });
    const { etag } = await backend.write(doc(1), undefined);
    const read = await backend.read();
    expect(read.state).toEqual(doc(1));
    expect(read.etag).toBe(etag);
  });

  it("write is compare-and-swap: a stale etag or a second first write is STATE_CONFLICT and overwrites nothing", async () => {
    const backend = await make();
    const first = await backend.write(doc(1), undefined);
    await backend.write(doc(2), first.etag);
    expect(await code(backend.write(doc(3), first.etag))).toMatchObject({ code: "STATE_CONFLICT", exitCode: 2 });
    expect(await code(backend.write(doc(4), undefined))).toMatchObject({ code: "STATE_CONFLICT" });
    expect((await backend.read()).state?.serial).toBe(2);
  });

  it("the lock refuses a second taker with exit 3 naming the holder; inspect shows it; release frees it", async () => {
    const backend = await make();
    const lock = await backend.lock(currentHolder("deploy"), 60_000);
    const refused = await code(backend.lock(currentHolder("plan"), 60_000));
    expect(refused).toMatchObject({ code: "STATE_LOCKED", exitCode: 3 });
    expect(refused.message).toContain(`pid ${process.pid}`);
    expect(refused.message).toContain("deploy since");
    expect(await backend.inspectLock()).toMatchObject({ id: lock.info.id, operation: "deploy", pid: process.pid });
    await lock.renew();
    await lock.release();
    expect(await backend.inspectLock()).toBeUndefined();
    const again = await backend.lock(currentHolder("deploy"), 60_000);
    await again.release();
  });

  it("waits for a held lock with waitMs, telling whose it waits for, and takes it when released", async () => {
    const backend = await make();
    const first = await backend.lock(currentHolder("deploy"), 60_000);
    const told: string[] = [];
    const started = Date.now();
    setTimeout(() => void first.release(), 1200);
    const second = await backend.lock(currentHolder("deploy"), 60_000, { waitMs: 20_000, onWait: (holder) => told.push(holder) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(told).toEqual([expect.stringContaining(`pid ${process.pid}`)]);
    await second.release();
  });

  it("forceUnlock breaks a held lock and returns its holder; the holder's renewal then fails", async () => {
    const backend = await make();
    const lock = await backend.lock(currentHolder("deploy"), 60_000);
    expect(await backend.forceUnlock()).toMatchObject({ id: lock.info.id, operation: "deploy" });
    expect(await code(lock.renew())).toMatchObject({ code: "STATE_LOCKED", exitCode: 3 });
    const next = await backend.lock(currentHolder("deploy"), 60_000);
    await next.release();
    await lock.release();
    expect(await backend.forceUnlock()).toBeUndefined();
  });

  it("objects are immutable and content-addressed: put twice, get, list, delete", async () => {
    const backend = await make();
    const bytes = new TextEncoder().encode("listing\n");
    await backend.putObject(hash(1), bytes);
    await backend.putObject(hash(1), bytes);
    await backend.putObject(hash(2), bytes);
    expect(Buffer.from((await backend.getObject(hash(1)))!).toString()).toBe("listing\n");
    expect((await backend.listObjects()).sort()).toEqual([hash(1), hash(2)]);
    await backend.deleteObject(hash(1));
    await backend.deleteObject(hash(1));
    expect(await backend.getObject(hash(1))).toBeUndefined();
    expect(await backend.listObjects()).toEqual([hash(2)]);
    expect(await code(backend.getObject("../etc/passwd"))).toMatchObject({ code: "STATE_CORRUPT" });
  });

  it("the journal keeps appended lines in order until a write clears it", async () => {
    const backend = await make();
    expect(await backend.readJournal()).toBeUndefined();
    await backend.appendJournal('{"a":1}');
    await backend.appendJournal('{"b":2}');
    expect(await backend.readJournal()).toBe('{"a":1}\n{"b":2}\n');
    await backend.write(doc(1), undefined);
    expect(await backend.readJournal()).toBeUndefined();
    await backend.appendJournal('{"c":3}');
    expect(await backend.readJournal()).toBe('{"c":3}\n');
  });

  it("every write keeps the document it replaced: history newest first, readVersion returns it", async () => {
    const backend = await make();
    let etag: string | undefined;
    for (const serial of [1, 2, 3]) etag = (await backend.write(doc(serial), etag)).etag;
    const history = await backend.history!();
    expect(history.map((v) => v.serial)).toEqual([2, 1]);
    expect(await backend.readVersion!(history[1]!.id)).toEqual(doc(1));
    expect(await code(backend.readVersion!("no-such-version"))).toMatchObject({ code: "STATE_VERSION_UNKNOWN", exitCode: 2 });
    expect(STATE_HISTORY_KEEP).toBeGreaterThan(2);
  });

  it("a document marked migratedTo is refused (exit 2, naming where it went) unless allowMigrated", async () => {
    const backend = await make();
    await backend.write({ ...doc(1), migratedTo: "azblob://acct/state/site.json" }, undefined);
    const refused = await code(backend.read());
    expect(refused).toMatchObject({ code: "STATE_MIGRATED", exitCode: 2 });
    expect(refused.message).toContain("azblob://acct/state/site.json");
    expect((await backend.read({ allowMigrated: true })).state?.migratedTo).toBe("azblob://acct/state/site.json");
  });
});

describe("azblob: a lost compare-and-swap", () => {
  it("names who wrote since (from the blob's metadata) and overwrites nothing", async () => {
    const env = azblobHarness();
    const options = { container: "contract", blob: `${randomUUID()}/state.json` };
    const a = await createAzblobBackend(options, ctx(), { STEPWISE_AZBLOB_CONNECTION_STRING: env.connectionString });
    const b = await createAzblobBackend(options, ctx(), { STEPWISE_AZBLOB_CONNECTION_STRING: env.connectionString });
    const { etag } = await a.write(doc(1), undefined);
    const readByB = await b.read();
    await a.write(doc(2), etag);
    const lost = await code(b.write(doc(3), readByB.etag));
    expect(lost.code).toBe("STATE_CONFLICT");
    expect(lost.message).toMatch(new RegExp(`was changed by \\S+@${os.hostname()} pid ${process.pid} at \\S+ \\(serial 2\\) during this run`));
    expect((await a.read()).state).toEqual(doc(2));
    // The losing write kept no snapshot either: history holds only the document the winner replaced.
    expect((await a.history()).map((v) => v.serial)).toEqual([1]);
  });
});
