// @ts-check
/**
 * A hand-made StepContext, as a plugin author tests a step without the engine: config resolved
 * as default < preset < given, and reads of undeclared config, secrets or step outputs throw,
 * like the engine's context does.
 */

/**
 * @typedef {import("@stepwise/core").StepDefinition} StepDefinition
 * @typedef {import("@stepwise/core").StepContext} StepContext
 * @typedef {import("@stepwise/core").ResourceSpec} ResourceSpec
 * @typedef {import("@stepwise/core").ResourceResult} ResourceResult
 * @typedef {import("@stepwise/core").JsonValue} JsonValue
 * @typedef {import("@stepwise/core").PresetName} PresetName
 * @typedef {import("@stepwise/core").StepOutputs} StepOutputs
 */

/**
 * @param {StepDefinition} step
 * @param {{
 *   preset?: PresetName,
 *   config?: Record<string, JsonValue>,
 *   secrets?: Record<string, string>,
 *   outputs?: Record<string, StepOutputs>,
 *   previousOutputs?: StepOutputs,
 *   probe?: (result: ResourceResult) => { reason: string } | undefined,
 * }} [options]
 */
export function createFakeStepContext(step, options = {}) {
  const preset = options.preset ?? "default";
  const config = resolveStepConfig(step, preset, options.config);
  const declaredConfig = new Set([...Object.keys(step.config ?? {}), ...(step.inputs?.config ?? [])]);
  const declaredSecrets = new Set([...Object.keys(step.secrets ?? {}), ...(step.inputs?.secrets ?? [])]);
  /** @type {ResourceSpec[]} */
  const ensured = [];
  /** @type {ResourceResult[]} */
  const probed = [];
  /** @type {{ level: string, message: string }[]} */
  const logs = [];
  /** @param {string} kind @param {string} name */
  const undeclared = (kind, name) => new Error(`step ${step.name} read undeclared ${kind} "${name}"`);
  /** @param {string} level */
  const logTo = (level) => (/** @type {string} */ message) => void logs.push({ level, message });
  const files = {
    list: () => [],
    read: async (/** @type {string} */ path) => Promise.reject(undeclared("file", path)),
    resolve: (/** @type {string} */ path) => {
      throw undeclared("file", path);
    },
    digest: () => "0".repeat(64),
  };

  /** @type {StepContext} */
  const ctx = {
    site: { name: "demo", dir: "/sites/demo", preset },
    step: step.name,
    config: {
      get(key) {
        if (!declaredConfig.has(key)) throw undeclared("config", key);
        return /** @type {any} */ (config.get(key));
      },
    },
    secrets: {
      get(name) {
        if (!declaredSecrets.has(name)) throw undeclared("secret", name);
        return options.secrets?.[name];
      },
      fingerprint(name) {
        if (!declaredSecrets.has(name)) throw undeclared("secret", name);
        return options.secrets?.[name] === undefined ? undefined : `hmac:${name}`;
      },
    },
    files,
    outputs(dependency) {
      if (!step.dependsOn?.includes(dependency)) throw undeclared("outputs of step", dependency);
      const outputs = options.outputs?.[dependency];
      if (!outputs) throw new Error(`test did not provide outputs of ${dependency}`);
      return outputs;
    },
    previousOutputs: options.previousOutputs,
    target: {
      name: "fake",
      async ensure(spec) {
        ensured.push(spec);
        return { kind: spec.kind, name: spec.name, id: `fake-${spec.name}`, specHash: "0".repeat(64), change: "created", outputs: {} };
      },
      async probe(result) {
        probed.push(result);
        return options.probe?.(result);
      },
    },
    signal: new AbortController().signal,
    log: { info: logTo("info"), warn: logTo("warn"), debug: logTo("debug"), progress: logTo("progress") },
  };
  return { ctx, ensured, probed, logs };
}

/**
 * @param {StepDefinition} step
 * @param {PresetName} preset
 * @param {Record<string, JsonValue>} [given]
 */
export function resolveStepConfig(step, preset, given = {}) {
  /** @type {Map<string, JsonValue>} */
  const values = new Map();
  for (const [key, spec] of Object.entries(step.config ?? {})) {
    const value = spec.presets?.[preset] ?? spec.default;
    if (value !== undefined) values.set(key, value);
  }
  for (const [key, value] of Object.entries(given)) values.set(key, value);
  return { get: (/** @type {string} */ key) => values.get(key) };
}

/**
 * Problems the engine would report for the step's own keys: missing required values and
 * `choices` / `validate` messages, skipping keys whose `when` is false.
 * @param {StepDefinition} step
 * @param {PresetName} preset
 * @param {Record<string, JsonValue>} [given]
 */
export function configProblems(step, preset, given = {}) {
  const reader = /** @type {import("@stepwise/core").ConfigReader} */ (resolveStepConfig(step, preset, given));
  /** @type {string[]} */
  const problems = [];
  for (const [key, spec] of Object.entries(step.config ?? {})) {
    if (spec.when && !spec.when(reader)) continue;
    const value = reader.get(key);
    if (value === undefined || value === "") {
      if (spec.required) problems.push(`${key}: missing`);
      continue;
    }
    const message = spec.validate?.(value, reader);
    if (message) problems.push(`${key}: ${message}`);
  }
  return problems;
}
