import type { HealthCheckSpec, PortSpec, ResourceKind, TargetCallScope } from "@stepwise/core";
import {
  inspectContainer,
  removeContainer,
  startContainer,
  sleep,
  tailLogs,
  type ContainerInspect,
} from "./container-ops.js";
import { podmanErrors } from "./errors.js";
import { ensureImage, type ResolvedImage } from "./images.js";
import { Label, podmanSafeName, type SiteNames } from "./naming.js";
import type { PodmanApi } from "./podman-api.js";
import { LIBPOD, apiFailure } from "./podman-api.js";
import { redactSecrets } from "@stepwise/core";
import { ensurePodmanSecret, type DerivedSecret } from "./secret-resource.js";
import type { PodmanSettings } from "./settings.js";
import { ensureNetwork, ensureVolume } from "./site-objects.js";
import { specHash } from "./spec-hash.js";

/** Where the helper image is mounted (read-only) in containers that get secrets as env vars. */
export const HELPER_MOUNT = "/.stepwise-helper";

/**
 * Runs in the helper's busybox before the image's own entrypoint: exports each
 * `VAR=file` pair of STEPWISE_SECRET_ENV as VAR=<contents of /run/secrets/file>, then execs
 * the original command. A constant: no value is ever interpolated into it.
 */
const SECRET_ENV_SHIM =
  'for m in $STEPWISE_SECRET_ENV; do v="${m%%=*}"; f="${m#*=}"; val="$(cat "/run/secrets/$f")" || exit 111; export "$v=$val"; done; unset STEPWISE_SECRET_ENV; exec "$@"';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A container this target should run, before names, secrets and images are resolved. */
export interface ContainerPlan {
  resource: string;
  kind: ResourceKind;
  image: ResolvedImage;
  command?: readonly string[];
  env?: Readonly<Record<string, string>>;
  /** Env var -> site secret name; exposed through the helper shim, never through Config.Env. */
  secretEnv?: Readonly<Record<string, string>>;
  /** Site secrets mounted as files at /run/secrets/<name> only. */
  secretFiles?: readonly string[];
  /** Files made from secret values, mounted at /run/secrets/<target>, readable by all users of the container. */
  derivedSecretFiles?: readonly { secret: string; target: string; derived: DerivedSecret }[];
  ports?: readonly PortSpec[];
  healthcheck?: HealthCheckSpec;
  restart: "always" | "on-failure" | "no";
  /** Volume key -> mount path; volumes are `stepwise-<site>-<key>`. */
  volumes?: Readonly<Record<string, string>>;
  /** Seconds a stop waits before SIGKILL. */
  stopTimeout: number;
}

export interface PreparedContainer {
  name: string;
  hash: string;
  createSpec: Record<string, unknown>;
  /** Values to redact from logs shown in errors. */
  secretValues: string[];
}

/**
 * Resolves what a plan needs (network, volumes, Podman secrets, helper image) and computes
 * the libpod create spec and the spec hash. Creates only shared, idempotent objects; never
 * touches the container itself.
 */
export async function prepareContainer(
  api: PodmanApi,
  names: SiteNames,
  settings: PodmanSettings,
  plan: ContainerPlan,
  scope: TargetCallScope,
): Promise<PreparedContainer> {
  const name = names.container(plan.resource);
  for (const key of [...Object.keys(plan.env ?? {}), ...Object.keys(plan.secretEnv ?? {})]) {
    if (!ENV_NAME.test(key)) throw podmanErrors.specInvalid(plan.resource, `"${key}" is not a valid environment variable name`);
  }
  const overlap = Object.keys(plan.env ?? {}).filter((k) => plan.secretEnv && k in plan.secretEnv);
  if (overlap.length > 0) throw podmanErrors.specInvalid(plan.resource, `${overlap.join(", ")} set both as env and as secret`);

  const network = await ensureNetwork(api, names, scope.signal);
  const volumes: { Name: string; Dest: string }[] = [];
  for (const [key, dest] of Object.entries(plan.volumes ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    volumes.push({ Name: await ensureVolume(api, names, key, scope.signal), Dest: dest });
  }

  // Secrets: one Podman secret per site secret version, mounted under its own name.
  const secretNames = [...new Set([...Object.values(plan.secretEnv ?? {}), ...(plan.secretFiles ?? [])])].sort();
  const fingerprints: Record<string, string> = {};
  const secretValues: string[] = [];
  const owner = secretOwner(plan.image.user);
  const mounts: { source: string; target: string; uid: number; gid: number; mode: number }[] = [];
  for (const secret of secretNames) {
    const ensured = await ensurePodmanSecret(api, names, secret, scope, plan.resource);
    fingerprints[secret] = ensured.fingerprint;
    const value = scope.secrets.get(secret);
    if (value !== undefined) secretValues.push(value);
    mounts.push({ source: ensured.podmanName, target: podmanSafeName(secret), ...owner });
  }
  for (const file of plan.derivedSecretFiles ?? []) {
    const ensured = await ensurePodmanSecret(api, names, file.secret, scope, plan.resource, file.derived);
    fingerprints[`${file.secret}.${file.derived.suffix}`] = ensured.fingerprint;
    const value = scope.secrets.get(file.secret);
    if (value !== undefined) secretValues.push(value);
    mounts.push({ source: ensured.podmanName, target: file.target, uid: 0, gid: 0, mode: 0o444 });
  }

  const secretEnvEntries = Object.entries(plan.secretEnv ?? {}).sort(([a], [b]) => a.localeCompare(b));
  let entrypoint: string[] | undefined;
  let command: string[] | undefined = plan.command ? [...plan.command] : undefined;
  const env: Record<string, string> = { ...(plan.env ?? {}) };
  const imageVolumes: { source: string; destination: string; rw: boolean }[] = [];
  let helperId: string | undefined;
  if (secretEnvEntries.length > 0) {
    const helper = await ensureImage(api, settings.helperImage, scope, helperHint(settings.helperImage));
    helperId = helper.id;
    const original = [...plan.image.entrypoint, ...(plan.command ?? plan.image.cmd)];
    if (original.length === 0) throw podmanErrors.specInvalid(plan.resource, `image ${plan.image.ref} has no entrypoint or command, and the resource gives no command`);
    entrypoint = [`${HELPER_MOUNT}/bin/busybox`, "sh", "-c", SECRET_ENV_SHIM, "stepwise-secret-env"];
    command = original;
    env.STEPWISE_SECRET_ENV = secretEnvEntries.map(([variable, secret]) => `${variable}=${podmanSafeName(secret)}`).join(" ");
    imageVolumes.push({ source: settings.helperImage, destination: HELPER_MOUNT, rw: false });
  }

  const createSpec: Record<string, unknown> = {
    name,
    image: plan.image.ref,
    env,
    networks: { [network.name]: { aliases: [podmanSafeName(plan.resource)] } },
    hostname: podmanSafeName(plan.resource),
    restart_policy: plan.restart,
    stop_timeout: plan.stopTimeout,
    // Without systemd, Podman 4.3 cannot run timers for health checks; ensure() drives them.
    ...(entrypoint ? { entrypoint } : {}),
    ...(command ? { command } : {}),
    ...(mounts.length ? { secrets: mounts } : {}),
    ...(imageVolumes.length ? { image_volumes: imageVolumes } : {}),
    ...(volumes.length ? { volumes } : {}),
    ...(plan.ports?.length
      ? {
          portmappings: plan.ports.map((p) => ({ host_ip: settings.bindAddress, container_port: p.container, host_port: p.host ?? 0, protocol: "tcp" })),
        }
      : {}),
    ...(plan.healthcheck?.command
      ? {
          healthconfig: {
            Test: ["CMD", ...plan.healthcheck.command],
            Interval: (plan.healthcheck.intervalSeconds ?? 5) * 1e9,
            Timeout: (plan.healthcheck.timeoutSeconds ?? 5) * 1e9,
            Retries: plan.healthcheck.retries ?? 3,
          },
        }
      : {}),
  };
  const hash = specHash({
    kind: plan.kind,
    createSpec,
    imageId: plan.image.id,
    helperImageId: helperId,
    secretFingerprints: fingerprints,
    healthcheck: plan.healthcheck,
  });
  // Labels are not in the hash: a new label (the step) does not replace running containers.
  createSpec.labels = { ...names.labels(plan.resource, plan.kind, hash), [Label.Step]: scope.step };
  return { name, hash, createSpec, secretValues };
}

function secretOwner(user: string): { uid: number; gid: number; mode: number } {
  // Readable by the image's user when it is numeric; by everyone in the container otherwise
  // (a named user can't be resolved without reading the image's /etc/passwd).
  const match = /^(\d+)(?::(\d+))?$/.exec(user);
  if (user === "" || user === "root" || user === "0") return { uid: 0, gid: 0, mode: 0o400 };
  if (match) return { uid: Number(match[1]), gid: Number(match[2] ?? match[1]), mode: 0o400 };
  return { uid: 0, gid: 0, mode: 0o444 };
}

export function helperHint(image: string): string {
  return `podman pull ${image}   (offline: scripts/images/build.sh busybox, then set podman.helperImage=localhost/stepwise/base-busybox:latest or use preset airgapped)`;
}

export interface ConvergeResult {
  id: string;
  change: "created" | "replaced" | "unchanged";
  inspect: ContainerInspect;
}

/**
 * Makes container `prepared.name` run with exactly `prepared.createSpec`:
 * - same spec hash and running: nothing is touched (`unchanged`; same id, same StartedAt), but
 *   `ready` still runs, so a container a killed run left half-ready is waited for;
 * - same spec hash but not running (e.g. a crash between create and start): started (`created`);
 * - different hash: stopped, removed, created and started (`replaced`);
 * - absent: created and started (`created`).
 * The name is fixed, so an interrupted call never leaves a duplicate; the next call
 * converges from whatever state it left. `ready` is awaited after any start; if it throws,
 * the container is left in place for `podman logs`.
 */
export async function convergeContainer(
  api: PodmanApi,
  prepared: PreparedContainer,
  stopTimeout: number,
  scope: TargetCallScope,
  ready: (container: string) => Promise<void>,
): Promise<ConvergeResult> {
  const { name } = prepared;
  const existing = await inspectContainer(api, name, scope.signal);
  assertOwnContainer(existing, prepared);
  let change: ConvergeResult["change"] = "created";
  if (existing && existing.Config.Labels?.[Label.SpecHash] === prepared.hash) {
    if (existing.State.Running) {
      // Untouched, but still made ready: a run killed between start and readiness (or before
      // the databases were made) is re-run, and must not record success on a half-ready
      // container. `ready` is idempotent and cheap when all is in place.
      await ready(name);
      return { id: name, change: "unchanged", inspect: existing };
    }
    scope.log.progress(`starting container ${name} (it exists but is ${existing.State.Status})`);
  } else {
    if (existing) {
      scope.log.progress(`replacing container ${name} (spec changed)`);
      await removeContainer(api, name, stopTimeout, scope.signal);
      change = "replaced";
    } else {
      scope.log.progress(`creating container ${name}`);
    }
    try {
      await api.request({ method: "POST", path: `${LIBPOD}/containers/create`, body: prepared.createSpec, signal: scope.signal, what: `create container ${name}` });
    } catch (error) {
      throw apiFailure(`create container ${name}`, error, `podman rm -f ${name}   (then run stepwise deploy again)`);
    }
  }
  await startContainer(api, name, scope.signal);
  await ready(name);
  const after = await inspectContainer(api, name, scope.signal);
  if (!after) throw podmanErrors.containerFailed(name, "disappeared right after it started", "");
  return { id: name, change, inspect: after };
}

const NO_HEALTHCHECK_GRACE_MS = 300;

/**
 * Waits until a started service container is ready: running, and healthy by its health
 * check (command run through Podman, or HTTP from the host on the first published port).
 * Fails with the container's last log lines (secret values redacted) when it exits or
 * stays unhealthy.
 */
export async function waitServiceReady(
  api: PodmanApi,
  name: string,
  healthcheck: HealthCheckSpec | undefined,
  secretValues: readonly string[],
  signal: AbortSignal,
): Promise<void> {
  const interval = (healthcheck?.intervalSeconds ?? 2) * 1000;
  const retries = healthcheck?.retries ?? 3;
  const timeoutMs = Math.max(30_000, (retries + 1) * interval + (healthcheck?.timeoutSeconds ?? 5) * 1000);
  const deadline = Date.now() + timeoutMs;
  const fail = async (problem: string) => podmanErrors.containerFailed(name, problem, redactSecrets(await tailLogs(api, name, 30), secretValues));
  let lastProblem = "did not start";
  const started = Date.now();
  while (Date.now() < deadline) {
    const state = await inspectContainer(api, name, signal);
    if (!state) throw await fail("disappeared while starting");
    if (!state.State.Running && state.State.Status !== "created" && state.State.Status !== "initialized") {
      throw await fail(`exited with code ${state.State.ExitCode} while starting`);
    }
    if (state.State.Running) {
      if (healthcheck?.command) {
        try {
          const result = await api.request<{ Status: string }>({ method: "GET", path: `${LIBPOD}/containers/${encodeURIComponent(name)}/healthcheck`, signal, what: "run health check" });
          if (result.Status === "healthy") return;
          lastProblem = `is ${result.Status}`;
        } catch (error) {
          lastProblem = `health check failed: ${error instanceof Error ? error.message : String(error)}`;
        }
      } else if (healthcheck?.http) {
        const port = firstHostPort(state);
        if (port === undefined) throw await fail("has an HTTP health check but publishes no port");
        try {
          const response = await fetch(`http://127.0.0.1:${port}${healthcheck.http.startsWith("/") ? "" : "/"}${healthcheck.http}`, {
            signal: AbortSignal.any([signal, AbortSignal.timeout((healthcheck.timeoutSeconds ?? 5) * 1000)]),
          });
          await response.body?.cancel();
          if (response.status < 400) return;
          lastProblem = `answers ${healthcheck.http} with HTTP ${response.status}`;
        } catch (error) {
          signal.throwIfAborted();
          lastProblem = `does not answer ${healthcheck.http} (${error instanceof Error ? error.message : String(error)})`;
        }
      } else {
        // No health check: still running 300 ms after its process started is all we can know
        // (a bad command or a missing file fails within that). Counted from Podman's start
        // time, so the start call's own latency is not waited for twice.
        const since = Date.parse(state.State.StartedAt ?? "");
        const runningFor = Date.now() - (Number.isFinite(since) && since <= Date.now() ? since : started);
        if (runningFor >= NO_HEALTHCHECK_GRACE_MS) return;
        await sleep(Math.min(100, NO_HEALTHCHECK_GRACE_MS - runningFor), signal);
        continue;
      }
    }
    // A fresh process answers within a few hundred ms: probe every 100 ms for the first 3 s
    // (a 1 s pause after the first, too early probe was the web step's critical path), then back off.
    await sleep(Date.now() - started < 3_000 ? 100 : Math.min(interval, 1000), signal);
  }
  throw await fail(`${lastProblem} after ${Math.round(timeoutMs / 1000)}s`);
}

/** Host port of the first published port, from an inspect. */
export function firstHostPort(state: ContainerInspect): number | undefined {
  for (const bindings of Object.values(state.NetworkSettings?.Ports ?? {})) {
    const port = bindings?.[0]?.HostPort;
    if (port) return Number(port);
  }
  return undefined;
}

/** `container -> host` port pairs of a running container. */
export function publishedPorts(state: ContainerInspect): { container: number; host: number; hostIp: string }[] {
  const out: { container: number; host: number; hostIp: string }[] = [];
  for (const [key, bindings] of Object.entries(state.NetworkSettings?.Ports ?? {})) {
    for (const b of bindings ?? []) out.push({ container: Number(key.split("/")[0]), host: Number(b.HostPort), hostIp: b.HostIp });
  }
  return out.sort((a, b) => a.container - b.container);
}

/**
 * `stepwise-<site>-<name>` can collide (site "a" + "b-c" vs site "a-b" + "c"), and a container
 * of that name may have been made by hand: never replace a container that is not this
 * resource's own.
 */
export function assertOwnContainer(existing: ContainerInspect | undefined, prepared: PreparedContainer): void {
  if (!existing) return;
  const labels = existing.Config.Labels ?? {};
  const wanted = prepared.createSpec.labels as Record<string, string>;
  if (labels[Label.Site] !== wanted[Label.Site] || labels[Label.Resource] !== wanted[Label.Resource]) {
    const owner = labels[Label.Site] ? `resource ${labels[Label.Resource]} of site ${labels[Label.Site]}` : "nothing stepwise made";
    throw podmanErrors.specInvalid(
      wanted[Label.Resource] ?? prepared.name,
      `container ${prepared.name} already exists and belongs to ${owner}; refusing to replace it (podman rm -f ${prepared.name} if it is yours to remove, or rename the site or resource)`,
    );
  }
}
