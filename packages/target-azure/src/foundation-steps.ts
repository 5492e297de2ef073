import { defineStep, hashJson, type DriftReport, type JsonObject, type StepContext, type StepDefinition } from "@stepwise/core";
import { API_VERSIONS, REQUIRED_PROVIDERS, type ArmResourceType } from "./api-versions.js";
import { armClient, describe, sleep, type ArmBody, type ArmClient, type ArmResource } from "./arm-client.js";
import { azureErrors } from "./errors.js";
import { Tag } from "./naming.js";
import { readSettings, type AzureSettings } from "./settings.js";

/** How long `azure:prerequisites` waits for a provider registration (Azure takes up to minutes). */
const REGISTRATION_TIMEOUT_MS = 10 * 60_000;

async function open(ctx: StepContext): Promise<{ settings: AzureSettings; arm: ArmClient }> {
  const settings = readSettings(ctx.site.name, ctx.config);
  return { settings, arm: await armClient(settings.armEndpoint, settings.subscription) };
}

/**
 * PUTs `body` (tagged with the site, the step and the body's hash) at `id` and returns the result
 * with the hash. Only called by `run`, which the engine starts only when the step's inputs changed,
 * it failed, or `check` found drift: a no-op deploy never gets here.
 */
async function putTagged(ctx: StepContext, arm: ArmClient, settings: AzureSettings, id: string, type: ArmResourceType, body: ArmBody): Promise<{ resource: ArmResource; specHash: string }> {
  const specHash = hashJson({ type, apiVersion: API_VERSIONS[type], body: body as JsonObject });
  const resource = await arm.put(id, type, { ...body, tags: settings.names.tags(ctx.step, specHash) }, ctx.log, ctx.signal);
  ctx.log.info(`${describe(id)}: ${String(resource.properties?.provisioningState ?? "ok")}`);
  return { resource, specHash };
}

/**
 * Drift probe shared by the foundation steps: one GET. Gone, failed, or re-tagged with another
 * spec (changed outside stepwise) is drift; a step that never ran has nothing to compare.
 */
async function probeTagged(ctx: StepContext, id: string, type: ArmResourceType): Promise<DriftReport | void> {
  const previous = ctx.previousOutputs;
  if (!previous) return;
  const { arm } = await open(ctx);
  const resource = await arm.get(id, type, ctx.signal);
  if (!resource) return { reason: `${describe(id)} is gone` };
  if (resource.properties?.provisioningState === "Failed") return { reason: `${describe(id)} is in state Failed` };
  if (typeof previous.specHash === "string" && resource.tags?.[Tag.Spec] !== previous.specHash) return { reason: `${describe(id)} was changed outside stepwise` };
}

const resourceId = (settings: AzureSettings, provider: string, type: string, name: string) => `${settings.names.groupId(settings.subscription)}/providers/${provider}/${type}/${name}`;

/**
 * `azure:prerequisites`: the credential works, the subscription is readable, and every resource
 * provider the site needs is registered (registers what is missing and waits). No check: a
 * registration is not undone behind a site's back in practice, and a plan should cost nothing here.
 */
export const prerequisitesStep = defineStep({
  name: "azure:prerequisites",
  description: "Azure credential, subscription and resource provider registrations",
  async run(ctx) {
    const { settings, arm } = await open(ctx);
    const states = await Promise.all(REQUIRED_PROVIDERS.map(async (ns) => [ns, await arm.providerState(ns, ctx.signal)] as const));
    const missing = states.filter(([, state]) => state !== "Registered").map(([ns]) => ns);
    for (const [ns, state] of states) {
      if (state !== "NotRegistered" && state !== "Unregistered") continue;
      await arm.registerProvider(ns, ctx.signal);
      ctx.log.info(`registering resource provider ${ns}`);
    }
    const started = Date.now();
    for (const ns of missing) {
      for (;;) {
        const state = await arm.providerState(ns, ctx.signal);
        if (state === "Registered") break;
        if (Date.now() - started > REGISTRATION_TIMEOUT_MS) throw azureErrors.providerNotRegistered(ns, state);
        ctx.log.progress(`waiting for resource provider ${ns} (${state}, ${Math.round((Date.now() - started) / 1000)}s)`);
        await sleep(2_000, ctx.signal);
      }
    }
    return { subscription: settings.subscription, providers: [...REQUIRED_PROVIDERS] };
  },
});

/** `azure:resource-group`: the site's resource group, tagged with the site name. */
export const resourceGroupStep = defineStep({
  name: "azure:resource-group",
  description: "Resource group holding everything the site makes",
  dependsOn: ["azure:prerequisites"],
  async check(ctx) {
    if (!ctx.previousOutputs) return;
    const { settings, arm } = await open(ctx);
    if (!(await arm.getGroup(settings.names.resourceGroup, ctx.signal))) return { reason: `resource group ${settings.names.resourceGroup} is gone` };
  },
  async run(ctx) {
    const { settings, arm } = await open(ctx);
    const group = await arm.putGroup(settings.names.resourceGroup, { location: settings.location, tags: settings.names.tags(ctx.step) }, ctx.signal);
    ctx.log.info(`resource group ${settings.names.resourceGroup} in ${settings.location}`);
    return { id: group.id ?? settings.names.groupId(settings.subscription), name: settings.names.resourceGroup, location: settings.location };
  },
});

/** `azure:monitoring`: a Log Analytics workspace and a workspace-based Application Insights component. */
export const monitoringStep = defineStep({
  name: "azure:monitoring",
  description: "Log Analytics workspace and Application Insights",
  dependsOn: ["azure:resource-group"],
  config: {
    "azure.monitoring.retentionDays": {
      description: "Days Log Analytics keeps logs (30-730)",
      type: "integer",
      default: 30,
      validate: (v) => (typeof v === "number" && v >= 30 && v <= 730 ? undefined : "must be between 30 and 730"),
    },
  },
  async check(ctx) {
    const settings = readSettings(ctx.site.name, ctx.config);
    return probeTagged(ctx, resourceId(settings, "Microsoft.OperationalInsights", "workspaces", settings.names.workspace), "Microsoft.OperationalInsights/workspaces");
  },
  async run(ctx) {
    const { settings, arm } = await open(ctx);
    const workspaceId = resourceId(settings, "Microsoft.OperationalInsights", "workspaces", settings.names.workspace);
    const workspace = await putTagged(ctx, arm, settings, workspaceId, "Microsoft.OperationalInsights/workspaces", {
      location: settings.location,
      properties: { sku: { name: "PerGB2018" }, retentionInDays: ctx.config.get<number>("azure.monitoring.retentionDays") ?? 30 },
    });
    const componentId = resourceId(settings, "Microsoft.Insights", "components", settings.names.appInsights);
    const component = await putTagged(ctx, arm, settings, componentId, "Microsoft.Insights/components", {
      location: settings.location,
      kind: "web",
      properties: { Application_Type: "web", WorkspaceResourceId: workspaceId, IngestionMode: "LogAnalytics" },
    });
    return {
      workspaceId,
      workspaceCustomerId: String(workspace.resource.properties?.customerId ?? ""),
      appInsightsId: componentId,
      // Identifies the component to its SDKs; Azure shows it to every reader of the resource.
      appInsightsConnectionString: String(component.resource.properties?.ConnectionString ?? ""),
      specHash: workspace.specHash,
    };
  },
});

/** `azure:registry`: the container registry images are pushed to. */
export const registryStep = defineStep({
  name: "azure:registry",
  description: "Azure Container Registry for the site's images",
  dependsOn: ["azure:resource-group"],
  config: {
    "azure.registry.sku": { description: "Registry tier", default: "Basic", choices: ["Basic", "Standard", "Premium"] },
  },
  async check(ctx) {
    const settings = readSettings(ctx.site.name, ctx.config);
    return probeTagged(ctx, resourceId(settings, "Microsoft.ContainerRegistry", "registries", settings.names.registry), "Microsoft.ContainerRegistry/registries");
  },
  async run(ctx) {
    const { settings, arm } = await open(ctx);
    const id = resourceId(settings, "Microsoft.ContainerRegistry", "registries", settings.names.registry);
    const { resource, specHash } = await putTagged(ctx, arm, settings, id, "Microsoft.ContainerRegistry/registries", {
      location: settings.location,
      sku: { name: ctx.config.get<string>("azure.registry.sku") ?? "Basic" },
      // Pulls and pushes go through Entra ID (managed identity, AcrPull/AcrPush), never an admin password.
      properties: { adminUserEnabled: false },
    });
    return { id, name: settings.names.registry, loginServer: String(resource.properties?.loginServer ?? ""), specHash };
  },
});

/** `azure:key-vault`: the vault the site's secrets go to (RBAC authorization, soft delete). */
export const keyVaultStep = defineStep({
  name: "azure:key-vault",
  description: "Key Vault holding the site's secrets",
  dependsOn: ["azure:resource-group"],
  config: {
    "azure.keyVault.sku": { description: "Key Vault tier", default: "standard", choices: ["standard", "premium"] },
  },
  async check(ctx) {
    const settings = readSettings(ctx.site.name, ctx.config);
    return probeTagged(ctx, resourceId(settings, "Microsoft.KeyVault", "vaults", settings.names.keyVault), "Microsoft.KeyVault/vaults");
  },
  async run(ctx) {
    const { settings, arm } = await open(ctx);
    const id = resourceId(settings, "Microsoft.KeyVault", "vaults", settings.names.keyVault);
    const { resource, specHash } = await putTagged(ctx, arm, settings, id, "Microsoft.KeyVault/vaults", {
      location: settings.location,
      properties: {
        tenantId: settings.tenantId,
        sku: { family: "A", name: ctx.config.get<string>("azure.keyVault.sku") ?? "standard" },
        enableRbacAuthorization: true,
        enableSoftDelete: true,
        softDeleteRetentionInDays: 7,
      },
    });
    return { id, name: settings.names.keyVault, vaultUri: String(resource.properties?.vaultUri ?? ""), specHash };
  },
});

export const FOUNDATION_STEPS: readonly StepDefinition[] = [prerequisitesStep, resourceGroupStep, monitoringStep, registryStep, keyVaultStep];
export { resourceId };
