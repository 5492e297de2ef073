import { describe, expect, it } from "vitest";
import type { StateBackend, StateDocument } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { emptyState } from "../state/state-document.js";
import { CORE_VERSION } from "../version.js";
import { StateWriter } from "./state-writer.js";

/** A state backend in memory: compare-and-swap on a counter etag; each write takes a few ticks. */
function memoryBackend() {
  let stored: string | undefined;
  let version = 0;
  let writing = 0;
  const writes: { serial: number; etag: string | undefined; overlapping: boolean }[] = [];
  const backend: Pick<StateBackend, "read" | "write"> = {
    async read() {
      return { state: stored === undefined ? undefined : (JSON.parse(stored) as StateDocument), etag: stored === undefined ? undefined : String(version) };
    },
    async write(state, etag) {
      writing += 1;
      writes.push({ serial: state.serial, etag, overlapping: writing > 1 });
      await new Promise((resolve) => setTimeout(resolve, 2));
      writing -= 1;
      if (etag !== (stored === undefined ? undefined : String(version))) throw errors.stateConflict("memory");
      stored = JSON.stringify(state);
      version += 1;
      return { etag: String(version) };
    },
  };
  return {
    backend: backend as StateBackend,
    writes,
    stored: () => (stored === undefined ? undefined : (JSON.parse(stored) as StateDocument)),
    /** Someone else writes meanwhile. */
    async interfere() {
      version += 1;
    },
  };
}

describe("StateWriter", () => {
  it("writes one save at a time in order, each on the etag the last one returned, stamping serial and writer", async () => {
    const memory = memoryBackend();
    const state = emptyState("site");
    const writer = new StateWriter(memory.backend, state, undefined, "site");
    state.steps.a = { status: "running", plugin: "p@1", startedAt: "" };
    const first = writer.save();
    state.steps.a = { status: "succeeded", plugin: "p@1", startedAt: "" };
    const second = writer.save();
    const third = writer.save();
    await Promise.all([first, second, third]);
    expect(memory.writes.map((w) => w.overlapping)).toEqual([false, false, false]);
    expect(memory.writes.map((w) => w.etag)).toEqual([undefined, "1", "2"]);
    expect(memory.writes.map((w) => w.serial)).toEqual([1, 2, 3]);
    expect(memory.stored()).toMatchObject({ serial: 3, site: "site", writtenBy: CORE_VERSION, steps: { a: { status: "succeeded" } } });
  });

  it("a write someone else's change conflicts with rejects with STATE_CONFLICT, and so does every later save", async () => {
    const memory = memoryBackend();
    const state = emptyState("site");
    const writer = new StateWriter(memory.backend, state, undefined, "site");
    await writer.save();
    await memory.interfere();
    await expect(writer.save()).rejects.toMatchObject({ code: "STATE_CONFLICT" });
    await expect(writer.save()).rejects.toMatchObject({ code: "STATE_CONFLICT" });
    await expect(writer.settled()).rejects.toMatchObject({ code: "STATE_CONFLICT" });
    expect(memory.writes).toHaveLength(2);
  });
});
