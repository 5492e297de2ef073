import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { FileStateBackend, currentHolder, errors } from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";

export interface InitFlags {
  name?: string;
  target?: string;
  force?: boolean;
}

export async function initCommand(globals: GlobalOptions, flags: InitFlags): Promise<void> {
  const dir = path.resolve(globals.site);
  const file = path.join(dir, "stepwise.yaml");
  if (existsSync(file) && !flags.force) throw errors.usage(`${file} already exists.`, "stepwise init --force   (overwrites it)");
  const name = (flags.name ?? path.basename(dir)).toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^[^a-z]+/, "").slice(0, 40) || "site";
  const target = flags.target;
  const text = `# yaml-language-server: $schema=node_modules/@stepwise/core/schema/stepwise.schema.json
schemaVersion: "0.1"
name: ${name}
preset: default # default | dev-mode | airgapped

# npm packages installed next to this file (npm install <name>), loaded at run time.
${target ? `plugins:\n  - "@stepwise/target-${target}"\n  # - "@stepwise/step-database"\ntarget: ${target}\n` : `plugins:\n  # - "@stepwise/target-podman"\n  # - "@stepwise/step-database"\n# target: podman\n`}
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
  if (existsSync(file)) {
    // --force over a site: under the site's lock (the default file backend's, as the file may be
    // unreadable), so a configure writing stepwise.yaml at the same time is not lost, nor loses this.
    const backend = new FileStateBackend(dir, { onStaleLock: (message) => process.stderr.write(`warning: ${message}\n`) });
    const lock = await backend.lock(currentHolder("init --force", { brief: true }), 60_000);
    try {
      replaceSiteFile(file, text);
    } finally {
      await lock.release();
    }
  } else {
    replaceSiteFile(file, text);
  }
  const gitignore = path.join(dir, ".gitignore");
  const existing = existsSync(gitignore) ? readFileSync(gitignore, "utf8") : "";
  if (!existing.split("\n").some((l) => l.trim() === ".stepwise/")) writeFileSync(gitignore, `${existing}${existing && !existing.endsWith("\n") ? "\n" : ""}.stepwise/\n`);
  process.stdout.write(`Wrote ${file}.\nNext: add plugins (npm install <plugin>), list them under plugins:, then run: stepwise plan\n`);
}

/** Temp file + rename: a reader (or a crash) sees the old file or the new one, never half of it. */
function replaceSiteFile(file: string, text: string): void {
  const temp = `${file}.${process.pid}`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}
