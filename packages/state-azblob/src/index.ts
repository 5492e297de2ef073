import { createRequire } from "node:module";
import { definePlugin, type StateBackend } from "@stepwise/core";

const pkg = createRequire(import.meta.url)("../package.json") as { name: string; version: string };

/**
 * `@stepwise/state-azblob`: the `azblob` state backend (team state in Azure Blob Storage). Its
 * own package so a site that never uses it installs and loads no Azure SDK; the backend module
 * and the SDK load only when a site selects `state: { backend: azblob }`.
 */
export default definePlugin(() => ({
  meta: { name: pkg.name, version: pkg.version },
  stateBackends: {
    azblob: async (options, ctx): Promise<StateBackend> => (await import("./azblob-backend.js")).createAzblobBackend(options, ctx),
  },
}));
