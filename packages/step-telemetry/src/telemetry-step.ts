import { defineStep, ErrorCode, invalidConfig, isSet, StepwiseError } from "@stepwise/core";
import type { ConfigReader } from "@stepwise/core";
import { endpointUrlProblem, sentryDsnProblem } from "./endpoint-url.js";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const sentryEnabled = (config: ConfigReader) => config.get("telemetry.sentryEnabled") === true;



/**
 * Error reporting (Sentry), log settings and the telemetry upload endpoint. Optional: a site
 * turns it off with `steps: { telemetry: { enabled: false } }`; the airgapped preset keeps it
 * on but sends nothing anywhere.
 */
export const telemetryStep = defineStep({
  name: "telemetry",
  // Settings for the apps only: it asks the target for nothing (so no target key of a resource
  // kind is its input).
  resources: [],
  description: "Sentry error reporting, log level and telemetry endpoint",
  required: false,
  config: {
    "telemetry.sentryEnabled": {
      description: "Report errors to Sentry (needs the sentry_dsn secret)",
      type: "boolean",
      default: false,
      presets: { airgapped: false },
      env: "IS_SENTRY_ENABLED",
      prompt: "Report errors to Sentry?",
    },
    "telemetry.s3EndpointUrl": {
      description: "S3-compatible endpoint that telemetry is uploaded to; empty for no upload",
      env: "TELEMETRY_S3_ENDPOINT_URL",
      // Empty means unset: nothing leaves an airgapped site.
      presets: { airgapped: "" },
      validate: endpointUrlProblem,
    },
    "telemetry.logLevel": {
      description: "Lowest level the application logs: debug, info, warn or error",
      choices: LOG_LEVELS,
      default: "info",
      presets: { "dev-mode": "debug" },
      env: "LOG_LEVEL",
    },
    "telemetry.consoleLogging": {
      description: "Log human-readable lines to the console instead of structured output",
      type: "boolean",
      default: false,
      presets: { "dev-mode": true },
      env: "USE_CONSOLE_LOGGING",
    },
  },
  secrets: {
    sentry_dsn: {
      description: "Sentry DSN (https://KEY@HOST/PROJECT) errors are reported to",
      prompt: "Sentry DSN",
      required: false,
      when: sentryEnabled,
    },
  },
  run: async (ctx) => {
    const logLevel = ctx.config.get<string>("telemetry.logLevel") ?? "info";
    if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
      throw invalidConfig(`telemetry.logLevel must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(logLevel)}`, "telemetry.logLevel");
    }
    const endpoint = ctx.config.get("telemetry.s3EndpointUrl");
    const s3EndpointUrl = isSet(endpoint) ? String(endpoint) : null;
    if (s3EndpointUrl !== null) {
      const problem = endpointUrlProblem(s3EndpointUrl);
      if (problem) throw invalidConfig(`telemetry.s3EndpointUrl ${problem}`, "telemetry.s3EndpointUrl");
    }

    let sentry = ctx.config.get("telemetry.sentryEnabled") === true;
    if (sentry) {
      const dsn = ctx.secrets.get("sentry_dsn");
      if (dsn === undefined) {
        ctx.log.warn("telemetry.sentryEnabled is true but secret sentry_dsn is not set; errors are not reported until: stepwise secrets set sentry_dsn");
        sentry = false;
      } else {
        const problem = sentryDsnProblem(dsn);
        if (problem) {
          throw new StepwiseError(ErrorCode.ConfigInvalid, `secret sentry_dsn ${problem} (expected https://KEY@HOST/PROJECT_ID).`, {
            hint: "stepwise secrets set sentry_dsn",
            details: { secret: "sentry_dsn" },
          });
        }
      }
    }

    return {
      sentryEnabled: sentry,
      sentryDsnSecret: sentry ? "sentry_dsn" : null,
      s3EndpointUrl,
      logLevel,
      consoleLogging: ctx.config.get("telemetry.consoleLogging") === true,
    };
  },
});


