// The conformance kit of @stepwise/core/testing over the whole plugin, as a third-party author would run it.
import { describe, it } from "vitest";
import { describePlugin } from "@stepwise/core/testing";
import plugin from "./index.js";

describePlugin(
  {
    plugin,
    packageJson: new URL("../package.json", import.meta.url),
    cases: [
      { name: "postgres with the default databases", step: "database" },
      { name: "postgres and redis", step: "database", config: { "database.redis.enabled": true } },
      { name: "airgapped, no SSO database", step: "database", preset: "airgapped", config: { "database.ssoName": "" } },
    ],
  },
  { describe, it },
);
