import path from "node:path";
import type { ConfigKeySpec, ConfigReader, JsonValue, ResourceKind, StepDefinition, TargetDefinition } from "../contracts.js";
import type { SiteStep } from "../context/step-context.js";
import { errors } from "../errors/error-codes.js";
import { StepwiseError, isStepwiseError } from "../errors/stepwise-error.js";
import type { LoadedPlugin } from "../plugins/load-plugins.js";
import type { SiteSecrets } from "../secrets/site-secrets.js";
import { createWorkloadSteps } from "../services/service-steps.js";
import type { SiteFile } from "../site/load-site.js";
import { createTemplatesStep, TEMPLATES_STEP } from "../templates/templates-step.js";
import { CORE_PACKAGE, CORE_VERSION } from "../version.js";

/** The site's target: its definition and the plugin that provides it. */
export interface ChosenTarget {
  definition: TargetDefinition;
  plugin: LoadedPlugin;
}

/** A step definition before it becomes a {@link SiteStep}: where it came from. */
interface StepCandidate {
  definition: StepDefinition;
  plugin: LoadedPlugin | undefined;
  foundation: boolean;
  siteInput?: SiteStep["siteInput"];
}

export interface AssembledSteps {
  /** The enabled steps, by name, in the order they were defined (plugins, target, site). */
  steps: Map<string, SiteStep>;
  /** Optional steps turned off in stepwise.yaml. */
  disabled: SiteStep[];
  /** What makes the site undeployable but must not stop `secrets set`, `state unlock`... */
  problems: StepwiseError[];
}

const BUILTIN_ID = `${CORE_PACKAGE}@${CORE_VERSION}`;

/**
 * The secrets a step built before its session reads once it runs (the templates step digests
 * rendered files with them). The session binds it when it exists; a call before that is a bug.
 */
export class LateSecrets {
  private source: (() => Promise<SiteSecrets>) | undefined;

  bind(source: () => Promise<SiteSecrets>): void {
    this.source = source;
  }

  async digest(): Promise<(text: string) => string> {
    if (!this.source) throw new Error("the site's secrets were read before its session was open");
    const secrets = await this.source();
    return (text: string) => secrets.digest(text);
  }
}

/** The target `target:` names, or the only one the plugins provide. Throws TARGET_MISSING naming what is available. */
export function chooseTarget(site: SiteFile, plugins: readonly LoadedPlugin[]): ChosenTarget | undefined {
  const all = plugins.flatMap((plugin) => (plugin.definition.targets ?? []).map((definition) => ({ definition, plugin })));
  if (site.target) {
    const found = all.find((t) => t.definition.name === site.target);
    if (!found) {
      throw errors.targetNotProvided(site.locate(["target"]), site.target, all.map((t) => t.definition.name));
    }
    return found;
  }
  if (all.length > 1) {
    throw errors.targetAmbiguous(path.basename(site.file), all.map((t) => t.definition.name));
  }
  return all[0];
}

/**
 * Every step of the site: the plugins' steps, the target's foundation steps (every other step
 * depends on them), the services and jobs of stepwise.yaml and its templates step, each with
 * its declared inputs (a connection key is never an input) and `steps:` settings applied.
 * Throws for a step defined twice, a required step turned off, an unknown name under `steps:`
 * and a dependency on a disabled step; a broken `templates:` is returned as a problem.
 */
export function assembleSteps(site: SiteFile, plugins: readonly LoadedPlugin[], target: ChosenTarget | undefined, secrets: LateSecrets): AssembledSteps {
  const problems: StepwiseError[] = [];
  const candidates = stepCandidates(site, plugins, target, secrets, problems);
  const steps = new Map<string, SiteStep>();
  const disabled: SiteStep[] = [];
  const foundationNames = candidates.filter((c) => c.foundation).map((c) => c.definition.name);
  for (const candidate of candidates) {
    const { definition, plugin } = candidate;
    const existing = steps.get(definition.name) ?? disabled.find((s) => s.name === definition.name);
    if (existing) {
      throw errors.stepDuplicate(definition.name, existing.pluginId, plugin?.id ?? BUILTIN_ID);
    }
    const siteStep = toSiteStep(candidate, site.steps[definition.name], target, foundationNames);
    if (site.steps[definition.name]?.enabled === false) {
      if (definition.required !== false) {
        throw errors.siteInvalid(site.locate(["steps", definition.name, "enabled"]), `step ${definition.name} is required and cannot be disabled`, `remove steps.${definition.name}.enabled`);
      }
      disabled.push(siteStep);
    } else {
      steps.set(definition.name, siteStep);
    }
  }
  for (const name of Object.keys(site.steps)) {
    if (!steps.has(name) && !disabled.some((s) => s.name === name)) throw errors.stepUnknown(name, `steps: in ${path.basename(site.file)}`, [...steps.keys()]);
  }
  assertNoDisabledDependency(steps, disabled);
  return { steps, disabled, problems };
}

/** Step definitions in definition order: plugins, the target, services and jobs, templates. */
function stepCandidates(site: SiteFile, plugins: readonly LoadedPlugin[], target: ChosenTarget | undefined, secrets: LateSecrets, problems: StepwiseError[]): StepCandidate[] {
  const candidates: StepCandidate[] = [];
  for (const plugin of plugins) for (const definition of plugin.definition.steps ?? []) candidates.push({ definition, plugin, foundation: false });
  if (target) for (const definition of target.definition.steps ?? []) candidates.push({ definition, plugin: target.plugin, foundation: true });

  const workloadNames = [...Object.keys(site.services).map((n) => `service:${n}`), ...Object.keys(site.jobs).map((n) => `job:${n}`)];
  const knownSteps = new Set([...candidates.map((c) => c.definition.name), ...workloadNames, ...(site.templates ? [TEMPLATES_STEP] : [])]);
  for (const { definition, siteInput } of createWorkloadSteps(site, knownSteps)) candidates.push({ definition, plugin: undefined, foundation: false, siteInput });
  if (site.templates) {
    try {
      candidates.push({
        definition: createTemplatesStep(site, knownSteps, () => secrets.digest()),
        plugin: undefined,
        foundation: false,
        siteInput: { key: "templates", value: site.templates as unknown as JsonValue },
      });
    } catch (error) {
      if (!isStepwiseError(error)) throw error;
      problems.push(error);
    }
  }
  return candidates;
}

/** One step as the engine sees it: its plugin, dependencies (foundation steps first) and declared inputs. */
function toSiteStep(
  { definition, plugin, foundation, siteInput }: StepCandidate,
  settings: SiteFile["steps"][string] | undefined,
  target: ChosenTarget | undefined,
  foundationNames: readonly string[],
): SiteStep {
  const stepConfig = { ...(foundation ? target?.definition.config : undefined), ...definition.config };
  const connectionConfig = Object.keys(stepConfig).filter((key) => stepConfig[key]?.connection === true);
  const targetConfig = target?.definition.config ?? {};
  // A target key that shapes one resource kind is an input of the steps that ask for that kind, not of the foundation.
  const asks = definition.resources;
  // A `resources` function is narrowed once config is resolved (narrowResourceKindInputs); a step
  // that does not say may ask for any kind, so it gets every kind's keys.
  const realisationConfig = foundation ? [] : Object.keys(targetConfig).filter((key) => {
    const kind = keyKind(targetConfig, key);
    return kind !== undefined && (!Array.isArray(asks) || asks.includes(kind));
  });
  const ownConfig = Object.keys(stepConfig).filter((key) => !(foundation && keyKind(targetConfig, key) !== undefined && !definition.config?.[key]));
  return {
    name: definition.name,
    description: definition.description,
    pluginId: plugin?.id ?? BUILTIN_ID,
    pluginName: plugin?.name ?? CORE_PACKAGE,
    definition,
    dependsOn: [...new Set([...(definition.dependsOn ?? []), ...(settings?.dependsOn ?? []), ...(foundation ? [] : foundationNames)])],
    inputs: {
      files: [...(definition.inputs?.files ?? [])],
      config: [...new Set([...(definition.inputs?.config ?? []), ...ownConfig, ...realisationConfig])].filter((key) => !connectionConfig.includes(key)).sort(),
      secrets: [...new Set([...(definition.inputs?.secrets ?? []), ...Object.keys(definition.secrets ?? {})])].sort(),
    },
    foundation,
    ...(connectionConfig.length ? { connectionConfig } : {}),
    ...(siteInput ? { siteInput } : {}),
  };
}

/**
 * Once config is resolved: a step whose `resources` is a function keeps the `resourceKind` keys
 * of the kinds it asks for under this config only ({@link assembleSteps} gave it every kind's,
 * before config was known). Keys the step owns or declares itself stay. A function that throws
 * leaves the step with every kind's keys (and is reported by the plan-time kind check).
 */
export function narrowResourceKindInputs(steps: Iterable<SiteStep>, target: ChosenTarget | undefined, config: ConfigReader): void {
  const targetConfig = target?.definition.config ?? {};
  for (const step of steps) {
    const asks = step.definition.resources;
    if (step.foundation || typeof asks !== "function") continue;
    let kinds: readonly ResourceKind[];
    try {
      kinds = asks(config);
    } catch {
      continue;
    }
    const own = new Set([...(step.definition.inputs?.config ?? []), ...Object.keys(step.definition.config ?? {})]);
    step.inputs.config = step.inputs.config.filter((key) => {
      const kind = keyKind(targetConfig, key);
      return own.has(key) || kind === undefined || kinds.includes(kind);
    });
  }
}

/** The resource kind a target key belongs to (`resourceKind`; a connection key belongs to none). */
function keyKind(targetConfig: Readonly<Record<string, ConfigKeySpec>>, key: string): ResourceKind | undefined {
  const spec = targetConfig[key];
  return spec?.connection === true ? undefined : spec?.resourceKind;
}

function assertNoDisabledDependency(steps: ReadonlyMap<string, SiteStep>, disabled: readonly SiteStep[]): void {
  for (const step of steps.values()) {
    for (const dep of step.dependsOn) {
      if (!disabled.some((s) => s.name === dep)) continue;
      throw errors.stepDependsOnDisabled(step.name, dep);
    }
  }
}
