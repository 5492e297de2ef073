import type { RemoveOptions, RemoveResult, ResourceKind, ResourceRef, TargetInventoryEntry } from "@stepwise/core";
import { inspectContainer, listContainers, removeContainer, type ContainerInspect } from "./container-ops.js";
import { HELPER_MOUNT } from "./container-resource.js";
import { Label, type SiteNames } from "./naming.js";
import type { PodmanApi } from "./podman-api.js";
import { LIBPOD, PodmanApiError, apiFailure } from "./podman-api.js";

/** Kinds of container a step's `ensure` makes (not the network, volumes or backup helpers). */
const RESOURCE_KINDS: ReadonlySet<string> = new Set<ResourceKind>(["service", "job", "postgres", "redis"]);

/** Named volumes a container mounts. */
const mountedVolumes = (info: ContainerInspect | undefined) => (info?.Mounts ?? []).filter((m) => m.Type === "volume" && m.Name).map((m) => m.Name!);

/**
 * The containers a step's `ensure` made for the site, found by label, with their step (when
 * labelled with one) and the named volumes they mount. One list request, plus an inspect of
 * each container that mounts something besides the secrets helper (the list gives only
 * mount paths).
 */
export async function siteInventory(api: PodmanApi, names: SiteNames, signal?: AbortSignal): Promise<TargetInventoryEntry[]> {
  const containers = (await listContainers(api, [`${Label.Site}=${names.site}`], signal)).filter((c) => RESOURCE_KINDS.has(c.Labels?.[Label.Kind] ?? ""));
  return Promise.all(
    containers.map(async (c) => {
      const id = c.Names[0] ?? c.Id;
      const labels = c.Labels ?? {};
      // The helper image's mount is no volume: a container with only that is not inspected.
      const volumes = (c.Mounts ?? []).some((m) => m !== HELPER_MOUNT) ? mountedVolumes(await inspectContainer(api, id, signal)) : [];
      return {
        kind: labels[Label.Kind] as ResourceKind,
        name: labels[Label.Resource] ?? id,
        id,
        ...(labels[Label.Step] ? { step: labels[Label.Step] } : {}),
        ...(volumes.length ? { volumes } : {}),
      };
    }),
  );
}

/**
 * Removes a resource's container (graceful stop first), then the Podman secrets it used that
 * no other container of the site uses, then, with `options.volumes`, its data volumes that no
 * other container mounts. Idempotent: what is gone is skipped. A container of that name the
 * site did not make is left alone. Each object is removed only after the one before it, and a
 * failure throws: the engine keeps the step's record and the next run picks up from there.
 */
export async function removeResource(api: PodmanApi, names: SiteNames, ref: ResourceRef, options: RemoveOptions, signal?: AbortSignal): Promise<RemoveResult> {
  const result: RemoveResult = { removed: [], kept: [] };
  const others = async (except: string) => {
    const all = await listContainers(api, [`${Label.Site}=${names.site}`], signal);
    const rest = all.map((c) => c.Names[0] ?? c.Id).filter((name) => name !== except);
    return (await Promise.all(rest.map((name) => inspectContainer(api, name, signal)))).filter((info) => info !== undefined);
  };

  if (ref.kind === "secret") {
    const users = (await others("")).filter((info) => (info.Config.Secrets ?? []).some((s) => s.Name === ref.id));
    if (users.length > 0) result.kept.push(`secret ${ref.id} (used by ${users.map((u) => u.Name.replace(/^\//, "")).join(", ")})`);
    else if (await removeSecret(api, ref.id, signal)) result.removed.push(`secret ${ref.id}`);
    return result;
  }

  const container = ref.id;
  const info = await inspectContainer(api, container, signal);
  const labels = info?.Config.Labels ?? {};
  const ours = info !== undefined && labels[Label.Site] === names.site && labels[Label.Resource] === ref.name;
  if (info && !ours) result.kept.push(`container ${container} (not made for ${ref.kind} ${ref.name} of this site; left alone)`);
  const secrets = ours ? (info.Config.Secrets ?? []).map((s) => s.Name).filter((name) => name.startsWith(`${names.prefix}-secret-`)) : [];
  const volumes = [...new Set([...(ref.volumes ?? []), ...(ours ? mountedVolumes(info) : [])])];
  if (ours) {
    await removeContainer(api, container, 10, signal);
    result.removed.push(`container ${container}`);
  }

  const remaining = secrets.length > 0 || (options.volumes && volumes.length > 0) ? await others(container) : [];
  for (const secret of secrets) {
    if (remaining.some((other) => (other.Config.Secrets ?? []).some((s) => s.Name === secret))) continue;
    if (await removeSecret(api, secret, signal)) result.removed.push(`secret ${secret}`);
  }
  for (const volume of volumes) {
    if (!options.volumes) {
      result.kept.push(`volume ${volume} (data kept; --prune-volumes deletes it)`);
      continue;
    }
    const users = remaining.filter((other) => mountedVolumes(other).includes(volume));
    if (users.length > 0) {
      result.kept.push(`volume ${volume} (used by ${users.map((u) => u.Name.replace(/^\//, "")).join(", ")})`);
      continue;
    }
    if (await deleteObject(api, "volumes", volume, signal)) result.removed.push(`volume ${volume}`);
  }
  return result;
}

const removeSecret = (api: PodmanApi, name: string, signal?: AbortSignal) => deleteObject(api, "secrets", name, signal);

/** Deletes a Podman volume or secret; false when it was already gone (a DELETE answers 204 either way otherwise). */
async function deleteObject(api: PodmanApi, collection: "volumes" | "secrets", name: string, signal?: AbortSignal): Promise<boolean> {
  const what = `remove ${collection === "volumes" ? "volume" : "secret"} ${name}`;
  try {
    await api.request({ method: "DELETE", path: `${LIBPOD}/${collection}/${encodeURIComponent(name)}`, signal, what });
    return true;
  } catch (error) {
    if (error instanceof PodmanApiError && error.statusCode === 404) return false;
    throw apiFailure(what, error, `podman ${collection === "volumes" ? "volume" : "secret"} rm ${name}`);
  }
}
