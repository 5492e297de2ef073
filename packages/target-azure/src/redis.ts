import { createHash } from "node:crypto";
import type { DriftReport, RedisResource, RemoveOptions, RemoveResult, ResourceRef, ResourceResult, TargetCallScope, TargetRemoveScope } from "@stepwise/core";
import { ErrorCode, ExitCode, StepwiseError, hashJson, type JsonObject } from "@stepwise/core";
import { API_VERSIONS, ON_DEMAND_PROVIDERS } from "./api-versions.js";
import { FINAL_STATES, type ArmBody, type ArmClient } from "./arm-client.js";
import { ensureProviders, resourceId } from "./foundation-steps.js";
import { AzureErrorCode } from "./errors.js";
import { Tag } from "./naming.js";
import type { AzureSettings } from "./settings.js";

const CACHE = "Microsoft.Cache/redis";
const SECRET = "Microsoft.KeyVault/vaults/secrets";
/** The TLS port: the plain port (6379) stays closed (`enableNonSslPort: false`). */
const TLS_PORT = 6380;
/** How long a deploy waits for an operation an earlier run left running on the cache (creation takes 15-20 minutes). */
const BUSY_LIMIT_MS = 30 * 60_000;
/** A cache's states no operation is running in: Resource Manager's, and Disabled (a stopped cache). */
const CACHE_FINAL_STATES: ReadonlySet<string> = new Set([...FINAL_STATES, "Disabled"]);

interface Context {
  arm: ArmClient;
  settings: AzureSettings;
}

/** Public access as the Postgres server has it: the access key (over TLS 1.2+) is what keeps others out. */
function cacheBody(settings: AzureSettings): ArmBody {
  return {
    location: settings.location,
    properties: {
      sku: { ...settings.redis.sku },
      enableNonSslPort: false,
      minimumTlsVersion: "1.2",
      publicNetworkAccess: "Enabled",
    },
  } as ArmBody;
}

const cacheSpecOf = (settings: AzureSettings) => hashJson({ apiVersion: API_VERSIONS[CACHE], body: cacheBody(settings) as JsonObject });

/** What the result's specHash is made of; `probe` rebuilds it from the cache's tag. */
const resultHash = (name: string, cacheSpec: string) => hashJson({ kind: "redis", name, cache: cacheSpec });

const skuText = (sku: unknown) => {
  const { name, family, capacity } = (sku ?? {}) as { name?: string; family?: string; capacity?: number };
  return `${String(name)} ${String(family)}${String(capacity)}`;
};

/**
 * `redis`: an Azure Cache for Redis (`azure.redis.sku`/`capacity`, default Basic C0), TLS 1.2+ on
 * 6380 only, tagged with a hash of its body. Its primary access key (`POST .../listKeys`) is put
 * in the site's Key Vault as the spec's password secret, tagged as issued by Redis so the site's
 * own value of that secret (a generated password Azure cannot use) is never written over it. The
 * key travels only in the listKeys answer and the vault secret's PUT body; it is never logged,
 * output or kept in state (the vault secret is tagged with a hash of it, so it is PUT again only
 * when the key changed). Creating a cache takes 15-20 minutes on Azure; progress is reported.
 */
export async function ensureRedis({ arm, settings }: Context, spec: RedisResource, scope: TargetCallScope): Promise<ResourceResult<"redis">> {
  const cacheName = settings.names.redisCache(spec.name);
  if (!spec.passwordSecret) {
    // Azure Cache for Redis always asks for its access key: a client without the secret could not connect.
    throw new StepwiseError(ErrorCode.TargetUnsupported, `The azure target makes redis ${spec.name} (step ${scope.step}) only with a password secret: Azure Cache for Redis always requires its access key.`, {
      exitCode: ExitCode.BadInput,
      hint: "give the redis resource a passwordSecret (the step's secret receives the cache's access key in Key Vault)",
    });
  }
  const id = cacheId(settings, spec.name);
  const body = cacheBody(settings);
  const cacheSpec = cacheSpecOf(settings);
  // Resource Manager answers nothing about a cache (not even 404) until Microsoft.Cache is registered.
  await ensureProviders(arm, [ON_DEMAND_PROVIDERS.redis], scope.log, scope.signal);
  let existing = await arm.get(id, CACHE, scope.signal);
  const busy = (state: unknown) => state !== undefined && !CACHE_FINAL_STATES.has(String(state));
  if (existing && busy(existing.properties?.provisioningState)) {
    // A run interrupted while Azure made or resized the cache (15-20 minutes): wait for that
    // operation before deciding anything, and never read the keys of a cache not yet usable.
    await arm.waitUntilIdle(id, CACHE, scope.log, scope.signal, BUSY_LIMIT_MS, CACHE_FINAL_STATES);
    existing = await arm.get(id, CACHE, scope.signal);
    if (existing && busy(existing.properties?.provisioningState)) {
      throw new StepwiseError(AzureErrorCode.ArmError, `Azure cache for redis ${cacheName} is still ${String(existing.properties?.provisioningState)} after ${BUSY_LIMIT_MS / 60_000} minutes.`, {
        exitCode: ExitCode.StepFailed,
        hint: `stepwise deploy   (resumes and waits again; az redis show --name ${cacheName} --resource-group ${settings.names.resourceGroup} --query provisioningState)`,
      });
    }
  }
  let change: ResourceResult["change"] = "unchanged";
  if (!existing || existing.tags?.[Tag.Spec] !== cacheSpec || existing.properties?.provisioningState === "Failed") {
    const made = await arm.put(id, CACHE, { ...body, tags: settings.names.tags(scope.step, cacheSpec) }, scope.log, scope.signal);
    scope.log.info(`azure cache for redis ${cacheName} (${skuText(made.properties?.sku)}): ${String(made.properties?.provisioningState ?? "ok")}`);
    change = existing ? "replaced" : "created";
    existing = made;
  }
  const stored = await storeAccessKey(arm, settings, id, spec.passwordSecret, scope);
  if (stored.wrote && change === "unchanged") change = "replaced";
  return {
    kind: "redis",
    name: spec.name,
    id,
    specHash: resultHash(spec.name, cacheSpec),
    change,
    // The cache holds the data (queues, sessions): `remove` deletes it only when volumes are pruned.
    volumes: [cacheName],
    outputs: {
      host: String(existing.properties?.hostName ?? `${cacheName}.redis.cache.windows.net`),
      port: Number(existing.properties?.sslPort ?? TLS_PORT),
      password: { secret: spec.passwordSecret },
      // Clients must connect with TLS (rediss://): the plain port is closed.
      tls: true,
      cacheId: id,
      // A hash of the access key (not the key): a rotated key changes the outputs, so the steps
      // using the cache run again and their apps restart onto the new key.
      keyVersion: stored.keyVersion,
    },
  };
}

/**
 * The cache's primary key in the vault as `secret`: one POST (listKeys) and one GET of the vault
 * secret, and a PUT when the vault holds no key, another one, or a value stepwise stored from the
 * site's secrets (no issued-by tag). Returns whether it wrote, and the key's version (a hash).
 */
async function storeAccessKey(arm: ArmClient, settings: AzureSettings, cache: string, secret: string, scope: TargetCallScope): Promise<{ wrote: boolean; keyVersion: string }> {
  const keys = await arm.action(cache, CACHE, "listKeys", scope.signal);
  const key = String(keys.primaryKey ?? "");
  // A hash of the (random, 256-bit) key tells a regenerated key apart without storing it.
  const keyVersion = createHash("sha256").update(key).digest("hex").slice(0, 16);
  const secretId = `${resourceId(settings, "Microsoft.KeyVault", "vaults", settings.names.keyVault)}/secrets/${settings.names.keyVaultSecret(secret)}`;
  const stored = await arm.get(secretId, SECRET, scope.signal);
  if (stored?.tags?.[Tag.IssuedBy] === "redis" && stored.tags[Tag.Fingerprint] === keyVersion) return { wrote: false, keyVersion };
  const tags = { ...settings.names.tags(scope.step), [Tag.Fingerprint]: keyVersion, [Tag.IssuedBy]: "redis" };
  await arm.put(secretId, SECRET, { properties: { value: key, contentType: "text/plain" }, tags }, scope.log, scope.signal);
  scope.log.info(`stored the access key of ${cache.split("/").at(-1)} as secret ${secret} in key vault ${settings.names.keyVault}`);
  return { wrote: true, keyVersion };
}

export function cacheId(settings: AzureSettings, name: string): string {
  return resourceId(settings, "Microsoft.Cache", "redis", settings.names.redisCache(name));
}

/**
 * One GET of the cache: gone, Failed, changed outside stepwise (its spec tag is not the deployed
 * one), or sized otherwise than `azure.redis.*` says (resized in the portal; a changed key itself
 * is already an input of the step, see `resourceKind` in settings.ts).
 */
export async function probeRedis({ arm, settings }: Context, result: ResourceResult<"redis">, scope: TargetCallScope): Promise<DriftReport | void> {
  const cache = await arm.get(result.id, CACHE, scope.signal);
  const name = result.id.split("/").at(-1);
  if (!cache) return { reason: `azure cache for redis ${name} is gone` };
  if (cache.properties?.provisioningState === "Failed") return { reason: `azure cache for redis ${name} is in state Failed` };
  const tag = cache.tags?.[Tag.Spec] ?? "";
  if (resultHash(result.name, tag) !== result.specHash) return { reason: `azure cache for redis ${name} was changed outside stepwise` };
  // Resized outside stepwise (the portal, az redis update), or azure.redis.* changed since the deploy.
  if (skuText(cache.properties?.sku) !== skuText(settings.redis.sku)) return { reason: `azure cache for redis ${name} is ${skuText(cache.properties?.sku)}; azure.redis.* says ${skuText(settings.redis.sku)}` };
}

/** The cache holds data: deleted with `--prune-volumes` only, otherwise kept and reported. Its vault secret stays (soft delete covers a mistake either way). */
export async function removeRedis({ arm }: Context, ref: ResourceRef, options: RemoveOptions, scope: TargetRemoveScope): Promise<RemoveResult> {
  const what = `azure cache for redis ${ref.id.split("/").at(-1)}`;
  if (!options.volumes) return { removed: [], kept: [`${what} (data kept; --prune-volumes deletes it)`] };
  await arm.delete(ref.id, CACHE, scope.log, scope.signal);
  return { removed: [what], kept: [] };
}
