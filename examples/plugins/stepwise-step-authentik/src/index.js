// @ts-check
import { createRequire } from "node:module";
import { authentikStep } from "./authentik-step.js";

/**
 * stepwise-step-authentik: a third-party stepwise plugin.
 *
 * It imports nothing from @stepwise/core at run time (only types, in JSDoc), so it loads the same
 * whether npm copied it into a site (a .tgz) or symlinked it (a directory install): the engine
 * checks the `peerDependencies` range on @stepwise/core from package.json instead.
 */
const pkg = /** @type {{ name: string, version: string }} */ (createRequire(import.meta.url)("../package.json"));

export { authentikStep, publicUrl, DEFAULT_IMAGE, DEFAULT_VERSION } from "./authentik-step.js";

/** @type {import("@stepwise/core").PluginDefinition} */
const plugin = {
  meta: { name: pkg.name, version: pkg.version },
  steps: [authentikStep],
};
export default plugin;
