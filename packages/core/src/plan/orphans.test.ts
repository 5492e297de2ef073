import { describe, expect, it } from "vitest";
import type { StateDocument, StepRecord, TargetInventoryEntry } from "../contracts.js";
import { findOrphans, formatRemovalReason, type OrphanInputs } from "./orphans.js";

const CORE = "@stepwise/core@0.1.0";

function record(plugin: string, extra: Partial<StepRecord> = {}): StepRecord {
  return { status: "succeeded", plugin, startedAt: "2024-01-01T00:00:00.000Z", entries: {}, ...extra };
}

function inputs(steps: Record<string, StepRecord>, overrides: Partial<OrphanInputs> = {}): OrphanInputs {
  const state: StateDocument = { stateVersion: 2, serial: 1, lineage: "l", site: "s", writtenBy: "0.1.0", updatedAt: "", steps };
  return { state, steps: new Set(["podman:network", "service:web"]), disabled: new Set(), plugins: new Set(["@stepwise/target-podman"]), inventory: undefined, pruneVolumes: false, ...overrides };
}

const network = record("@stepwise/target-podman@0.1.0");
const web = record(CORE, { resources: [{ kind: "service", name: "web", id: "c-web" }] });

describe("findOrphans", () => {
  it("finds nothing when every recorded step is still in the site", () => {
    expect(findOrphans(inputs({ "podman:network": network, "service:web": web }))).toEqual([]);
  });

  it("a service, a job and a plugin's step that left the site are removed with their recorded resources, each with its reason", () => {
    const removals = findOrphans(
      inputs(
        {
          "podman:network": network,
          "service:web": web,
          "service:worker": record(CORE, { resources: [{ kind: "service", name: "worker", id: "c-worker" }] }),
          "job:report": record(CORE, { resources: [{ kind: "job", name: "report", id: "c-report" }] }),
          database: record("@stepwise/step-database@0.1.0", { resources: [{ kind: "postgres", name: "postgres", id: "c-pg", volumes: ["v-pg-data"] }] }),
        },
        { pruneVolumes: false },
      ),
    );
    expect(removals.map((r) => [r.name, formatRemovalReason(r.reason)])).toEqual([
      ["database", "plugin @stepwise/step-database no longer listed"],
      ["job:report", "no longer in stepwise.yaml"],
      ["service:worker", "no longer in stepwise.yaml"],
    ]);
    expect(removals.every((r) => r.record)).toBe(true);
    expect(removals[0]!.resources).toEqual([{ kind: "postgres", name: "postgres", id: "c-pg", volumes: ["v-pg-data"] }]);
    expect(removals[0]!.volumes).toEqual([{ name: "v-pg-data", resource: "postgres postgres", action: "keep" }]);
  });

  it("--prune-volumes turns kept volumes into deleted ones", () => {
    const removals = findOrphans(inputs({ database: record("@stepwise/step-database@0.1.0", { resources: [{ kind: "postgres", name: "postgres", id: "c", volumes: ["v"] }] }) }, { pruneVolumes: true }));
    expect(removals[0]!.volumes).toEqual([{ name: "v", resource: "postgres postgres", action: "delete" }]);
  });

  it("a step whose plugin is still listed but no longer defines it, and a disabled optional step, are removed with their own reasons", () => {
    const removals = findOrphans(
      inputs({ "podman:old": record("@stepwise/target-podman@0.0.9"), telemetry: record("@stepwise/step-telemetry@0.1.0") }, { disabled: new Set(["telemetry"]) }),
    );
    expect(removals.map((r) => [r.name, r.reason])).toEqual([
      ["podman:old", { kind: "step-gone", plugin: "@stepwise/target-podman" }],
      ["telemetry", { kind: "disabled" }],
    ]);
  });

  it("a removed step depending on another removed step is removed first", () => {
    const removals = findOrphans(
      inputs({
        "aaa-db": record("x@1"),
        "service:zz-worker": record(CORE, { entries: { "step:aaa-db": "h", "step:podman:network": "h" } }),
      }),
    );
    expect(removals.map((r) => r.name)).toEqual(["service:zz-worker", "aaa-db"]);
    expect(removals[0]!.dependsOn).toEqual(["aaa-db"]);
  });

  it("a resource a remaining step also records stays: only the record of the removed step goes", () => {
    const shared = { kind: "secret" as const, name: "api_key", id: "s-api" };
    const removals = findOrphans(
      inputs({
        "podman:network": network,
        "service:web": record(CORE, { resources: [{ kind: "service", name: "web", id: "c-web" }, shared] }),
        "service:worker": record(CORE, { resources: [{ kind: "service", name: "worker", id: "c-worker" }, shared] }),
      }),
    );
    expect(removals).toHaveLength(1);
    expect(removals[0]!.resources).toEqual([{ kind: "service", name: "worker", id: "c-worker" }]);
  });

  it("records written before the engine kept resources fall back to the resource records in their outputs", () => {
    const removals = findOrphans(
      inputs({
        "service:worker": record(CORE, { outputs: { resource: { kind: "service", name: "worker", id: "c-worker", specHash: "h", outputs: {} } } }),
        database: record("@stepwise/step-database@0.1.0", { outputs: { resources: [{ kind: "postgres", name: "postgres", id: "c-pg", specHash: "h", outputs: {} }] } }),
      }),
    );
    expect(removals.map((r) => r.resources.map((ref) => ref.id))).toEqual([["c-pg"], ["c-worker"]]);
  });

  describe("objects the target found by label", () => {
    const full = { "podman:network": network, "service:web": web };

    it("an object whose step label names no step of the site is removed; one of a current step is not", () => {
      const inventory: TargetInventoryEntry[] = [
        { kind: "service", name: "web", id: "c-web", step: "service:web" },
        { kind: "service", name: "ghost", id: "c-ghost", step: "service:ghost", volumes: ["v-ghost"] },
      ];
      const removals = findOrphans(inputs(full, { inventory }));
      expect(removals.map((r) => [r.name, r.record, formatRemovalReason(r.reason), r.resources.map((x) => x.id)])).toEqual([
        ["service:ghost", false, "found by target label, no step owns it", ["c-ghost"]],
      ]);
      expect(removals[0]!.volumes).toEqual([{ name: "v-ghost", resource: "service ghost", action: "keep" }]);
    });

    it("what the target sees adds to a removal known from state (the volumes a container mounts), without a second removal", () => {
      const inventory: TargetInventoryEntry[] = [{ kind: "service", name: "worker", id: "c-worker", step: "service:worker", volumes: ["v-cache"] }];
      const removals = findOrphans(inputs({ ...full, "service:worker": record(CORE, { resources: [{ kind: "service", name: "worker", id: "c-worker" }] }) }, { inventory }));
      expect(removals).toHaveLength(1);
      expect(removals[0]!.resources).toEqual([{ kind: "service", name: "worker", id: "c-worker", volumes: ["v-cache"] }]);
      expect(removals[0]!.volumes.map((v) => v.name)).toEqual(["v-cache"]);
    });

    it("an object without a step label is removed only when no step owns it and every step has a record (lost state must not remove the site)", () => {
      const inventory: TargetInventoryEntry[] = [
        { kind: "postgres", name: "old-db", id: "c-old" },
        { kind: "service", name: "web", id: "c-web" },
      ];
      expect(findOrphans(inputs(full, { inventory })).map((r) => r.name)).toEqual(["postgres:old-db"]);
      // web has no record (never run, or --reset-state): old-db may be what a step is about to adopt.
      expect(findOrphans(inputs({ "podman:network": network }, { inventory }))).toEqual([]);
    });
  });
});
