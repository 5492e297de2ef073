import { createRequire } from "node:module";
import { definePlugin } from "@stepwise/core";
import { podmanTarget } from "./podman-target.js";

const pkg = createRequire(import.meta.url)("../package.json") as { name: string; version: string };

/**
 * `@stepwise/target-podman`: the `podman` target. Loading it loads no Podman client. The
 * default export is a factory taking the site's `options:` for the plugin (none yet).
 */
export default definePlugin(() => ({
  meta: { name: pkg.name, version: pkg.version },
  targets: [podmanTarget],
}));

export { podmanTarget, networkStep } from "./podman-target.js";
export { PodmanSession } from "./session.js";
export { connectPodman, socketCandidates } from "./connection.js";
export type { ConnectOptions, SocketCandidate } from "./connection.js";
export { SiteNames, Label } from "./naming.js";
export { PodmanErrorCode } from "./errors.js";
export { DEFAULT_SETTINGS, OFFLINE_SETTINGS } from "./settings.js";
export type { PodmanSettings } from "./settings.js";
export { specHash } from "./spec-hash.js";
// The build the azure target reuses (same Containerfile handling, same image identity and tag).
export { ensureBuiltImage } from "./images.js";
export type { ResolvedImage } from "./images.js";
export type { PodmanApi } from "./podman-api.js";
