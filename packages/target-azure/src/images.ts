import type { BuildSpec, TargetCallScope } from "@stepwise/core";
import { registryTokenScope, type ArmClient } from "./arm-client.js";
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
 * Credentials: the deploying identity's own, as `az acr login` gets them (see
 * {@link registryLogin}): a registry refresh token, which Podman uses as the password of the user
 * `00000000-0000-0000-0000-000000000000`. The registry's admin user stays off; the identity needs
 * push rights (Owner, Contributor or AcrPush). Both tokens travel only in request bodies and in
 * the push's `X-Registry-Auth` header over Podman's unix socket; never in argv, a file, a log
 * line or state.
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
  const { username, password } = await registryLogin(arm, settings, resource, server, scope.signal);
  scope.log.progress(`pushing image ${ref}`);
  try {
    const image = api.docker.getImage(local.ref);
    await image.tag({ repo: repository, tag });
    const authconfig = username && password ? { username, password, serveraddress: server } : undefined;
    const stream = (await api.docker.getImage(repository).push({ tag, ...(authconfig ? { authconfig } : {}), abortSignal: scope.signal } as never)) as unknown as NodeJS.ReadableStream;
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
    const message = error instanceof Error ? error.message : String(error);
    const reason = password ? message.replaceAll(password, "***") : message;
    throw azureErrors.imagePushFailed(resource, settings.names.registry, `pushing ${ref} failed: ${reason}`);
  }
  scope.log.info(`pushed image ${ref}`);
  return { ref, server };
}

/** The user name ACR accepts with a refresh token from its token exchange as the password. */
export const ACR_TOKEN_USER = "00000000-0000-0000-0000-000000000000";

/**
 * Registry credentials for a push, as `az acr login` makes them: `GET https://<server>/v2/`
 * answers 401 with a Bearer challenge whose realm names the registry's token service (HTTPS, on
 * the registry's own host, or no token is sent); its `/oauth2/exchange` takes the deploying
 * identity's Entra token (for {@link registryTokenScope}) and answers a refresh token. A registry
 * that answers 200 (anonymous push) needs no credentials.
 */
export async function registryLogin(arm: Pick<ArmClient, "raw" | "token" | "endpoint">, settings: Pick<AzureSettings, "names" | "tenantId">, resource: string, server: string, signal: AbortSignal): Promise<{ username?: string; password?: string }> {
  const fail = (reason: string) => azureErrors.imagePushFailed(resource, settings.names.registry, reason);
  let challenge;
  try {
    challenge = await arm.raw(`https://${server}/v2/`, { method: "GET", signal });
  } catch (error) {
    signal.throwIfAborted();
    throw fail(`https://${server}/v2/ did not answer: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (challenge.status === 200) return {};
  const header = challenge.headers.get("www-authenticate") ?? "";
  const params = Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!.toLowerCase(), m[2]!]));
  if (challenge.status !== 401 || !/^bearer\s/i.test(header) || !params.realm || !params.service) {
    throw fail(`https://${server}/v2/ answered HTTP ${challenge.status} without a Bearer challenge naming a realm and service: the registry does not support Microsoft Entra login`);
  }
  let realm: URL;
  try {
    realm = new URL(params.realm);
  } catch {
    throw fail(`the registry's challenge names an invalid realm`);
  }
  // The Entra token goes only to the registry itself over HTTPS: a challenge naming another host
  // (or plain HTTP) is refused before a token is asked for.
  if (realm.protocol !== "https:") throw fail(`the registry's challenge names a token service that is not HTTPS (${realm.origin}); no token is sent there`);
  if (realm.hostname.toLowerCase() !== new URL(`https://${server}`).hostname.toLowerCase()) {
    throw fail(`the registry's challenge names a token service on another host (${realm.hostname}); no token is sent there`);
  }
  const form = new URLSearchParams({ grant_type: "access_token", service: params.service, access_token: await arm.token(registryTokenScope(arm.endpoint), signal) });
  if (settings.tenantId) form.set("tenant", settings.tenantId);
  let exchange;
  try {
    exchange = await arm.raw(`${realm.origin}/oauth2/exchange`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString(), signal });
  } catch (error) {
    signal.throwIfAborted();
    throw fail(`the registry's token exchange (${realm.origin}/oauth2/exchange) did not answer: ${error instanceof Error ? error.message : String(error)}`);
  }
  let refresh: unknown;
  try {
    refresh = (JSON.parse(exchange.text) as { refresh_token?: unknown }).refresh_token;
  } catch {
    refresh = undefined;
  }
  if (exchange.status !== 200 || typeof refresh !== "string" || !refresh) {
    throw fail(`the registry's token exchange (${realm.origin}/oauth2/exchange) refused the deploying identity's Microsoft Entra token (HTTP ${exchange.status}); the identity needs push rights on the registry (Contributor or AcrPush)`);
  }
  return { username: ACR_TOKEN_USER, password: refresh };
}
