import type { DriftReport, JobResource, RemoveResult, ResourceRef, ResourceResult, ServiceResource, TargetCallScope, TargetRemoveScope } from "@stepwise/core";
import { hashJson, type JsonObject, type JsonValue } from "@stepwise/core";
import { API_VERSIONS, type ArmResourceType } from "./api-versions.js";
import { describe, type ArmBody, type ArmClient } from "./arm-client.js";
import { azureErrors } from "./errors.js";
import { resourceId } from "./foundation-steps.js";
import { Tag } from "./naming.js";
import type { AzureSettings } from "./settings.js";

const APP = "Microsoft.App/containerApps";

export interface Context {
  arm: ArmClient;
  settings: AzureSettings;
  siteDir: string;
  storeSecret(secret: string, scope: TargetCallScope): Promise<{ secretUri: string; version: string }>;
}

/** Container Apps' probe limits: period and timeout 1-240 s, failure threshold 1-10. */
const clamp = (value: number | undefined, min: number, max: number, fallback: number) => Math.min(max, Math.max(min, Math.round(value ?? fallback)));

/** A Container Apps secret name (lowercase letters, digits, `-`): the Key Vault secret's name, lowercased, kept apart by a hash when that changed it. */
function appSecretName(settings: AzureSettings, secret: string): string {
  const vaultName = settings.names.keyVaultSecret(secret);
  return vaultName.toLowerCase() === vaultName ? vaultName : `${vaultName.toLowerCase().slice(0, 100)}-${hashJson(secret).slice(0, 6)}`;
}

/** What an app and a job share: identity, environment, registry, secrets, the container's env. */
export function containerParts(settings: AzureSettings, spec: ServiceResource | JobResource, image: string, secretUris: ReadonlyMap<string, string>, pushedTo?: string) {
  const identityId = resourceId(settings, "Microsoft.ManagedIdentity", "userAssignedIdentities", settings.names.identity);
  const server = image.split("/")[0]!.toLowerCase();
  const ownRegistry = pushedTo !== undefined || (image.includes("/") && server.startsWith(`${settings.names.registry.toLowerCase()}.`));
  const secrets = [...new Set(Object.values(spec.secrets ?? {}))].sort().map((secret) => ({ name: appSecretName(settings, secret), keyVaultUrl: secretUris.get(secret)!, identity: identityId }));
  const env = [
    ...Object.entries(spec.env ?? {}).map(([key, value]) => ({ name: key, value })),
    ...Object.entries(spec.secrets ?? {}).map(([key, secret]) => ({ name: key, secretRef: appSecretName(settings, secret) })),
  ].sort((a, b) => a.name.localeCompare(b.name));
  return {
    identity: { type: "UserAssigned", userAssignedIdentities: { [identityId]: {} } },
    environmentId: resourceId(settings, "Microsoft.App", "managedEnvironments", settings.names.containerAppsEnvironment),
    configuration: {
      ...(ownRegistry ? { registries: [{ server: pushedTo ?? server, identity: identityId }] } : {}),
      ...(secrets.length ? { secrets } : {}),
    },
    container: { image, ...(spec.command ? { args: [...spec.command] } : {}), env, resources: { cpu: 0.5, memory: "1Gi" } },
  };
}

/**
 * The app's body. Secrets are Key Vault references (`keyVaultUrl` + the site's identity): the
 * body never holds a secret value. The site's registry is pulled from with the same identity.
 */
function appBody(settings: AzureSettings, spec: ServiceResource, image: string, secretUris: ReadonlyMap<string, string>, pushedTo?: string): ArmBody & { identity: JsonObject } {
  const parts = containerParts(settings, spec, image, secretUris, pushedTo);
  const name = settings.names.containerApp(spec.name);
  const [first, ...more] = spec.ports ?? [];
  const health = spec.healthcheck;
  const probes =
    health?.http && first
      ? (["Readiness", "Liveness"] as const).map((type) => ({
          type,
          httpGet: { path: health.http, port: first.container },
          periodSeconds: clamp(health.intervalSeconds, 1, 240, 10),
          timeoutSeconds: clamp(health.timeoutSeconds, 1, 240, 5),
          failureThreshold: clamp(health.retries, 1, 10, 3),
        }))
      : undefined;
  return {
    location: settings.location,
    identity: parts.identity,
    properties: {
      environmentId: parts.environmentId,
      workloadProfileName: "Consumption",
      configuration: {
        activeRevisionsMode: "Single",
        // A published port (one given a host port) is reachable from the internet over HTTPS; others only inside the environment.
        ...(first
          ? {
              ingress: {
                external: first.host !== undefined,
                targetPort: first.container,
                transport: "auto",
                ...(more.length ? { additionalPortMappings: more.map((p) => ({ external: p.host !== undefined, targetPort: p.container })) } : {}),
              },
            }
          : {}),
        ...parts.configuration,
      },
      template: {
        containers: [{ name, ...parts.container, ...(probes ? { probes } : {}) }],
        scale: { minReplicas: 1, maxReplicas: 1 },
      },
    },
  };
}

/**
 * Each secret `spec` uses in the site's vault (a PUT only when its value changed): secret -> its
 * Key Vault URL, and `versions`, a hash of the stored values' versions (never a value).
 */
export async function storeSecrets(ctx: Pick<Context, "storeSecret">, spec: ServiceResource | JobResource, scope: TargetCallScope): Promise<Map<string, string> & { versions: string }> {
  const secretUris = new Map<string, string>();
  const versions: [string, string][] = [];
  for (const secret of [...new Set(Object.values(spec.secrets ?? {}))].sort()) {
    const stored = await ctx.storeSecret(secret, scope);
    secretUris.set(secret, stored.secretUri);
    versions.push([secret, stored.version]);
  }
  return Object.assign(secretUris, { versions: versions.length ? hashJson(versions as unknown as JsonValue).slice(0, 16) : "" });
}

/**
 * The image an app or job runs: `image:` as given, or `build:` built with Podman and pushed to
 * the site's registry (`server` set: the app pulls from it with the site's identity).
 */
export async function appImage(ctx: Pick<Context, "arm" | "settings" | "siteDir">, spec: Pick<ServiceResource, "name" | "image" | "build">, scope: TargetCallScope): Promise<{ ref: string; server?: string }> {
  if (spec.build) {
    const { buildAndPush } = await import("./images.js");
    return buildAndPush(ctx, spec.name, spec.build, scope);
  }
  if (spec.image) return { ref: spec.image };
  throw azureErrors.imageMissing(spec.name);
}

/** What the result's specHash is made of; `probe` rebuilds it from the app's tag. */
const resultHash = (name: string, appSpec: string) => hashJson({ kind: "service", name, app: appSpec });

/**
 * `service`: a Container App in the site's environment, running as the site's identity (which
 * pulls from the registry and reads Key Vault). Each secret the service uses is put in the vault
 * first (a PUT only when its value changed); the app refers to it by URL. The app is tagged with
 * a hash of its body, so an unchanged service costs GETs and no write.
 */
export async function ensureService(ctx: Context, spec: ServiceResource, scope: TargetCallScope): Promise<ResourceResult<"service">> {
  const { arm, settings } = ctx;
  if (spec.volumes && Object.keys(spec.volumes).length > 0) throw azureErrors.volumesUnsupported(spec.name);
  const secretUris = await storeSecrets(ctx, spec, scope);
  const name = settings.names.containerApp(spec.name);
  const id = resourceId(settings, "Microsoft.App", "containerApps", name);
  const pushed = await appImage(ctx, spec, scope);
  const body = appBody(settings, spec, pushed.ref, secretUris, pushed.server);
  const appSpec = hashJson({ apiVersion: API_VERSIONS[APP], body: body as unknown as JsonObject });
  let app = await arm.get(id, APP, scope.signal);
  let change: ResourceResult["change"] = "unchanged";
  // The app refers to its secrets by URL without a version, and Container Apps reads a changed
  // value only into a new or restarted revision (changing secrets makes no revision): a hash of
  // the secrets' versions is kept in a tag, and when it changed the running revision restarts.
  // The tag is written after the restart, so a restart that failed or was interrupted is done
  // by the next run. An app without the tag (made before it existed) gets it without a restart.
  const secretsTag = app?.tags?.[Tag.Secrets];
  const secretsChanged = app !== undefined && secretsTag !== undefined && secretsTag !== secretUris.versions;
  const tagsWith = (secrets: string | undefined) => ({ ...settings.names.tags(scope.step, appSpec), [Tag.Resource]: spec.name, ...(secrets ? { [Tag.Secrets]: secrets } : {}) });
  const revisionBefore = app?.properties?.latestRevisionName;
  if (!app || app.tags?.[Tag.Spec] !== appSpec || app.properties?.provisioningState !== "Succeeded" || (!secretsChanged && (secretsTag ?? "") !== secretUris.versions)) {
    const made = await arm.put(id, APP, { ...body, tags: tagsWith(secretsChanged ? secretsTag : secretUris.versions) } as ArmBody, scope.log, scope.signal);
    scope.log.info(`${describe(id)}: ${String(made.properties?.latestRevisionName ?? made.properties?.provisioningState ?? "ok")}`);
    change = app ? "replaced" : "created";
    app = made;
  }
  if (secretsChanged) {
    // A new revision (the template changed too) reads the new values already.
    const running = app.properties?.latestReadyRevisionName ?? app.properties?.latestRevisionName;
    if (app.properties?.latestRevisionName === revisionBefore && typeof running === "string" && running) {
      await arm.action(`${id}/revisions/${running}`, "Microsoft.App/containerApps/revisions", "restart", scope.signal);
      scope.log.info(`restarted revision ${running} of ${name}: a secret it reads changed`);
    }
    app = await arm.put(id, APP, { ...body, tags: tagsWith(secretUris.versions) } as ArmBody, scope.log, scope.signal);
    change = "replaced";
  }
  const ingress = (app.properties?.configuration as { ingress?: { fqdn?: string; external?: boolean } } | undefined)?.ingress;
  const external = ingress?.external === true && ingress.fqdn;
  if (external) {
    const { verifyPublicApp } = await import("./verify.js");
    await verifyPublicApp(settings, spec, ingress.fqdn!, scope);
  }
  return {
    kind: "service",
    name: spec.name,
    id,
    specHash: resultHash(spec.name, appSpec),
    change,
    outputs: {
      // Apps of one environment reach each other by app name; the internet by the FQDN (HTTPS on 443).
      host: external ? ingress.fqdn! : name,
      app: name,
      image: pushed.ref,
      ...(ingress?.fqdn ? { fqdn: ingress.fqdn } : {}),
      ...(external ? { url: `https://${ingress.fqdn}` } : {}),
      ports: (spec.ports ?? []).filter((p) => p.host !== undefined).slice(0, 1).map((p) => ({ container: p.container, host: 443 })),
    },
  };
}

/** One GET of what `result` made: gone, Failed, or its spec tag (through `hashOf`) is not what was deployed. */
export async function probeTagged(arm: ArmClient, result: ResourceResult, type: ArmResourceType, hashOf: (specTag: string) => string, signal: AbortSignal): Promise<DriftReport | void> {
  const made = await arm.get(result.id, type, signal);
  if (!made) return { reason: `${describe(result.id)} is gone` };
  if (made.properties?.provisioningState === "Failed") return { reason: `${describe(result.id)} is in state Failed` };
  if (hashOf(made.tags?.[Tag.Spec] ?? "") !== result.specHash) return { reason: `${describe(result.id)} was changed outside stepwise` };
}

/** Deletes what a resource that left the site made (the Key Vault secrets stay: other steps may use them). */
export async function removeMade(arm: ArmClient, ref: ResourceRef, type: ArmResourceType, scope: TargetRemoveScope): Promise<RemoveResult> {
  await arm.delete(ref.id, type, scope.log, scope.signal);
  return { removed: [describe(ref.id)], kept: [] };
}

/** One GET of the app: gone, Failed, or its spec tag differs from what was deployed. */
export function probeService({ arm }: Pick<Context, "arm">, result: ResourceResult<"service">, scope: TargetCallScope): Promise<DriftReport | void> {
  return probeTagged(arm, result, APP, (tag) => resultHash(result.name, tag), scope.signal);
}

/** A service that left the site: its app is deleted. */
export function removeService({ arm }: Pick<Context, "arm">, ref: ResourceRef, scope: TargetRemoveScope): Promise<RemoveResult> {
  return removeMade(arm, ref, APP, scope);
}
