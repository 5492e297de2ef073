import { defineStep, defineTarget, type ConfigReader, type JsonObject, type TargetConnectContext } from "@stepwise/core";
import { connectPodman } from "./connection.js";
import { SiteNames } from "./naming.js";
import { PodmanSession } from "./session.js";
import { DEFAULT_SETTINGS, OFFLINE_SETTINGS, type PodmanSettings } from "./settings.js";
import { ensureNetwork, networkId } from "./site-objects.js";

function readSettings(config: ConfigReader): PodmanSettings {
  return {
    helperImage: config.get<string>("podman.helperImage") ?? DEFAULT_SETTINGS.helperImage,
    bindAddress: config.get<string>("podman.bindAddress") ?? DEFAULT_SETTINGS.bindAddress,
    postgresImage: config.get<string>("podman.postgresImage") ?? DEFAULT_SETTINGS.postgresImage,
    redisImage: config.get<string>("podman.redisImage") ?? DEFAULT_SETTINGS.redisImage,
  };
}

/**
 * `podman:network`: the site's bridge network `stepwise-<site>` with DNS, so services reach
 * each other (and postgres/redis) by container name.
 *
 * Which engine the site is on is identified by the network's id, not by the socket used to
 * reach it: `podman.socket` is a connection detail (another shell reaches the same engine
 * through another path) and is no input. Drift: the network is gone, or it has another id
 * than the one deployed (another Podman engine, or the network was recreated); its outputs
 * carry the id, so every step on the site re-runs against the new engine.
 */
export const networkStep = defineStep({
  name: "podman:network",
  description: "Podman network for the site (services reach each other by name)",
  async check(ctx) {
    const api = await connectPodman({ configuredSocket: ctx.config.get<string>("podman.socket"), log: ctx.log, signal: ctx.signal });
    const names = new SiteNames(ctx.site.name);
    const id = await networkId(api, names, ctx.signal);
    if (id === undefined) return { reason: `network ${names.network} is gone` };
    const deployed = ctx.previousOutputs?.id;
    if (typeof deployed === "string" && deployed !== id) {
      return { reason: `network ${names.network} is not the one deployed (id ${deployed.slice(0, 12)} -> ${id.slice(0, 12)}: another Podman engine, or recreated)` };
    }
  },
  async run(ctx) {
    const api = await connectPodman({ configuredSocket: ctx.config.get<string>("podman.socket"), log: ctx.log, signal: ctx.signal });
    const network = await ensureNetwork(api, new SiteNames(ctx.site.name), ctx.signal);
    if (network.created) ctx.log.info(`created network ${network.name}`);
    const outputs: JsonObject = { network: network.name };
    if (network.id) outputs.id = network.id;
    return outputs;
  },
});

/**
 * The `podman` target: local Podman through its API socket (dockerode + libpod endpoints).
 * Volumes are made on demand by the resources that mount them.
 */
export const podmanTarget = defineTarget({
  name: "podman",
  description: "Local Podman (containers, network, volumes, podman secrets) through its API socket",
  config: {
    "podman.socket": {
      description: "Podman API socket path (default: DOCKER_HOST, then Podman's rootful/rootless socket, else one stepwise starts)",
      env: "STEPWISE_PODMAN_SOCKET",
      // How the engine is reached, not which one: the network's id identifies the engine.
      connection: true,
    },
    "podman.helperImage": {
      description: "Image with a static busybox, mounted read-only to pass secrets as env vars and used for volume backups",
      default: DEFAULT_SETTINGS.helperImage,
      presets: { airgapped: OFFLINE_SETTINGS.helperImage },
    },
    "podman.bindAddress": {
      description: "Host address that published ports bind to",
      default: DEFAULT_SETTINGS.bindAddress,
    },
    "podman.postgresImage": {
      description: "Postgres image ({version} is replaced by the major version)",
      default: DEFAULT_SETTINGS.postgresImage,
      presets: { airgapped: OFFLINE_SETTINGS.postgresImage },
    },
    "podman.redisImage": {
      description: "Redis image",
      default: DEFAULT_SETTINGS.redisImage,
      presets: { airgapped: OFFLINE_SETTINGS.redisImage },
    },
  },
  kinds: ["service", "job", "postgres", "redis", "secret"],
  steps: [networkStep],
  /**
   * Finds (or starts) a Podman service and opens a session for the site. Loads dockerode here,
   * not at plugin load. Throws `TARGET_MISSING` (exit 2, hint: install podman) when there is
   * no Podman, `PODMAN_UNREACHABLE` when a configured socket does not answer.
   */
  async connect(ctx: TargetConnectContext) {
    const api = await connectPodman({ configuredSocket: ctx.config.get<string>("podman.socket"), log: ctx.log, signal: ctx.signal });
    return new PodmanSession({
      api,
      names: new SiteNames(ctx.site.name),
      settings: readSettings(ctx.config),
      siteDir: ctx.site.dir,
      log: ctx.log,
      signal: ctx.signal,
    });
  },
});
