import type { PostgresResource, ResourceResult, TargetCallScope } from "@stepwise/core";
import { execIn, inspectContainer, sleep, tailLogs } from "./container-ops.js";
import { convergeContainer, prepareContainer } from "./container-resource.js";
import { podmanErrors } from "./errors.js";
import { onHostSubnet, probePostgres } from "./postgres-probe.js";
import { ensureImage } from "./images.js";
import { podmanSafeName, type SiteNames } from "./naming.js";
import type { PodmanApi } from "./podman-api.js";
import { LIBPOD, apiFailure } from "./podman-api.js";
import { redactSecrets } from "@stepwise/core";
import type { PodmanSettings } from "./settings.js";

const DATA_DIR = "/var/lib/postgresql/data";
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$-]*$/;

/**
 * Postgres as a container on the site network with its data in the named volume
 * `stepwise-<site>-<name>-data`. The image must follow the official postgres image's
 * contract (POSTGRES_USER, POSTGRES_PASSWORD_FILE, POSTGRES_DB); the password is mounted
 * as a Podman secret file, never put in env or argv. Databases beyond the first are created
 * by `createdb` in the container. Outputs: host (container name), port, user, databases,
 * the password as a secret reference, and `dataCreatedAt`, the data volume's creation time:
 * a fresh volume (after `down --volumes`, or a restore into a new volume) is new data, so the
 * steps that depend on the database (migrations) run again instead of being cut off.
 */
export async function ensurePostgres(
  api: PodmanApi,
  names: SiteNames,
  settings: PodmanSettings,
  spec: PostgresResource,
  scope: TargetCallScope,
): Promise<ResourceResult> {
  if (!IDENTIFIER.test(spec.user)) throw podmanErrors.specInvalid(spec.name, `postgres user "${spec.user}" is not a plain identifier`);
  for (const db of spec.databases) {
    if (!IDENTIFIER.test(db)) throw podmanErrors.specInvalid(spec.name, `database name "${db}" is not a plain identifier`);
  }
  const version = spec.version ?? "15";
  const ref = spec.image ?? settings.postgresImage.replaceAll("{version}", version);
  const image = await ensureImage(api, ref, scope, `podman pull ${ref}   (offline: scripts/images/build.sh postgres, or use preset airgapped)`);
  const volume = `${spec.name}-data`;
  const dataVolume = names.volume(volume);
  const inspectVolume = () =>
    api.requestOrMissing<{ CreatedAt?: string }>({ method: "GET", path: `${LIBPOD}/volumes/${encodeURIComponent(dataVolume)}/json`, signal: scope.signal, what: `inspect volume ${dataVolume}` });
  // A data volume that does not exist yet is initialised by the image's entrypoint, which
  // creates POSTGRES_DB: with one database there is nothing left to check (saves a psql exec).
  // null: the inspect failed, so freshness is unknown (and the databases are checked).
  const existingVolume = await inspectVolume().catch(() => null);
  const freshVolume = existingVolume === undefined;
  const prepared = await prepareContainer(
    api,
    names,
    settings,
    {
      resource: spec.name,
      kind: "postgres",
      image,
      env: {
        POSTGRES_USER: spec.user,
        POSTGRES_PASSWORD_FILE: `/run/secrets/${podmanSafeName(spec.passwordSecret)}`,
        ...(spec.databases[0] ? { POSTGRES_DB: spec.databases[0] } : {}),
        PGDATA: DATA_DIR,
      },
      secretFiles: [spec.passwordSecret],
      volumes: { [volume]: DATA_DIR },
      restart: "always",
      stopTimeout: 30,
    },
    scope,
  );
  const converged = await convergeContainer(api, prepared, 30, scope, async (container) => {
    await waitPostgresReady(api, container, names.network, spec.user, prepared.secretValues, scope);
    if (freshVolume && spec.databases.length === 1) return;
    await ensureDatabases(api, container, spec, scope);
  });
  // An existing volume's creation time is what the first inspect said; a new one is asked for.
  const volumeInfo =
    existingVolume ??
    (await inspectVolume().catch((error: unknown) => {
      throw apiFailure(`inspect volume ${dataVolume}`, error, `podman volume inspect ${dataVolume}`);
    }));
  return {
    kind: "postgres",
    name: spec.name,
    id: prepared.name,
    specHash: prepared.hash,
    change: converged.change,
    volumes: [dataVolume],
    outputs: {
      host: prepared.name,
      port: 5432,
      user: spec.user,
      databases: [...spec.databases],
      password: { secret: spec.passwordSecret },
      container: prepared.name,
      network: names.network,
      volume: dataVolume,
      dataCreatedAt: volumeInfo?.CreatedAt ?? null,
    },
  };
}

/**
 * Waits until postgres accepts connections. From the host, a TCP probe of the container's
 * address on the site network every 50 ms (rootful Podman: the bridge is routable); the
 * image's init phase listens on the Unix socket only, so TCP answers once it is over.
 * Where the address is not reachable (rootless), `pg_isready` in the container every 100 ms
 * (each exec costs ~100 ms itself).
 */
async function waitPostgresReady(api: PodmanApi, container: string, network: string, user: string, secretValues: readonly string[], scope: TargetCallScope): Promise<void> {
  const deadline = Date.now() + 120_000;
  scope.log.progress(`waiting for postgres in ${container}`);
  let tcp = true;
  while (Date.now() < deadline) {
    const state = await inspectContainer(api, container, scope.signal);
    if (!state?.State.Running && state?.State.Status !== "created") {
      const logs = redactSecrets(await tailLogs(api, container, 30), secretValues);
      throw podmanErrors.containerFailed(container, state ? `exited with code ${state.State.ExitCode} while starting` : "disappeared while starting", logs);
    }
    if (state.State.Running) {
      const address = tcp ? state.NetworkSettings?.Networks?.[network]?.IPAddress : undefined;
      if (address && onHostSubnet(address)) {
        const probe = await probePostgres(address, 5432, user, 1000, scope.signal);
        if (probe === "ready") return;
        if (probe === "unreachable") tcp = false;
      } else {
        tcp = false;
        // TCP on 127.0.0.1 answers only once the image's init phase (socket-only) is over.
        const probe = await execIn(api, container, ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432", "-U", user, "-d", "postgres"], scope.signal);
        if (probe.exitCode === 0) return;
      }
    }
    await sleep(tcp ? 50 : 100, scope.signal);
  }
  throw podmanErrors.containerFailed(container, "did not accept connections within 120s", redactSecrets(await tailLogs(api, container, 30), secretValues));
}

async function ensureDatabases(api: PodmanApi, container: string, spec: PostgresResource, scope: TargetCallScope): Promise<void> {
  const listed = await execIn(api, container, ["psql", "-X", "-At", "-U", spec.user, "-d", "postgres", "-c", "SELECT datname FROM pg_database"], scope.signal);
  if (listed.exitCode !== 0) throw podmanErrors.containerFailed(container, `could not list databases (psql exit ${listed.exitCode})`, listed.output);
  const existing = new Set(listed.output.split("\n").map((l) => l.trim()));
  for (const db of spec.databases) {
    if (existing.has(db)) continue;
    scope.log.progress(`creating database ${db} in ${container}`);
    const made = await execIn(api, container, ["createdb", "-U", spec.user, "-O", spec.user, db], scope.signal);
    if (made.exitCode !== 0) throw podmanErrors.containerFailed(container, `could not create database ${db} (createdb exit ${made.exitCode})`, made.output);
  }
}
