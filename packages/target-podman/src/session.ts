import { PassThrough, Readable } from "node:stream";
import type {
  DownPreview,
  DriftReport,
  RemoveOptions,
  RemoveResult,
  ResourceRef,
  ResourceResult,
  ResourceSpec,
  ServiceStatus,
  StepLogger,
  TargetCallScope,
  TargetInventoryEntry,
  TargetRemoveScope,
  TargetSession,
} from "@stepwise/core";
import { podmanErrors } from "./errors.js";
import { demuxLogBuffer, inspectContainer, isImageMountRace, listContainers, removeContainer, startContainer } from "./container-ops.js";
import { changedBases } from "./images.js";
import { ensureJob } from "./job-resource.js";
import { Label, type SiteNames } from "./naming.js";
import type { PodmanApi } from "./podman-api.js";
import { LIBPOD, apiFailure } from "./podman-api.js";
import { ensurePostgres } from "./postgres-resource.js";
import { ensureRedis } from "./redis-resource.js";
import { removeResource, siteInventory } from "./remove-resource.js";
import { ensurePodmanSecret, listSecretNames, podmanSecretExists, removeSecretVersions } from "./secret-resource.js";
import { ensureService } from "./service-resource.js";
import type { PodmanSettings } from "./settings.js";
import { listSiteVolumes, networkId, volumeSizes } from "./site-objects.js";
import { specHash } from "./spec-hash.js";
import { exportVolumes, importVolumes } from "./volume-archive.js";

/** Kinds whose container should keep running; a stopped one is drift. */
const LONG_RUNNING = new Set(["service", "postgres", "redis"]);

/**
 * A live connection to one Podman service for one site. Every object it creates is named
 * `stepwise-<site>-...` and labelled with the site, the resource and a spec hash.
 */
export class PodmanSession implements TargetSession {
  readonly api: PodmanApi;
  readonly names: SiteNames;
  readonly settings: PodmanSettings;
  readonly siteDir: string;
  readonly log: StepLogger;
  readonly signal: AbortSignal;

  constructor(options: { api: PodmanApi; names: SiteNames; settings: PodmanSettings; siteDir: string; log: StepLogger; signal: AbortSignal }) {
    this.api = options.api;
    this.names = options.names;
    this.settings = options.settings;
    this.siteDir = options.siteDir;
    this.log = options.log;
    this.signal = options.signal;
  }

  /**
   * Makes `spec` exist as specified. Idempotent: a spec whose hash (the canonical create spec,
   * image id and secret fingerprints) matches what runs changes nothing (`unchanged`); a
   * changed one replaces only that container (`replaced`). If it throws, whatever it made
   * is labelled and the next call converges from there without duplicates.
   */
  async ensure(spec: ResourceSpec, scope: TargetCallScope): Promise<ResourceResult> {
    scope.signal.throwIfAborted();
    switch (spec.kind) {
      case "service":
        return ensureService(this.api, this.names, this.settings, spec, this.siteDir, scope);
      case "job":
        return ensureJob(this.api, this.names, this.settings, spec, this.siteDir, scope);
      case "postgres":
        return ensurePostgres(this.api, this.names, this.settings, spec, scope);
      case "redis":
        return ensureRedis(this.api, this.names, this.settings, spec, scope);
      case "secret": {
        const ensured = await ensurePodmanSecret(this.api, this.names, spec.name, scope, scope.step);
        return {
          kind: "secret",
          name: spec.name,
          id: ensured.podmanName,
          specHash: specHash({ kind: "secret", name: spec.name, fingerprint: ensured.fingerprint }),
          change: ensured.created ? (ensured.replacedOld ? "replaced" : "created") : "unchanged",
          outputs: { secret: { secret: spec.name }, podmanSecret: ensured.podmanName },
        };
      }
      default:
        throw podmanErrors.kindUnsupported((spec as { kind: string }).kind);
    }
  }

  /**
   * Drift probe; changes nothing. A long-running container that is gone, stopped or carries
   * another spec hash is drift; a job's container being gone is not (the job has run).
   */
  async probe(result: ResourceResult, scope: TargetCallScope): Promise<DriftReport | void> {
    if (result.kind === "secret") {
      if (!(await podmanSecretExists(this.api, result.id, scope.signal))) return { reason: `podman secret ${result.id} is gone` };
      return;
    }
    if (result.kind === "job") return;
    const state = await inspectContainer(this.api, result.id, scope.signal);
    if (!state) return { reason: `container ${result.id} is gone` };
    if (LONG_RUNNING.has(result.kind) && !state.State.Running) {
      return { reason: `container ${result.id} is ${state.State.Status} (exit code ${state.State.ExitCode})` };
    }
    if (state.Config.Labels?.[Label.SpecHash] !== result.specHash) return { reason: `container ${result.id} was changed outside stepwise` };
    const bases = result.outputs?.baseImages;
    if (bases && typeof bases === "object" && !Array.isArray(bases)) {
      const changed = await changedBases(this.api, bases as Record<string, string>, scope.signal);
      if (changed.length > 0) return { reason: `base image ${changed.join(", ")} of ${result.id} changed since it was built` };
    }
  }

  /** One entry per container of the site (services, databases, jobs), sorted by name. */
  async status(): Promise<ServiceStatus[]> {
    const containers = await listContainers(this.api, [`${Label.Site}=${this.names.site}`], this.signal);
    const out: ServiceStatus[] = [];
    for (const c of containers) {
      const kind = c.Labels?.[Label.Kind];
      if (kind === "helper") continue;
      const info = await inspectContainer(this.api, c.Names[0] ?? c.Id, this.signal);
      out.push({
        name: c.Labels?.[Label.Resource] ?? c.Names[0] ?? c.Id,
        kind: (kind ?? "service") as ServiceStatus["kind"],
        state: info?.State.Status ?? c.State,
        ...(info?.State.Health?.Status ? { health: info.State.Health.Status } : {}),
        image: info?.ImageName ?? c.Image,
        ...(info?.State.StartedAt && !info.State.StartedAt.startsWith("0001") ? { startedAt: new Date(info.State.StartedAt).toISOString() } : {}),
        ports: (c.Ports ?? []).map((p) => `${p.host_ip || "0.0.0.0"}:${p.host_port}->${p.container_port}/${p.protocol}`),
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Restarts the long-running containers of the site, or only `service`. Returns the
   * container names restarted. Throws `USAGE` for an unknown service name.
   */
  async restart(service?: string): Promise<string[]> {
    const containers = (await listContainers(this.api, [`${Label.Site}=${this.names.site}`], this.signal)).filter((c) =>
      LONG_RUNNING.has(c.Labels?.[Label.Kind] ?? ""),
    );
    const chosen = service === undefined ? containers : containers.filter((c) => c.Labels?.[Label.Resource] === service);
    if (service !== undefined && chosen.length === 0) {
      throw podmanErrors.serviceNotRunning(service, this.names.site);
    }
    const restarted: string[] = [];
    for (const c of chosen) {
      const name = c.Names[0] ?? c.Id;
      try {
        await this.api.request({ method: "POST", path: `${LIBPOD}/containers/${encodeURIComponent(name)}/restart`, query: { t: 10 }, signal: this.signal, what: `restart ${name}` });
      } catch (error) {
        // Stopped, then the start lost Podman 4.3's image-mount race: start it the way deploy does, with retries.
        if (isImageMountRace(error)) await startContainer(this.api, name, this.signal);
        else throw apiFailure(`restart container ${name}`, error, `podman restart ${name}`);
      }
      restarted.push(name);
    }
    return restarted;
  }

  /**
   * The stdout+stderr of a service's container as one text stream. With `follow`, the stream
   * stays open until the container stops or `signal` aborts (then it ends cleanly).
   */
  async logs(service: string, options: { follow: boolean; tail?: number; signal: AbortSignal }): Promise<NodeJS.ReadableStream> {
    const name = this.names.container(service);
    const state = await inspectContainer(this.api, name, options.signal);
    if (!state) throw podmanErrors.containerNotFound(name, service);
    const container = this.api.docker.getContainer(name);
    const query = { stdout: true, stderr: true, ...(options.tail !== undefined ? { tail: options.tail } : {}) };
    if (!options.follow) {
      const raw = (await container.logs({ ...query, follow: false, abortSignal: options.signal } as never)) as unknown as Buffer;
      return Readable.from([demuxLogBuffer(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)))]);
    }
    // Podman sends the response headers of a followed log only with the first line, so the
    // stream is returned at once and connected when (if) the response arrives.
    const out = new PassThrough();
    let upstream: Readable | undefined;
    const finish = () => {
      upstream?.destroy();
      if (!out.writableEnded) out.end();
    };
    if (options.signal.aborted) {
      finish();
      return out;
    }
    options.signal.addEventListener("abort", finish, { once: true });
    (container.logs({ ...query, follow: true, abortSignal: options.signal } as never) as unknown as Promise<Readable>).then(
      (stream) => {
        upstream = stream;
        if (options.signal.aborted) return finish();
        this.api.docker.modem.demuxStream(stream, out, out);
        stream.on("end", finish);
        stream.on("error", finish);
      },
      (error: unknown) => {
        if (options.signal.aborted) return finish();
        out.destroy(apiFailure(`read logs of ${name}`, error));
      },
    );
    return out;
  }

  /**
   * Removes the site's containers (graceful stop first), network and Podman secrets, and,
   * with `volumes`, its volumes. Returns what was removed (`container NAME`, ...). Safe to
   * repeat; objects already gone are skipped. Built images are kept as a cache.
   */
  async down(options: { volumes: boolean }): Promise<string[]> {
    const removed: string[] = [];
    const containers = await listContainers(this.api, [`${Label.Site}=${this.names.site}`], this.signal);
    for (const c of containers) {
      const name = c.Names[0] ?? c.Id;
      await removeContainer(this.api, name, 10, this.signal);
      removed.push(`container ${name}`);
    }
    for (const secret of await removeSecretVersions(this.api, `${this.names.prefix}-secret-`, undefined, this.signal)) removed.push(`secret ${secret}`);
    const network = await this.api.requestOrMissing({ method: "DELETE", path: `${LIBPOD}/networks/${encodeURIComponent(this.names.network)}`, signal: this.signal, what: "remove network" }).catch((error) => {
      throw apiFailure(`remove network ${this.names.network}`, error, `podman network rm ${this.names.network}`);
    });
    if (network !== undefined) removed.push(`network ${this.names.network}`);
    if (options.volumes) {
      for (const v of await listSiteVolumes(this.api, this.names, this.signal)) {
        try {
          await this.api.requestOrMissing({ method: "DELETE", path: `${LIBPOD}/volumes/${encodeURIComponent(v.Name)}`, signal: this.signal, what: "remove volume" });
        } catch (error) {
          throw apiFailure(`remove volume ${v.Name}`, error, `podman volume rm -f ${v.Name}`);
        }
        removed.push(`volume ${v.Name}`);
      }
    }
    return removed;
  }

  /** What {@link down} would remove, in its words; the volumes (with their sizes) are the data. */
  async describeDown(options: { volumes: boolean }): Promise<DownPreview> {
    const containers = await listContainers(this.api, [`${Label.Site}=${this.names.site}`], this.signal);
    const removes = containers.map((c) => `container ${c.Names[0] ?? c.Id}`);
    for (const secret of await listSecretNames(this.api, `${this.names.prefix}-secret-`, this.signal)) removes.push(`secret ${secret}`);
    if ((await networkId(this.api, this.names, this.signal)) !== undefined) removes.push(`network ${this.names.network}`);
    if (!options.volumes) return { removes, data: [] };
    const volumes = await listSiteVolumes(this.api, this.names, this.signal);
    const sizes = volumes.length ? await volumeSizes(this.api, this.signal) : new Map<string, number>();
    for (const v of volumes) removes.push(`volume ${v.Name}`);
    return { removes, data: volumes.map((v) => ({ name: `volume ${v.Name}`, bytes: sizes.get(v.Name) })) };
  }

  /** See {@link siteInventory}: the site's resource containers, by label, with step and volumes. */
  inventory(options: { signal: AbortSignal }): Promise<TargetInventoryEntry[]> {
    return siteInventory(this.api, this.names, options.signal);
  }

  /** See {@link removeResource}: the container, the secrets only it used, its volumes when asked. */
  remove(ref: ResourceRef, options: RemoveOptions, scope: TargetRemoveScope): Promise<RemoveResult> {
    scope.signal.throwIfAborted();
    scope.log.progress(`removing ${ref.kind} ${ref.name} (${ref.id})`);
    return removeResource(this.api, this.names, ref, options, scope.signal);
  }

  /** See {@link exportVolumes}: one `<volume>.tar` per site volume in `directory`. */
  exportVolumes(directory: string): Promise<string[]> {
    return exportVolumes({ api: this.api, names: this.names, settings: this.settings, log: this.log, signal: this.signal }, directory);
  }

  /** See {@link importVolumes}: restores each `stepwise-<site>-*.tar` of `directory`. */
  importVolumes(directory: string): Promise<string[]> {
    return importVolumes({ api: this.api, names: this.names, settings: this.settings, log: this.log, signal: this.signal }, directory);
  }

  /** Nothing to release: the HTTP client keeps no open connections between calls. */
  async close(): Promise<void> {}
}
