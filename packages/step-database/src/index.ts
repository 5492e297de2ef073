import { createRequire } from "node:module";
import { definePlugin } from "@stepwise/core";
import { databaseStep } from "./database-step.js";

const pkg = createRequire(import.meta.url)("../package.json") as { name: string; version: string };

export { databaseStep } from "./database-step.js";
export { identifierProblem, roleNameProblem, postgresMajorProblem, OLDEST_POSTGRES_MAJOR } from "./postgres-names.js";

/**
 * `@stepwise/step-database`: the `database` step. The default export is a factory taking the site's
 * `options:` for the plugin (it has none yet), as Vite's plugin packages do.
 */
export default definePlugin(() => ({
  meta: { name: pkg.name, version: pkg.version },
  steps: [databaseStep],
}));
