import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { StateDocument, StepRecord } from "../contracts.js";
import { StateWriter } from "../engine/state-writer.js";
import { FileStateBackend } from "./file-state-backend.js";
import { emptyState } from "./state-document.js";
import { applyJournal, journalHeader, journalRecord, readState } from "./state-journal.js";

const rec = (status: StepRecord["status"], step: string, extra: Partial<StepRecord> = {}): StepRecord => ({ status, plugin: "p@1.0.0", startedAt: `start-${step}`, ...extra });

/** A base state (a ran before) and the journal of a run: a runs and succeeds, b runs and fails, c starts. */
function journalOfRun() {
  const base: StateDocument = { ...emptyState("s"), serial: 7, updatedAt: "2026-01-01T00:00:00.000Z", steps: { a: rec("succeeded", "a", { fingerprint: "old" }) } };
  const lines = [
    journalHeader(base),
    journalRecord("a", rec("running", "a", { fingerprint: "old" })),
    journalRecord("b", rec("running", "b")),
    journalRecord("a", rec("succeeded", "a", { fingerprint: "new" })),
    journalRecord("b", rec("failed", "b", { error: { code: "X", message: "boom" } })),
    journalRecord("c", rec("running", "c")),
  ];
  return { base, lines, text: lines.map((l) => `${l}\n`).join("") };
}

/** What the state must say of each step once the first `whole` lines of the journal (the header first) are whole. */
function expected(whole: number): Record<string, string> {
  const after: [string, string][][] = [[["a", "succeeded old"]], [], [["a", "running old"]], [["b", "running"]], [["a", "succeeded new"]], [["b", "failed"]], [["c", "running"]]];
  const state: Record<string, string> = {};
  for (let i = 0; i <= whole; i++) for (const [step, status] of after[i] ?? []) state[step] = status;
  return state;
}

const summary = (state: StateDocument) => Object.fromEntries(Object.entries(state.steps).map(([name, r]) => [name, [r.status, r.fingerprint].filter(Boolean).join(" ")]));

describe("applyJournal", () => {
  it("a journal cut at any byte (every record boundary, mid-record) gives the state of its whole lines: no finished result lost, no interrupted step done", () => {
    const { base, lines, text } = journalOfRun();
    const ends = lines.map((_, i) => lines.slice(0, i + 1).join("\n").length + 1);
    for (let cut = 0; cut <= text.length; cut++) {
      const state = structuredClone(base);
      applyJournal(state, text.slice(0, cut));
      const whole = ends.filter((end) => end <= cut).length;
      // The header alone (or less) changes nothing; every whole record line after it applies.
      expect(summary(state), `cut at ${cut}`).toEqual(expected(whole));
    }
  });

  it("a damaged line stops the replay there; a journal continuing another state applies nothing", () => {
    const { base, lines } = journalOfRun();
    const damaged = [...lines.slice(0, 3), "{not json", ...lines.slice(3)].map((l) => `${l}\n`).join("");
    const state = structuredClone(base);
    expect(applyJournal(state, damaged)).toBe(2);
    expect(summary(state)).toEqual({ a: "running old", b: "running" });
    for (const other of [{ serial: 8 }, { lineage: "another" }, { updatedAt: "2026-02-01T00:00:00.000Z" }]) {
      const replaced = { ...structuredClone(base), ...other };
      expect(applyJournal(replaced, lines.map((l) => `${l}\n`).join(""))).toBe(0);
      expect(summary(replaced)).toEqual({ a: "succeeded old" });
    }
  });

  it("never marks a step done whose result line is torn (property: any run, any cut)", () => {
    const step = fc.constantFrom("a", "b", "c", "d");
    const event = fc.record({ step, status: fc.constantFrom<StepRecord["status"]>("running", "succeeded", "failed") });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 12 }), fc.nat(), (events, at) => {
        const base: StateDocument = { ...emptyState("s"), updatedAt: "t" };
        const text = [journalHeader(base), ...events.map((e) => journalRecord(e.step, rec(e.status, e.step)))].map((l) => `${l}\n`).join("");
        const cut = at % (text.length + 1);
        const state = structuredClone(base);
        const applied = applyJournal(state, text.slice(0, cut));
        const whole = text.slice(0, cut).split("\n").length - 1;
        expect(applied).toBe(Math.max(0, whole - 1));
        const last = new Map<string, string>();
        for (const e of events.slice(0, applied)) last.set(e.step, e.status);
        expect(new Map(Object.entries(state.steps).map(([n, r]) => [n, r.status]))).toEqual(last);
      }),
    );
  });
});

describe("the journal of a run (file backend)", () => {
  it("records are appended as lines and read back before the fold; the fold writes once and clears the journal", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-journal-"));
    const backend = new FileStateBackend(dir);
    const writer = new StateWriter(backend, emptyState("s"), undefined, "s");
    writer.state.steps.web = rec("running", "web");
    await writer.record("web");
    const stateFile = path.join(dir, ".stepwise", "state.json");
    const written = readFileSync(stateFile, "utf8");
    writer.state.steps.web = rec("succeeded", "web", { fingerprint: "f", files: "id src/a.js\n" });
    await writer.record("web");
    const journal = readFileSync(path.join(dir, ".stepwise", "journal.jsonl"), "utf8").split("\n");
    expect(journal).toHaveLength(4); // header, running, succeeded, ""
    expect(journal[2]).not.toContain("src/a.js"); // the listing went to the object store
    expect(readFileSync(stateFile, "utf8")).toBe(written);

    // A reader (a plan, or the next run after a kill) sees the journalled result.
    const read = await readState(backend);
    expect([read.state!.steps.web!.status, read.journal]).toEqual(["succeeded", { found: true, applied: 2 }]);
    expect((await backend.getObject(read.state!.steps.web!.filesRef!)) !== undefined).toBe(true);

    await writer.save();
    expect(existsSync(path.join(dir, ".stepwise", "journal.jsonl"))).toBe(false);
    const after = await readState(backend);
    expect([after.state!.steps.web!.status, after.journal]).toEqual(["succeeded", { found: false, applied: 0 }]);
  });
});
