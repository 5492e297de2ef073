import { createRequire } from "node:module";
import { definePlugin } from "@stepwise/core";
import { emailStep } from "./email-step.js";

const pkg = createRequire(import.meta.url)("../package.json") as { name: string; version: string };

export { emailStep, MAIL_PROVIDERS, SMTP_TLS_MODES, DEFAULT_CATCHER_IMAGE } from "./email-step.js";
export type { MailProvider, SmtpTlsMode } from "./email-step.js";
export { portProblem, hostnameProblem, emailAddressProblem, awsRegionProblem } from "./network-rules.js";

/**
 * `@stepwise/step-email`: the `email` step. The default export is a factory taking the site's
 * `options:` for the plugin (it has none yet), as Vite's plugin packages do.
 */
export default definePlugin(() => ({
  meta: { name: pkg.name, version: pkg.version },
  steps: [emailStep],
}));
