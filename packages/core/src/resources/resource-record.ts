import type { DriftReport, JsonObject, JsonValue, ResourceRef, ResourceResult, StepContext, StepOutputs, StepRecord } from "../contracts.js";

/**
 * What a step keeps in its outputs about a resource it realised, so its `check` can probe
 * it next time. `change` is left out: it differs between a first and a repeated run, and
 * outputs must not change when nothing did, or every dependant would re-run.
 */
export function resourceRecord(result: ResourceResult): JsonObject {
  return { kind: result.kind, name: result.name, id: result.id, specHash: result.specHash, outputs: result.outputs };
}

/** The resources recorded (with {@link resourceRecord}) under `outputs[key]` by a step's last run. */
export function recordedResources(outputs: StepOutputs | undefined, key = "resources"): ResourceResult[] {
  const recorded = outputs?.[key];
  if (!Array.isArray(recorded)) return [];
  return recorded.flatMap((entry: JsonValue) => {
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) return [];
    const { kind, name, id, specHash, outputs: resourceOutputs } = entry;
    if (typeof kind !== "string" || typeof name !== "string" || typeof id !== "string" || typeof specHash !== "string") return [];
    const facts = resourceOutputs !== null && typeof resourceOutputs === "object" && !Array.isArray(resourceOutputs) ? resourceOutputs : {};
    // As recorded by a target for this kind; a probe reads only what its own target wrote.
    return [{ kind, name, id, specHash, change: "unchanged", outputs: facts } as ResourceResult];
  });
}

/**
 * The `check` of a step that recorded its resources with {@link resourceRecord} under
 * `outputs[key]`: probes each through the target and returns the first drift found.
 * Use as `check: checkRecordedResources` (or call it from a `check` of your own).
 */
export async function checkRecordedResources(ctx: Pick<StepContext, "previousOutputs" | "target">, key = "resources"): Promise<DriftReport | void> {
  for (const resource of recordedResources(ctx.previousOutputs, key)) {
    const drift = await ctx.target.probe(resource);
    if (drift) return drift;
  }
}

/** What the engine records about a realised resource: enough to remove it later. */
export function resourceRef(result: ResourceResult): ResourceRef {
  return { kind: result.kind, name: result.name, id: result.id, ...(result.volumes?.length ? { volumes: [...result.volumes] } : {}) };
}

const refKey = (ref: Pick<ResourceRef, "kind" | "name">) => `${ref.kind}\0${ref.name}`;

/** `earlier` with `later` added or, for the same kind and name, replacing it (order kept). */
export function mergeResources(earlier: readonly ResourceRef[], later: readonly ResourceRef[]): ResourceRef[] {
  const merged = new Map(earlier.map((ref) => [refKey(ref), ref]));
  for (const ref of later) merged.set(refKey(ref), ref);
  return [...merged.values()];
}

/** Whether two refs name the same resource (kind and name; ids are target-specific). */
export function sameResource(a: Pick<ResourceRef, "kind" | "name">, b: Pick<ResourceRef, "kind" | "name">): boolean {
  return refKey(a) === refKey(b);
}

/**
 * The resources a step's record holds: `resources`, or for a record written before the engine
 * kept them, the resource records its outputs carry (`resource`, `resources`).
 */
export function recordedRefs(record: StepRecord | undefined): ResourceRef[] {
  if (!record) return [];
  if (record.resources) return record.resources;
  const legacy = [...recordedResources({ resources: [record.outputs?.resource ?? null] }), ...recordedResources(record.outputs)];
  return mergeResources([], legacy.map(resourceRef));
}
