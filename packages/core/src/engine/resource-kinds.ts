import type { ConfigReader, ResourceKind, StepDefinition, TargetDefinition } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import type { StepwiseError } from "../errors/stepwise-error.js";

/** The kinds a step declares it asks its target for, under `config`; `undefined` when it does not say. */
export function declaredResourceKinds(definition: StepDefinition, config: ConfigReader): readonly ResourceKind[] | undefined {
  const { resources } = definition;
  if (resources === undefined) return undefined;
  return typeof resources === "function" ? resources(config) : resources;
}

/**
 * Plan-time check that the site's target realises every kind its steps declare. Returns one
 * error per step and kind (exit 2), each naming the targets among the site's plugins that
 * do realise it. A target that declares no `kinds` is not checked.
 */
export function unrealisableKinds(
  steps: Iterable<{ name: string; definition: StepDefinition }>,
  target: TargetDefinition | undefined,
  allTargets: readonly { target: TargetDefinition; plugin: string }[],
  config: ConfigReader,
): StepwiseError[] {
  if (!target?.kinds) return [];
  const problems: StepwiseError[] = [];
  for (const step of steps) {
    for (const kind of declaredResourceKinds(step.definition, config) ?? []) {
      if (target.kinds.includes(kind)) continue;
      const providers = allTargets.filter((t) => t.target.kinds?.includes(kind)).map((t) => `${t.target.name} from ${t.plugin}`);
      problems.push(errors.resourceKindUnsupported(step.name, kind, target.name, target.kinds, providers));
    }
  }
  return problems;
}
