import { request } from "node:https";
import { isIP } from "node:net";
import type { ServiceResource, TargetCallScope } from "@stepwise/core";
import { sleep } from "./arm-client.js";
import { azureErrors } from "./errors.js";
import type { AzureSettings } from "./settings.js";

/** Waits between probes: a new revision takes from seconds to minutes to serve. */
const PROBE_EVERY_MS = [1_000, 2_000, 5_000, 10_000];
/** One probe's own limit. */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Verification of a public app: an HTTPS GET of `https://<fqdn><healthcheck.http or />` until it
 * answers (below 400 for a health path, below 500 for `/`: the app is served) or
 * `azure.verify.timeoutSeconds` pass. The certificate is verified (Node's trust store plus
 * NODE_EXTRA_CA_CERTS). `azure.verify.connectTo` (host:port) sends the request there instead,
 * with the FQDN as Host header and the certificate checked for the connected host.
 */
export async function verifyPublicApp(settings: AzureSettings, spec: ServiceResource, fqdn: string, scope: Pick<TargetCallScope, "signal" | "log">): Promise<void> {
  const path = spec.healthcheck?.http ? (spec.healthcheck.http.startsWith("/") ? spec.healthcheck.http : `/${spec.healthcheck.http}`) : "/";
  const healthy = (status: number) => status < (spec.healthcheck?.http ? 400 : 500);
  const url = `https://${fqdn}${path}`;
  const started = Date.now();
  const deadline = started + settings.verify.timeoutSeconds * 1000;
  let problem = "no answer yet";
  for (let attempt = 0; ; attempt++) {
    try {
      const status = await get(fqdn, path, settings.verify.connectTo, scope.signal);
      if (healthy(status)) {
        scope.log.info(`verified ${url}: HTTP ${status}`);
        return;
      }
      problem = `HTTP ${status}`;
    } catch (error) {
      scope.signal.throwIfAborted();
      problem = error instanceof Error ? error.message : String(error);
    }
    const wait = PROBE_EVERY_MS[Math.min(attempt, PROBE_EVERY_MS.length - 1)]!;
    if (Date.now() + wait > deadline) throw azureErrors.verifyFailed(spec.name, url, problem, settings.verify.timeoutSeconds, settings.names.resourceGroup, settings.names.containerApp(spec.name));
    scope.log.progress(`verifying ${url}: ${problem} (${Math.round((Date.now() - started) / 1000)}s)`);
    await sleep(wait, scope.signal);
  }
}

function get(fqdn: string, path: string, connectTo: string | undefined, signal: AbortSignal): Promise<number> {
  const [host, port] = connectTo ? [connectTo.slice(0, connectTo.lastIndexOf(":")), Number(connectTo.slice(connectTo.lastIndexOf(":") + 1))] : [fqdn, 443];
  return new Promise((resolve, reject) => {
    // TLS is checked for the host connected to (Node would take the Host header's name); no SNI for an IP.
    const servername = connectTo ? (isIP(host) ? "" : host) : fqdn;
    const req = request({ host, port, path, method: "GET", servername, headers: { host: fqdn, "user-agent": "stepwise-verify" }, signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}
