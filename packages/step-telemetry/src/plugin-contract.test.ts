// The conformance kit of @stepwise/core/testing over the whole plugin, as a third-party author would run it.
import { describe, it } from "vitest";
import { describePlugin } from "@stepwise/core/testing";
import plugin from "./index.js";

describePlugin(
  {
    plugin,
    packageJson: new URL("../package.json", import.meta.url),
    cases: [
      { name: "Sentry with a DSN", step: "telemetry", config: { "telemetry.sentryEnabled": true, "telemetry.logLevel": "warn" }, secrets: { sentry_dsn: "https://0123456789abcdef@o42.ingest.sentry.io/4505" } },
      { name: "dev-mode console logging", step: "telemetry", preset: "dev-mode" },
    ],
  },
  { describe, it },
);
