import path from "node:path";
import { errors, loadPlugins, loadSite, siteSchemaWithPlugins, writeFileAtomically } from "@stepwise/core/engine";
import type { GlobalOptions } from "../global-options.js";
import { printJson } from "./open-session.js";

/** Where `stepwise schema` writes by default, next to stepwise.yaml: a path an editor's schema line can name. */
export const SITE_SCHEMA_FILE = "stepwise.schema.json";

export interface SchemaFlags {
  output?: string;
}

/**
 * `stepwise schema`: the JSON Schema of this site's stepwise.yaml, core's plus every listed
 * plugin's config keys, for yaml-language-server (the schema line `init` writes names it). A
 * plugin that cannot be loaded fails it (exit 2): a schema missing a plugin's keys would flag
 * them as unknown in the editor without saying why.
 */
export async function schemaCommand(globals: GlobalOptions, flags: SchemaFlags): Promise<void> {
  const siteDir = path.resolve(globals.site);
  const site = loadSite(siteDir);
  const plugins = await loadPlugins(siteDir, site.plugins);
  const schema = siteSchemaWithPlugins(plugins);
  const text = `${JSON.stringify(schema, null, 2)}\n`;
  if (flags.output === "-") {
    process.stdout.write(text);
    return;
  }
  const file = path.resolve(siteDir, flags.output ?? SITE_SCHEMA_FILE);
  await writeSiteFile(file, text, "stepwise schema -o FILE   (FILE in a directory that exists and you can write)");
  if (globals.json) printJson(undefined, { file, plugins: plugins.map((p) => p.id) });
  else process.stdout.write(`Wrote ${file} (${plugins.length} plugins).\n`);
}

/** Writes atomically (the old file or the new one, never half); a failure is bad input (exit 2) naming the file. */
export async function writeSiteFile(file: string, text: string, hint: string): Promise<void> {
  try {
    await writeFileAtomically(file, text);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw errors.usage(`cannot write ${file} (${reason}).`, hint);
  }
}
