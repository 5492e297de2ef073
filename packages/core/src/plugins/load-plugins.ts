import { existsSync, readFileSync, statSync } from "node:fs";
import { asPluginCode, asPluginCodeSync, findPackageDir, witnessEntry, witnessFile } from "../cache/plan-memo.js";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { JsonObject, PluginDefinition } from "../contracts.js";
import { errors } from "../errors/error-codes.js";
import { isStepwiseError, type StepwiseError } from "../errors/stepwise-error.js";
import type { PluginEntry } from "../site/load-site.js";
import { CORE_PACKAGE, CORE_VERSION } from "../version.js";
import { readCoreRanges, writeCoreRanges } from "../cache/core-ranges-cache.js";
import { pluginShapeProblem } from "./plugin-shape.js";

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

/** One plugin a site lists, as `plugins list` shows it: loaded where possible, with what stops it. */
export interface PluginListing {
  /** As listed in stepwise.yaml. */
  entry: string;
  /** Loaded (an incompatible plugin too, when it loads: to show what it provides). */
  plugin?: LoadedPlugin;
  /** Why the site cannot use it (missing, malformed, needs another core); absent when it can. */
  problem?: StepwiseError;
  /** False when its `@stepwise/core` range excludes this core; undefined when not known. */
  compatible?: boolean;
}

/**
 * Every plugin the site lists, for diagnosis: unlike {@link loadPlugins}, a plugin whose core
 * range excludes this core is still loaded and listed, marked, and a failure is one row, not
 * the end of the listing.
 */
export async function inspectPlugins(siteDir: string, entries: readonly PluginEntry[]): Promise<PluginListing[]> {
  return Promise.all(
    entries.map(async (entry): Promise<PluginListing> => {
      let incompatible: StepwiseError | undefined;
      try {
        const plugin = await loadPlugin(siteDir, entry, (error) => (incompatible = error));
        return incompatible ? { entry: entry.name, plugin, problem: incompatible, compatible: false } : { entry: entry.name, plugin, compatible: true };
      } catch (error) {
        // An incompatible plugin that then fails to load: its range is the first thing to fix.
        const problem = incompatible ?? (isStepwiseError(error) ? error : errors.pluginInvalid(entry.name, siteDir, (error as Error).message));
        return { entry: entry.name, problem, ...(incompatible ? { compatible: false } : {}) };
      }
    }),
  );
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

/** Loads one plugin; given `onIncompatible`, a core range excluding this core is reported to it instead of thrown. */
async function loadPlugin(siteDir: string, entry: PluginEntry, onIncompatible?: (error: StepwiseError) => void): Promise<LoadedPlugin> {
  const root = resolvePackageRoot(siteDir, entry.name);
  if (!root) throw errors.pluginMissing(entry.name, siteDir);
  let pkg: PackageJson;
  witnessFile(path.join(root, "package.json"));
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
    throw errors.pluginInvalid(
      name,
      root,
      `its package.json declares no peerDependencies["${CORE_PACKAGE}"] range`,
      `add "peerDependencies": { "${CORE_PACKAGE}": "^${CORE_VERSION}" } to ${path.join(root, "package.json")} (the core versions the plugin was written for)`,
    );
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
      const incompatible = errors.pluginIncompatible(name, version, root, coreRange, CORE_VERSION, await versionSkew(coreRange));
      if (!onIncompatible) throw incompatible;
      onIncompatible(incompatible);
    } else {
      rememberCompatible(siteDir, coreRange);
    }
  }
  const entryFile = packageEntry(root, pkg);
  if (!entryFile) throw errors.pluginInvalid(name, root, "it has no entry point (exports, main or index.js)");
  let mod: { default?: unknown };
  try {
    // Plugin code: the files it reads as it loads are witnesses of a plan (cache/plan-memo.ts).
    mod = (await asPluginCode(() => import(pathToFileURL(entryFile).href))) as { default?: unknown };
  } catch (error) {
    throw errors.pluginLoadFailed(`${name}@${version}`, root, entryFile, siteDir, entry.name, error);
  }
  let definition = mod.default;
  if (typeof definition === "function") {
    try {
      const factory = definition as (options: JsonObject) => unknown;
      definition = asPluginCodeSync(() => factory(entry.options));
    } catch (error) {
      throw errors.pluginOptionsRejected(`${name}@${version}`, entry.name, error);
    }
  }
  const problem = pluginShapeProblem(definition);
  if (problem) throw errors.pluginInvalid(name, root, problem);
  const plugin = definition as PluginDefinition;
  if (plugin.meta.name !== name) {
    throw errors.pluginInvalid(name, root, `meta.name is "${plugin.meta.name}" but the package is named "${name}"`);
  }
  return { name, version: plugin.meta.version, root, coreRange, definition: plugin, id: `${name}@${plugin.meta.version}` };
}

/** Which side of an unsatisfied core range this core is on; neither when the range has a hole around it. */
async function versionSkew(coreRange: string): Promise<"needs-newer-core" | "needs-older-core" | undefined> {
  // Loaded only on this error path, as satisfies above is only when a range is new.
  const [{ default: ltr }, { default: gtr }] = await Promise.all([import("semver/ranges/ltr.js"), import("semver/ranges/gtr.js")]);
  if (ltr(CORE_VERSION, coreRange, { includePrerelease: true })) return "needs-newer-core";
  if (gtr(CORE_VERSION, coreRange, { includePrerelease: true })) return "needs-older-core";
  return undefined;
}

/** Node's lookup of a package from a directory: ./relative paths, then node_modules up the tree. */
export function resolvePackageRoot(fromDir: string, specifier: string): string | undefined {
  // Each place looked at is a witness of a plan (see cache/plan-memo.ts): the entry itself, so a
  // package linked anew is seen even when its files are the same, the directory it leads to, and
  // its package.json (findPackageDir does the same up the node_modules tree).
  if (specifier.startsWith(".") || path.isAbsolute(specifier)) {
    const dir = path.resolve(fromDir, specifier);
    witnessEntry(dir);
    witnessFile(dir);
    witnessFile(path.join(dir, "package.json"));
    return existsSync(path.join(dir, "package.json")) ? dir : undefined;
  }
  return findPackageDir(fromDir, specifier, (candidate) => existsSync(path.join(candidate, "package.json")));
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
    witnessFile(file);
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
