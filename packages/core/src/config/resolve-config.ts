import type { ConfigKeySpec, ConfigReader, JsonValue, PresetName } from "../contracts.js";
import type { LocatedValue } from "../site/load-site.js";
import { errors } from "../errors/error-codes.js";

/** A config key some step or target owns. */
export interface OwnedConfigKey {
  key: string;
  spec: ConfigKeySpec;
  /** Step or target that owns it. */
  owner: string;
}

export type ConfigSourceKind = "default" | "preset" | "file" | "env" | "set";

export interface ConfigSource {
  kind: ConfigSourceKind;
  /** `stepwise.yaml:12`, `env MAIL_PROVIDER`, `--set`, `preset dev-mode`, `default of email`. */
  label: string;
}

export interface ConfigProblem {
  key: string;
  source: string;
  message: string;
}

export interface ResolvedConfig extends ConfigReader {
  has(key: string): boolean;
  source(key: string): ConfigSource | undefined;
  keys(): string[];
  /** Keys that apply (their `when` holds) and are required but have no value. */
  readonly missing: OwnedConfigKey[];
  /** Values that failed coercion or validation. */
  readonly problems: ConfigProblem[];
  /** Owned keys whose `when` is false: neither asked for nor required. */
  isInactive(key: string): boolean;
}

export interface ResolveConfigInput {
  owned: readonly OwnedConfigKey[];
  preset: PresetName;
  file: ReadonlyMap<string, LocatedValue>;
  env: Readonly<Record<string, string | undefined>>;
  /** `key=value` strings from `--set`, in order (later wins). */
  sets: readonly string[];
}

const ENV_PREFIX = "STEPWISE_CONFIG_";

/** The generic environment variable for a key: `email.smtp.host` -> `STEPWISE_CONFIG_EMAIL__SMTP__HOST`. */
export function configEnvName(key: string): string {
  return ENV_PREFIX + key.replace(/\./g, "__").toUpperCase();
}

/**
 * Resolves every config value: step default < preset < stepwise.yaml < environment < `--set`.
 * Never throws for bad values: problems and missing keys are collected so that one error can
 * list all of them.
 */
export function resolveConfig(input: ResolveConfigInput): ResolvedConfig {
  const values = new Map<string, JsonValue>();
  const sources = new Map<string, ConfigSource>();
  const problems: ConfigProblem[] = [];
  const specs = new Map(input.owned.map((o) => [o.key, o]));
  const put = (key: string, raw: JsonValue, source: ConfigSource, fromString: boolean) => {
    const spec = specs.get(key)?.spec;
    const coerced = coerceConfigValue(raw, spec?.type, fromString);
    if (coerced.error) {
      problems.push({ key, source: source.label, message: coerced.error });
      return;
    }
    values.set(key, coerced.value as JsonValue);
    sources.set(key, source);
  };

  for (const { key, spec, owner } of input.owned) {
    if (spec.default !== undefined) put(key, spec.default, { kind: "default", label: `default of ${owner}` }, false);
    const presetValue = spec.presets?.[input.preset];
    if (presetValue !== undefined) put(key, presetValue, { kind: "preset", label: `preset ${input.preset}` }, false);
  }
  for (const [key, located] of input.file) {
    // The file:line is computed when a message shows it (a cached site parses YAML only then).
    const source: ConfigSource = {
      kind: "file",
      get label() {
        return located.location;
      },
    };
    put(key, located.value, source, false);
  }

  const envByName = new Map<string, string>();
  for (const key of new Set([...specs.keys(), ...input.file.keys()])) {
    envByName.set(configEnvName(key), key);
    const declared = specs.get(key)?.spec.env;
    if (declared) envByName.set(declared, key);
  }
  // Generic names first so that a key's declared variable (MAIL_PROVIDER) wins when both are set.
  const envNames = [...envByName.keys()].sort((a, b) => Number(b.startsWith(ENV_PREFIX)) - Number(a.startsWith(ENV_PREFIX)));
  for (const name of envNames) {
    const value = input.env[name];
    if (value !== undefined) put(envByName.get(name)!, value, { kind: "env", label: `env ${name}` }, true);
  }

  for (const assignment of input.sets) {
    const eq = assignment.indexOf("=");
    if (eq <= 0) {
      problems.push({ key: assignment, source: "--set", message: "expected --set key=value (e.g. --set email.smtp.port=587)" });
      continue;
    }
    put(assignment.slice(0, eq).trim(), assignment.slice(eq + 1), { kind: "set", label: "--set" }, true);
  }

  const reader: ConfigReader = { get: <T extends JsonValue>(key: string) => values.get(key) as T | undefined };
  const inactive = new Set<string>();
  const missing: OwnedConfigKey[] = [];
  for (const owned of input.owned) {
    const { key, spec } = owned;
    if (!appliesWhen(spec.when, reader)) {
      inactive.add(key);
      continue;
    }
    const value = values.get(key);
    if (value === undefined || value === "") {
      if (spec.required) missing.push(owned);
      continue;
    }
    const label = () => sources.get(key)?.label ?? "default";
    if (spec.choices && !spec.choices.some((choice) => JSON.stringify(choice) === JSON.stringify(value))) {
      problems.push({ key, source: label(), message: `must be one of ${spec.choices.map((c) => JSON.stringify(c)).join(", ")}, got ${JSON.stringify(value)}` });
      continue;
    }
    const message = spec.validate?.(value, reader);
    if (message) problems.push({ key, source: label(), message });
  }

  return {
    get: reader.get,
    has: (key) => values.has(key),
    source: (key) => sources.get(key),
    keys: () => [...values.keys()].sort(),
    missing,
    problems,
    isInactive: (key) => inactive.has(key),
  };
}

/** Throws one error listing every invalid value (exit 2). */
export function assertConfigValid(config: ResolvedConfig): void {
  const [first, ...rest] = config.problems;
  if (!first) return;
  if (rest.length === 0) throw errors.configInvalid(first.key, first.source, first.message);
  throw errors.configInvalidMany(config.problems);
}

/**
 * Whether a key or secret applies. A `when` that throws counts as true: asking for something
 * unneeded is better than silently skipping something required.
 */
export function appliesWhen(when: ((config: ConfigReader) => boolean) | undefined, reader: ConfigReader): boolean {
  if (!when) return true;
  try {
    return when(reader);
  } catch {
    return true;
  }
}

export function coerceConfigValue(raw: JsonValue, type: ConfigKeySpec["type"], fromString: boolean): { value: JsonValue; error?: undefined } | { value?: undefined; error: string } {
  if (type === undefined || type === "string") {
    if (raw === null || typeof raw === "object") return { error: `expected a string, got ${JSON.stringify(raw)}` };
    return { value: String(raw) };
  }
  if (type === "number" || type === "integer") {
    const n = typeof raw === "number" ? raw : fromString && typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
    if (!Number.isFinite(n)) return { error: `expected ${type === "integer" ? "an integer" : "a number"}, got ${JSON.stringify(raw)}` };
    if (type === "integer" && !Number.isInteger(n)) return { error: `expected an integer, got ${JSON.stringify(raw)}` };
    return { value: n };
  }
  if (type === "boolean") {
    if (typeof raw === "boolean") return { value: raw };
    if (fromString && typeof raw === "string") {
      const lower = raw.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(lower)) return { value: true };
      if (["false", "0", "no", "off"].includes(lower)) return { value: false };
    }
    return { error: `expected true or false, got ${JSON.stringify(raw)}` };
  }
  // string[]
  if (Array.isArray(raw) && raw.every((item) => typeof item === "string")) return { value: raw };
  if (fromString && typeof raw === "string") {
    return { value: raw.split(",").map((item) => item.trim()).filter(Boolean) };
  }
  return { error: `expected a list of strings, got ${JSON.stringify(raw)}` };
}
