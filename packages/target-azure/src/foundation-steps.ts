import { createHash } from "node:crypto";
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

/** One ARM resource a step makes: where, what type, and the body stepwise PUTs (tags aside). */
interface DesiredResource {
  id: string;
  type: ArmResourceType;
  body: ArmBody;
}

/** Hash of what stepwise PUTs for a resource; kept in its `stepwise-spec` tag, not in outputs (dependants must not re-run for it). */
function specHashOf(desired: DesiredResource): string {
  return hashJson({ type: desired.type, apiVersion: API_VERSIONS[desired.type], body: desired.body as JsonObject });
}

/** One GET of `desired`: gone, `Failed`, or tagged with another spec hash than the config gives (changed outside stepwise). */
async function specDrift(arm: ArmClient, desired: DesiredResource, signal: AbortSignal): Promise<DriftReport | undefined> {
  const resource = await arm.get(desired.id, desired.type, signal);
  if (!resource) return { reason: `${describe(desired.id)} is gone` };
  if (resource.properties?.provisioningState === "Failed") return { reason: `${describe(desired.id)} is in state Failed` };
  if (resource.tags?.[Tag.Spec] !== specHashOf(desired)) return { reason: `${describe(desired.id)} was changed outside stepwise` };
  return undefined;
}

/**
 * A foundation step that PUTs ARM resources in order and returns outputs made from the results.
 * `run` is started by the engine only when the step's inputs changed, it failed, or `check` found
 * drift, so a no-op deploy never PUTs. `check` is one GET of the first resource: gone, Failed, or
 * tagged with another spec hash than the current config gives (changed outside stepwise) is drift.
 */
function armResourceStep(definition: {
  name: string;
  description: string;
  dependsOn: string[];
  config?: StepDefinition["config"];
  desired(ctx: StepContext, settings: AzureSettings, made: ArmResource[]): DesiredResource[] | DesiredResource;
  outputs(settings: AzureSettings, made: ArmResource[]): JsonObject;
}): StepDefinition {
  return defineStep({
    name: definition.name,
    description: definition.description,
    dependsOn: definition.dependsOn,
    config: definition.config,
    async check(ctx) {
      if (!ctx.previousOutputs) return;
      const { settings, arm } = await open(ctx);
      return specDrift(arm, [definition.desired(ctx, settings, [])].flat()[0]!, ctx.signal);
    },
    async run(ctx) {
      const { settings, arm } = await open(ctx);
      const made: ArmResource[] = [];
      // Resources are made in order; a later one may refer to an earlier one (`made`).
      for (let i = 0; ; i++) {
        const next = [definition.desired(ctx, settings, made)].flat()[i];
        if (!next) break;
        const resource = await arm.put(next.id, next.type, { ...next.body, tags: settings.names.tags(ctx.step, specHashOf(next)) }, ctx.log, ctx.signal);
        ctx.log.info(`${describe(next.id)}: ${String(resource.properties?.provisioningState ?? "ok")}`);
        made.push(resource);
      }
      return definition.outputs(settings, made);
    },
  });
}

function resourceId(settings: AzureSettings, provider: string, type: string, name: string): string {
  return `${settings.names.groupId(settings.subscription)}/providers/${provider}/${type}/${name}`;
}

/**
 * Registers each of `namespaces` that is not registered on the subscription and waits until all
 * are (Azure takes up to minutes): one read per namespace when all are registered already.
 */
export async function ensureProviders(arm: ArmClient, namespaces: readonly string[], log: StepContext["log"], signal: AbortSignal): Promise<void> {
  const states = await Promise.all(namespaces.map(async (ns) => [ns, await arm.providerState(ns, signal)] as const));
  const missing = states.filter(([, state]) => state !== "Registered").map(([ns]) => ns);
  for (const [ns, state] of states) {
    if (state !== "NotRegistered" && state !== "Unregistered") continue;
    await arm.registerProvider(ns, signal);
    log.info(`registering resource provider ${ns}`);
  }
  const started = Date.now();
  for (const ns of missing) {
    for (;;) {
      const state = await arm.providerState(ns, signal);
      if (state === "Registered") break;
      if (Date.now() - started > REGISTRATION_TIMEOUT_MS) throw azureErrors.providerNotRegistered(ns, state);
      log.progress(`waiting for resource provider ${ns} (${state}, ${Math.round((Date.now() - started) / 1000)}s)`);
      await sleep(2_000, signal);
    }
  }
}

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
    await ensureProviders(arm, REQUIRED_PROVIDERS, ctx.log, ctx.signal);
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
export const monitoringStep = armResourceStep({
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
  desired(ctx, settings) {
    const workspaceId = resourceId(settings, "Microsoft.OperationalInsights", "workspaces", settings.names.workspace);
    return [
      {
        id: workspaceId,
        type: "Microsoft.OperationalInsights/workspaces",
        body: { location: settings.location, properties: { sku: { name: "PerGB2018" }, retentionInDays: ctx.config.get<number>("azure.monitoring.retentionDays") ?? 30 } },
      },
      {
        id: resourceId(settings, "Microsoft.Insights", "components", settings.names.appInsights),
        type: "Microsoft.Insights/components",
        body: { location: settings.location, kind: "web", properties: { Application_Type: "web", WorkspaceResourceId: workspaceId, IngestionMode: "LogAnalytics" } },
      },
    ];
  },
  outputs(settings, [workspace, component]) {
    return {
      workspaceId: resourceId(settings, "Microsoft.OperationalInsights", "workspaces", settings.names.workspace),
      workspaceCustomerId: String(workspace?.properties?.customerId ?? ""),
      appInsightsId: resourceId(settings, "Microsoft.Insights", "components", settings.names.appInsights),
      // Identifies the component to its SDKs; Azure shows it to every reader of the resource.
      appInsightsConnectionString: String(component?.properties?.ConnectionString ?? ""),
    };
  },
});

/** `azure:registry`: the container registry images are pushed to. */
export const registryStep = armResourceStep({
  name: "azure:registry",
  description: "Azure Container Registry for the site's images",
  dependsOn: ["azure:resource-group"],
  config: {
    "azure.registry.sku": { description: "Registry tier", default: "Basic", choices: ["Basic", "Standard", "Premium"] },
  },
  desired: (ctx, settings) => ({
    id: resourceId(settings, "Microsoft.ContainerRegistry", "registries", settings.names.registry),
    type: "Microsoft.ContainerRegistry/registries",
    // Apps pull with the site's managed identity (AcrPull); the deploying identity pushes with its
    // Entra token exchanged at the registry (AcrPush). No shared admin password exists.
    body: { location: settings.location, sku: { name: ctx.config.get<string>("azure.registry.sku") ?? "Basic" }, properties: { adminUserEnabled: false } },
  }),
  outputs: (settings, [registry]) => ({
    id: resourceId(settings, "Microsoft.ContainerRegistry", "registries", settings.names.registry),
    name: settings.names.registry,
    loginServer: String(registry?.properties?.loginServer ?? ""),
  }),
});

/** `azure:key-vault`: the vault the site's secrets go to (RBAC authorization, soft delete). */
export const keyVaultStep = armResourceStep({
  name: "azure:key-vault",
  description: "Key Vault holding the site's secrets",
  dependsOn: ["azure:resource-group"],
  config: {
    "azure.keyVault.sku": { description: "Key Vault tier", default: "standard", choices: ["standard", "premium"] },
  },
  desired: (ctx, settings) => ({
    id: resourceId(settings, "Microsoft.KeyVault", "vaults", settings.names.keyVault),
    type: "Microsoft.KeyVault/vaults",
    body: {
      location: settings.location,
      properties: {
        tenantId: settings.tenantId,
        sku: { family: "A", name: ctx.config.get<string>("azure.keyVault.sku") ?? "standard" },
        enableRbacAuthorization: true,
        enableSoftDelete: true,
        softDeleteRetentionInDays: 7,
      },
    },
  }),
  outputs: (settings, [vault]) => ({
    id: resourceId(settings, "Microsoft.KeyVault", "vaults", settings.names.keyVault),
    name: settings.names.keyVault,
    vaultUri: String(vault?.properties?.vaultUri ?? ""),
  }),
});

const ENVIRONMENT = "Microsoft.App/managedEnvironments";

/** The environment's body without the workspace key (which is write-only and never hashed). */
function environmentBody(ctx: StepContext, settings: AzureSettings): DesiredResource {
  return {
    id: resourceId(settings, "Microsoft.App", "managedEnvironments", settings.names.containerAppsEnvironment),
    type: ENVIRONMENT,
    body: {
      location: settings.location,
      properties: {
        appLogsConfiguration: { destination: "log-analytics", logAnalyticsConfiguration: { customerId: String(ctx.outputs("azure:monitoring").workspaceCustomerId ?? "") } },
        zoneRedundant: false,
        workloadProfiles: [{ name: "Consumption", workloadProfileType: "Consumption" }],
      },
    },
  };
}

const environmentOutputs = (desired: DesiredResource, environment: ArmResource): JsonObject => ({
  id: desired.id,
  name: desired.id.split("/").at(-1)!,
  defaultDomain: String(environment.properties?.defaultDomain ?? ""),
  staticIp: String(environment.properties?.staticIp ?? ""),
});

/**
 * `azure:container-apps-environment`: the Container Apps environment (Consumption profile) whose
 * apps log to the site's Log Analytics workspace. The workspace's shared key is read (POST
 * sharedKeys) whenever the step runs and goes only into the environment's PUT body; it is never
 * logged, stored or output. `run` PUTs only when the environment's tags differ from this spec or
 * from a hash of the current key (so `--force-step` repairs logging after a key regeneration).
 */
export const containerAppsEnvironmentStep = defineStep({
  name: "azure:container-apps-environment",
  description: "Container Apps environment logging to the site's Log Analytics workspace",
  dependsOn: ["azure:monitoring"],
  async check(ctx) {
    if (!ctx.previousOutputs) return;
    const { settings, arm } = await open(ctx);
    return specDrift(arm, environmentBody(ctx, settings), ctx.signal);
  },
  async run(ctx) {
    const { settings, arm } = await open(ctx);
    const desired = environmentBody(ctx, settings);
    const workspaceId = String(ctx.outputs("azure:monitoring").workspaceId);
    const [existing, keys] = await Promise.all([
      arm.get(desired.id, desired.type, ctx.signal),
      arm.action(workspaceId, "Microsoft.OperationalInsights/workspaces", "sharedKeys", ctx.signal),
    ]);
    const sharedKey = String(keys.primarySharedKey ?? "");
    // A hash of the (random, 512-bit) key tells a regenerated key apart without storing it.
    const keyVersion = createHash("sha256").update(sharedKey).digest("hex").slice(0, 16);
    const current = existing?.tags?.[Tag.Spec] === specHashOf(desired) && existing.tags?.[Tag.Fingerprint] === keyVersion && existing.properties?.provisioningState === "Succeeded";
    if (existing && current) return environmentOutputs(desired, existing);
    const logs = (desired.body.properties as { appLogsConfiguration: { logAnalyticsConfiguration: JsonObject } }).appLogsConfiguration;
    const body = { ...desired.body, properties: { ...desired.body.properties, appLogsConfiguration: { ...logs, logAnalyticsConfiguration: { ...logs.logAnalyticsConfiguration, sharedKey } } } };
    const tags = { ...settings.names.tags(ctx.step, specHashOf(desired)), [Tag.Fingerprint]: keyVersion };
    const environment = await arm.put(desired.id, desired.type, { ...body, tags }, ctx.log, ctx.signal);
    ctx.log.info(`${describe(desired.id)}: ${String(environment.properties?.provisioningState ?? "ok")}`);
    return environmentOutputs(desired, environment);
  },
});

/** Built-in roles the site's identity is given (ids are the same in every tenant). */
export const ROLES = {
  /** Key Vault Secrets User: read secret contents (Container Apps' Key Vault references). */
  keyVaultSecretsUser: "4633458b-17de-408a-b874-0445c86b69e6",
  /** AcrPull: pull images from the registry. */
  acrPull: "7f951dda-4ed3-4680-a7ca-43fe172d538d",
} as const;

const IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities";
const ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments";

/**
 * A role assignment's name: a GUID derived from scope, role and principal (as Bicep's `guid()`
 * does), so deploying again PUTs the same assignment (200) instead of a second one (409
 * RoleAssignmentExists), and a re-created identity (new principal) gets its own.
 */
export function roleAssignmentName(scope: string, role: string, principalId: string): string {
  const h = createHash("sha256").update(`${scope.toLowerCase()}\n${role}\n${principalId}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The identity's role assignments: Key Vault Secrets User on the vault, AcrPull on the registry. */
function roleAssignments(ctx: StepContext, settings: AzureSettings, principalId: string): { id: string; role: string; body: ArmBody }[] {
  const grants = [
    [String(ctx.outputs("azure:key-vault").id), ROLES.keyVaultSecretsUser],
    [String(ctx.outputs("azure:registry").id), ROLES.acrPull],
  ] as const;
  return grants.map(([scope, role]) => ({
    id: `${scope}/providers/Microsoft.Authorization/roleAssignments/${roleAssignmentName(scope, role, principalId)}`,
    role,
    body: {
      properties: {
        roleDefinitionId: `/subscriptions/${settings.subscription}/providers/Microsoft.Authorization/roleDefinitions/${role}`,
        principalId,
        // Set so Azure does not wait for the new principal to replicate (PrincipalNotFound otherwise).
        principalType: "ServicePrincipal",
      },
    },
  }));
}

function identityBody(settings: AzureSettings): DesiredResource {
  return { id: resourceId(settings, "Microsoft.ManagedIdentity", "userAssignedIdentities", settings.names.identity), type: IDENTITY, body: { location: settings.location } };
}

/**
 * `azure:identity`: the user-assigned managed identity the site's apps run as. `check` is one GET:
 * gone, changed outside stepwise, or re-created (another principal) is drift. What it may do is
 * `azure:role-assignments`' business.
 */
export const identityStep = defineStep({
  name: "azure:identity",
  description: "Managed identity the site's apps run as",
  dependsOn: ["azure:resource-group"],
  async check(ctx) {
    const principalId = ctx.previousOutputs?.principalId;
    if (typeof principalId !== "string") return;
    const { settings, arm } = await open(ctx);
    const desired = identityBody(settings);
    const identity = await arm.get(desired.id, IDENTITY, ctx.signal);
    if (!identity) return { reason: `${describe(desired.id)} is gone` };
    if (identity.tags?.[Tag.Spec] !== specHashOf(desired)) return { reason: `${describe(desired.id)} was changed outside stepwise` };
    if (identity.properties?.principalId !== principalId) return { reason: `${describe(desired.id)} was re-created outside stepwise` };
  },
  async run(ctx) {
    const { settings, arm } = await open(ctx);
    const desired = identityBody(settings);
    const identity = await arm.put(desired.id, IDENTITY, { ...desired.body, tags: settings.names.tags(ctx.step, specHashOf(desired)) }, ctx.log, ctx.signal);
    const principalId = String(identity.properties?.principalId ?? "");
    const clientId = String(identity.properties?.clientId ?? "");
    ctx.log.info(`${describe(desired.id)}: principal ${principalId}`);
    return { id: desired.id, name: settings.names.identity, clientId, principalId };
  },
});

const ROLE_NAMES: Record<string, string> = { [ROLES.keyVaultSecretsUser]: "Key Vault Secrets User", [ROLES.acrPull]: "AcrPull" };

/**
 * `azure:role-assignments`: what the site's identity may do — read the vault's secrets (Key
 * Vault Secrets User) and pull from the registry (AcrPull). Role assignments carry no tags; their
 * names are derived from scope, role and principal, so PUTting them again is idempotent. `check`
 * is one GET: the identity's assignments in the resource group (RoleAssignments_ListForResourceGroup
 * with `principalId eq`, which lists those at, above and below the group); one missing is drift.
 */
export const roleAssignmentsStep = defineStep({
  name: "azure:role-assignments",
  description: "Key Vault Secrets User and AcrPull for the site's identity",
  dependsOn: ["azure:identity", "azure:registry", "azure:key-vault"],
  async check(ctx) {
    if (!ctx.previousOutputs) return;
    const { settings, arm } = await open(ctx);
    const principalId = String(ctx.outputs("azure:identity").principalId ?? "");
    const wanted = roleAssignments(ctx, settings, principalId);
    const found = await arm.list(
      `${settings.names.groupId(settings.subscription)}/providers/Microsoft.Authorization/roleAssignments`,
      ROLE_ASSIGNMENT,
      ctx.signal,
      { $filter: `principalId eq '${principalId}'` },
    );
    const ids = new Set(found.map((a) => String(a.id).toLowerCase()));
    const missing = wanted.find((a) => !ids.has(a.id.toLowerCase()));
    if (missing) return { reason: `role assignment ${ROLE_NAMES[missing.role]} of ${settings.names.identity} is gone` };
  },
  async run(ctx) {
    const { settings, arm } = await open(ctx);
    const principalId = String(ctx.outputs("azure:identity").principalId ?? "");
    const made: string[] = [];
    for (const assignment of roleAssignments(ctx, settings, principalId)) {
      await arm.put(assignment.id, ROLE_ASSIGNMENT, assignment.body, ctx.log, ctx.signal);
      ctx.log.info(`${ROLE_NAMES[assignment.role]} for ${settings.names.identity}: ${describe(assignment.id)}`);
      made.push(assignment.id);
    }
    return { principalId, assignments: made };
  },
});

export const FOUNDATION_STEPS: readonly StepDefinition[] = [prerequisitesStep, resourceGroupStep, monitoringStep, registryStep, keyVaultStep, containerAppsEnvironmentStep, identityStep, roleAssignmentsStep];
export { resourceId };
