import { defineTarget, type TargetConnectContext } from "@stepwise/core";
import { armClient } from "./arm-client.js";
import { FOUNDATION_STEPS } from "./foundation-steps.js";
import { AzureSession } from "./session.js";
import { TARGET_CONFIG, readSettings } from "./settings.js";

/**
 * The `azure` target: Azure Resource Manager through `@azure/arm-resources` with
 * `DefaultAzureCredential`. Foundation steps so far: prerequisites, resource group, monitoring,
 * registry, key vault; resources: `secret` (Key Vault), `postgres` (flexible server), `redis` (Azure Cache for Redis), `service` (Container App), `job` (Container Apps job). The SDKs load on first use, never at
 * plugin load.
 */
export const azureTarget = defineTarget({
  name: "azure",
  description: "Azure (resource group, Log Analytics, Container Registry, Key Vault, PostgreSQL flexible server, Azure Cache for Redis, Container Apps) through Azure Resource Manager",
  config: TARGET_CONFIG,
  kinds: ["secret", "postgres", "redis", "service", "job"],
  steps: FOUNDATION_STEPS,
  async connect(ctx: TargetConnectContext) {
    const settings = readSettings(ctx.site.name, ctx.config);
    return new AzureSession(await armClient(settings.armEndpoint, settings.subscription), settings, ctx.log, ctx.site.dir);
  },
});
