import { createHash } from "node:crypto";

/** Label keys put on everything this target creates. */
export const Label = {
  Site: "dev.stepwise.site",
  Resource: "dev.stepwise.resource",
  Kind: "dev.stepwise.kind",
  SpecHash: "dev.stepwise.spec-hash",
  ManagedBy: "dev.stepwise.managed-by",
  /** The step whose `ensure` made the object, so a removal finds it when the step is gone. */
  Step: "dev.stepwise.step",
} as const;

/** Podman object names allow `[a-zA-Z0-9][a-zA-Z0-9_.-]*`; anything else becomes `-`. */
export function podmanSafeName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_.-]/g, "-").replace(/^[^a-zA-Z0-9]+/, "");
  return cleaned.length > 0 ? cleaned : "x";
}

/** The names of what one site owns in Podman. All share the `stepwise-<site>` prefix. */
export class SiteNames {
  readonly site: string;
  readonly prefix: string;

  constructor(site: string) {
    this.site = site;
    this.prefix = `stepwise-${podmanSafeName(site)}`;
  }

  /** The site's network; also the prefix of everything else. */
  get network(): string {
    return this.prefix;
  }

  /** Container of a resource: `stepwise-<site>-<name>`. */
  container(resource: string): string {
    return `${this.prefix}-${podmanSafeName(resource)}`;
  }

  /** A named volume: `stepwise-<site>-<volume>`. */
  volume(volume: string): string {
    return `${this.prefix}-${podmanSafeName(volume)}`;
  }

  /**
   * A Podman secret holding one version of a site secret. The suffix derives from the
   * secret's fingerprint (an HMAC that reveals nothing), so a rotated value gets a new
   * Podman secret and the containers that use it are replaced.
   */
  secret(secret: string, fingerprint: string): string {
    const version = createHash("sha256").update(fingerprint).digest("hex").slice(0, 12);
    return `${this.secretPrefix(secret)}${version}`;
  }

  /** Prefix shared by every version of a site secret's Podman secrets. */
  secretPrefix(secret: string): string {
    return `${this.prefix}-secret-${podmanSafeName(secret)}-`;
  }

  /** Tag of an image built from a context: `localhost/stepwise-<site>/<name>:<context hash>`. */
  builtImage(resource: string, contextHash: string): string {
    return `localhost/${this.prefix.toLowerCase()}/${podmanSafeName(resource).toLowerCase()}:${contextHash.slice(0, 16)}`;
  }

  /** Labels of an object made for `resource` of `kind`. */
  labels(resource: string, kind: string, specHash?: string): Record<string, string> {
    const labels: Record<string, string> = {
      [Label.Site]: this.site,
      [Label.Resource]: resource,
      [Label.Kind]: kind,
      [Label.ManagedBy]: "stepwise",
    };
    if (specHash !== undefined) labels[Label.SpecHash] = specHash;
    return labels;
  }

  /** A Podman list filter selecting everything labelled for this site. */
  get siteFilter(): Record<string, string[]> {
    return { label: [`${Label.Site}=${this.site}`] };
  }
}
