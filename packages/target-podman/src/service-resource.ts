import type { JobResource, ResourceResult, ServiceResource, TargetCallScope } from "@stepwise/core";
import { podmanErrors } from "./errors.js";
import { ensureBuiltImage, ensureImage, type ResolvedImage } from "./images.js";
import type { SiteNames } from "./naming.js";
import type { PodmanApi } from "./podman-api.js";
import { convergeContainer, prepareContainer, publishedPorts, waitServiceReady, type PreparedContainer } from "./container-resource.js";
import type { PodmanSettings } from "./settings.js";

/** The image of a service or job: built from `build` (tag from its context hash) or `image`, pulled when absent. */
export async function resolveServiceImage(
  api: PodmanApi,
  names: SiteNames,
  spec: Pick<ServiceResource | JobResource, "name" | "image" | "build">,
  siteDir: string,
  scope: TargetCallScope,
): Promise<ResolvedImage> {
  if (spec.build) return ensureBuiltImage(api, names, spec.name, spec.build, siteDir, scope);
  if (spec.image) return ensureImage(api, spec.image, scope);
  throw podmanErrors.specInvalid(spec.name, "needs either image or build");
}

/**
 * The create spec and spec hash of a service, with its shared objects (network, volumes,
 * secrets) in place; the container itself is untouched. {@link ensureService} converges on it.
 */
export async function prepareService(
  api: PodmanApi,
  names: SiteNames,
  settings: PodmanSettings,
  spec: ServiceResource,
  siteDir: string,
  scope: TargetCallScope,
): Promise<{ image: ResolvedImage; prepared: PreparedContainer }> {
  const image = await resolveServiceImage(api, names, spec, siteDir, scope);
  const prepared = await prepareContainer(
    api,
    names,
    settings,
    {
      resource: spec.name,
      kind: "service",
      image,
      command: spec.command,
      env: spec.env,
      secretEnv: spec.secrets,
      ports: spec.ports,
      healthcheck: spec.healthcheck,
      restart: spec.restart ?? "always",
      volumes: spec.volumes,
      stopTimeout: 10,
    },
    scope,
  );
  return { image, prepared };
}

/**
 * A long-running container on the site network, reachable by its name. Ports publish on the
 * configured bind address (127.0.0.1 by default; a random host port when none is given).
 * Secrets become env vars through the helper shim and never appear in `podman inspect`.
 * Returns `unchanged` without touching a running container whose spec hash matches.
 */
export async function ensureService(
  api: PodmanApi,
  names: SiteNames,
  settings: PodmanSettings,
  spec: ServiceResource,
  siteDir: string,
  scope: TargetCallScope,
): Promise<ResourceResult> {
  const { image, prepared } = await prepareService(api, names, settings, spec, siteDir, scope);
  const converged = await convergeContainer(api, prepared, 10, scope, (container) =>
    waitServiceReady(api, container, spec.healthcheck, prepared.secretValues, scope.signal),
  );
  return {
    kind: "service",
    name: spec.name,
    id: prepared.name,
    specHash: prepared.hash,
    change: converged.change,
    ...(spec.volumes ? { volumes: Object.keys(spec.volumes).map((key) => names.volume(key)) } : {}),
    outputs: {
      host: prepared.name,
      container: prepared.name,
      network: names.network,
      image: image.ref,
      imageId: image.id,
      ...(image.bases ? { baseImages: image.bases } : {}),
      ports: publishedPorts(converged.inspect).map((p) => ({ container: p.container, host: p.host, hostIp: p.hostIp })),
    },
  };
}
