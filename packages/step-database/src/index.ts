import { createRequire } from "node:module";
import { definePlugin } from "@stepwise/core";
import { databaseStep } from "./database-step.js";

const pkg = createRequire(import.meta.url)("../package.json") as { name: string; version: string };

export { databaseStep } from "./database-step.js";
export { identifierProblem, roleNameProblem, postgresMajorProblem, OLDEST_POSTGRES_MAJOR } from "./postgres-names.js";

/** `@stepwise/step-database`: the `database` step. */
export default definePlugin({
  meta: { name: pkg.name, version: pkg.version },
  steps: [databaseStep],
});
