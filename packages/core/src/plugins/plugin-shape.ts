import type { ResourceKind } from "../contracts.js";
import { secretAlphabet } from "../secrets/generate-secret.js";

/**
 * What makes a default export not a plugin, or undefined. Everything the engine later reads
 * without further checks is checked here, so a malformed plugin is refused with one line that
 * names the member, never an internal error when a plan uses it.
 */
export function pluginShapeProblem(value: unknown): string | undefined {
  if (!value || typeof value !== "object") return "its default export is not a plugin object (use definePlugin({ meta, steps }))";
  const plugin = value as Record<string, unknown>;
  const meta = plugin.meta as Record<string, unknown> | undefined;
  if (!meta || typeof meta !== "object" || typeof meta.name !== "string" || typeof meta.version !== "string") {
    return "meta: { name, version } is missing";
  }
  const steps = arrayProblem(plugin.steps, "steps") ?? (plugin.steps as unknown[] | undefined ?? []).map((step, i) => stepProblem(step, `steps[${i}]`)).find(Boolean);
  if (steps) return steps;
  if (plugin.targets !== undefined && !Array.isArray(plugin.targets)) return "targets must be an array";
  for (const [i, target] of ((plugin.targets as unknown[] | undefined) ?? []).entries()) {
    const t = target as Record<string, unknown> | null;
    if (!t || typeof t !== "object" || typeof t.name !== "string") return `targets[${i}] has no name`;
    if (typeof t.connect !== "function") return `target ${t.name} has no connect(ctx) function`;
    const problem = recordProblem(t.config, `target ${t.name}: config`, configSpecProblem) ?? arrayProblem(t.steps, `target ${t.name}: steps`) ?? ((t.steps as unknown[] | undefined) ?? []).map((step, j) => stepProblem(step, `target ${t.name}: steps[${j}]`)).find(Boolean);
    if (problem) return problem;
  }
  for (const kind of ["stateBackends", "secretBackends"] as const) {
    const backends = plugin[kind];
    if (backends === undefined) continue;
    if (!backends || typeof backends !== "object" || Array.isArray(backends)) return `${kind} must be an object of factory functions`;
    for (const [key, factory] of Object.entries(backends)) if (typeof factory !== "function") return `backend ${key} is not a factory function`;
  }
  return undefined;
}

function stepProblem(value: unknown, where: string): string | undefined {
  const step = value as Record<string, unknown> | null;
  if (!step || typeof step !== "object" || typeof step.name !== "string" || !step.name) return `${where} has no name`;
  const name = `step ${step.name}`;
  if (typeof step.run !== "function") return `${name} has no run(ctx) function`;
  if (step.check !== undefined && typeof step.check !== "function") return `${name}: check must be a function`;
  if (step.description !== undefined && typeof step.description !== "string") return `${name}: description must be a string`;
  const inputs = step.inputs as Record<string, unknown> | undefined;
  if (inputs !== undefined && (!inputs || typeof inputs !== "object" || Array.isArray(inputs))) return `${name}: inputs must be an object`;
  return (
    stringsProblem(step.dependsOn, `${name}: dependsOn`) ??
    stringsProblem(inputs?.files, `${name}: inputs.files`) ??
    stringsProblem(inputs?.config, `${name}: inputs.config`) ??
    stringsProblem(inputs?.secrets, `${name}: inputs.secrets`) ??
    recordProblem(step.config, `${name}: config`, configSpecProblem) ??
    recordProblem(step.secrets, `${name}: secrets`, secretSpecProblem)
  );
}

/** Every resource kind (the record makes the compiler name a kind added to the contract but missing here). */
const RESOURCE_KINDS: Record<ResourceKind, true> = { service: true, job: true, postgres: true, redis: true, objectStore: true, secret: true };

const CONFIG_TYPES = new Set(["string", "number", "integer", "boolean", "string[]"]);

function configSpecProblem(spec: Record<string, unknown>, where: string): string | undefined {
  if (spec.type !== undefined && !CONFIG_TYPES.has(spec.type as string)) return `${where}: type must be one of ${[...CONFIG_TYPES].join(", ")}`;
  if (spec.choices !== undefined && !Array.isArray(spec.choices)) return `${where}: choices must be an array`;
  for (const fn of ["validate", "when"] as const) if (spec[fn] !== undefined && typeof spec[fn] !== "function") return `${where}: ${fn} must be a function`;
  if (spec.presets !== undefined && (!spec.presets || typeof spec.presets !== "object")) return `${where}: presets must be an object`;
  if (spec.resourceKind !== undefined && !Object.hasOwn(RESOURCE_KINDS, spec.resourceKind as string)) return `${where}: resourceKind must be one of ${Object.keys(RESOURCE_KINDS).join(", ")}, got ${JSON.stringify(spec.resourceKind)}`;
  return undefined;
}

function secretSpecProblem(spec: Record<string, unknown>, where: string): string | undefined {
  if (spec.when !== undefined && typeof spec.when !== "function") return `${where}: when must be a function`;
  const generate = spec.generate as Record<string, unknown> | undefined;
  if (generate === undefined) return undefined;
  if (!generate || typeof generate !== "object") return `${where}: generate must be an object`;
  if (generate.length !== undefined && (!Number.isInteger(generate.length) || (generate.length as number) < 8 || (generate.length as number) > 4096)) {
    return `${where}: generate.length must be an integer from 8 to 4096`;
  }
  if (generate.alphabet !== undefined && (typeof generate.alphabet !== "string" || new Set(secretAlphabet({ alphabet: generate.alphabet })).size < 2)) {
    return `${where}: generate.alphabet must be alnum, hex, base64url or at least 2 distinct characters`;
  }
  return undefined;
}

function arrayProblem(value: unknown, where: string): string | undefined {
  return value === undefined || Array.isArray(value) ? undefined : `${where} must be an array`;
}

function stringsProblem(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return `${where} must be an array of strings`;
  const bad = value.findIndex((item) => typeof item !== "string" || item === "");
  return bad === -1 ? undefined : `${where}[${bad}] must be a non-empty string, got ${JSON.stringify(value[bad]) ?? typeof value[bad]}`;
}

function recordProblem(value: unknown, where: string, check: (spec: Record<string, unknown>, where: string) => string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!value || typeof value !== "object" || Array.isArray(value)) return `${where} must be an object`;
  for (const [key, spec] of Object.entries(value)) {
    if (!spec || typeof spec !== "object" || Array.isArray(spec)) return `${where}.${key} must be an object`;
    const problem = check(spec as Record<string, unknown>, `${where}.${key}`);
    if (problem) return problem;
  }
  return undefined;
}
