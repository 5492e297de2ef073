import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { JsonObject, PluginDefinition } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { isStepwiseError } from "../errors/stepwise-error.js";
import type { PluginEntry } from "../site/load-site.js";
import { CORE_PACKAGE, CORE_VERSION } from "../version.js";
import { readCoreRanges, writeCoreRanges } from "../cache/core-ranges-cache.js";
import { secretAlphabet } from "../secrets/generate-secret.js";

export interface LoadedPlugin {
  /** npm package name (= `meta.name`). */
  name: string;
  version: string;
  /** Package root directory. */
  root: string;
  /** `@stepwise/core` range the plugin declares. */
  coreRange: string | undefined;
  definition: PluginDefinition;
  /** `name@version`, the id state and hashes use. */
  id: string;
}

interface PackageJson {
  name?: string;
  version?: string;
  main?: string;
  exports?: unknown;
  peerDependencies?: Record<string, string>;
  dependencies?: Record<string, string>;
}

/**
 * Loads the plugins a site lists, resolving each from the site's own directory (so a site
 * installs only what it needs). Every problem is collected: one error names each plugin that
 * is missing, malformed or incompatible, with the command that fixes it.
 */
export async function loadPlugins(siteDir: string, entries: readonly PluginEntry[]): Promise<LoadedPlugin[]> {
  const results = await Promise.allSettled(entries.map((entry) => loadPlugin(siteDir, entry)));
  const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    const lines = failures.map((f) => {
      const e = isStepwiseError(f) ? f : undefined;
      return `  - ${e?.message ?? String(f)}${e?.hint ? `\n    fix: ${e.hint}` : ""}`;
    });
    throw errors.pluginsNotLoaded(lines);
  }
  const loaded = results.map((r) => (r as PromiseFulfilledResult<LoadedPlugin>).value);
  const seen = new Map<string, LoadedPlugin>();
  for (const plugin of loaded) {
    if (seen.has(plugin.name)) {
      throw errors.pluginListedTwice(plugin.name, plugin.id);
    }
    seen.set(plugin.name, plugin);
  }
  return loaded;
}

/**
 * The `@stepwise/core` ranges semver found this version of core to satisfy, remembered in
 * `.stepwise/cache/core-ranges.json` (see cache/core-ranges-cache.ts): every command loads
 * plugins, and semver's first use costs ~3 ms of it.
 */
const rangeCaches = new Map<string, Set<string>>();

function compatibleRanges(siteDir: string): Set<string> {
  let ranges = rangeCaches.get(siteDir);
  if (!ranges) rangeCaches.set(siteDir, (ranges = new Set(readCoreRanges(siteDir))));
  return ranges;
}

function rememberCompatible(siteDir: string, range: string): void {
  const ranges = compatibleRanges(siteDir);
  ranges.add(range);
  writeCoreRanges(siteDir, [...ranges]); // when it cannot be written, semver decides again next time
}

async function loadPlugin(siteDir: string, entry: PluginEntry): Promise<LoadedPlugin> {
  const root = resolvePackageRoot(siteDir, entry.name);
  if (!root) throw errors.pluginMissing(entry.name, siteDir);
  let pkg: PackageJson;
  try {
    pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as PackageJson;
  } catch (error) {
    throw errors.pluginInvalid(entry.name, root, `its package.json is unreadable (${(error as Error).message})`);
  }
  if (!pkg || typeof pkg !== "object" || Array.isArray(pkg)) throw errors.pluginInvalid(entry.name, root, "its package.json is not a JSON object");
  const name = typeof pkg.name === "string" ? pkg.name : entry.name;
  const version = typeof pkg.version === "string" ? pkg.version : "0.0.0";
  const declared = dependencyRange(pkg.peerDependencies) ?? dependencyRange(pkg.dependencies);
  if (declared === undefined) {
    throw errors.pluginInvalid(name, root, `its package.json declares no peerDependencies["${CORE_PACKAGE}"] range`);
  }
  if (typeof declared !== "string") throw errors.pluginInvalid(name, root, `its ${CORE_PACKAGE} range is ${JSON.stringify(declared)}, not a string`);
  const coreRange = declared;
  // A workspace link ("workspace:^") is resolved by the package manager; accept it as-is.
  if (!coreRange.startsWith("workspace:") && !coreRange.startsWith("file:") && !coreRange.startsWith("link:") && !compatibleRanges(siteDir).has(coreRange)) {
    // The two functions it uses, not the whole package (47 modules), loaded only when a range
    // is not known yet: their regular expressions alone cost milliseconds to build.
    const [{ default: validRange }, { default: satisfies }] = await Promise.all([import("semver/ranges/valid.js"), import("semver/functions/satisfies.js")]);
    if (!validRange(coreRange)) throw errors.pluginInvalid(name, root, `its ${CORE_PACKAGE} range "${coreRange}" is not a semver range`);
    if (!satisfies(CORE_VERSION, coreRange, { includePrerelease: true })) {
      throw errors.pluginIncompatible(name, version, root, coreRange, CORE_VERSION);
    }
    rememberCompatible(siteDir, coreRange);
  }
  const entryFile = packageEntry(root, pkg);
  if (!entryFile) throw errors.pluginInvalid(name, root, "it has no entry point (exports, main or index.js)");
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(entryFile).href)) as { default?: unknown };
  } catch (error) {
    throw errors.pluginLoadFailed(`${name}@${version}`, root, entryFile, siteDir, entry.name, error);
  }
  let definition = mod.default;
  if (typeof definition === "function") {
    try {
      definition = (definition as (options: JsonObject) => unknown)(entry.options);
    } catch (error) {
      throw errors.pluginOptionsRejected(`${name}@${version}`, entry.name, error);
    }
  }
  const problem = shapeProblem(definition);
  if (problem) throw errors.pluginInvalid(name, root, problem);
  const plugin = definition as PluginDefinition;
  if (plugin.meta.name !== name) {
    throw errors.pluginInvalid(name, root, `meta.name is "${plugin.meta.name}" but the package is named "${name}"`);
  }
  return { name, version: plugin.meta.version, root, coreRange, definition: plugin, id: `${name}@${plugin.meta.version}` };
}

/** Node's lookup of a package from a directory: ./relative paths, then node_modules up the tree. */
export function resolvePackageRoot(fromDir: string, specifier: string): string | undefined {
  if (specifier.startsWith(".") || path.isAbsolute(specifier)) {
    const dir = path.resolve(fromDir, specifier);
    return existsSync(path.join(dir, "package.json")) ? dir : undefined;
  }
  let dir = path.resolve(fromDir);
  for (;;) {
    const candidate = path.join(dir, "node_modules", specifier);
    if (existsSync(path.join(candidate, "package.json"))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The `@stepwise/core` entry of a dependency map, whatever its type (checked by the caller). */
function dependencyRange(map: unknown): unknown {
  return map && typeof map === "object" && Object.hasOwn(map, CORE_PACKAGE) ? (map as Record<string, unknown>)[CORE_PACKAGE] : undefined;
}

function packageEntry(root: string, pkg: PackageJson): string | undefined {
  const fromExports = exportsTarget(pkg.exports);
  const candidates = [fromExports, pkg.main, "index.js"].filter((c): c is string => typeof c === "string");
  for (const candidate of candidates) {
    const file = path.resolve(root, candidate);
    if (existsSync(file) && statSync(file).isFile()) return file;
  }
  return undefined;
}

function exportsTarget(exports: unknown): string | undefined {
  if (typeof exports === "string") return exports;
  if (!exports || typeof exports !== "object") return undefined;
  const record = exports as Record<string, unknown>;
  const dot = "." in record ? record["."] : Object.keys(record).some((k) => k.startsWith(".")) ? undefined : record;
  if (typeof dot === "string") return dot;
  if (dot && typeof dot === "object") {
    const conditions = dot as Record<string, unknown>;
    for (const condition of ["import", "node", "default"]) {
      const value = conditions[condition];
      if (typeof value === "string") return value;
      const nested = exportsTarget(value);
      if (nested) return nested;
    }
  }
  return undefined;
}

/**
 * What makes a default export not a plugin, or undefined. Everything the engine later reads
 * without further checks is checked here, so a malformed plugin is refused with one line that
 * names the member, never an internal error when a plan uses it.
 */
function shapeProblem(value: unknown): string | undefined {
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

const CONFIG_TYPES = new Set(["string", "number", "integer", "boolean", "string[]"]);

function configSpecProblem(spec: Record<string, unknown>, where: string): string | undefined {
  if (spec.type !== undefined && !CONFIG_TYPES.has(spec.type as string)) return `${where}: type must be one of ${[...CONFIG_TYPES].join(", ")}`;
  if (spec.choices !== undefined && !Array.isArray(spec.choices)) return `${where}: choices must be an array`;
  for (const fn of ["validate", "when"] as const) if (spec[fn] !== undefined && typeof spec[fn] !== "function") return `${where}: ${fn} must be a function`;
  if (spec.presets !== undefined && (!spec.presets || typeof spec.presets !== "object")) return `${where}: presets must be an object`;
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
