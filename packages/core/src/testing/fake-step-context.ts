/**
 * A hand-made StepContext for unit tests of a plugin's steps (import from "@stepwise/core/testing"). It resolves config the way
 * the engine does (default < preset < site values, empty string = unset) and, like the real
 * context, throws when a step reads config, a secret or step outputs it did not declare, so a
 * test also proves that the step's `inputs` are complete. Its refusals are the engine's own
 * `UNDECLARED_INPUT` errors (same code and wording). Given `siteDir`, `ctx.files` lists and reads the
 * real files there that the step's `inputs.files` select, as the engine would. Exported for plugin
 * authors; the engine never uses it.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type {
  ConfigReader,
  DriftReport,
  JsonValue,
  PresetName,
  ResourceKind,
  ResourceOutputs,
  ResourceResult,
  ResourceSpec,
  StepContext,
  StepDefinition,
  StepOutputs,
} from "../contracts.js";
import { appliesWhen } from "../config/resolve-config.js";
import { declaredResourceKinds } from "../engine/resource-kinds.js";
import { errors } from "../errors/error-codes.js";
import { listFilesRecursive } from "../files/list-files.js";
import { compileGlob, isDefaultIgnored, splitGlobs } from "../fingerprint/glob-selector.js";
import { computeInputFingerprint, sha256 } from "../fingerprint/compute-input-fingerprint.js";

export interface FakeContextOptions {
  preset?: PresetName;
  /**
   * The site directory (`ctx.site.dir`). Given, `ctx.files` selects the files below it that the
   * step's `inputs.files` globs match (as the engine does, without `.stepwise/`, `.git/` and
   * `node_modules/`), and reads them from disk. Default `/sites/demo`, where no files exist.
   */
  siteDir?: string;
  /** `ctx.site.name`. Default `demo`. */
  siteName?: string;
  /** `name@version` of the plugin, named by errors as the engine names it. Default `(test)`. */
  plugin?: string;
  /** Values as the site file, environment or `--set` would give them; they beat defaults and presets. */
  config?: Record<string, JsonValue>;
  secrets?: Record<string, string>;
  /** Outputs of the steps this step depends on. */
  outputs?: Record<string, StepOutputs>;
  /**
   * Outputs the fake target returns per resource kind, merged over the kind's defaults
   * (`host` = the resource's name, the usual port, the spec's user, databases and secret
   * references: what {@link ResourceOutputs} promises from every target).
   */
  resourceOutputs?: Partial<Record<ResourceSpec["kind"], Record<string, JsonValue>>>;
  /** What the step returned on its last successful run. */
  previousOutputs?: StepOutputs;
  /** Answer of the fake target's drift probe. */
  probe?: (result: ResourceResult) => DriftReport | void;
}

export interface FakeContext {
  ctx: StepContext;
  /** Every spec passed to `ctx.target.ensure`, in order. */
  ensured: ResourceSpec[];
  /** Every result passed to `ctx.target.probe`, in order. */
  probed: ResourceResult[];
  /** Every line the step logged. */
  logs: { level: "info" | "warn" | "debug" | "progress"; message: string }[];
}

/** Resolves a step's own keys (default < preset < given) plus given values for foreign keys. */
export function resolveStepConfig(step: StepDefinition, preset: PresetName, given: Record<string, JsonValue> = {}): ConfigReader {
  const values = new Map<string, JsonValue>();
  for (const [key, spec] of Object.entries(step.config ?? {})) {
    const value = spec.presets?.[preset] ?? spec.default;
    if (value !== undefined) values.set(key, value);
  }
  for (const [key, value] of Object.entries(given)) values.set(key, value);
  return { get: <T extends JsonValue>(key: string) => values.get(key) as T | undefined };
}

/**
 * What the engine's resolver reports for a step's own keys: required keys without a value and
 * messages from `choices` / `validate`, skipping keys whose `when` is false.
 */
export function configProblems(step: StepDefinition, preset: PresetName, given: Record<string, JsonValue> = {}): string[] {
  const reader = resolveStepConfig(step, preset, given);
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(step.config ?? {})) {
    if (!appliesWhen(spec.when, reader)) continue;
    const value = reader.get(key);
    if (value === undefined || value === "") {
      if (spec.required) problems.push(`${key}: missing`);
      continue;
    }
    if (spec.choices && !spec.choices.some((choice) => JSON.stringify(choice) === JSON.stringify(value))) {
      problems.push(`${key}: must be one of ${spec.choices.map((c) => JSON.stringify(c)).join(", ")}`);
      continue;
    }
    const message = spec.validate?.(value, reader);
    if (message) problems.push(`${key}: ${message}`);
  }
  return problems;
}

/** The secrets of `step` that apply (their `when` holds) under the given config. */
export function activeSecrets(step: StepDefinition, preset: PresetName, given: Record<string, JsonValue> = {}): string[] {
  const reader = resolveStepConfig(step, preset, given);
  return Object.entries(step.secrets ?? {})
    .filter(([, spec]) => appliesWhen(spec.when, reader))
    .map(([name]) => name);
}

export function createFakeStepContext(step: StepDefinition, options: FakeContextOptions = {}): FakeContext {
  const preset = options.preset ?? "default";
  const reader = resolveStepConfig(step, preset, options.config);
  const declaredConfig = new Set([...Object.keys(step.config ?? {}), ...(step.inputs?.config ?? [])]);
  const declaredSecrets = new Set([...Object.keys(step.secrets ?? {}), ...(step.inputs?.secrets ?? [])]);
  const ensured: ResourceSpec[] = [];
  const probed: ResourceResult[] = [];
  const logs: FakeContext["logs"] = [];
  const plugin = options.plugin ?? "(test)";
  const undeclared = (kind: string, name: string) => errors.undeclaredInput(step.name, plugin, kind, name);
  const siteDir = options.siteDir ?? "/sites/demo";
  let selected: string[] | undefined;
  const selectedFiles = () => (selected ??= options.siteDir === undefined ? [] : selectFiles(options.siteDir, step.inputs?.files ?? []));
  const declaredFile = (file: string) => {
    const normalized = path.posix.normalize(file.replace(/\\/g, "/")).replace(/^\.\//, "");
    if (!selectedFiles().includes(normalized)) throw undeclared("files", file);
    return path.join(siteDir, normalized);
  };

  const files = {
    list: () => selectedFiles(),
    read: async (file: string): Promise<Buffer> => readFileSync(declaredFile(file)),
    resolve: (file: string): string => declaredFile(file),
    digest: () => computeInputFingerprint(Object.fromEntries(selectedFiles().map((file) => [file, sha256(readFileSync(path.join(siteDir, file)))]))),
  };
  const declaredKinds = declaredResourceKinds(step, reader);

  const ctx: StepContext = {
    site: { name: options.siteName ?? "demo", dir: siteDir, preset },
    step: step.name,
    config: {
      get: <T extends JsonValue>(key: string) => {
        if (!declaredConfig.has(key)) throw undeclared("config", key);
        return reader.get<T>(key);
      },
    },
    secrets: {
      get: (name) => {
        if (!declaredSecrets.has(name)) throw undeclared("secrets", name);
        return options.secrets?.[name];
      },
      fingerprint: (name) => {
        if (!declaredSecrets.has(name)) throw undeclared("secrets", name);
        return options.secrets?.[name] === undefined ? undefined : `hmac:${name}`;
      },
    },
    files,
    outputs: (dependency) => {
      if (!step.dependsOn?.includes(dependency)) throw undeclared("output of step", dependency);
      const outputs = options.outputs?.[dependency];
      if (!outputs) throw new Error(`test did not provide outputs of ${dependency}`);
      return outputs;
    },
    previousOutputs: options.previousOutputs,
    target: {
      name: "fake",
      ensure: async <S extends ResourceSpec>(spec: S): Promise<ResourceResult<S["kind"]>> => {
        // As the engine: refused before the target sees it.
        if (declaredKinds && !declaredKinds.includes(spec.kind)) throw errors.resourceKindUndeclared(step.name, plugin, spec.kind, declaredKinds);
        ensured.push(spec);
        return {
          kind: spec.kind,
          name: spec.name,
          id: `fake-${spec.name}`,
          specHash: "0".repeat(64),
          change: "created",
          outputs: { ...defaultOutputs(spec), ...options.resourceOutputs?.[spec.kind] },
        } as ResourceResult<S["kind"]>;
      },
      probe: async (result) => {
        probed.push(result);
        return options.probe?.(result);
      },
    },
    signal: new AbortController().signal,
    log: {
      info: (message) => logs.push({ level: "info", message }),
      warn: (message) => logs.push({ level: "warn", message }),
      debug: (message) => logs.push({ level: "debug", message }),
      progress: (message) => logs.push({ level: "progress", message }),
    },
  };
  return { ctx, ensured, probed, logs };
}

/** The files below `siteDir` the globs select, sorted, as the engine's selection would give them. */
function selectFiles(siteDir: string, globs: readonly string[]): string[] {
  const { include, exclude } = splitGlobs(globs);
  if (include.length === 0) return [];
  const includes = include.map(compileGlob);
  const excludes = exclude.map(compileGlob);
  return listFilesRecursive(siteDir).filter((file) => !isDefaultIgnored(file) && includes.some((m) => m(file)) && !excludes.some((m) => m(file)));
}

/** What every target returns for a kind ({@link ResourceOutputs}), as a fake target would. */
function defaultOutputs(spec: ResourceSpec): ResourceOutputs[ResourceKind] {
  switch (spec.kind) {
    case "service":
      return { host: spec.name, ports: (spec.ports ?? []).map((p) => ({ container: p.container, host: p.host ?? p.container })) };
    case "job":
      return { exitCode: 0 };
    case "postgres":
      return { host: spec.name, port: 5432, user: spec.user, databases: [...spec.databases], password: { secret: spec.passwordSecret } };
    case "redis":
      return { host: spec.name, port: 6379, ...(spec.passwordSecret ? { password: { secret: spec.passwordSecret } } : {}) };
    case "objectStore":
      return { endpoint: `http://${spec.name}:9000` };
    case "secret":
      return { secret: { secret: spec.name } };
  }
}
