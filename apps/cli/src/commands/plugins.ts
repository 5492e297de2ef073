import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { CORE_VERSION, inspectPlugins, loadSite, type ConfigKeySpec, type PluginListing, type SecretSpec, type StepDefinition } from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";
import { printJson } from "./open-session.js";

interface StepRow {
  name: string;
  config: { key: string; type: string; default?: unknown; required: boolean; description: string }[];
  secrets: { name: string; generated: boolean; required: boolean; description: string }[];
}

/**
 * `stepwise plugins list`: the command one diagnoses plugins with, so it lists every plugin the
 * site names, those it cannot use too (missing, malformed, needing another core), marked with
 * the fix; then exits 2 if there was any. It loads no session: config and secrets are not read.
 */
export async function pluginsListCommand(globals: GlobalOptions, flags: { available?: boolean } = {}): Promise<void> {
  const siteDir = path.resolve(globals.site);
  const site = loadSite(siteDir);
  if (flags.available) return listAvailable(siteDir, new Set(site.plugins.map((p) => p.name)), globals.json === true);
  const listings = await inspectPlugins(siteDir, site.plugins);
  const rows = listings.map(pluginRow);
  const broken = rows.filter((r) => r.problem);
  if (globals.json) {
    printJson(undefined, { core: CORE_VERSION, plugins: rows });
  } else if (rows.length === 0) {
    process.stdout.write("No plugins listed in stepwise.yaml.\n");
  } else {
    process.stdout.write(`${rows.map(formatRow).join("\n\n")}\n`);
  }
  if (broken.length) {
    if (!globals.json) process.stderr.write(`error: ${broken.length} of ${rows.length} plugins cannot be used (marked above); fix them, then run: stepwise plugins list\n`);
    process.exitCode = 2;
  }
}

function pluginRow(listing: PluginListing) {
  const plugin = listing.plugin;
  const definition = plugin?.definition;
  return {
    name: plugin?.name ?? listing.entry,
    version: plugin?.version ?? null,
    root: plugin?.root ?? null,
    core: plugin?.coreRange ?? null,
    compatible: listing.compatible ?? null,
    problem: listing.problem ? { code: listing.problem.code, message: listing.problem.message, hint: listing.problem.hint ?? null } : null,
    steps: (definition?.steps ?? []).map(stepRow),
    targets: (definition?.targets ?? []).map((t) => ({ name: t.name, kinds: t.kinds ?? null, config: configRows(t.config), steps: (t.steps ?? []).map(stepRow) })),
    stateBackends: Object.keys(definition?.stateBackends ?? {}),
    secretBackends: Object.keys(definition?.secretBackends ?? {}),
  };
}

function stepRow(step: StepDefinition): StepRow {
  return {
    name: step.name,
    config: configRows(step.config),
    secrets: Object.entries(step.secrets ?? {}).map(([name, spec]: [string, SecretSpec]) => ({
      name,
      generated: spec.generate !== undefined,
      required: spec.generate === undefined && spec.required !== false,
      description: spec.description,
    })),
  };
}

function configRows(config: Readonly<Record<string, ConfigKeySpec>> | undefined): StepRow["config"] {
  return Object.entries(config ?? {}).map(([key, spec]) => ({
    key,
    type: spec.type ?? "string",
    ...(spec.default !== undefined ? { default: spec.default } : {}),
    required: spec.required === true,
    description: spec.description,
  }));
}

type Row = ReturnType<typeof pluginRow>;

function formatRow(row: Row): string {
  const head = row.version ? `${row.name}@${row.version}` : row.name;
  const core = row.core ? `  core ${row.core}` : "";
  const mark = row.compatible === false ? `  INCOMPATIBLE with core ${CORE_VERSION}` : row.problem ? "  NOT LOADED" : "";
  const lines = [`${head}${core}${mark}`];
  if (row.root) lines.push(`  from ${row.root}`);
  if (row.problem) lines.push(`  ${row.problem.message}`, ...(row.problem.hint ? [`  fix: ${row.problem.hint}`] : []));
  for (const step of row.steps) lines.push(...formatStep("step", step));
  for (const target of row.targets) {
    lines.push(`  target ${target.name}${target.kinds ? ` (realises ${target.kinds.join(", ")})` : ""}`);
    for (const c of target.config) lines.push(`    config ${formatKey(c)}`);
    for (const step of target.steps) lines.push(...formatStep("  step", step));
  }
  if (row.stateBackends.length) lines.push(`  state backends: ${row.stateBackends.join(", ")}`);
  if (row.secretBackends.length) lines.push(`  secret backends: ${row.secretBackends.join(", ")}`);
  return lines.join("\n");
}

function formatStep(label: string, step: StepRow): string[] {
  return [
    `  ${label} ${step.name}`,
    ...step.config.map((c) => `    config ${formatKey(c)}`),
    ...step.secrets.map((s) => `    secret ${s.name}  ${s.generated ? "generated" : s.required ? "yours, required" : "yours, optional"}`),
  ];
}

function formatKey(c: StepRow["config"][number]): string {
  const facts = [c.type, c.default !== undefined ? `default ${JSON.stringify(c.default)}` : "", c.required ? "required" : ""].filter(Boolean);
  return `${c.key}  (${facts.join(", ")})`;
}

export interface AvailablePlugin {
  name: string;
  version: string;
  description: string;
  root: string;
}

/**
 * Installed packages carrying the `stepwise-plugin` keyword, from the `node_modules` of the site
 * directory and those above it (where plugins are resolved from; the nearest copy wins), that
 * `listed` does not name. Reads package.json files only: nothing is imported.
 */
export function availablePlugins(siteDir: string, listed: ReadonlySet<string>): AvailablePlugin[] {
  const found = new Map<string, AvailablePlugin>();
  for (let dir = path.resolve(siteDir); ; dir = path.dirname(dir)) {
    const modules = path.join(dir, "node_modules");
    for (const name of packageNames(modules)) {
      if (found.has(name) || listed.has(name)) continue;
      const root = path.join(modules, name);
      try {
        const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { name?: unknown; version?: unknown; description?: unknown; keywords?: unknown };
        if (pkg.name === name && Array.isArray(pkg.keywords) && pkg.keywords.includes("stepwise-plugin")) {
          found.set(name, { name, version: String(pkg.version ?? ""), description: typeof pkg.description === "string" ? pkg.description : "", root });
        }
      } catch {
        // Not a package (a stray directory, a broken link): not a plugin either.
      }
    }
    if (path.dirname(dir) === dir) break;
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The package names directly under a node_modules directory (`name` and `@scope/name`). */
function packageNames(modules: string): string[] {
  const list = (dir: string) => {
    try {
      return readdirSync(dir).filter((name) => !name.startsWith("."));
    } catch {
      return [];
    }
  };
  return list(modules).flatMap((name) => (name.startsWith("@") ? list(path.join(modules, name)).map((inner) => `${name}/${inner}`) : [name]));
}

function listAvailable(siteDir: string, listed: ReadonlySet<string>, json: boolean): void {
  const available = availablePlugins(siteDir, listed);
  if (json) {
    printJson(undefined, { available });
  } else if (available.length === 0) {
    process.stdout.write("No installed plugin that stepwise.yaml does not list. Install one with: stepwise plugins add NAME\n");
  } else {
    const width = Math.max(...available.map((p) => `${p.name}@${p.version}`.length));
    const lines = available.map((p) => `${`${p.name}@${p.version}`.padEnd(width)}  ${p.description}`.trimEnd());
    process.stdout.write(`${lines.join("\n")}\nInstalled, not listed in stepwise.yaml. Add one with: stepwise plugins add NAME\n`);
  }
}
