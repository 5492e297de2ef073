/**
 * The conformance kit of `@stepwise/core/testing`, in the spirit of ESLint's `RuleTester`: a
 * plugin author calls it from their own test runner (vitest, node:test, anything that reports a
 * thrown error) with the plugin, its package.json and a few cases per step. It checks what the
 * engine relies on but cannot see until a site deploys: shape and meta, declared inputs, run
 * idempotence, no secret value in outputs, logs, resource specs or errors, errors that the
 * engine can attribute. It depends on no test framework: every check throws on failure.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { JsonObject, JsonValue, PluginDefinition, PresetName, ResourceSpec, StepDefinition, StepOutputs } from "../contracts.js";
import { ErrorCode, attributePluginError } from "../errors/error-codes.js";
import { isStepwiseError } from "../errors/stepwise-error.js";
import { pluginShapeProblem } from "../plugins/plugin-shape.js";
import { generateSecret } from "../secrets/generate-secret.js";
import { CORE_PACKAGE, CORE_VERSION } from "../version.js";
import { createFakeStepContext, type FakeContextOptions } from "./fake-step-context.js";

/** One run of one step, with the inputs a site would give it. */
export interface StepCase {
  /** Shown in the test's name. */
  name: string;
  /** The step to run (its `name`). */
  step: string;
  preset?: PresetName;
  /** Config values as the site file would give them (over defaults and presets). */
  config?: Record<string, JsonValue>;
  /**
   * Secret values by name. Declared secrets left out get a random value when they are
   * generated (as a deploy makes them) and stay unset otherwise.
   */
  secrets?: Record<string, string>;
  /** Outputs of the steps this one `dependsOn`. */
  outputs?: Record<string, StepOutputs>;
  resourceOutputs?: FakeContextOptions["resourceOutputs"];
  /** Files written into a fresh temporary site directory before the run, by relative path. */
  files?: Record<string, string | Uint8Array>;
  /**
   * The run must fail, with a message matching this. The error must leak no secret value and,
   * as the engine reports it, carry a code, the plugin and the step.
   */
  error?: string | RegExp;
}

export interface PluginTesterOptions {
  /** The package's default export: a plugin object, or a factory taking options. */
  plugin: unknown;
  /** Options handed to a factory (the site's `options:` for the plugin). Default `{}`. */
  options?: JsonObject;
  /** The plugin's package.json: a path or file URL, or its parsed contents. */
  packageJson: string | URL | Record<string, unknown>;
  /** Runs of the plugin's steps; every step needs at least one that succeeds. */
  cases?: readonly StepCase[];
}

/** One named check; `run` throws a {@link PluginConformanceError} when the plugin fails it. */
export interface ConformanceCheck {
  name: string;
  run: () => Promise<void>;
}

/** What a failed check throws: every problem found, one per line. */
export class PluginConformanceError extends Error {
  readonly problems: readonly string[];
  constructor(check: string, problems: readonly string[]) {
    super(`${check}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "PluginConformanceError";
    this.problems = problems;
  }
}

/** The test framework's `describe` and `it` (vitest's and node:test's both fit). */
export interface TestHooks {
  describe: (name: string, body: () => void) => unknown;
  it: (name: string, body: () => Promise<void>) => unknown;
}

/** The checks for a plugin, in order: shape and meta first, then one per case. */
export function conformanceChecks(options: PluginTesterOptions): ConformanceCheck[] {
  const pkg = readPackageJson(options.packageJson);
  const resolved = resolvePlugin(options);
  const plugin = resolved.plugin;
  const id = plugin ? `${plugin.meta.name}@${plugin.meta.version}` : `${String(pkg.name)}@${String(pkg.version)}`;
  const cases = options.cases ?? [];
  const checks: ConformanceCheck[] = [
    { name: "has the shape of a plugin", run: async () => fail("shape", resolved.problem ? [resolved.problem] : []) },
    { name: "is named, versioned and compatible after its package.json", run: async () => fail("meta", await metaProblems(plugin, pkg)) },
    {
      name: "has a succeeding case for every step",
      run: async () => {
        const covered = new Set(cases.filter((c) => c.error === undefined).map((c) => c.step));
        const known = new Set((plugin?.steps ?? []).map((s) => s.name));
        fail("cases", [
          ...[...known].filter((name) => !covered.has(name)).map((name) => `step ${name} has no case that runs it successfully; add one to cases`),
          ...cases.filter((c) => !known.has(c.step)).map((c) => `case "${c.name}" names step ${c.step}, which the plugin does not have (it has ${[...known].join(", ") || "none"})`),
        ]);
      },
    },
  ];
  for (const stepCase of cases) {
    checks.push({
      name: `${stepCase.step}: ${stepCase.name}`,
      run: async () => {
        const step = plugin?.steps?.find((s) => s.name === stepCase.step);
        if (!step) throw new PluginConformanceError(`case "${stepCase.name}"`, [`the plugin has no step ${stepCase.step}`]);
        fail(`step ${step.name}, case "${stepCase.name}"`, await caseProblems(step, stepCase, id));
      },
    });
  }
  return checks;
}

/** Runs every check; throws one {@link PluginConformanceError} listing all failures. */
export async function checkPlugin(options: PluginTesterOptions): Promise<void> {
  const failures: string[] = [];
  for (const check of conformanceChecks(options)) {
    try {
      await check.run();
    } catch (error) {
      failures.push(`${check.name}: ${(error as Error).message}`);
    }
  }
  if (failures.length) throw new PluginConformanceError("the plugin breaks the stepwise plugin contract", failures);
}

/** Registers one test per check with the given `describe`/`it` (like RuleTester's hooks). */
export function describePlugin(options: PluginTesterOptions, hooks: TestHooks): void {
  const pkg = readPackageJson(options.packageJson);
  hooks.describe(`${String(pkg.name)} conforms to the stepwise plugin contract`, () => {
    for (const check of conformanceChecks(options)) hooks.it(check.name, check.run);
  });
}

function fail(check: string, problems: readonly string[]): void {
  if (problems.length) throw new PluginConformanceError(check, problems);
}

function readPackageJson(source: PluginTesterOptions["packageJson"]): Record<string, unknown> {
  if (typeof source === "object" && !(source instanceof URL)) return source;
  return JSON.parse(readFileSync(source, "utf8")) as Record<string, unknown>;
}

function resolvePlugin(options: PluginTesterOptions): { plugin?: PluginDefinition; problem?: string } {
  let value = options.plugin;
  if (typeof value === "function") {
    try {
      value = (value as (o: JsonObject) => unknown)(options.options ?? {});
    } catch (error) {
      return { problem: `the factory threw with options ${JSON.stringify(options.options ?? {})}: ${(error as Error).message}` };
    }
  }
  const problem = pluginShapeProblem(value);
  return problem ? { problem } : { plugin: value as PluginDefinition };
}

async function metaProblems(plugin: PluginDefinition | undefined, pkg: Record<string, unknown>): Promise<string[]> {
  const problems: string[] = [];
  if (plugin && plugin.meta.name !== pkg.name) problems.push(`meta.name is "${plugin.meta.name}" but package.json names "${String(pkg.name)}" (read meta from package.json)`);
  if (plugin && plugin.meta.version !== pkg.version) problems.push(`meta.version is "${plugin.meta.version}" but package.json says "${String(pkg.version)}"`);
  const peers = (pkg.peerDependencies ?? {}) as Record<string, unknown>;
  const range = peers[CORE_PACKAGE];
  if (typeof range !== "string") {
    problems.push(`package.json has no peerDependencies["${CORE_PACKAGE}"] range; add "${CORE_PACKAGE}": "^${CORE_VERSION}"`);
  } else if (!/^(workspace|file|link):/.test(range)) {
    const [{ default: validRange }, { default: satisfies }] = await Promise.all([import("semver/ranges/valid.js"), import("semver/functions/satisfies.js")]);
    if (!validRange(range)) problems.push(`peerDependencies["${CORE_PACKAGE}"] "${range}" is not a semver range`);
    else if (!satisfies(CORE_VERSION, range, { includePrerelease: true })) problems.push(`peerDependencies["${CORE_PACKAGE}"] "${range}" does not accept this core (${CORE_VERSION})`);
  }
  const deps = (pkg.dependencies ?? {}) as Record<string, unknown>;
  if (Object.hasOwn(deps, CORE_PACKAGE)) problems.push(`${CORE_PACKAGE} is in dependencies; make it a peer (two copies of core in a site break plugins)`);
  const keywords = Array.isArray(pkg.keywords) ? pkg.keywords : [];
  if (!keywords.includes("stepwise-plugin")) problems.push(`package.json keywords lack "stepwise-plugin" (how sites and registries find plugins)`);
  return problems;
}

/** Values this case's step can see: given ones, plus a random value per generated secret. */
function caseSecrets(step: StepDefinition, given: Record<string, string> = {}): Record<string, string> {
  const secrets = { ...given };
  for (const [name, spec] of Object.entries(step.secrets ?? {})) {
    if (spec.generate && secrets[name] === undefined) secrets[name] = generateSecret(spec.generate);
  }
  return secrets;
}

interface RunResult {
  outputs?: StepOutputs | void;
  error?: unknown;
  ensured: ResourceSpec[];
  logs: string[];
}

async function caseProblems(step: StepDefinition, stepCase: StepCase, plugin: string): Promise<string[]> {
  const siteDir = mkdtempSync(path.join(os.tmpdir(), "stepwise-plugin-test-"));
  try {
    for (const [file, content] of Object.entries(stepCase.files ?? {})) {
      mkdirSync(path.dirname(path.join(siteDir, file)), { recursive: true });
      writeFileSync(path.join(siteDir, file), content);
    }
    const secrets = caseSecrets(step, stepCase.secrets);
    // Values too short to redact are not searched for: they would match ordinary text.
    const secretValues = Object.entries(secrets).filter(([, value]) => value.length >= 8);
    const leaks = (where: string, text: string) => secretValues.filter(([, value]) => text.includes(value)).map(([name]) => `the value of secret ${name} appears in ${where}`);
    const context: FakeContextOptions = {
      siteDir,
      plugin,
      secrets,
      ...(stepCase.preset ? { preset: stepCase.preset } : {}),
      ...(stepCase.config ? { config: stepCase.config } : {}),
      ...(stepCase.outputs ? { outputs: stepCase.outputs } : {}),
      ...(stepCase.resourceOutputs ? { resourceOutputs: stepCase.resourceOutputs } : {}),
    };
    const runOnce = async (previousOutputs?: StepOutputs): Promise<RunResult> => {
      const fake = createFakeStepContext(step, { ...context, ...(previousOutputs ? { previousOutputs } : {}) });
      const result: RunResult = { ensured: fake.ensured, logs: [] };
      try {
        result.outputs = await step.run(fake.ctx);
      } catch (error) {
        result.error = error;
      }
      result.logs = fake.logs.map((l) => `${l.level}: ${l.message}`);
      return result;
    };

    const first = await runOnce();
    const problems = [...leaks("a resource spec", JSON.stringify(first.ensured)), ...leaks("the logs", first.logs.join("\n"))];
    if (first.error !== undefined) {
      const error = first.error;
      if (isStepwiseError(error) && error.code === ErrorCode.UndeclaredInput) return [...problems, `declared inputs do not cover what run reads: ${error.message} (fix: ${error.hint})`];
      const message = error instanceof Error ? error.message : String(error);
      if (stepCase.error === undefined) return [...problems, `run failed: ${message}`];
      if (!(typeof stepCase.error === "string" ? message.includes(stepCase.error) : stepCase.error.test(message))) {
        problems.push(`run failed with "${message}", expected a message matching ${String(stepCase.error)}`);
      }
      problems.push(...leaks("the error", errorText(error)));
      const reported = attributePluginError(error, plugin, step.name, (text) => text, "run");
      if (!reported.code) problems.push("the error as the engine reports it carries no code");
      if (reported.plugin !== plugin || reported.step !== step.name) {
        problems.push(`the error as the engine reports it names plugin ${String(reported.plugin)} and step ${String(reported.step)}, not ${plugin} and ${step.name}`);
      }
      return problems;
    }
    if (stepCase.error !== undefined) return [...problems, `run succeeded, expected it to fail with a message matching ${String(stepCase.error)}`];

    const outputs = first.outputs ?? {};
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(outputs)), outputs)) problems.push("run returned outputs that are not plain JSON (they are stored in state and hashed)");
    problems.push(...leaks("the outputs", JSON.stringify(outputs)));

    // A deploy with nothing changed: same inputs, the first run's outputs as previous ones.
    const second = await runOnce(outputs);
    if (second.error !== undefined) {
      problems.push(`run is not idempotent: a second run over the same inputs failed: ${second.error instanceof Error ? second.error.message : String(second.error)}`);
    } else {
      if (!isDeepStrictEqual(second.outputs ?? {}, outputs)) {
        problems.push(`run is not idempotent: a second run returned other outputs (first ${JSON.stringify(outputs)}, second ${JSON.stringify(second.outputs ?? {})}); leave volatile facts (times, change flags) out`);
      }
      if (!isDeepStrictEqual(second.ensured, first.ensured)) {
        problems.push(`run is not idempotent: a second run asked the target for other resources (first ${JSON.stringify(first.ensured)}, second ${JSON.stringify(second.ensured)})`);
      }
    }

    if (step.check) {
      const fake = createFakeStepContext(step, { ...context, previousOutputs: outputs });
      try {
        const drift = await step.check(fake.ctx);
        if (drift) problems.push(`check reports drift right after run, with nothing changed: ${drift.reason}`);
      } catch (error) {
        problems.push(`check failed right after run: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return problems;
  } finally {
    rmSync(siteDir, { recursive: true, force: true });
  }
}

/** Everything of an error a user could see: message, stack and causes. */
function errorText(error: unknown, depth = 0): string {
  if (!(error instanceof Error) || depth > 5) return String(error);
  return [error.message, error.stack ?? "", "cause" in error && error.cause !== undefined ? errorText(error.cause, depth + 1) : ""].join("\n");
}
