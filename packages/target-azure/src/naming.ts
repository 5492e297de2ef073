import { createHash } from "node:crypto";

/** Tag keys put on everything this target creates (ARM tag names may not contain `<>%&\?/`). */
export const Tag = {
  Site: "stepwise-site",
  Step: "stepwise-step",
  /** Container Apps and jobs: the site resource (service or job name) they realise; `status` and `restart` go by it. */
  Resource: "stepwise-resource",
  /** Hash of the body stepwise PUT (tags aside): a different value means it was changed outside stepwise. */
  Spec: "stepwise-spec",
  /** Key Vault secrets: a hash of the value's HMAC fingerprint (reveals nothing about the value). */
  Fingerprint: "stepwise-fingerprint",
  /**
   * Key Vault secrets whose value Azure issued (a Redis access key), naming the kind that stores
   * it: the site's own value of that secret is never written over it.
   */
  IssuedBy: "stepwise-issued-by",
  /** Container Apps: a hash of the versions of the Key Vault secrets it reads (a change restarts it). */
  Secrets: "stepwise-secrets",
} as const;

const short = (text: string, length = 6) => createHash("sha256").update(text).digest("hex").slice(0, length);

/**
 * Names of what one site owns in Azure, derived from the site name within each resource's naming
 * rules, each overridable. Globally unique names (registry, key vault) carry a hash of the
 * subscription and site so two sites, or one site in two subscriptions, never collide.
 */
export class AzureNames {
  readonly resourceGroup: string;
  readonly workspace: string;
  readonly appInsights: string;
  readonly containerAppsEnvironment: string;
  readonly registry: string;
  readonly keyVault: string;
  readonly identity: string;
  /** Hash of subscription and site: keeps globally unique names of two sites apart. */
  private readonly unique: string;

  constructor(
    readonly site: string,
    subscription: string,
    overrides: { resourceGroup?: string; workspace?: string; registry?: string; keyVault?: string } = {},
  ) {
    const unique = short(`${subscription.toLowerCase()}/${site}`);
    this.unique = unique;
    const words = site.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+/g, "-").replace(/^-|-$/g, "") || "site";
    const alnum = words.replace(/-/g, "");
    // Resource group: 1-90 of [-\w._()], not ending in a period.
    this.resourceGroup = overrides.resourceGroup ?? `rg-stepwise-${words}`.slice(0, 90);
    // Workspace: 4-63 letters, digits, hyphens; starts and ends alphanumeric.
    this.workspace = overrides.workspace ?? `log-stepwise-${words}`.slice(0, 63).replace(/-+$/, "");
    this.appInsights = `appi-stepwise-${words}`.slice(0, 255);
    // Container Apps environment: 2-60 lowercase letters, digits, hyphens; starts with a letter, ends alphanumeric.
    this.containerAppsEnvironment = `cae-stepwise-${words}`.slice(0, 60).replace(/-+$/, "");
    // Registry: 5-50 letters and digits, globally unique.
    this.registry = overrides.registry ?? `crstepwise${alnum.slice(0, 34)}${unique}`;
    // Key Vault: 3-24 letters, digits, hyphens; starts with a letter; no "--"; globally unique.
    this.keyVault = overrides.keyVault ?? `kv-${words.slice(0, 14).replace(/-+$/, "")}-${unique}`;
    // User-assigned identity: 3-128 letters, digits, hyphens, underscores; starts alphanumeric.
    this.identity = `id-stepwise-${words}`.slice(0, 128);
  }

  /**
   * A PostgreSQL flexible server for the site's resource `resource` (3-63 lowercase letters,
   * digits, hyphens; globally unique: it is the host name `<name>.postgres.database.azure.com`).
   */
  postgresServer(resource: string): string {
    const words = (text: string) => text.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+/g, "-").replace(/^-|-$/g, "");
    return `psql-${words(this.site).slice(0, 24).replace(/-+$/, "") || "site"}-${words(resource).slice(0, 24).replace(/-+$/, "") || "db"}-${this.unique}`;
  }

  /**
   * An Azure Cache for Redis for the site's resource `resource` (1-63 letters, digits and single
   * hyphens, starting and ending alphanumeric; globally unique: it is the host name
   * `<name>.redis.cache.windows.net`).
   */
  redisCache(resource: string): string {
    const words = (text: string) => text.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+/g, "-").replace(/^-|-$/g, "");
    return `redis-${words(this.site).slice(0, 24).replace(/-+$/, "") || "site"}-${words(resource).slice(0, 24).replace(/-+$/, "") || "cache"}-${this.unique}`;
  }

  /**
   * A Container App for the site's service `service` (2-32 lowercase letters, digits and single
   * hyphens, starting with a letter; unique in the site's resource group). A name that had to be
   * changed or cut carries a hash of the original, so two services never share an app.
   */
  containerApp(service: string): string {
    const cleaned = service.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
    const name = /^[a-z]/.test(cleaned) ? cleaned : `ca-${cleaned}`.replace(/-$/, "");
    if (name === service && name.length <= 32) return name;
    return `${name.slice(0, 25).replace(/-+$/, "")}-${short(service)}`;
  }

  /** Id of the site's resource group in `subscription`. */
  groupId(subscription: string): string {
    return `/subscriptions/${subscription}/resourceGroups/${this.resourceGroup}`;
  }

  /**
   * Key Vault secret names allow only letters, digits and `-` (1-127): `db_password` becomes
   * `db-password-<hash>`; the hash of the original name keeps `a_b` and `a-b` apart.
   */
  keyVaultSecret(secret: string): string {
    const cleaned = secret.replace(/[^a-zA-Z0-9-]/g, "-");
    return cleaned === secret ? secret.slice(0, 127) : `${cleaned.slice(0, 120)}-${short(secret)}`;
  }

  /** Tags for an object the step `step` made. */
  tags(step: string, spec?: string): Record<string, string> {
    const tags: Record<string, string> = { [Tag.Site]: this.site, [Tag.Step]: step };
    if (spec !== undefined) tags[Tag.Spec] = spec;
    return tags;
  }
}
