import { createRequire } from "node:module";
import { definePlugin } from "@stepwise/core";
import { azureTarget } from "./azure-target.js";

const pkg = createRequire(import.meta.url)("../package.json") as { name: string; version: string };

/** `@stepwise/target-azure`: the `azure` target. Loading it loads no Azure SDK. */
export default definePlugin(() => ({
  meta: { name: pkg.name, version: pkg.version },
  targets: [azureTarget],
}));

export { azureTarget } from "./azure-target.js";
export { FOUNDATION_STEPS, prerequisitesStep, resourceGroupStep, monitoringStep, registryStep, keyVaultStep, containerAppsEnvironmentStep, identityStep, ROLES, roleAssignmentName } from "./foundation-steps.js";
export { AzureSession } from "./session.js";
export { AzureNames, Tag } from "./naming.js";
export { AzureErrorCode } from "./errors.js";
export { API_VERSIONS, REQUIRED_PROVIDERS } from "./api-versions.js";
export { TARGET_CONFIG, PUBLIC_ARM_ENDPOINT, readSettings } from "./settings.js";
export type { AzureSettings } from "./settings.js";
