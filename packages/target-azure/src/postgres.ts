import type { DriftReport, PostgresResource, RemoveOptions, RemoveResult, ResourceRef, ResourceResult, TargetCallScope, TargetRemoveScope } from "@stepwise/core";
import { hashJson, type JsonObject } from "@stepwise/core";
import { API_VERSIONS } from "./api-versions.js";
import type { ArmBody, ArmClient } from "./arm-client.js";
import { azureErrors } from "./errors.js";
import { resourceId } from "./foundation-steps.js";
import { Tag } from "./naming.js";
import { secretVersion } from "./secret-version.js";
import type { AzureSettings } from "./settings.js";

const SERVER = "Microsoft.DBforPostgreSQL/flexibleServers";
const DATABASE = "Microsoft.DBforPostgreSQL/flexibleServers/databases";
const FIREWALL = "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules";
/** The rule Azure itself names for "allow Azure services" (0.0.0.0-0.0.0.0): Container Apps reach the server, the internet does not. */
const AZURE_SERVICES_RULE = "AllowAllAzureServicesAndResourcesWithinAzureIps";
const PORT = 5432;

/**
 * The smallest production-capable server: Burstable B1ms, 32 GB that grows, 7 days of backups.
 * Fixed for now: a target setting would have to be an input of the component step that asks for
 * the server, which core does not offer yet (see docs/azure.md).
 */
const SIZE = { sku: { name: "Standard_B1ms", tier: "Burstable" }, storageSizeGB: 32, backupRetentionDays: 7 } as const;

interface Context {
  arm: ArmClient;
  settings: AzureSettings;
}

function serverBody(settings: AzureSettings, spec: PostgresResource): ArmBody {
  return {
    location: settings.location,
    sku: SIZE.sku,
    properties: {
      administratorLogin: spec.user,
      version: spec.version ?? "16",
      storage: { storageSizeGB: SIZE.storageSizeGB, autoGrow: "Enabled" },
      backup: { backupRetentionDays: SIZE.backupRetentionDays, geoRedundantBackup: "Disabled" },
      highAvailability: { mode: "Disabled" },
      network: { publicNetworkAccess: "Enabled" },
      authConfig: { passwordAuth: "Enabled", activeDirectoryAuth: "Disabled" },
    },
  } as ArmBody;
}

/** What the result's specHash is made of; `probe` rebuilds it from the server's tag. */
const resultHash = (name: string, serverSpec: string, databases: readonly string[]) => hashJson({ kind: "postgres", name, server: serverSpec, databases: [...databases] });

export function postgresServerId(settings: AzureSettings, name: string): string {
  return resourceId(settings, "Microsoft.DBforPostgreSQL", "flexibleServers", settings.names.postgresServer(name));
}

/**
 * `postgres`: a PostgreSQL flexible server whose administrator is `spec.user` (password: the
 * spec's secret, sent only in the server's PUT body), its databases, and the firewall rule that
 * lets Azure services in. The server is tagged with a hash of its body and of the password's
 * fingerprint, so an unchanged spec costs GETs and no write, and a rotated password is PUT again.
 * Databases are created when missing, never dropped here.
 */
export async function ensurePostgres({ arm, settings }: Context, spec: PostgresResource, scope: TargetCallScope): Promise<ResourceResult<"postgres">> {
  const { value: password, version: passwordVersion } = secretVersion(scope, spec.passwordSecret);
  const id = postgresServerId(settings, spec.name);
  const serverName = settings.names.postgresServer(spec.name);
  const body = serverBody(settings, spec);
  const serverSpec = hashJson({ apiVersion: API_VERSIONS[SERVER], body: body as JsonObject, passwordVersion });
  let existing = await arm.get(id, SERVER, scope.signal);
  const login = existing?.properties?.administratorLogin;
  if (existing && typeof login === "string" && login !== spec.user) throw azureErrors.postgresAdminFixed(serverName, login, spec.user);
  let change: ResourceResult["change"] = "unchanged";
  if (!existing || existing.tags?.[Tag.Spec] !== serverSpec || existing.properties?.provisioningState === "Failed") {
    const withPassword = { ...body, properties: { ...body.properties, administratorLoginPassword: password } };
    const made = await arm.put(id, SERVER, { ...withPassword, tags: { ...settings.names.tags(scope.step, serverSpec) } }, scope.log, scope.signal);
    scope.log.info(`postgres flexible server ${serverName}: ${String(made.properties?.state ?? made.properties?.provisioningState ?? "ok")}`);
    change = existing ? "replaced" : "created";
    existing = made;
  }
  for (const database of spec.databases) {
    const dbId = `${id}/databases/${database}`;
    if (await arm.get(dbId, DATABASE, scope.signal)) continue;
    await arm.put(dbId, DATABASE, { properties: { charset: "UTF8", collation: "en_US.utf8" } }, scope.log, scope.signal);
    scope.log.info(`database ${database} on ${serverName}`);
    if (change === "unchanged") change = "replaced";
  }
  const ruleId = `${id}/firewallRules/${AZURE_SERVICES_RULE}`;
  if (!(await arm.get(ruleId, FIREWALL, scope.signal))) {
    await arm.put(ruleId, FIREWALL, { properties: { startIpAddress: "0.0.0.0", endIpAddress: "0.0.0.0" } }, scope.log, scope.signal);
    if (change === "unchanged") change = "replaced";
  }
  return {
    kind: "postgres",
    name: spec.name,
    id,
    specHash: resultHash(spec.name, serverSpec, spec.databases),
    change,
    // The server is the data: `remove` deletes it only when volumes are pruned.
    volumes: [serverName],
    outputs: {
      host: String(existing.properties?.fullyQualifiedDomainName ?? `${serverName}.postgres.database.azure.com`),
      port: PORT,
      user: spec.user,
      databases: [...spec.databases],
      password: { secret: spec.passwordSecret },
      sslmode: "require",
      serverId: id,
    },
  };
}

/** One GET of the server: gone, Failed, or its spec tag differs from what was deployed. */
export async function probePostgres({ arm }: Context, result: ResourceResult<"postgres">, scope: TargetCallScope): Promise<DriftReport | void> {
  const server = await arm.get(result.id, SERVER, scope.signal);
  const name = result.id.split("/").at(-1);
  if (!server) return { reason: `postgres flexible server ${name} is gone` };
  if (server.properties?.provisioningState === "Failed") return { reason: `postgres flexible server ${name} is in state Failed` };
  if (resultHash(result.name, server.tags?.[Tag.Spec] ?? "", result.outputs.databases) !== result.specHash) return { reason: `postgres flexible server ${name} was changed outside stepwise` };
}

/** The server holds the data: deleted with `--prune-volumes` only, otherwise kept and reported. */
export async function removePostgres({ arm }: Context, ref: ResourceRef, options: RemoveOptions, scope: TargetRemoveScope): Promise<RemoveResult> {
  const what = `postgres flexible server ${ref.id.split("/").at(-1)}`;
  if (!options.volumes) return { removed: [], kept: [`${what} (data kept; --prune-volumes deletes it)`] };
  await arm.delete(ref.id, SERVER, scope.log, scope.signal);
  return { removed: [what], kept: [] };
}
