import type { ResourceRef, StateDocument, TargetInventoryEntry } from "../contracts.js";
import { mergeResources, recordedRefs, sameResource } from "../resources/resource-record.js";
import { CORE_PACKAGE } from "../version.js";

/** Why something the site made is to be removed. `--json` prints these objects as they are. */
export type RemovalReason =
  /** A service, job or templates entry deleted from stepwise.yaml. */
  | { kind: "not-in-site" }
  /** The plugin that defined the step was taken out of `plugins:`. */
  | { kind: "plugin-removed"; plugin: string }
  /** The plugin is still listed but no longer defines the step (another version). */
  | { kind: "step-gone"; plugin: string }
  /** An optional step turned off with `steps: { NAME: { enabled: false } }`. */
  | { kind: "disabled" }
  /** The target found it by its labels and no step of the site owns it (e.g. state was lost). */
  | { kind: "unowned" };

/** One removal in a plan: a step's state record and its resources, or an object no step owns. */
export interface RemovalPlan {
  /** The removed step (`service:worker`), or `kind:name` for an object only the target found. */
  name: string;
  /** Whether a state record goes with it (dropped once every resource is removed). */
  record: boolean;
  /** `name@version` of the plugin that defined the step, when known. */
  plugin?: string;
  reason: RemovalReason;
  /** What the target removes, dependants' resources first. */
  resources: ResourceRef[];
  /** Data volumes of those resources: deleted only with `--prune-volumes`. */
  volumes: { name: string; resource: string; action: "keep" | "delete" }[];
  /** Other removed steps this one depended on: they are removed after it. */
  dependsOn: string[];
}

export interface OrphanInputs {
  state: StateDocument;
  /** The site's enabled steps. */
  steps: ReadonlySet<string>;
  /** Optional steps turned off in stepwise.yaml. */
  disabled: ReadonlySet<string>;
  /** Names of the plugins the site lists. */
  plugins: ReadonlySet<string>;
  /** What the target found labelled for the site; undefined when it was not asked (`--no-refresh`) or cannot say. */
  inventory: readonly TargetInventoryEntry[] | undefined;
  pruneVolumes: boolean;
}

const pluginName = (id: string) => {
  const at = id.lastIndexOf("@");
  return at > 0 ? id.slice(0, at) : id;
};

/** The resource a site-defined step realises by its name alone (`service:web` -> service web). */
function workloadResource(step: string): Pick<ResourceRef, "kind" | "name"> | undefined {
  const match = /^(service|job):(.+)$/.exec(step);
  return match ? { kind: match[1] as "service" | "job", name: match[2]! } : undefined;
}

/**
 * What left the site. From state: every recorded step that is no longer one of the site's
 * enabled steps (deleted from stepwise.yaml, its plugin removed, or disabled), with the
 * resources its record holds, less any a remaining step also records. From the target's
 * labels: objects whose step is not the site's, and objects without a step label that no
 * remaining step owns. The latter only when every remaining step has a record, since a step
 * that never ran may be about to adopt them (after `--reset-state`, or lost state). Removals
 * are ordered so a step is removed before the removed steps it depended on.
 */
export function findOrphans(inputs: OrphanInputs): RemovalPlan[] {
  const { state, steps, disabled, plugins } = inputs;
  const owned: Pick<ResourceRef, "kind" | "name">[] = [];
  for (const step of steps) {
    owned.push(...recordedRefs(state.steps[step]));
    const workload = workloadResource(step);
    if (workload) owned.push(workload);
  }
  const isOwned = (ref: Pick<ResourceRef, "kind" | "name">) => owned.some((o) => sameResource(o, ref));

  const removals = new Map<string, RemovalPlan>();
  for (const [name, record] of Object.entries(state.steps)) {
    if (steps.has(name)) continue;
    const plugin = pluginName(record.plugin);
    const reason: RemovalReason = disabled.has(name)
      ? { kind: "disabled" }
      : plugin === CORE_PACKAGE
        ? { kind: "not-in-site" }
        : plugins.has(plugin)
          ? { kind: "step-gone", plugin }
          : { kind: "plugin-removed", plugin };
    removals.set(name, {
      name,
      record: true,
      plugin: record.plugin,
      reason,
      resources: recordedRefs(record).filter((ref) => !isOwned(ref)),
      volumes: [],
      dependsOn: Object.keys(record.entries ?? {})
        .filter((key) => key.startsWith("step:"))
        .map((key) => key.slice("step:".length)),
    });
  }

  const everyStepRecorded = [...steps].every((step) => state.steps[step] !== undefined);
  for (const entry of inputs.inventory ?? []) {
    const { step, ...ref } = entry;
    if ((step !== undefined && steps.has(step)) || isOwned(ref)) continue;
    const holder = [...removals.values()].find((r) => (step !== undefined && r.name === step && r.record) || r.resources.some((o) => sameResource(o, ref)));
    if (holder) {
      // Known from state; the target adds what it sees now (e.g. the volumes a container mounts).
      const known = holder.resources.find((o) => sameResource(o, ref));
      const volumes = [...new Set([...(known?.volumes ?? []), ...(ref.volumes ?? [])])];
      holder.resources = mergeResources(holder.resources, [{ ...(known ?? ref), ...(volumes.length ? { volumes } : {}) }]);
      continue;
    }
    if (step === undefined && !everyStepRecorded) continue;
    const name = `${ref.kind}:${ref.name}`;
    if (removals.has(name)) continue;
    removals.set(name, { name, record: false, reason: { kind: "unowned" }, resources: [ref], volumes: [], dependsOn: [] });
  }

  for (const removal of removals.values()) {
    removal.dependsOn = removal.dependsOn.filter((dep) => removals.has(dep) && dep !== removal.name);
    removal.volumes = removal.resources.flatMap((ref) =>
      (ref.volumes ?? []).map((volume) => ({ name: volume, resource: `${ref.kind} ${ref.name}`, action: inputs.pruneVolumes ? ("delete" as const) : ("keep" as const) })),
    );
  }
  return dependantsFirst([...removals.values()]);
}

/** Orders removals so that each comes before every removal it depends on (by name otherwise). */
function dependantsFirst(removals: RemovalPlan[]): RemovalPlan[] {
  const pending = [...removals].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const ordered: RemovalPlan[] = [];
  while (pending.length > 0) {
    // Ready: no pending removal depends on it. A cycle (impossible in a valid graph) falls back to name order.
    const index = pending.findIndex((candidate) => !pending.some((other) => other !== candidate && other.dependsOn.includes(candidate.name)));
    ordered.push(...pending.splice(index < 0 ? 0 : index, 1));
  }
  return ordered;
}

/** One line a person reads: `no longer in stepwise.yaml`. */
export function formatRemovalReason(reason: RemovalReason): string {
  switch (reason.kind) {
    case "not-in-site":
      return "no longer in stepwise.yaml";
    case "plugin-removed":
      return `plugin ${reason.plugin} no longer listed`;
    case "step-gone":
      return `no longer defined by plugin ${reason.plugin}`;
    case "disabled":
      return "disabled in stepwise.yaml (optional step)";
    case "unowned":
      return "found by target label, no step owns it";
  }
}

/** What happens to a removal's data volume, for the plan: kept unless `--prune-volumes`. */
export function formatVolumeAction(volume: RemovalPlan["volumes"][number]): string {
  return volume.action === "delete" ? `will delete volume ${volume.name} and its data` : `volume ${volume.name} kept (use --prune-volumes to delete its data)`;
}
