import type { StepLogger } from "@stepwise/core";
import type { ResourceManagementClient } from "@azure/arm-resources";
import type { TokenCredential } from "@azure/identity";
import type { HttpClient, Pipeline, createPipelineRequest as CreatePipelineRequest } from "@azure/core-rest-pipeline";
import { API_VERSIONS, type ArmResourceType } from "./api-versions.js";
import { armCode, azureErrors, sdkError } from "./errors.js";

/** A resource as Resource Manager returns it (the generic shape). */
export interface ArmResource {
  id?: string;
  name?: string;
  type?: string;
  location?: string;
  tags?: Record<string, string>;
  sku?: Record<string, unknown>;
  kind?: string;
  properties?: Record<string, unknown>;
}

/** A body to PUT. */
export interface ArmBody {
  location?: string;
  tags?: Record<string, string>;
  sku?: { name: string };
  kind?: string;
  properties?: Record<string, unknown>;
}

/** provisioningStates no operation is running in. */
export const FINAL_STATES: ReadonlySet<string> = new Set(["Succeeded", "Failed", "Canceled"]);
/** How often progress is reported while an operation runs. */
const PROGRESS_EVERY_MS = 5_000;
/** A resource left mid-operation (a run killed during a poll) is waited for this long before its PUT is retried. */
const BUSY_WAIT_MS = 10 * 60_000;

/**
 * Resource Manager for one subscription through `@azure/arm-resources` (its generic resources
 * by id, resource groups and providers) with `DefaultAzureCredential`. Both packages are imported
 * here, when a step first talks to Azure, never at plugin load. Throttling (429 + Retry-After),
 * transient 5xx and long-running operations go through the SDK's pipeline and poller.
 */
export class ArmClient {
  private constructor(
    readonly endpoint: string,
    readonly subscription: string,
    private readonly client: ResourceManagementClient,
    private readonly http: { client: HttpClient; request: typeof CreatePipelineRequest; outside: Pipeline },
    private readonly credential: TokenCredential,
  ) {}

  static async connect(endpoint: string, subscription: string): Promise<ArmClient> {
    const [{ ResourceManagementClient }, { DefaultAzureCredential }, { createDefaultHttpClient, createPipelineRequest, createPipelineFromOptions }] = await Promise.all([
      import("@azure/arm-resources"),
      import("@azure/identity"),
      import("@azure/core-rest-pipeline"),
    ]);
    const credential = new DefaultAzureCredential();
    const client = new ResourceManagementClient(credential, subscription, { endpoint, credentials: { scopes: [armScope(endpoint)] } });
    // Requests outside Resource Manager (the registry's token exchange, a log stream) go through
    // the SDK's standard policies (proxy from HTTPS_PROXY/NO_PROXY, retries, redirects, header
    // sanitising in its logs) but no bearer-token policy: they carry their own credentials.
    const outside = createPipelineFromOptions({});
    return new ArmClient(endpoint, subscription, client, { client: createDefaultHttpClient(), request: createPipelineRequest, outside }, credential);
  }

  /**
   * A Microsoft Entra access token for `scope` from the same credential (the registry's audience,
   * see {@link registryTokenScope}): what Azure Container Registry's token exchange takes. A
   * credential: callers hand it on in a request body only, never log or keep it.
   */
  async token(scope: string, signal: AbortSignal): Promise<string> {
    let token;
    try {
      token = await this.credential.getToken(scope, { abortSignal: signal });
    } catch (error) {
      signal.throwIfAborted();
      throw azureErrors.fromSdk(`get a Microsoft Entra token for ${scope}`, error, this.endpoint);
    }
    if (!token) throw azureErrors.fromSdk(`get a Microsoft Entra token for ${scope}`, Object.assign(new Error("the credential returned no token"), { name: "AuthenticationError" }), this.endpoint);
    return token.token;
  }

  /**
   * One request outside Resource Manager (a registry's `/v2/` challenge and `/oauth2/exchange`)
   * through the SDK's standard policies (proxy, retries; Node's TLS trust, NODE_EXTRA_CA_CERTS
   * included) without the ARM pipeline's bearer token: the status, headers and text of the answer.
   */
  async raw(url: string, init: { method: "GET" | "POST"; headers?: Record<string, string>; body?: string; signal: AbortSignal }): Promise<{ status: number; headers: { get(name: string): string | undefined }; text: string }> {
    const request = this.http.request({ url, method: init.method, abortSignal: init.signal, body: init.body, timeout: 60_000 });
    for (const [name, value] of Object.entries(init.headers ?? {})) request.headers.set(name, value);
    const response = await this.http.outside.sendRequest(this.http.client, request);
    return { status: response.status, headers: { get: (name) => response.headers.get(name) }, text: response.bodyAsText ?? "" };
  }

  /**
   * A streaming GET outside Resource Manager (a Container App's log stream) through the same
   * policies as {@link raw}, without the ARM bearer token and without a timeout: a 200's body
   * as a stream that stays open as long as the server writes (until `signal` aborts), any other
   * status with its text. `headers` may hold a credential: it goes only into the request.
   */
  async streamGet(url: string, init: { headers?: Record<string, string>; signal: AbortSignal }): Promise<{ status: number; body?: NodeJS.ReadableStream; text: string }> {
    const request = this.http.request({ url, method: "GET", abortSignal: init.signal, streamResponseStatusCodes: new Set([200]) });
    for (const [name, value] of Object.entries(init.headers ?? {})) request.headers.set(name, value);
    const response = await this.http.outside.sendRequest(this.http.client, request);
    if (response.status === 200 && response.readableStreamBody) return { status: 200, body: response.readableStreamBody, text: "" };
    return { status: response.status, text: response.bodyAsText ?? "" };
  }

  /**
   * POSTs a resource action (`sharedKeys`, `listKeys`, `start`) and returns its JSON body. The
   * generic resources API has no action call, so this goes through the same client's pipeline
   * (its credential, retries on 429/5xx and Retry-After). A body may hold keys: callers keep
   * them out of outputs and logs.
   */
  async action(id: string, type: ArmResourceType, action: string, signal: AbortSignal): Promise<Record<string, unknown>> {
    const what = `${action} on ${describe(id)}`;
    try {
      return await this.send(`${this.endpoint}${id}/${action}?api-version=${API_VERSIONS[type]}`, "POST", signal);
    } catch (error) {
      throw azureErrors.fromSdk(what, error, this.endpoint);
    }
  }

  /**
   * The children listed at `path` (`<job id>/executions`), with `query` (`$filter`) added: GETs
   * through the same pipeline as {@link action}, following `nextLink`. One GET per page; a parent that is gone (404) has none.
   */
  async list(path: string, type: ArmResourceType, signal: AbortSignal, query: Readonly<Record<string, string>> = {}): Promise<ArmResource[]> {
    const what = `list ${describe(path.slice(0, path.lastIndexOf("/")))} ${path.split("/").at(-1)}`;
    const out: ArmResource[] = [];
    const search = new URLSearchParams({ ...query, "api-version": API_VERSIONS[type] });
    try {
      for (let url: string | undefined = `${this.endpoint}${path}?${search.toString().replaceAll("+", "%20")}`; url; ) {
        const page = await this.send(url, "GET", signal);
        out.push(...((page.value as ArmResource[] | undefined) ?? []));
        url = typeof page.nextLink === "string" && page.nextLink ? page.nextLink : undefined;
      }
      return out;
    } catch (error) {
      // The parent is gone (a deleted vault, job or group): it has no children.
      if (sdkError(error).statusCode === 404) return [];
      throw azureErrors.fromSdk(what, error, this.endpoint);
    }
  }

  /** One request through the client's pipeline; its JSON body, or the SDK-shaped error for a status >= 400. */
  private async send(url: string, method: "GET" | "POST", signal: AbortSignal): Promise<Record<string, unknown>> {
    const request = this.http.request({ url, method, abortSignal: signal });
    request.headers.set("accept", "application/json");
    const response = await this.client.pipeline.sendRequest(this.http.client, request);
    const body = response.bodyAsText ? (JSON.parse(response.bodyAsText) as Record<string, unknown>) : {};
    if (response.status >= 400) throw Object.assign(new Error(String((body.error as { message?: string } | undefined)?.message ?? `HTTP ${response.status}`)), { statusCode: response.status, details: body });
    return body;
  }

  /** The resource, or undefined when Resource Manager says it does not exist (404). One GET. */
  async get(id: string, type: ArmResourceType, signal: AbortSignal): Promise<ArmResource | undefined> {
    try {
      return (await this.client.resources.getById(id, API_VERSIONS[type], { abortSignal: signal })) as ArmResource;
    } catch (error) {
      if (sdkError(error).statusCode === 404) return undefined;
      throw azureErrors.fromSdk(`read ${describe(id)}`, error, this.endpoint);
    }
  }

  /**
   * PUT `body` at `id` and wait for the operation to end, reporting progress (which operation,
   * elapsed time). A resource still busy with an earlier operation (a run killed mid-poll) is
   * waited for first. Throws AZURE_ARM_ERROR when the operation ends Failed.
   */
  async put(id: string, type: ArmResourceType, body: ArmBody, log: StepLogger, signal: AbortSignal): Promise<ArmResource> {
    const what = `create or update ${describe(id)}`;
    for (let attempt = 0; ; attempt++) {
      try {
        const poller = this.client.resources.createOrUpdateById(id, API_VERSIONS[type], body, { abortSignal: signal });
        const result = (await withProgress(what, log, poller)) as ArmResource;
        const state = result.properties?.provisioningState;
        if (state === "Failed" || state === "Canceled") throw new Error(`provisioningState ${String(state)}`);
        return result;
      } catch (error) {
        if (armCode(error) === "AnotherOperationInProgress" && attempt === 0) {
          await this.waitUntilIdle(id, type, log, signal);
          continue;
        }
        throw azureErrors.fromSdk(what, error, this.endpoint);
      }
    }
  }

  /** Deletes the resource at `id` and waits; a resource already gone is success. */
  async delete(id: string, type: ArmResourceType, log: StepLogger, signal: AbortSignal): Promise<void> {
    try {
      await withProgress(`delete ${describe(id)}`, log, this.client.resources.deleteById(id, API_VERSIONS[type], { abortSignal: signal }));
    } catch (error) {
      if (sdkError(error).statusCode === 404) return;
      throw azureErrors.fromSdk(`delete ${describe(id)}`, error, this.endpoint);
    }
  }

  /** The resources of `type` in resource group `group` (Resources_ListByResourceGroup; no properties). One GET per page. */
  async listInGroup(group: string, type: ArmResourceType, signal: AbortSignal): Promise<ArmResource[]> {
    try {
      const out: ArmResource[] = [];
      for await (const resource of this.client.resources.listByResourceGroup(group, { filter: `resourceType eq '${type}'`, abortSignal: signal })) out.push(resource as ArmResource);
      return out;
    } catch (error) {
      if (sdkError(error).statusCode === 404) return [];
      throw azureErrors.fromSdk(`list ${type} in resource group ${group}`, error, this.endpoint);
    }
  }

  async getGroup(name: string, signal: AbortSignal): Promise<ArmResource | undefined> {
    try {
      return (await this.client.resourceGroups.get(name, { abortSignal: signal })) as ArmResource;
    } catch (error) {
      if (sdkError(error).statusCode === 404) return undefined;
      throw azureErrors.fromSdk(`read resource group ${name}`, error, this.endpoint);
    }
  }

  async putGroup(name: string, body: { location: string; tags: Record<string, string> }, signal: AbortSignal): Promise<ArmResource> {
    try {
      return (await this.client.resourceGroups.createOrUpdate(name, body, { abortSignal: signal })) as ArmResource;
    } catch (error) {
      throw azureErrors.fromSdk(`create resource group ${name}`, error, this.endpoint);
    }
  }

  /** Deletes the resource group and everything in it; waits for the operation. Gone already: success. */
  async deleteGroup(name: string, log: StepLogger, signal: AbortSignal): Promise<void> {
    try {
      await withProgress(`delete resource group ${name}`, log, this.client.resourceGroups.delete(name, { abortSignal: signal }));
    } catch (error) {
      if (sdkError(error).statusCode === 404) return;
      throw azureErrors.fromSdk(`delete resource group ${name}`, error, this.endpoint);
    }
  }

  /** The provider's registration state (`Registered`, `NotRegistered`, `Registering` ...). */
  async providerState(namespace: string, signal: AbortSignal): Promise<string> {
    try {
      return (await this.client.providers.get(namespace, { abortSignal: signal })).registrationState ?? "Unknown";
    } catch (error) {
      throw azureErrors.fromSdk(`read resource provider ${namespace}`, error, this.endpoint);
    }
  }

  async registerProvider(namespace: string, signal: AbortSignal): Promise<string> {
    try {
      return (await this.client.providers.register(namespace, { abortSignal: signal })).registrationState ?? "Unknown";
    } catch (error) {
      throw azureErrors.fromSdk(`register resource provider ${namespace}`, error, this.endpoint);
    }
  }

  /**
   * Waits (GET every 2 s, after a minute every 15 s; progress shown) while the resource's provisioningState is not final: an
   * earlier operation (a run killed mid-poll) still busy with it (`final`: the type's states
   * that are not busy). Returns after `limitMs` anyway;
   * callers that need the final state read it again.
   */
  async waitUntilIdle(id: string, type: ArmResourceType, log: StepLogger, signal: AbortSignal, limitMs = BUSY_WAIT_MS, final: ReadonlySet<string> = FINAL_STATES): Promise<void> {
    const started = Date.now();
    while (Date.now() - started < limitMs) {
      const state = (await this.get(id, type, signal))?.properties?.provisioningState;
      if (state === undefined || final.has(String(state))) return;
      log.progress(`waiting for an earlier operation on ${describe(id)} (${String(state)}, ${seconds(started)})`);
      // Every 2 s for a minute, then every 15 s (a cache's creation takes 15-20 minutes).
      await sleep(Date.now() - started < 60_000 ? 2_000 : 15_000, signal);
    }
  }
}

/**
 * The token scope of a Resource Manager endpoint: `https://management.azure.com/.default` for
 * public Azure, `<endpoint>/.default` for a sovereign cloud's (management.usgovcloudapi.net,
 * management.chinacloudapi.cn) and the tests' local server.
 */
export function armScope(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, "")}/.default`;
}

/** Public Azure's Resource Manager: where the registry audience below is known to apply. */
const PUBLIC_ARM_HOST = "management.azure.com";

/**
 * The token scope for a container registry's token exchange: ACR's own audience
 * (`https://containerregistry.azure.net/.default`) on public Azure — it works also where policy
 * disables ARM-audience tokens on registries, and the token grants nothing in Resource Manager —
 * and the Resource Manager audience of `endpoint` elsewhere (sovereign clouds, the tests).
 */
export function registryTokenScope(endpoint: string): string {
  let host = "";
  try {
    host = new URL(endpoint).hostname.toLowerCase();
  } catch {
    // an invalid endpoint fails at connect already
  }
  return host === PUBLIC_ARM_HOST ? "https://containerregistry.azure.net/.default" : armScope(endpoint);
}

/** `Microsoft.KeyVault/vaults kv-demo` from an id. */
export function describe(id: string): string {
  const parts = id.split("/");
  const providers = parts.lastIndexOf("providers");
  if (providers < 0) return id;
  const rest = parts.slice(providers + 1);
  const types = [rest[0], ...rest.slice(1).filter((_, i) => i % 2 === 0)].join("/");
  return `${types} ${rest.at(-1)}`;
}

const seconds = (since: number) => `${Math.round((Date.now() - since) / 1000)}s`;

async function withProgress<T>(what: string, log: StepLogger, poller: PromiseLike<T> & { onProgress?(cb: (state: { status: string }) => void): unknown }): Promise<T> {
  const started = Date.now();
  let status = "started";
  poller.onProgress?.((state) => (status = state.status));
  const timer = setInterval(() => log.progress(`${what}: ${status} (${seconds(started)})`), PROGRESS_EVERY_MS);
  try {
    return await poller;
  } finally {
    clearInterval(timer);
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

const clients = new Map<string, Promise<ArmClient>>();

/** One client per endpoint and subscription per process (steps and the session share it). */
export function armClient(endpoint: string, subscription: string): Promise<ArmClient> {
  const key = `${endpoint}\n${subscription.toLowerCase()}`;
  let client = clients.get(key);
  if (!client) {
    client = ArmClient.connect(endpoint, subscription);
    clients.set(key, client);
    client.catch(() => clients.delete(key));
  }
  return client;
}
