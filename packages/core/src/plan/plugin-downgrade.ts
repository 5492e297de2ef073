import type { StateDocument } from "../contracts.js";
import type { SiteStep } from "../context/step-context.js";
import { errors } from "../errors/error-codes.js";

/** A plugin whose installed version is older than the one that last ran some of its steps. */
export interface PluginDowngrade {
  plugin: string;
  /** The newest version state records for it. */
  recorded: string;
  installed: string;
  steps: string[];
}

/**
 * The plugins installed at an older version than state records for their steps: running those
 * steps would silently undo what the newer version made. Versions are compared only when one
 * differs from state's (an upgrade or a downgrade), so a plan with unchanged plugins loads no
 * semver.
 */
export async function pluginDowngrades(steps: Iterable<SiteStep>, state: StateDocument): Promise<PluginDowngrade[]> {
  const installed = new Map<string, string>();
  for (const step of steps) installed.set(step.pluginName, step.pluginId.slice(step.pluginName.length + 1));
  const differing: { step: string; plugin: string; recorded: string; installed: string }[] = [];
  for (const [step, record] of Object.entries(state.steps)) {
    // A damaged record is reported where state is used; here it is only not a downgrade.
    if (typeof record?.plugin !== "string") continue;
    const at = record.plugin.lastIndexOf("@");
    if (at <= 0) continue;
    const plugin = record.plugin.slice(0, at);
    const version = installed.get(plugin);
    if (version !== undefined && version !== record.plugin.slice(at + 1)) differing.push({ step, plugin, recorded: record.plugin.slice(at + 1), installed: version });
  }
  if (differing.length === 0) return [];
  const [{ default: valid }, { default: gt }] = await Promise.all([import("semver/functions/valid.js"), import("semver/functions/gt.js")]);
  const downgrades = new Map<string, PluginDowngrade>();
  for (const { step, plugin, recorded, installed: version } of differing) {
    if (!valid(recorded) || !valid(version) || !gt(recorded, version)) continue;
    const found = downgrades.get(plugin) ?? { plugin, recorded, installed: version, steps: [] };
    if (gt(recorded, found.recorded)) found.recorded = recorded;
    found.steps.push(step);
    downgrades.set(plugin, found);
  }
  return [...downgrades.values()];
}

/** Refuses to plan over state that newer plugin versions wrote, unless allowed (`--allow-plugin-downgrade`). */
export async function assertNoPluginDowngrade(steps: Iterable<SiteStep>, state: StateDocument, allowed: boolean): Promise<void> {
  if (allowed) return;
  const downgrades = await pluginDowngrades(steps, state);
  if (downgrades.length > 0) throw errors.pluginDowngrade(downgrades);
}
