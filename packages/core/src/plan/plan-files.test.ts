import { existsSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { StateDocument } from "../contracts.js";
import type { SiteStep } from "../context/step-context.js";
import type { SiteFileInputs } from "../fingerprint/site-files.js";
import { StepFiles } from "../fingerprint/step-files.js";
import { emptyState } from "../state/state-document.js";
import { cachePath } from "../cache/cache-file.js";
import { fingerprintMemoCache } from "../cache/fingerprint-memo.js";
import { planFiles } from "./plan-files.js";
import { planSteps } from "./plan-steps.js";
import { listingRef } from "../state/state-listings.js";

const web: SiteStep = {
  name: "web",
  description: "web",
  pluginId: "p@1.0.0",
  pluginName: "p",
  definition: { name: "web", description: "web", run: async () => ({}) },
  dependsOn: [],
  inputs: { files: ["src/**"], config: [], secrets: [] },
  foundation: false,
};
const steps = new Map([["web", web]]);
const noListings = { read: async () => undefined };
const sources = { config: () => undefined, secretFingerprint: () => "", upstreamOutputsHash: () => undefined };

/** File inputs whose identity the test sets, counting the listings. */
function fileInputs(identity: string | undefined) {
  const counter = { collected: 0 };
  const inputs: SiteFileInputs = {
    identity,
    basis: undefined,
    async collect() {
      counter.collected += 1;
      return new Map([["web", new StepFiles(["src/main.js"], ["sha256:main"])]]);
    },
  };
  return { inputs, counter };
}

/** Plans `web` once over `inputs` and records it as deployed with what was planned. */
async function planAndDeploy(dir: string, inputs: SiteFileInputs, state: StateDocument) {
  const files = await planFiles(dir, inputs, [web], state, sources, noListings);
  const [plan] = await planSteps({ order: ["web"], steps, state, sources: { ...sources, files: files.files }, known: files.known, forced: { steps: new Set(), all: false }, previousFiles: async () => StepFiles.EMPTY });
  files.remember([plan!]);
  state.steps.web = { status: "succeeded", plugin: "p@1.0.0", startedAt: "", fingerprint: plan!.fingerprint, entries: plan!.entries, files: plan!.files.encode() };
  return { files, plan: plan! };
}

describe("planFiles", () => {
  it("lists the files once, then takes the memo shortcut while the inputs' identity and the recorded fingerprint hold", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-plan-files-"));
    const state = emptyState("site");
    const { inputs, counter } = fileInputs("identity-1");
    const first = await planAndDeploy(dir, inputs, state);
    expect(counter.collected).toBe(1);
    expect(first.files.known).toBeUndefined();
    expect(existsSync(cachePath(dir, fingerprintMemoCache.name))).toBe(true);

    const second = await planFiles(dir, inputs, [web], state, sources, noListings);
    expect(counter.collected).toBe(1);
    expect(second.known).toEqual(new Map([["web", first.plan.fingerprint]]));
    expect(second.files("web").toMap()).toEqual(new Map([["src/main.js", "sha256:main"]]));
  });

  it("lists again when the identity changed, or state does not record that fingerprint as a success", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-plan-files-"));
    const state = emptyState("site");
    await planAndDeploy(dir, fileInputs("identity-1").inputs, state);
    const moved = fileInputs("identity-2");
    expect((await planFiles(dir, moved.inputs, [web], state, sources, noListings)).known).toBeUndefined();
    expect(moved.counter.collected).toBe(1);

    const same = fileInputs("identity-1");
    state.steps.web = { ...state.steps.web!, status: "failed" };
    expect((await planFiles(dir, same.inputs, [web], state, sources, noListings)).known).toBeUndefined();
    expect(same.counter.collected).toBe(1);
  });

  it("keeps no memo when the inputs cannot be vouched for (no identity)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-plan-files-"));
    const { inputs, counter } = fileInputs(undefined);
    await planAndDeploy(dir, inputs, emptyState("site"));
    await planAndDeploy(dir, inputs, emptyState("site"));
    expect(counter.collected).toBe(2);
    expect(existsSync(cachePath(dir, fingerprintMemoCache.name))).toBe(false);
  });

  it("the memo shortcut leaves a stored listing unread until a step needs it; an unavailable one is listed after all", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-plan-files-"));
    const state = emptyState("site");
    const { inputs, counter } = fileInputs("identity-1");
    const { plan } = await planAndDeploy(dir, inputs, state);
    const encoded = plan.files.encode();
    const ref = listingRef(encoded);
    const { files: _inline, ...record } = state.steps.web!;
    state.steps.web = { ...record, filesRef: ref };
    const reads: string[] = [];
    const stored = { read: async (hash: string) => (reads.push(hash), StepFiles.fromStore(hash, encoded)) };

    const noOp = await planFiles(dir, inputs, [web], state, sources, stored);
    expect([noOp.files("web").unread, reads, counter.collected]).toEqual([true, [], 1]);
    await noOp.load(["web"]);
    expect([noOp.files("web").toMap(), noOp.files("web").ref, reads]).toEqual([new Map([["src/main.js", "sha256:main"]]), ref, [ref]]);

    const missing = await planFiles(dir, inputs, [web], state, sources, noListings);
    await missing.load(["web"]);
    expect([missing.files("web").unread, missing.files("web").toMap(), counter.collected]).toEqual([false, new Map([["src/main.js", "sha256:main"]]), 2]);
  });
});
