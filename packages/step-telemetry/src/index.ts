import { createRequire } from "node:module";
import { definePlugin } from "@stepwise/core";
import { telemetryStep } from "./telemetry-step.js";

const pkg = createRequire(import.meta.url)("../package.json") as { name: string; version: string };

export { telemetryStep, LOG_LEVELS } from "./telemetry-step.js";
export type { LogLevel } from "./telemetry-step.js";
export { endpointUrlProblem, sentryDsnProblem } from "./endpoint-url.js";

/**
 * `@stepwise/step-telemetry`: the optional `telemetry` step. The default export is a factory taking the site's
 * `options:` for the plugin (it has none yet), as Vite's plugin packages do.
 */
export default definePlugin(() => ({
  meta: { name: pkg.name, version: pkg.version },
  steps: [telemetryStep],
}));
