import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { StateDocument } from "../contracts.js";
import { StepFiles } from "../fingerprint/step-files.js";
import { FileStateBackend } from "./file-state-backend.js";
import { STATE_VERSION, emptyState, parseState } from "./state-document.js";
import { StateListings, collectGarbage, listingRef, storeInlineListings, withInlineListings } from "./state-listings.js";

const listing = new StepFiles(["src/a.js", "src/b.js"], ["sha256:a", "sha256:b"]).encode();
const site = () => mkdtempSync(path.join(os.tmpdir(), "stepwise-listings-"));
const objectFile = (dir: string, ref: string) => path.join(dir, ".stepwise", "objects", ref.slice(0, 2), ref.slice(2));
const record = (extra: object) => ({ status: "succeeded" as const, plugin: "p@1.0.0", startedAt: "", fingerprint: "f", entries: {}, ...extra });

describe("the file backend's object store", () => {
  it("stores a listing once under its sha256, reads it back, and leaves an intact object alone", async () => {
    const dir = site();
    const backend = new FileStateBackend(dir);
    const ref = listingRef(listing);
    await backend.putObject(ref, Buffer.from(listing));
    const inode = statSync(objectFile(dir, ref)).ino;
    await backend.putObject(ref, Buffer.from(listing));
    expect(statSync(objectFile(dir, ref)).ino).toBe(inode);
    expect(Buffer.from((await backend.getObject(ref))!).toString()).toBe(listing);
    expect(await backend.listObjects()).toEqual([ref]);
    expect(await backend.getObject("0".repeat(64))).toBeUndefined();
    await expect(backend.putObject("../../etc/passwd", Buffer.from("x"))).rejects.toThrow(/not the sha256 of an object/);
  });

  it("a damaged object reads as unavailable, and the next put of that listing repairs it", async () => {
    const dir = site();
    const backend = new FileStateBackend(dir);
    const ref = listingRef(listing);
    await backend.putObject(ref, Buffer.from(listing));
    writeFileSync(objectFile(dir, ref), "damaged");
    expect(await new StateListings(backend).read(ref)).toBeUndefined();
    await backend.putObject(ref, Buffer.from(listing));
    expect((await new StateListings(backend).read(ref))!.paths).toEqual(["src/a.js", "src/b.js"]);
  });
});

describe("listings in state", () => {
  it("a save moves inline listings to the object store; a pulled copy has them inline again", async () => {
    const dir = site();
    const backend = new FileStateBackend(dir);
    const state: StateDocument = { ...emptyState("s"), steps: { web: record({ files: listing }), cron: record({}) } };
    await storeInlineListings(backend, state);
    expect(state.steps.web).toEqual(record({ filesRef: listingRef(listing) }));
    await backend.write(state, undefined);
    expect(readFileSync(path.join(dir, ".stepwise", "state.json"), "utf8")).not.toContain("src/a.js");
    const pulled = await withInlineListings(backend, (await backend.read()).state!);
    expect(pulled.steps.web).toEqual(record({ filesRef: listingRef(listing), files: listing }));
    expect(pulled.steps.cron).toEqual(record({}));
  });

  it("garbage collection removes objects no record refers to, and leftovers of killed writes", async () => {
    const dir = site();
    const backend = new FileStateBackend(dir);
    const old = new StepFiles(["src/a.js"], ["sha256:old"]).encode();
    const state: StateDocument = { ...emptyState("s"), steps: { web: record({ files: old }) } };
    await storeInlineListings(backend, state);
    state.steps.web = record({ files: listing });
    await storeInlineListings(backend, state);
    writeFileSync(`${objectFile(dir, listingRef(listing))}.12345`, "partial");
    expect(await collectGarbage(backend, state)).toBe(2);
    expect(await backend.listObjects()).toEqual([listingRef(listing)]);
  });
});

describe("format 3", () => {
  it("migrates the state 719ee91 wrote (format 2): listings become addresses, kept inline until the next save", () => {
    const text = readFileSync(path.join(import.meta.dirname, "fixtures", "state-v2-719ee91.json"), "utf8");
    const v2 = JSON.parse(text) as { stateVersion: number; steps: Record<string, { files?: string }> };
    expect(v2.stateVersion).toBe(2);
    const migrated = parseState(text, "fixture");
    expect(migrated.stateVersion).toBe(STATE_VERSION);
    for (const [name, step] of Object.entries(v2.steps)) {
      const got = migrated.steps[name]!;
      if (step.files === undefined) expect(got.filesRef).toBeUndefined();
      else expect([got.files, got.filesRef]).toEqual([step.files, listingRef(step.files)]);
    }
    expect(Object.values(migrated.steps).filter((s) => s.filesRef !== undefined).length).toBeGreaterThan(0);
  });

  it("refuses a newer format, and a filesRef that is no address", () => {
    expect(() => parseState(JSON.stringify({ ...emptyState("s"), stateVersion: STATE_VERSION + 1 }), "f")).toThrow(/format version 4, written by a newer stepwise/);
    expect(() => parseState(JSON.stringify({ ...emptyState("s"), steps: { web: record({ filesRef: "../x" }) } }), "f")).toThrow(/"filesRef" that is not a sha256/);
  });
});
