import type { SiteStep } from "../context/step-context.js";
import type { OwnedConfigKey, ResolvedConfig } from "../config/resolve-config.js";
import { closestNames, errors } from "../errors/error-codes.js";
import { StepwiseError } from "../errors/stepwise-error.js";
import type { LoadedPlugin } from "../plugins/load-plugins.js";
import type { SiteFile } from "../site/load-site.js";
import type { ChosenTarget } from "./assemble-steps.js";
import { unrealisableKinds } from "./resource-kinds.js";

/**
 * What makes a site impossible to plan or deploy once its config is resolved, though the
 * commands that fix it (`secrets set`, `configure`, `state unlock`) must still open it:
 * `${config.KEY}` references to keys nothing sets, resource kinds the target does not realise,
 * and keys set under a step's namespace that no step owns or reads.
 */
export function configProblems(input: {
  steps: readonly SiteStep[];
  owned: readonly OwnedConfigKey[];
  config: ResolvedConfig;
  site: SiteFile;
  sets: readonly string[];
  plugins: readonly LoadedPlugin[];
  target: ChosenTarget | undefined;
}): StepwiseError[] {
  const problems: StepwiseError[] = [];
  const unset = unsetReferences(input.steps, input.owned, input.config);
  if (unset) problems.push(unset);
  const allTargets = input.plugins.flatMap((p) => (p.definition.targets ?? []).map((t) => ({ target: t, plugin: p.name })));
  problems.push(...unrealisableKinds(input.steps, input.target?.definition, allTargets, input.config));
  const unknown = unknownConfigKeys(input.steps, input.owned, input.site, input.sets);
  if (unknown) problems.push(unknown);
  return problems;
}

/** The site's problems as one error (the first's code and hint, every message with its fix), or undefined when there are none. */
export function combineProblems(problems: readonly StepwiseError[]): StepwiseError | undefined {
  const [first, ...rest] = problems;
  if (!first || rest.length === 0) return first;
  return errors.siteProblems([first, ...rest]);
}

/**
 * `${config.KEY}` references of site-defined steps (services, jobs, templates) to keys that
 * no step owns and nothing sets: most likely typos, which would otherwise render as "".
 */
export function unsetReferences(steps: readonly SiteStep[], owned: readonly OwnedConfigKey[], config: ResolvedConfig): StepwiseError | undefined {
  const ownedKeys = new Set(owned.map((o) => o.key));
  const known = [...new Set([...ownedKeys, ...config.keys()])];
  const problems: string[] = [];
  for (const step of steps) {
    if (!step.siteInput) continue;
    for (const key of step.inputs.config) {
      if (ownedKeys.has(key) || config.has(key)) continue;
      const close = closestNames(key, known);
      problems.push(`  - ${step.siteInput.key} references \${config.${key}}, which no step owns and nothing sets${close.length ? ` (did you mean ${close.join(" or ")}?)` : ""}`);
    }
  }
  if (problems.length === 0) return undefined;
  return errors.configReferencesUnset(problems);
}

/**
 * Keys set in stepwise.yaml or with `--set` under a namespace some step owns (`app.prot` when a
 * step owns `app.port`) that no step owns or reads: typos, which would otherwise be ignored
 * while the step runs with its default. A namespace no step owns is the site's own, free-form
 * (read through `${config.KEY}` in services, jobs and templates); a plugin that reads keys of
 * its namespace beyond those it owns declares them in `inputs.config`.
 */
export function unknownConfigKeys(steps: readonly SiteStep[], owned: readonly OwnedConfigKey[], site: Pick<SiteFile, "config">, sets: readonly string[]): StepwiseError | undefined {
  const namespace = (key: string) => key.split(".")[0]!;
  const ownedNamespaces = new Set(owned.map((o) => namespace(o.key)));
  const known = new Set([...owned.map((o) => o.key), ...steps.flatMap((s) => s.inputs.config)]);
  const ownedKeys = [...new Set(owned.map((o) => o.key))];
  const given: { key: string; source: () => string }[] = [...site.config.entries()].map(([key, located]) => ({ key, source: () => located.location }));
  for (const assignment of sets) {
    const eq = assignment.indexOf("=");
    if (eq > 0) given.push({ key: assignment.slice(0, eq).trim(), source: () => "--set" });
  }
  const unknown = new Map<string, { key: string; source: string; suggestions: string[] }>();
  for (const { key, source } of given) {
    if (known.has(key) || !ownedNamespaces.has(namespace(key)) || unknown.has(key)) continue;
    unknown.set(key, { key, source: source(), suggestions: closestNames(key, ownedKeys) });
  }
  return unknown.size === 0 ? undefined : errors.configUnknown([...unknown.values()]);
}
