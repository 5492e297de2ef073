import type { BuildSpec, TargetCallScope } from "@stepwise/core";
import type { ArmClient } from "./arm-client.js";
import { azureErrors } from "./errors.js";
import { resourceId } from "./foundation-steps.js";
import type { AzureSettings } from "./settings.js";

const REGISTRY = "Microsoft.ContainerRegistry/registries";

/** An image built from a site's context and pushed to the site's registry. */
export interface PushedImage {
  /** `<loginServer>/stepwise-<site>/<name>:<identity>`: what the app runs. */
  ref: string;
  /** The registry's login server (the app pulls from it with the site's identity). */
  server: string;
}

/**
 * Builds `build` with Podman exactly as the podman target does (same Containerfile handling,
 * same identity: context hash, build args and base image ids; same tag) and pushes it to the
 * site's registry under the same repository and tag. `@stepwise/target-podman` (and with it
 * dockerode) is imported here, only when a step has an image to build.
 *
 * Credentials: the registry's `listCredentials` answer goes to Podman only in the push's
 * `X-Registry-Auth` header over its unix socket; never in argv, a file, a log line or state.
 */
export async function buildAndPush(
  ctx: { arm: ArmClient; settings: AzureSettings; siteDir: string },
  resource: string,
  build: BuildSpec,
  scope: Pick<TargetCallScope, "signal" | "log">,
): Promise<PushedImage> {
  const { arm, settings } = ctx;
  const podman = await import("@stepwise/target-podman");
  const api = await podman.connectPodman({ configuredSocket: settings.podmanSocket, log: scope.log, signal: scope.signal });
  const names = new podman.SiteNames(settings.names.site);
  const local = await podman.ensureBuiltImage(api, names, resource, build, ctx.siteDir, scope);
  const registryId = resourceId(settings, "Microsoft.ContainerRegistry", "registries", settings.names.registry);
  const registry = await arm.get(registryId, REGISTRY, scope.signal);
  const server = String(registry?.properties?.loginServer ?? "");
  if (!server) throw azureErrors.imagePushFailed(resource, settings.names.registry, `registry ${settings.names.registry} is missing or has no login server`);
  // `localhost/stepwise-<site>/<name>:<identity>` -> `<server>/stepwise-<site>/<name>:<identity>`.
  const path = local.ref.replace(/^localhost\//, "");
  const colon = path.lastIndexOf(":");
  const repository = `${server}/${path.slice(0, colon)}`;
  const tag = path.slice(colon + 1);
  const ref = `${repository}:${tag}`;
  const credentials = await arm.action(registryId, REGISTRY, "listCredentials", scope.signal);
  const username = String(credentials.username ?? "");
  const password = String((credentials.passwords as { value?: string }[] | undefined)?.[0]?.value ?? "");
  if (!username || !password) throw azureErrors.imagePushFailed(resource, settings.names.registry, "listCredentials answered no username and password");
  scope.log.progress(`pushing image ${ref}`);
  try {
    const image = api.docker.getImage(local.ref);
    await image.tag({ repo: repository, tag });
    const stream = (await api.docker.getImage(repository).push({ tag, authconfig: { username, password, serveraddress: server }, abortSignal: scope.signal } as never)) as unknown as NodeJS.ReadableStream;
    await new Promise<void>((done, fail) => {
      api.docker.modem.followProgress(
        stream,
        (error: Error | null) => (error ? fail(error) : done()),
        (event: { status?: string; error?: string; errorDetail?: { message?: string } }) => {
          if (event.error) fail(new Error(event.errorDetail?.message ?? event.error));
          else if (event.status) scope.log.progress(`${resource}: ${event.status.trim()}`);
        },
      );
    });
  } catch (error) {
    scope.signal.throwIfAborted();
    const reason = (error instanceof Error ? error.message : String(error)).replaceAll(password, "***");
    throw azureErrors.imagePushFailed(resource, settings.names.registry, `pushing ${ref} failed: ${reason}`);
  }
  scope.log.info(`pushed image ${ref}`);
  return { ref, server };
}
