import { createRequire } from "node:module";
import { definePlugin } from "@stepwise/core";
import { telemetryStep } from "./telemetry-step.js";

const pkg = createRequire(import.meta.url)("../package.json") as { name: string; version: string };

export { telemetryStep, LOG_LEVELS } from "./telemetry-step.js";
export type { LogLevel } from "./telemetry-step.js";
export { endpointUrlProblem, sentryDsnProblem } from "./endpoint-url.js";

/** `@stepwise/step-telemetry`: the optional `telemetry` step. */
export default definePlugin({
  meta: { name: pkg.name, version: pkg.version },
  steps: [telemetryStep],
});
