import type { RedisResource, ResourceResult, TargetCallScope } from "@stepwise/core";
import { execIn, inspectContainer, sleep, tailLogs } from "./container-ops.js";
import { convergeContainer, prepareContainer } from "./container-resource.js";
import { podmanErrors } from "./errors.js";
import { ensureImage } from "./images.js";
import type { SiteNames } from "./naming.js";
import type { PodmanApi } from "./podman-api.js";
import { redactSecrets } from "@stepwise/core";
import type { PodmanSettings } from "./settings.js";

/**
 * Redis as a container on the site network, appendonly data in `stepwise-<site>-<name>-data`.
 * A password is given to redis-server as a config file (`requirepass ...`) stored as its own
 * Podman secret, so it is in neither argv nor env. Outputs: host, port, password reference.
 */
export async function ensureRedis(api: PodmanApi, names: SiteNames, settings: PodmanSettings, spec: RedisResource, scope: TargetCallScope): Promise<ResourceResult> {
  const ref = spec.image ?? settings.redisImage;
  const image = await ensureImage(api, ref, scope, `podman pull ${ref}   (offline: scripts/images/build.sh redis, or use preset airgapped)`);
  const volume = `${spec.name}-data`;
  const command = ["redis-server"];
  if (spec.passwordSecret) command.push("/run/secrets/redis.conf");
  command.push("--appendonly", "yes", "--dir", "/data", "--protected-mode", "no");
  const prepared = await prepareContainer(
    api,
    names,
    settings,
    {
      resource: spec.name,
      kind: "redis",
      image,
      command,
      derivedSecretFiles: spec.passwordSecret
        ? [{ secret: spec.passwordSecret, target: "redis.conf", derived: { suffix: "redis-conf", render: (value) => `requirepass "${value.replace(/(["\\])/g, "\\$1")}"\n` } }]
        : [],
      volumes: { [volume]: "/data" },
      restart: "always",
      stopTimeout: 20,
    },
    scope,
  );
  const converged = await convergeContainer(api, prepared, 20, scope, async (container) => {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const state = await inspectContainer(api, container, scope.signal);
      if (!state?.State.Running) {
        throw podmanErrors.containerFailed(container, "exited while starting", redactSecrets(await tailLogs(api, container, 30), prepared.secretValues));
      }
      // Without the password redis answers NOAUTH: enough to know it is up.
      const probe = await execIn(api, container, ["redis-cli", "ping"], scope.signal);
      if (/PONG|NOAUTH/.test(probe.output)) return;
      await sleep(300, scope.signal);
    }
    throw podmanErrors.containerFailed(container, "did not answer PING within 60s", redactSecrets(await tailLogs(api, container, 30), prepared.secretValues));
  });
  return {
    kind: "redis",
    name: spec.name,
    id: prepared.name,
    specHash: prepared.hash,
    change: converged.change,
    volumes: [names.volume(volume)],
    outputs: {
      host: prepared.name,
      port: 6379,
      ...(spec.passwordSecret ? { password: { secret: spec.passwordSecret } } : {}),
      container: prepared.name,
      network: names.network,
      volume: names.volume(volume),
    },
  };
}
