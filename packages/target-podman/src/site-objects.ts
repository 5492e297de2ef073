import type { PodmanApi } from "./podman-api.js";
import { LIBPOD, apiFailure, isAlreadyExists } from "./podman-api.js";
import type { SiteNames } from "./naming.js";

/**
 * Creates the site's network `stepwise-<site>` (bridge, DNS on, so containers reach each
 * other by container name and alias) unless it exists. Safe to call concurrently.
 */
export async function ensureNetwork(api: PodmanApi, names: SiteNames, signal?: AbortSignal): Promise<{ name: string; id: string | undefined; created: boolean }> {
  const name = names.network;
  try {
    const existing = await networkId(api, names, signal);
    if (existing !== undefined) return { name, id: existing, created: false };
    const created = await api.request<{ id?: string }>({
      method: "POST",
      path: `${LIBPOD}/networks/create`,
      body: { name, driver: "bridge", dns_enabled: true, labels: names.labels("network", "network") },
      signal,
      what: `create network ${name}`,
    });
    return { name, id: created?.id, created: true };
  } catch (error) {
    if (isAlreadyExists(error)) return { name, id: await networkId(api, names, signal), created: false };
    throw apiFailure(`create network ${name}`, error, `podman network create ${name}`);
  }
}

/**
 * The id of the site's network, `undefined` when it does not exist. The id is the engine's
 * own: the same network name on another Podman engine (or recreated) has another id.
 */
export async function networkId(api: PodmanApi, names: SiteNames, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const network = await api.requestOrMissing<{ id?: string }>({ method: "GET", path: `${LIBPOD}/networks/${encodeURIComponent(names.network)}/json`, signal, what: "inspect network" });
    return network === undefined ? undefined : (network.id ?? "");
  } catch (error) {
    throw apiFailure(`inspect network ${names.network}`, error);
  }
}

/** Creates the named volume `stepwise-<site>-<volume>` unless it exists. Safe to call concurrently. */
export async function ensureVolume(api: PodmanApi, names: SiteNames, volume: string, signal?: AbortSignal): Promise<string> {
  const name = names.volume(volume);
  try {
    const existing = await api.requestOrMissing({ method: "GET", path: `${LIBPOD}/volumes/${encodeURIComponent(name)}/json`, signal, what: `inspect volume ${name}` });
    if (existing) return name;
    await api.request({ method: "POST", path: `${LIBPOD}/volumes/create`, body: { Name: name, Label: names.labels(volume, "volume") }, signal, what: `create volume ${name}` });
    return name;
  } catch (error) {
    if (isAlreadyExists(error)) return name;
    throw apiFailure(`create volume ${name}`, error, `podman volume create ${name}`);
  }
}

export interface VolumeEntry {
  Name: string;
  Labels?: Record<string, string> | null;
}

/** The site's volumes (by label), sorted by name. */
export async function listSiteVolumes(api: PodmanApi, names: SiteNames, signal?: AbortSignal): Promise<VolumeEntry[]> {
  try {
    const volumes = await api.request<VolumeEntry[]>({ method: "GET", path: `${LIBPOD}/volumes/json`, query: { filters: names.siteFilter }, signal, what: "list volumes" });
    return (volumes ?? []).sort((a, b) => a.Name.localeCompare(b.Name));
  } catch (error) {
    throw apiFailure("list volumes", error);
  }
}

/**
 * Bytes each volume holds, by name (`podman system df`); empty when Podman cannot say, since
 * a size only informs the question `down --volumes` asks.
 */
export async function volumeSizes(api: PodmanApi, signal?: AbortSignal): Promise<Map<string, number>> {
  try {
    const df = await api.request<{ Volumes?: { VolumeName: string; Size?: number }[] | null }>({ method: "GET", path: `${LIBPOD}/system/df`, signal, what: "disk usage" });
    return new Map((df?.Volumes ?? []).filter((v) => typeof v.Size === "number").map((v) => [v.VolumeName, v.Size!]));
  } catch {
    return new Map();
  }
}
