import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { CORE_VERSION, FileStateBackend, currentHolder, errors, resolvePackageRoot, siteSchemaWithPlugins } from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";
import { SITE_SCHEMA_FILE, writeSiteFile } from "./schema.js";

export interface InitFlags {
  name?: string;
  /** `podman`, `azure` or `none` (commander checks the choice). */
  target?: string;
  plugin?: string[];
  force?: boolean;
}

/** An npm package name (scoped or not), the only kind of plugin init puts in package.json. */
const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
const IGNORED = [".stepwise/", "node_modules/"];
const CANNOT_WRITE = "stepwise init -C DIR   (DIR a site directory you can write)";

/**
 * `stepwise init`: a whole site an `npm install` away from planning: stepwise.yaml (its schema
 * line naming ./stepwise.schema.json), package.json, that schema (core's until `stepwise schema`
 * adds the plugins' keys) and .gitignore lines. Every file is checked before any is written, so
 * a refusal (a file that exists, without --force) leaves nothing half set up.
 */
export async function initCommand(globals: GlobalOptions, flags: InitFlags): Promise<void> {
  const dir = path.resolve(globals.site);
  const name = (flags.name ?? path.basename(dir)).toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^[^a-z]+/, "").slice(0, 40) || "site";
  const target = flags.target && flags.target !== "none" ? flags.target : undefined;
  for (const plugin of flags.plugin ?? []) {
    if (!PACKAGE_NAME.test(plugin)) throw errors.usage(`--plugin ${plugin}: not an npm package name.`, "stepwise init --plugin @stepwise/step-database   (the plugin's package name)");
  }
  const plugins = [...new Set([...(target ? [`@stepwise/target-${target}`] : []), ...(flags.plugin ?? [])])];
  const files = {
    yaml: path.join(dir, "stepwise.yaml"),
    packageJson: path.join(dir, "package.json"),
    schema: path.join(dir, SITE_SCHEMA_FILE),
  };
  const existing = Object.values(files).filter((file) => existsSync(file));
  if (existing.length > 0 && !flags.force) {
    throw errors.usage(`${existing.join(", ")} already ${existing.length === 1 ? "exists" : "exist"}; init writes no file over another.`, "stepwise init --force   (overwrites them)");
  }
  const yaml = siteYaml(name, target, plugins);
  const packageJson = `${JSON.stringify({ name, private: true, description: `stepwise site ${name}`, dependencies: siteDependencies(dir, plugins) }, null, 2)}\n`;
  const schema = `${JSON.stringify(siteSchemaWithPlugins([]), null, 2)}\n`;
  await writeSiteFile(files.packageJson, packageJson, CANNOT_WRITE);
  await writeSiteFile(files.schema, schema, CANNOT_WRITE);
  if (existsSync(files.yaml)) {
    // --force over a site: under the site's lock (the default file backend's, as the file may be
    // unreadable), so a configure writing stepwise.yaml at the same time is not lost, nor loses this.
    const backend = new FileStateBackend(dir, { onStaleLock: (message) => process.stderr.write(`warning: ${message}\n`) });
    const lock = await backend.lock(currentHolder("init --force", { brief: true }), 60_000);
    try {
      await writeSiteFile(files.yaml, yaml, CANNOT_WRITE);
    } finally {
      await lock.release();
    }
  } else {
    await writeSiteFile(files.yaml, yaml, CANNOT_WRITE);
  }
  await ignoreInGit(path.join(dir, ".gitignore"));
  process.stdout.write(
    `Wrote ${files.yaml}, ${files.packageJson} and ${files.schema}; .gitignore ignores ${IGNORED.join(" and ")}.\n` +
      `Next: npm install, then stepwise schema (adds the plugins' config keys for your editor), stepwise configure, stepwise plan\n`,
  );
}

function siteYaml(name: string, target: string | undefined, plugins: readonly string[]): string {
  const listed = plugins.length ? plugins.map((p) => `  - "${p}"`).join("\n") : `  # - "@stepwise/target-podman"\n  # - "@stepwise/step-database"`;
  return `# yaml-language-server: $schema=./${SITE_SCHEMA_FILE}
# (stepwise schema rewrites that file with the installed plugins' config keys)
schemaVersion: "0.1"
name: ${name}
preset: default # default | dev-mode | airgapped

# npm packages installed next to this file (npm install <name>), loaded at run time.
plugins:
${listed}
# Where the site deploys (podman | azure), a target plugin listed above. Optional: a site
# whose steps create no containers, volumes or cloud resources needs none.
${target ? `target: ${target}` : "# target: podman"}

# Settings the steps ask for; stepwise configure writes them here.
config:
  # database:
  #   name: app

# The application's containers (compose-like); each becomes a step service:NAME.
services:
  # web:
  #   image: docker.io/library/nginx:1.27
  #   ports: ["8080:80"]
`;
}

/**
 * package.json dependencies: this stepwise at a caret range, and each plugin at the version
 * installed next to the site if there is one, a first-party (@stepwise/) one at this core's caret
 * range (they are released with it), any other at `latest`.
 */
function siteDependencies(dir: string, plugins: readonly string[]): Record<string, string> {
  const cli = createRequire(import.meta.url)("../package.json") as { name: string; version: string };
  const dependencies: Record<string, string> = { [cli.name]: `^${cli.version}` };
  for (const plugin of plugins) {
    const installed = installedVersion(dir, plugin);
    dependencies[plugin] = installed ? `^${installed}` : plugin.startsWith("@stepwise/") ? `^${CORE_VERSION}` : "latest";
  }
  return Object.fromEntries(Object.entries(dependencies).sort(([a], [b]) => a.localeCompare(b)));
}

function installedVersion(dir: string, plugin: string): string | undefined {
  const root = resolvePackageRoot(dir, plugin);
  if (!root) return undefined;
  try {
    const version = (JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version?: unknown }).version;
    return typeof version === "string" ? version : undefined;
  } catch {
    return undefined; // an unreadable package.json: the registry decides
  }
}

/** Adds the lines .gitignore lacks, keeping what it has. */
async function ignoreInGit(file: string): Promise<void> {
  const existing = existsSync(file) ? readFileSync(file, "utf8") : "";
  const have = new Set(existing.split(/\r?\n/).map((line) => line.trim()));
  const missing = IGNORED.filter((line) => !have.has(line) && !have.has(line.replace(/\/$/, "")) && !have.has(`/${line}`));
  if (missing.length === 0) return;
  await writeSiteFile(file, `${existing}${existing && !existing.endsWith("\n") ? "\n" : ""}${missing.join("\n")}\n`, CANNOT_WRITE);
}
