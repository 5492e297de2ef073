import type { JobResource, ResourceResult, TargetCallScope } from "@stepwise/core";
import { inspectContainer, removeContainer, startContainer, tailLogs } from "./container-ops.js";
import { assertOwnContainer, prepareContainer } from "./container-resource.js";
import { podmanErrors } from "./errors.js";
import { Label, type SiteNames } from "./naming.js";
import type { PodmanApi } from "./podman-api.js";
import { LIBPOD, apiFailure } from "./podman-api.js";
import { redactSecrets } from "@stepwise/core";
import { resolveServiceImage } from "./service-resource.js";
import type { PodmanSettings } from "./settings.js";

/**
 * A one-shot container that must exit 0 within `timeoutSeconds` (default 600).
 * - A finished run (exit 0) with the same spec hash is kept and reported `unchanged`.
 * - A run with the same hash still going (stepwise died while waiting) is waited for again.
 * - Anything else is removed and run afresh.
 * Failure: `PODMAN_JOB_FAILED` with the last log lines, secret values redacted; the
 * container is kept for `podman logs`. On timeout or abort the container is stopped.
 */
export async function ensureJob(
  api: PodmanApi,
  names: SiteNames,
  settings: PodmanSettings,
  spec: JobResource,
  siteDir: string,
  scope: TargetCallScope,
): Promise<ResourceResult> {
  const image = await resolveServiceImage(api, names, spec, siteDir, scope);
  const prepared = await prepareContainer(
    api,
    names,
    settings,
    { resource: spec.name, kind: "job", image, command: spec.command, env: spec.env, secretEnv: spec.secrets, volumes: spec.volumes, restart: "no", stopTimeout: 10 },
    scope,
  );
  const name = prepared.name;
  const result = (change: ResourceResult["change"]): ResourceResult => ({
    kind: "job",
    name: spec.name,
    id: name,
    specHash: prepared.hash,
    change,
    ...(spec.volumes ? { volumes: Object.keys(spec.volumes).map((key) => names.volume(key)) } : {}),
    outputs: { container: name, exitCode: 0 },
  });

  const existing = await inspectContainer(api, name, scope.signal);
  assertOwnContainer(existing, prepared);
  const sameSpec = existing?.Config.Labels?.[Label.SpecHash] === prepared.hash;
  let change: ResourceResult["change"] = existing ? "replaced" : "created";
  if (sameSpec && existing && !existing.State.Running && existing.State.Status === "exited" && existing.State.ExitCode === 0) return result("unchanged");
  if (!(sameSpec && existing?.State.Running)) {
    if (existing) await removeContainer(api, name, 10, scope.signal);
    try {
      await api.request({ method: "POST", path: `${LIBPOD}/containers/create`, body: prepared.createSpec, signal: scope.signal, what: `create container ${name}` });
    } catch (error) {
      throw apiFailure(`create job container ${name}`, error, `podman rm -f ${name}`);
    }
    scope.log.progress(`running job ${spec.name}`);
    await startContainer(api, name, scope.signal);
  } else {
    scope.log.progress(`job ${spec.name} is still running from an earlier run; waiting for it`);
    change = "created";
  }

  const timeoutSeconds = spec.timeoutSeconds ?? 600;
  const timeout = AbortSignal.timeout(timeoutSeconds * 1000);
  let exitCode: number;
  try {
    const waited = await api.docker.getContainer(name).wait({ condition: "not-running", abortSignal: AbortSignal.any([scope.signal, timeout]) } as never);
    exitCode = Number((waited as unknown as { StatusCode: number }).StatusCode);
  } catch (error) {
    if (scope.signal.aborted || timeout.aborted) {
      await api.request({ method: "POST", path: `${LIBPOD}/containers/${encodeURIComponent(name)}/stop`, query: { timeout: 10 }, what: "stop job" }).catch(() => undefined);
      if (scope.signal.aborted) throw scope.signal.reason;
      const logs = redactSecrets(await tailLogs(api, name, 50), prepared.secretValues);
      throw podmanErrors.jobFailed(name, `did not finish within ${timeoutSeconds}s and was stopped`, logs);
    }
    throw apiFailure(`wait for job container ${name}`, error);
  }
  if (exitCode !== 0) {
    const logs = redactSecrets(await tailLogs(api, name, 50), prepared.secretValues);
    throw podmanErrors.jobFailed(name, `exited with code ${exitCode}`, logs);
  }
  return result(change);
}
