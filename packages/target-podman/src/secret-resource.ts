import type { TargetCallScope } from "@stepwise/core";
import { podmanErrors } from "./errors.js";
import type { PodmanApi } from "./podman-api.js";
import { LIBPOD, apiFailure, isAlreadyExists } from "./podman-api.js";
import type { SiteNames } from "./naming.js";

/** A file made from a secret's value (e.g. a config line holding it), stored as its own Podman secret. */
export interface DerivedSecret {
  /** Distinguishes the derived secret's Podman name: `<secret>.<suffix>`. */
  suffix: string;
  render(value: string): string;
}

interface SecretEntry {
  ID: string;
  Spec: { Name: string };
}

/**
 * Makes the Podman secret holding the current value of site secret `secret` exist, named
 * after the value's fingerprint (see {@link SiteNames.secret}), and removes older versions.
 * The value goes to Podman only in the request body, never in argv, env or a file.
 *
 * Failure: `SECRET_MISSING` when the secret has no value; Podman API errors otherwise.
 * Older versions are removed after the new one exists, so a crash leaves at worst an
 * unused old version, removed on the next call. Podman (4.3) keeps a copy of secret data
 * in each container that uses it, so removing a version never breaks a running container.
 */
export async function ensurePodmanSecret(
  api: PodmanApi,
  names: SiteNames,
  secret: string,
  scope: Pick<TargetCallScope, "secrets" | "signal">,
  usedBy: string,
  derived?: DerivedSecret,
): Promise<{ podmanName: string; fingerprint: string; created: boolean; replacedOld: boolean }> {
  const fingerprint = scope.secrets.fingerprint(secret);
  const raw = scope.secrets.get(secret);
  if (fingerprint === undefined || raw === undefined || raw === "") throw podmanErrors.secretMissing(secret, usedBy);
  const value = derived ? derived.render(raw) : raw;
  const baseName = derived ? `${secret}.${derived.suffix}` : secret;
  const podmanName = names.secret(baseName, fingerprint);
  let created = false;
  try {
    const existing = await api.requestOrMissing({ method: "GET", path: `${LIBPOD}/secrets/${encodeURIComponent(podmanName)}/json`, signal: scope.signal, what: "inspect secret" });
    if (!existing) {
      try {
        await api.requestRaw({
          method: "POST",
          path: `${LIBPOD}/secrets/create`,
          query: { name: podmanName, driver: "file" },
          data: Buffer.from(value, "utf8"),
          contentType: "application/octet-stream",
          signal: scope.signal,
          what: `create secret ${podmanName}`,
        });
        created = true;
      } catch (error) {
        if (!isAlreadyExists(error)) throw error;
      }
    }
  } catch (error) {
    // The API's message names the secret, never its value (the value is only in the body).
    throw apiFailure(`store secret ${secret} as podman secret ${podmanName}`, error);
  }
  const old = await removeSecretVersions(api, names.secretPrefix(baseName), podmanName, scope.signal);
  return { podmanName, fingerprint, created, replacedOld: old.length > 0 };
}

/** The names of the Podman secrets that start with `prefix`. */
export async function listSecretNames(api: PodmanApi, prefix: string, signal?: AbortSignal): Promise<string[]> {
  try {
    const all = await api.request<SecretEntry[]>({ method: "GET", path: `${LIBPOD}/secrets/json`, signal, what: "list secrets" });
    return (all ?? []).map((entry) => entry.Spec.Name).filter((name) => name.startsWith(prefix));
  } catch (error) {
    throw apiFailure(`list secrets ${prefix}*`, error);
  }
}

/** Removes every Podman secret whose name starts with `prefix`, except `keep`. Returns the names removed. */
export async function removeSecretVersions(api: PodmanApi, prefix: string, keep: string | undefined, signal?: AbortSignal): Promise<string[]> {
  const removed: string[] = [];
  const names = await listSecretNames(api, prefix, signal);
  try {
    for (const name of names) {
      if (name === keep) continue;
      await api.requestOrMissing({ method: "DELETE", path: `${LIBPOD}/secrets/${encodeURIComponent(name)}`, signal, what: `remove secret ${name}` });
      removed.push(name);
    }
  } catch (error) {
    throw apiFailure(`remove old secrets ${prefix}*`, error);
  }
  return removed;
}

/** Whether the Podman secret exists (drift probe for `secret` resources). */
export async function podmanSecretExists(api: PodmanApi, podmanName: string, signal?: AbortSignal): Promise<boolean> {
  try {
    return (await api.requestOrMissing({ method: "GET", path: `${LIBPOD}/secrets/${encodeURIComponent(podmanName)}/json`, signal, what: "inspect secret" })) !== undefined;
  } catch (error) {
    throw apiFailure(`inspect secret ${podmanName}`, error);
  }
}
