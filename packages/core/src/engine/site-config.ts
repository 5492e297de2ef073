import type { SecretSpec } from "../contracts.js";
import type { SiteStep } from "../context/step-context.js";
import { resolveConfig, type OwnedConfigKey, type ResolvedConfig } from "../config/resolve-config.js";
import type { SiteFile } from "../site/load-site.js";
import type { ChosenTarget } from "./assemble-steps.js";

/** A secret some step owns, with the step. */
export interface OwnedSecret {
  name: string;
  spec: SecretSpec;
  owner: string;
}

export interface SiteConfig {
  config: ResolvedConfig;
  /** Config keys the steps and the target own, with their specs (defaults, types, `when`). */
  ownedConfig: OwnedConfigKey[];
  ownedSecrets: OwnedSecret[];
}

/**
 * The config keys and secrets the enabled steps and the target own, and the config resolved
 * over them: step defaults < preset < stepwise.yaml < environment < `--set`.
 */
export function resolveSiteConfig(
  site: SiteFile,
  steps: Iterable<SiteStep>,
  target: ChosenTarget | undefined,
  given: { env: Readonly<Record<string, string | undefined>>; sets: readonly string[] },
): SiteConfig {
  const ownedConfig: OwnedConfigKey[] = [];
  const ownedSecrets: OwnedSecret[] = [];
  for (const step of steps) {
    for (const [key, spec] of Object.entries(step.definition.config ?? {})) ownedConfig.push({ key, spec, owner: step.name });
    for (const [name, spec] of Object.entries(step.definition.secrets ?? {})) ownedSecrets.push({ name, spec, owner: step.name });
  }
  if (target) for (const [key, spec] of Object.entries(target.definition.config ?? {})) ownedConfig.push({ key, spec, owner: `target ${target.definition.name}` });
  const config = resolveConfig({ owned: ownedConfig, preset: site.preset, file: site.config, env: given.env, sets: given.sets });
  return { config, ownedConfig, ownedSecrets };
}
