/**
 * The api-version used per resource type: the newest stable version in azure-rest-api-specs
 * whose example files the tests' ARM server follows. Resource groups and providers use the
 * version @azure/arm-resources sends itself.
 */
export const API_VERSIONS = {
  "Microsoft.OperationalInsights/workspaces": "2026-03-01",
  "Microsoft.Insights/components": "2020-02-02",
  "Microsoft.ContainerRegistry/registries": "2025-04-01",
  "Microsoft.KeyVault/vaults": "2026-02-01",
  "Microsoft.KeyVault/vaults/secrets": "2026-04-01",
  "Microsoft.DBforPostgreSQL/flexibleServers": "2025-08-01",
  "Microsoft.DBforPostgreSQL/flexibleServers/databases": "2025-08-01",
  "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules": "2025-08-01",
  "Microsoft.Cache/redis": "2024-11-01",
  "Microsoft.App/managedEnvironments": "2025-07-01",
  "Microsoft.App/containerApps": "2025-07-01",
  "Microsoft.App/containerApps/revisions": "2025-07-01",
  "Microsoft.App/containerApps/revisions/replicas": "2025-07-01",
  "Microsoft.App/jobs": "2025-07-01",
  "Microsoft.App/jobs/executions": "2025-07-01",
  "Microsoft.ManagedIdentity/userAssignedIdentities": "2026-05-31",
  "Microsoft.Authorization/roleAssignments": "2022-04-01",
} as const;

export type ArmResourceType = keyof typeof API_VERSIONS;

/**
 * Resource providers the site may need registered on the subscription. All are registered up
 * front (a registration costs nothing), so adding a kind to a site never needs a new permission.
 * Microsoft.Authorization (role assignments) is registered for every subscription.
 */
export const REQUIRED_PROVIDERS = ["Microsoft.OperationalInsights", "Microsoft.Insights", "Microsoft.ContainerRegistry", "Microsoft.KeyVault", "Microsoft.DBforPostgreSQL", "Microsoft.App", "Microsoft.ManagedIdentity"] as const;

/**
 * Providers registered only when a site uses the kind that needs them, by the resource's `ensure`
 * (one provider read when its step runs): a site without Redis never needs Microsoft.Cache.
 */
export const ON_DEMAND_PROVIDERS = { redis: "Microsoft.Cache" } as const;
