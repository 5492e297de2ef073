import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { errors, inspectPlugins, loadSite, savePluginEntry } from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";
import { printJson } from "./open-session.js";
import { packageNameOf } from "./package-name.js";

/** A package manager: its lockfile and how it adds a dependency. */
const MANAGERS = [
  { name: "pnpm", lockfiles: ["pnpm-lock.yaml"], add: ["add"] },
  { name: "yarn", lockfiles: ["yarn.lock"], add: ["add"] },
  { name: "bun", lockfiles: ["bun.lock", "bun.lockb"], add: ["add"] },
  { name: "npm", lockfiles: ["package-lock.json", "npm-shrinkwrap.json"], add: ["install"] },
] as const;

export type PackageManager = (typeof MANAGERS)[number]["name"];

/**
 * The site's package manager: the one whose lockfile is nearest, from the site directory up
 * (a site inside a workspace uses the workspace's); else the `packageManager` field of the
 * nearest package.json; else npm.
 */
export function detectPackageManager(siteDir: string): PackageManager {
  let declared: string | undefined;
  for (let dir = path.resolve(siteDir); ; dir = path.dirname(dir)) {
    const found = MANAGERS.find((manager) => manager.lockfiles.some((file) => existsSync(path.join(dir, file))));
    if (found) return found.name;
    if (declared === undefined && existsSync(path.join(dir, "package.json"))) {
      try {
        declared = String((JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { packageManager?: unknown }).packageManager ?? "");
      } catch {
        declared = "";
      }
    }
    if (path.dirname(dir) === dir) break;
  }
  return MANAGERS.find((manager) => declared?.startsWith(`${manager.name}@`))?.name ?? "npm";
}

/** Runs `command` (an argument array, no shell) in `cwd`; its output goes to stderr with --json, else through. */
function runManager(command: readonly string[], cwd: string, json: boolean): Promise<number | string> {
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { cwd, stdio: ["ignore", json ? process.stderr : "inherit", "inherit"] });
    child.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    child.on("close", (code, signal) => resolve(code ?? signal ?? 1));
  });
}

/**
 * `stepwise plugins add SPEC`: installs a plugin with the site's package manager, checks that
 * it loads as a stepwise plugin this core can run, then lists it under `plugins:` in
 * stepwise.yaml (comments and layout kept). A failed install or a package that is not a usable
 * plugin leaves stepwise.yaml as it was (exit 2).
 */
export async function pluginsAddCommand(globals: GlobalOptions, spec: string): Promise<void> {
  const siteDir = path.resolve(globals.site);
  const site = loadSite(siteDir);
  const name = packageNameOf(spec);
  if (!name) throw errors.usage(`"${spec}" is not an npm package name (with an optional @version).`, "stepwise plugins add @stepwise/step-email   (stepwise plugins list --available lists installed ones)");
  const manager = detectPackageManager(siteDir);
  const command = [manager, ...MANAGERS.find((m) => m.name === manager)!.add, spec];
  const exit = await runManager(command, siteDir, globals.json === true);
  if (exit !== 0) throw errors.pluginInstallFailed(spec, command, exit, siteDir);
  const [listing] = await inspectPlugins(siteDir, [{ name, options: {} }]);
  if (listing?.problem) throw listing.problem;
  const added = await savePluginEntry(site.file, name);
  const version = listing?.plugin?.version ?? "";
  if (globals.json) {
    printJson(undefined, { plugin: name, version, installedWith: command, added });
    return;
  }
  const where = path.relative(process.cwd(), site.file) || site.file;
  process.stdout.write(
    `${added ? `Added ${name}@${version} to plugins: in ${where}` : `${name}@${version} is installed; ${where} lists it already`} (${command.join(" ")}).\n` +
      "Next: stepwise schema (its config keys for your editor), stepwise configure, stepwise plan\n",
  );
}
