import { createRequire } from "node:module";
import { definePlugin } from "@stepwise/core";
import { storageStep } from "./storage-step.js";

const pkg = createRequire(import.meta.url)("../package.json") as { name: string; version: string };

export { storageStep, OBJECT_STORE_PROVIDERS } from "./storage-step.js";
export type { ObjectStoreProvider } from "./storage-step.js";
export { expirationDaysProblem, bucketNameProblem, endpointUrlProblem, MAX_EXPIRATION_DAYS } from "./storage-rules.js";

/**
 * `@stepwise/step-storage`: the `storage` step. The default export is a factory taking the site's
 * `options:` for the plugin (it has none yet), as Vite's plugin packages do.
 */
export default definePlugin(() => ({
  meta: { name: pkg.name, version: pkg.version },
  steps: [storageStep],
}));
