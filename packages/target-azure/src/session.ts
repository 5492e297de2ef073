import type { DownPreview, DriftReport, RemoveOptions, RemoveResult, ResourceRef, ResourceResult, ResourceSpec, ServiceStatus, StepLogger, TargetCallScope, TargetRemoveScope, TargetSession } from "@stepwise/core";
import { ErrorCode, ExitCode, StepwiseError, hashJson } from "@stepwise/core";
import type { ArmClient, ArmResource } from "./arm-client.js";
import { azureErrors } from "./errors.js";
import { resourceId } from "./foundation-steps.js";
import { Tag } from "./naming.js";
import { ensureService, probeService, removeService } from "./container-app.js";
import { ensureJob, newestExecution, probeJob, removeJob } from "./job.js";
import { streamServiceLogs } from "./logs.js";
import { ensurePostgres, probePostgres, removePostgres } from "./postgres.js";
import { ensureRedis, probeRedis, removeRedis } from "./redis.js";
import { secretVersion } from "./secret-version.js";
import type { AzureSettings } from "./settings.js";

const SECRET_TYPE = "Microsoft.KeyVault/vaults/secrets";
const APP = "Microsoft.App/containerApps";
const JOB = "Microsoft.App/jobs";

/**
 * A live connection to Resource Manager for one site. Realises the kinds the target lists; every
 * object it makes is tagged with the site and the step that asked for it.
 */
export class AzureSession implements TargetSession {
  constructor(
    readonly arm: ArmClient,
    readonly settings: AzureSettings,
    readonly log: StepLogger,
    /** The site's directory (build contexts are relative to it). */
    readonly siteDir: string,
  ) {}

  /**
   * `secret`: the site secret's current value stored in the site's Key Vault through the
   * management-plane secret PUT (the value travels only in that request's body). The secret is
   * tagged with a hash of the value's HMAC fingerprint, so an unchanged value costs one GET and
   * no write, and a rotated one is written again.
   */
  async ensure(spec: ResourceSpec, scope: TargetCallScope): Promise<ResourceResult> {
    scope.signal.throwIfAborted();
    if (spec.kind === "postgres") return ensurePostgres(this, spec, scope);
    if (spec.kind === "redis") return ensureRedis(this, spec, scope);
    if (spec.kind === "service") return ensureService(this, spec, scope);
    if (spec.kind === "job") return ensureJob(this, spec, scope);
    if (spec.kind !== "secret") {
      throw new StepwiseError(ErrorCode.TargetUnsupported, `The azure target cannot realise ${spec.kind} ${spec.name} yet (step ${scope.step}).`, {
        exitCode: ExitCode.BadInput,
        hint: "deploy this site with target: podman for now",
      });
    }
    const { id, version, change, secretUri } = await this.storeSecret(spec.name, scope);
    return {
      kind: "secret",
      name: spec.name,
      id,
      specHash: hashJson({ kind: "secret", name: spec.name, version }),
      change,
      outputs: { secret: { secret: spec.name }, keyVaultSecretUri: secretUri },
    };
  }

  /**
   * The site secret `secret`'s current value in the site's Key Vault: one GET, and a PUT (the
   * value only in its body) when the vault holds no value or another one than the store. A vault
   * secret tagged as issued by a resource (a Redis access key) is left as it is.
   */
  async storeSecret(secret: string, scope: TargetCallScope): Promise<{ id: string; version: string; change: ResourceResult["change"]; secretUri: string }> {
    const { value, version } = secretVersion(scope, secret);
    const id = this.secretId(secret);
    const existing = await this.arm.get(id, SECRET_TYPE, scope.signal);
    if (existing?.tags?.[Tag.Fingerprint] === version) return { id, version, change: "unchanged", secretUri: String(existing.properties?.secretUri ?? "") };
    // A value Azure issued (a Redis access key) is what the secret is on Azure: the site's own value never replaces it.
    if (existing?.tags?.[Tag.IssuedBy]) return { id, version: String(existing.tags[Tag.Fingerprint] ?? ""), change: "unchanged", secretUri: String(existing.properties?.secretUri ?? "") };
    this.secretListing = undefined;
    const stored = await this.arm.put(id, SECRET_TYPE, { properties: { value, contentType: "text/plain" }, tags: { ...this.settings.names.tags(scope.step), [Tag.Fingerprint]: version } }, scope.log, scope.signal);
    scope.log.info(`stored secret ${secret} in key vault ${this.settings.names.keyVault}`);
    return { id, version, change: existing ? "replaced" : "created", secretUri: String(stored.properties?.secretUri ?? "") };
  }

  /**
   * A secret: gone from the vault, or holding another value than the one deployed. The vault's
   * secrets are listed once per command (Secrets_List, one GET a page of 25) and every secret
   * probe reads that listing, so a plan reads the vault once however many steps store secrets.
   */
  async probe(result: ResourceResult, scope: TargetCallScope): Promise<DriftReport | void> {
    if (result.kind === "postgres") return probePostgres(this, result, scope);
    if (result.kind === "redis") return probeRedis(this, result, scope);
    if (result.kind === "service") return probeService(this, result, scope);
    if (result.kind === "job") return probeJob(this, result, scope);
    if (result.kind !== "secret") return;
    const existing = (await this.vaultSecrets(scope.signal)).get(result.id.split("/").at(-1)!.toLowerCase());
    if (!existing) return { reason: `key vault secret ${this.settings.names.keyVaultSecret(result.name)} is gone` };
    if (hashJson({ kind: "secret", name: result.name, version: existing.tags?.[Tag.Fingerprint] ?? "" }) !== result.specHash) {
      return { reason: `key vault secret ${this.settings.names.keyVaultSecret(result.name)} was changed outside stepwise` };
    }
  }

  /**
   * Deletes a secret that left the site (soft delete keeps it recoverable for the vault's
   * retention); a Postgres server only with `--prune-volumes` (it is the data).
   */
  async remove(ref: ResourceRef, options: RemoveOptions, scope: TargetRemoveScope): Promise<RemoveResult> {
    if (ref.kind === "postgres") return removePostgres(this, ref, options, scope);
    if (ref.kind === "redis") return removeRedis(this, ref, options, scope);
    if (ref.kind === "service") return removeService(this, ref, scope);
    if (ref.kind === "job") return removeJob(this, ref, scope);
    if (ref.kind !== "secret") return { removed: [], kept: [] };
    await this.arm.delete(ref.id, SECRET_TYPE, scope.log, scope.signal);
    return { removed: [`key vault secret ${ref.id.split("/").at(-1)}`], kept: [] };
  }

  /**
   * The site's Container Apps and jobs (two list GETs in the resource group, then one GET per app
   * and one execution list per job): an app's running status and public URL, a job's newest execution.
   */
  async status(): Promise<ServiceStatus[]> {
    const signal = new AbortController().signal;
    const group = this.settings.names.resourceGroup;
    const [apps, jobs] = await Promise.all([this.arm.listInGroup(group, APP, signal), this.arm.listInGroup(group, JOB, signal)]);
    const own = (r: ArmResource) => r.tags?.[Tag.Site] === this.settings.names.site;
    const name = (r: ArmResource) => r.tags?.[Tag.Resource] ?? String(r.name);
    const out = await Promise.all([
      ...apps.filter(own).map(async (listed): Promise<ServiceStatus> => {
        const app = await this.arm.get(String(listed.id), APP, signal);
        const properties = (app?.properties ?? {}) as { runningStatus?: string; provisioningState?: string; configuration?: { ingress?: { fqdn?: string; external?: boolean } }; template?: { containers?: { image?: string }[] } };
        const ingress = properties.configuration?.ingress;
        return {
          name: name(listed),
          kind: "service",
          state: (properties.runningStatus ?? properties.provisioningState ?? "unknown").toLowerCase(),
          ...(properties.provisioningState && properties.provisioningState !== "Succeeded" ? { health: properties.provisioningState.toLowerCase() } : {}),
          ...(properties.template?.containers?.[0]?.image ? { image: properties.template.containers[0].image } : {}),
          ports: ingress?.fqdn ? [ingress.external ? `https://${ingress.fqdn}` : ingress.fqdn] : [],
        };
      }),
      ...jobs.filter(own).map(async (listed): Promise<ServiceStatus> => {
        const execution = await newestExecution(this, String(listed.id), signal);
        const properties = (execution?.properties ?? {}) as { status?: string; startTime?: string };
        return { name: name(listed), kind: "job", state: execution ? `last run ${String(properties.status ?? "unknown").toLowerCase()}` : "never run", ...(properties.startTime ? { startedAt: properties.startTime } : {}) };
      }),
    ]);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Restarts the active revision of each of the site's Container Apps, or only `service`'s. Returns the apps restarted. */
  async restart(service?: string): Promise<string[]> {
    const signal = new AbortController().signal;
    const apps = (await this.arm.listInGroup(this.settings.names.resourceGroup, APP, signal)).filter((r) => r.tags?.[Tag.Site] === this.settings.names.site);
    const name = (r: ArmResource) => r.tags?.[Tag.Resource] ?? String(r.name);
    const chosen = service === undefined ? apps : apps.filter((r) => name(r) === service);
    if (service !== undefined && chosen.length === 0) throw azureErrors.serviceNotFound(service, this.settings.names.site, apps.map(name).sort());
    const restarted: string[] = [];
    for (const listed of chosen) {
      const app = await this.arm.get(String(listed.id), APP, signal);
      const revision = app?.properties?.latestRevisionName;
      if (typeof revision !== "string" || !revision) continue;
      await this.arm.action(`${String(listed.id)}/revisions/${revision}`, "Microsoft.App/containerApps/revisions", "restart", signal);
      this.log.info(`restarted revision ${revision} of ${String(listed.name)}`);
      restarted.push(String(listed.name));
    }
    return restarted;
  }

  /**
   * `stepwise logs SERVICE`: the console log of SERVICE's Container App through the Container Apps
   * log stream (see {@link streamServiceLogs}); reads and one `getAuthtoken` action, no write. A job,
   * an unknown name or an app without a ready revision is a StepwiseError saying where to look.
   */
  logs(service: string, options: { follow: boolean; tail?: number; signal: AbortSignal }): Promise<NodeJS.ReadableStream> {
    return streamServiceLogs(this, service, options);
  }

  /** Whatever `down` is asked: the whole resource group goes, with every database and secret in it. */
  async describeDown(): Promise<DownPreview> {
    const group = `resource group ${this.settings.names.resourceGroup}`;
    return { removes: [group], data: [{ name: `${group} and everything in it (databases, Redis caches, Key Vault secrets)` }] };
  }

  /** `down`: deletes the site's resource group and everything in it. */
  async down(): Promise<string[]> {
    await this.arm.deleteGroup(this.settings.names.resourceGroup, this.log, new AbortController().signal);
    return [`resource group ${this.settings.names.resourceGroup}`];
  }

  /** The vault's secrets by lower-cased name, listed once per command (dropped when stepwise writes one). */
  private secretListing: Promise<Map<string, ArmResource>> | undefined;

  private vaultSecrets(signal: AbortSignal): Promise<Map<string, ArmResource>> {
    if (!this.secretListing) {
      const vault = resourceId(this.settings, "Microsoft.KeyVault", "vaults", this.settings.names.keyVault);
      const listing = this.arm.list(`${vault}/secrets`, SECRET_TYPE, signal).then((all) => new Map(all.map((s) => [String(s.name).toLowerCase(), s] as const)));
      this.secretListing = listing;
      // A failed listing (aborted, throttled past the retries) is not kept for the next probe.
      listing.catch(() => {
        if (this.secretListing === listing) this.secretListing = undefined;
      });
    }
    return this.secretListing;
  }

  private secretId(secret: string): string {
    return `${resourceId(this.settings, "Microsoft.KeyVault", "vaults", this.settings.names.keyVault)}/secrets/${this.settings.names.keyVaultSecret(secret)}`;
  }
}
