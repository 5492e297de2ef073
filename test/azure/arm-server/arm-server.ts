/**
 * A local Azure Resource Manager for tests, written from the ARM REST contract (the RPC and the
 * azure-rest-api-specs examples), not from what stepwise's client sends:
 * - HTTPS on 127.0.0.1, bearer tokens issued by the {@link IdentityEndpoint} only (401 otherwise);
 * - `api-version` required on every call and checked per resource type (400
 *   `MissingApiVersionParameter` / `InvalidApiVersionParameter`);
 * - subscriptions must exist (404 `SubscriptionNotFound`), resource providers must be registered
 *   (409 `MissingSubscriptionRegistration`; `POST .../providers/{ns}/register`, `GET` shows
 *   `Registering` then `Registered`), resource groups must exist (404 `ResourceGroupNotFound`);
 * - PUT 201 when created, 200 when updated; long-running PUTs answer with `Azure-AsyncOperation`
 *   and `Retry-After`, the resource's provisioningState goes pending -> `Succeeded` (or `Failed`)
 *   as the operation is polled; resource-group DELETE is 202 + `Location`;
 * - injectable faults: 429/503 with `Retry-After`, long-running operations that end `Failed`;
 * - a request log (method, path, api-version, status, bodies) read through `/_control/log`;
 * - the tests' container registry's token service under `/oauth2/` (./registry-tokens.ts: ACR's
 *   Entra token exchange and the Docker token protocol), outside the request log.
 * - Container Apps' log streams under `/_logstream/` (each app's `eventStreamEndpoint` host), which
 *   accept only a token the app's `getAuthtoken` issued and serve the lines tests put with
 *   `POST /_control/app-log` (see {@link ArmServer.logStream}); their requests are in the log.
 * State is per subscription, so test files share one server without seeing each other.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ActionRefused, RESOURCE_TYPES, RESOURCES_API_VERSIONS, findType, type Json, type ResourceTypeSpec, type World } from "./resource-types.js";
import { RegistryTokens } from "./registry-tokens.js";

export interface LogEntry {
  seq: number;
  subscription: string | undefined;
  method: string;
  path: string;
  /** The query string without api-version (`$filter=...`), "" when none. */
  query: string;
  apiVersion: string | undefined;
  status: number;
  requestBody: string;
  responseBody: string;
}

/** A fault the next matching requests get. `status` faults answer before routing; `lroFail` makes long-running PUTs end `Failed`. */
export interface Fault {
  subscription: string;
  method?: string;
  /** Case-insensitive substring of the path. */
  pathIncludes?: string;
  /** 429 or 503 (with `Retry-After: retryAfter`), 403 (AuthorizationFailed: a role missing), `lroFail`, or `executionFail`. */
  status?: 403 | 429 | 503;
  lroFail?: boolean;
  /** The execution a matching job's `start` makes ends Failed. */
  executionFail?: boolean;
  retryAfter?: number;
  /** How many matching requests get it. */
  count: number;
}

export interface ArmServerOptions {
  /** Polls of an operation status before it is terminal. Default 1. */
  lroPolls?: number;
  /** Polls of a provider GET after `register` before it is `Registered`. Default 1. */
  registrationPolls?: number;
  /** Retry-After (seconds) on long-running operations. Default 1: the SDK ignores 0 and falls back to its own 2 s. */
  retryAfter?: number;
  /**
   * Milliseconds after which an operation nobody polls (its client was killed) ends on its own,
   * as Azure's do; seen on the next read of its resource. Default 1500.
   */
  settleMs?: number;
  /** Services outside Resource Manager the tests run (a registry standing in for ACR). */
  world?: World;
}

interface Operation {
  id: string;
  subscription: string;
  resourceId: string;
  kind: "put" | "delete";
  pollsLeft: number;
  fail: boolean;
  started: number;
  done?: "Succeeded" | "Failed";
}

interface Provider {
  namespace: string;
  state: "NotRegistered" | "Registering" | "Registered";
  pollsLeft: number;
}

interface Subscription {
  id: string;
  providers: Map<string, Provider>;
  groups: Map<string, Json>;
  /** Lower-cased resource id -> stored document. */
  resources: Map<string, Json>;
  /** Key Vault secret values by lower-cased secret id: write-only through ARM, readable through the control API. */
  secretValues: Map<string, string>;
}

/** A deleted resource's generated keys go with it: one made again under the same id answers new ones. */
function dropKeys(sub: Subscription, key: string): void {
  for (const other of [...sub.secretValues.keys()]) if (other.startsWith(`${key}#`)) sub.secretValues.delete(other);
}

class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const SUBSCRIPTION_API_VERSIONS = ["2016-06-01", "2020-01-01", "2021-01-01", "2022-12-01"];
const RG_NAME = /^[-\w._()]{1,90}$/;
/** Name rules from the specs' path parameter patterns. */
const NAME_RULES: Record<string, RegExp> = {
  "microsoft.keyvault/vaults": /^[a-zA-Z0-9-]{3,24}$/,
  "microsoft.keyvault/vaults/secrets": /^[a-zA-Z0-9-]{1,127}$/,
  "microsoft.containerregistry/registries": /^[a-zA-Z0-9]{5,50}$/,
  "microsoft.operationalinsights/workspaces": /^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$/,
  "microsoft.app/managedenvironments": /^[a-z][a-z0-9-]{0,58}[a-z0-9]$/,
  "microsoft.dbforpostgresql/flexibleservers": /^[a-z0-9][-a-z0-9]{1,61}[a-z0-9]$/,
  "microsoft.dbforpostgresql/flexibleservers/databases": /^[-\w.]{1,63}$/,
  "microsoft.dbforpostgresql/flexibleservers/firewallrules": /^[-\w]{1,128}$/,
  "microsoft.cache/redis": /^[A-Za-z0-9]([A-Za-z0-9]|-(?!-)){0,61}[A-Za-z0-9]$/,
  "microsoft.managedidentity/userassignedidentities": /^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$/,
  "microsoft.app/containerapps": /^(?=.{2,32}$)[a-z][a-z0-9]*(-[a-z0-9]+)*$/,
  "microsoft.app/jobs": /^(?=.{2,32}$)[a-z][a-z0-9]*(-[a-z0-9]+)*$/,
  "microsoft.authorization/roleassignments": /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
};

export class ArmServer {
  readonly log: LogEntry[] = [];
  readonly faults: Fault[] = [];
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly operations = new Map<string, Operation>();
  /** Child resources an action started (job executions), by lower-cased id: GETs left before they finish. */
  private readonly progress = new Map<string, { polls: number; finish(doc: Json): void }>();
  private server: Server | undefined;
  private seq = 0;
  /** Log-stream tokens `getAuthtoken` issued: the app (lower-cased id) each is for and when it expires. */
  private readonly logStreamTokens = new Map<string, { appId: string; expires: number }>();
  /** Console lines of each app (lower-cased id) put through the control API, and the followed streams open on it. */
  private readonly appLogs = new Map<string, { lines: string[]; followers: Set<ServerResponse> }>();
  /** The registry's token service (`/oauth2/...`), when the world has a registry. */
  private readonly registryTokens: RegistryTokens | undefined;
  url = "";
  readonly options: Required<ArmServerOptions>;

  constructor(
    private readonly tls: { key: string; cert: string },
    private readonly tokens: Set<string>,
    options: ArmServerOptions = {},
  ) {
    const world: World = {
      ...options.world,
      failNextExecution: (jobId) => {
        const subscription = /^\/subscriptions\/([^/]+)/i.exec(jobId)?.[1] ?? "";
        return this.takeFault(subscription, (f) => f.executionFail === true && (!f.pathIncludes || jobId.toLowerCase().includes(f.pathIncludes.toLowerCase()))) !== undefined;
      },
      issueLogStreamToken: (appId) => {
        const token = randomBytes(32).toString("base64url");
        const expires = Date.now() + 60 * 60_000;
        this.logStreamTokens.set(token, { appId: appId.toLowerCase(), expires });
        return { token, expires: new Date(expires).toISOString() };
      },
    };
    this.options = { lroPolls: 1, registrationPolls: 1, retryAfter: 1, settleMs: 1500, ...options, world };
    if (world.registry) {
      this.registryTokens = new RegistryTokens(tls, tokens, world.registry);
      this.registryTokens.service = world.registry.loginServer;
    }
  }

  /**
   * Names the running registry's address (its loginServer, the `service` of its tokens): the
   * registry starts after this server, whose URL is its token realm.
   */
  attachRegistry(loginServer: string): void {
    if (!this.options.world.registry || !this.registryTokens) throw new Error("the server was made without world.registry");
    this.options.world.registry.loginServer = loginServer;
    this.registryTokens.service = loginServer;
  }

  async start(): Promise<void> {
    this.server = createServer({ key: this.tls.key, cert: this.tls.cert }, (req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.options.world.eventStreamBase = `${this.url}/_logstream`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Creates an empty subscription (no provider registered but Microsoft.Resources). */
  addSubscription(id: string): void {
    const providers = new Map<string, Provider>();
    for (const ns of new Set(RESOURCE_TYPES.filter((t) => !t.registrationFree).map((t) => t.namespace))) providers.set(ns.toLowerCase(), { namespace: ns, state: "NotRegistered", pollsLeft: 0 });
    this.subscriptions.set(id.toLowerCase(), { id, providers, groups: new Map(), resources: new Map(), secretValues: new Map() });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const requestBody = Buffer.concat(chunks).toString("utf8");
    // Clients that join "/" and an id starting with "/" send "//subscriptions/...": ARM treats the
    // path as one with single slashes (and so does this server, instead of reading a host there).
    const url = new URL(`${this.url}${(req.url ?? "/").replace(/^\/{2,}/, "/")}`);
    url.pathname = url.pathname.replace(/\/{2,}/g, "/");
    const method = (req.method ?? "GET").toUpperCase();
    if (url.pathname.startsWith("/_control/")) return this.control(method, url, requestBody, res);
    if (url.pathname.startsWith("/_logstream/")) return this.logStream(method, url, req.headers.authorization, res);
    if (url.pathname.startsWith("/oauth2/") && this.registryTokens) {
      // The registry's token service answers here (its own protocol, outside Resource Manager's log).
      const answer = this.registryTokens.handle(method, url, req.headers, requestBody);
      res.writeHead(answer.status, { "content-type": "application/json; charset=utf-8", ...answer.headers });
      return void res.end(JSON.stringify(answer.body));
    }

    const apiVersion = url.searchParams.get("api-version") ?? undefined;
    const subscription = /^\/subscriptions\/([^/]+)/i.exec(url.pathname)?.[1];
    let status = 500;
    let responseBody = "";
    const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", "x-ms-request-id": randomUUID() };
    try {
      const answer = this.route(method, url, apiVersion, requestBody, req.headers.authorization);
      status = answer.status;
      Object.assign(headers, answer.headers ?? {});
      responseBody = answer.body === undefined ? "" : JSON.stringify(answer.body);
    } catch (error) {
      if (!(error instanceof ArmError)) throw error;
      status = error.status;
      if (error.status === 429 || error.status === 503) headers["retry-after"] = String((error as ArmError & { retryAfter?: number }).retryAfter ?? 0);
      responseBody = JSON.stringify({ error: { code: error.code, message: error.message } });
    }
    const query = new URLSearchParams(url.searchParams);
    query.delete("api-version");
    this.log.push({ seq: ++this.seq, subscription, method, path: url.pathname, query: query.toString(), apiVersion, status, requestBody, responseBody });
    res.writeHead(status, headers);
    res.end(responseBody);
  }

  private route(method: string, url: URL, apiVersion: string | undefined, requestBody: string, authorization: string | undefined): { status: number; body?: unknown; headers?: Record<string, string> } {
    const token = /^Bearer (.+)$/.exec(authorization ?? "")?.[1];
    if (!token || !this.tokens.has(token)) throw new ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing or its bearer token was not issued by the identity endpoint.");
    const segments = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    if (segments[0]?.toLowerCase() !== "subscriptions" || !segments[1]) throw new ArmError(404, "InvalidResourceType", `No route for '${url.pathname}'.`);
    if (apiVersion === undefined) throw new ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
    const sub = this.subscriptions.get(segments[1].toLowerCase());
    this.injectFault(segments[1], method, url.pathname);
    const rest = segments.slice(2);
    const lower = rest.map((s) => s.toLowerCase());

    // /subscriptions/{id}
    if (rest.length === 0) {
      checkVersion(apiVersion, SUBSCRIPTION_API_VERSIONS, "subscriptions");
      if (!sub) throw new ArmError(404, "SubscriptionNotFound", `The subscription '${segments[1]}' could not be found.`);
      if (method !== "GET") throw methodNotAllowed(method);
      return { status: 200, body: { id: `/subscriptions/${sub.id}`, subscriptionId: sub.id, displayName: "stepwise test subscription", state: "Enabled" } };
    }
    if (!sub) throw new ArmError(404, "SubscriptionNotFound", `The subscription '${segments[1]}' could not be found.`);

    // /subscriptions/{id}/providers/{ns}[/register | /locations/{loc}/operationStatuses|operationResults/{op}]
    if (lower[0] === "providers" && rest.length >= 2) {
      const namespace = rest[1]!;
      if (rest.length >= 6 && lower[2] === "locations" && (lower[4] === "operationstatuses" || lower[4] === "operationresults")) {
        if (method !== "GET") throw methodNotAllowed(method);
        return this.pollOperation(sub, rest[5]!, lower[4] === "operationresults", url);
      }
      checkVersion(apiVersion, RESOURCES_API_VERSIONS, "providers");
      const provider = sub.providers.get(namespace.toLowerCase());
      if (!provider) throw new ArmError(404, "InvalidResourceNamespace", `The resource namespace '${namespace}' is invalid.`);
      if (rest.length === 2 && method === "GET") {
        if (provider.state === "Registering" && provider.pollsLeft-- <= 0) provider.state = "Registered";
        return { status: 200, body: providerDocument(sub, provider) };
      }
      if (rest.length === 3 && lower[2] === "register" && method === "POST") {
        if (provider.state === "NotRegistered") {
          provider.state = this.options.registrationPolls > 0 ? "Registering" : "Registered";
          provider.pollsLeft = this.options.registrationPolls - 1;
        }
        return { status: 200, body: providerDocument(sub, provider) };
      }
      throw new ArmError(404, "InvalidResourceType", `No route for ${method} '${url.pathname}'.`);
    }

    if (lower[0] !== "resourcegroups" || !rest[1]) throw new ArmError(404, "InvalidResourceType", `No route for '${url.pathname}'.`);
    const groupName = rest[1];
    // GET /subscriptions/{s}/resourceGroups/{rg}/resources[?$filter=resourceType eq '...']: Resources_ListByResourceGroup.
    if (rest.length === 3 && lower[2] === "resources") {
      checkVersion(apiVersion, RESOURCES_API_VERSIONS, "resources");
      if (method !== "GET") throw methodNotAllowed(method);
      const group = sub.groups.get(groupName.toLowerCase());
      if (!group) throw new ArmError(404, "ResourceGroupNotFound", `Resource group '${groupName}' could not be found.`);
      const filter = url.searchParams.get("$filter");
      const wanted = filter ? /^resourceType eq '([^']+)'$/i.exec(filter.trim())?.[1]?.toLowerCase() : undefined;
      if (filter && !wanted) throw new ArmError(400, "InvalidFilterInQueryString", `The $filter '${filter}' is not supported here (resourceType eq '...' only).`);
      const prefix = `/subscriptions/${sub.id}/resourcegroups/${groupName}/providers/`.toLowerCase();
      // Top-level resources only (provider/type/name), without properties (GenericResourceExpanded).
      const value = [...sub.resources.entries()]
        .filter(([key]) => key.startsWith(prefix) && key.slice(prefix.length).split("/").length === 3)
        .map(([, doc]) => doc)
        .filter((doc) => !wanted || String(doc.type).toLowerCase() === wanted)
        .map(({ properties: _properties, ...rest }) => rest);
      return { status: 200, body: { value } };
    }
    // GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Authorization/roleAssignments:
    // RoleAssignments_ListForResourceGroup (authorization 2022-04-01; RoleAssignments_ListForResourceGroup.json).
    // `$filter=atScope()`: the assignments at or above the group; `principalId eq '{id}'`: the principal's
    // at, above or below it; none: all at, above or below it.
    if (rest.length === 5 && lower[2] === "providers" && lower[3] === "microsoft.authorization" && lower[4] === "roleassignments") {
      if (method !== "GET") throw methodNotAllowed(method);
      const spec = findType("Microsoft.Authorization/roleAssignments")!;
      checkVersion(apiVersion, spec.apiVersions, spec.type);
      const group = sub.groups.get(groupName.toLowerCase());
      if (!group) throw new ArmError(404, "ResourceGroupNotFound", `Resource group '${groupName}' could not be found.`);
      const filter = url.searchParams.get("$filter")?.trim();
      const principal = filter ? /^principalId\s+eq\s+'([0-9a-fA-F-]{36})'$/.exec(filter)?.[1] : undefined;
      if (filter && !principal && filter !== "atScope()") throw new ArmError(400, "InvalidFilter", `The filter '${filter}' is not supported. Use atScope() or principalId eq '{id}'.`);
      const groupScope = `/subscriptions/${sub.id}/resourcegroups/${groupName}`.toLowerCase();
      const value = [...sub.resources.values()].filter((doc) => {
        if (String(doc.type).toLowerCase() !== "microsoft.authorization/roleassignments") return false;
        const p = doc.properties as Json;
        const scope = String(p.scope).toLowerCase();
        const atOrAbove = groupScope === scope || groupScope.startsWith(`${scope}/`);
        const below = scope.startsWith(`${groupScope}/`);
        if (filter === "atScope()") return atOrAbove;
        if (principal) return (atOrAbove || below) && String(p.principalId).toLowerCase() === principal.toLowerCase();
        return atOrAbove || below;
      });
      return { status: 200, body: { value } };
    }
    if (rest.length === 2) {
      checkVersion(apiVersion, RESOURCES_API_VERSIONS, "resourceGroups");
      return this.resourceGroup(sub, groupName, method, requestBody, apiVersion);
    }
    // POST {resource}/{action}: an odd number of segments after the namespace.
    const action = rest.length >= 7 && rest.length % 2 === 1 && method === "POST" ? rest.pop()! : undefined;
    if (action) lower.pop();
    // GET {resource}/{child type}: the list of its children (a job's executions).
    const collection = rest.length >= 7 && rest.length % 2 === 1 && method === "GET" && lower[2] === "providers" ? rest.pop()! : undefined;
    if (collection) lower.pop();
    // An extension resource ({scope}/providers/{ns}/{type}/{name}, e.g. a role assignment on a vault):
    // its scope, a resource of the group, must exist.
    const extension = lower.indexOf("providers", 6);
    if (extension > 0 && !action && rest.length === extension + 4 && extension % 2 === 0) {
      const spec = findType(`${rest[extension + 1]}/${rest[extension + 2]}`);
      if (!spec) throw new ArmError(400, "InvalidResourceType", `The resource type '${rest[extension + 2]}' could not be found in the namespace '${rest[extension + 1]}' for api version '${apiVersion}'.`);
      checkVersion(apiVersion, spec.apiVersions, spec.type);
      if (sub.providers.get(spec.namespace.toLowerCase())?.state.startsWith("Not") === true || sub.providers.get(spec.namespace.toLowerCase())?.state === "Registering") {
        throw new ArmError(409, "MissingSubscriptionRegistration", `The subscription is not registered to use namespace '${spec.namespace}'. See https://aka.ms/rps-not-found for how to register subscriptions.`);
      }
      const group = sub.groups.get(groupName.toLowerCase());
      if (!group) throw new ArmError(404, "ResourceGroupNotFound", `Resource group '${groupName}' could not be found.`);
      const scope = sub.resources.get(`/subscriptions/${sub.id}/${rest.slice(0, extension).join("/")}`.toLowerCase());
      if (!scope) throw new ArmError(404, "ResourceNotFound", `The Resource '${rest.slice(3, extension).join("/")}' under resource group '${groupName}' was not found.`);
      const id = `${String(scope.id)}/providers/${spec.namespace}/${spec.type.split("/").slice(1).join("/")}/${rest[extension + 3]}`;
      return this.resource(sub, spec, id, rest[extension + 3]!, group.name as string, method, requestBody, apiVersion, url);
    }
    if (lower[2] !== "providers" || rest.length < 6 || rest.length % 2 !== 0) throw new ArmError(404, "InvalidResourceType", `No route for '${url.pathname}'.`);
    const namespace = rest[3]!;
    const typeSegments: string[] = [];
    const nameSegments: string[] = [];
    for (let i = 4; i < rest.length; i += 2) {
      typeSegments.push(rest[i]!);
      nameSegments.push(rest[i + 1]!);
    }
    const typeName = `${namespace}/${typeSegments.join("/")}`;
    const spec = findType(typeName);
    if (!spec) throw new ArmError(400, "InvalidResourceType", `The resource type '${typeSegments.join("/")}' could not be found in the namespace '${namespace}' for api version '${apiVersion}'.`);
    checkVersion(apiVersion, spec.apiVersions, spec.type);
    const provider = sub.providers.get(spec.namespace.toLowerCase());
    if (provider && provider.state !== "Registered") {
      throw new ArmError(409, "MissingSubscriptionRegistration", `The subscription is not registered to use namespace '${spec.namespace}'. See https://aka.ms/rps-not-found for how to register subscriptions.`);
    }
    const group = sub.groups.get(groupName.toLowerCase());
    if (!group) throw new ArmError(404, "ResourceGroupNotFound", `Resource group '${groupName}' could not be found.`);
    const id = `/subscriptions/${sub.id}/resourceGroups/${group.name as string}/providers/${spec.namespace}/${typeSegments.map((t, i) => `${t}/${nameSegments[i]}`).join("/")}`;
    if (nameSegments.length > 1) {
      const parentId = id.slice(0, id.lastIndexOf(`/${typeSegments.at(-1)}/`));
      if (!sub.resources.has(parentId.toLowerCase())) {
        throw new ArmError(404, "ParentResourceNotFound", `Can not perform requested operation on nested resource. Parent resource '${nameSegments.slice(0, -1).join("/")}' not found.`);
      }
    }
    if (collection) {
      const childType = findType(`${spec.type}/${collection}`);
      if (!childType) throw new ArmError(404, "InvalidResourceType", `The resource type '${spec.type}' has no children '${collection}'.`);
      checkVersion(apiVersion, childType.apiVersions, childType.type);
      if (!sub.resources.has(id.toLowerCase())) throw notFound(spec, nameSegments.at(-1)!, group.name as string);
      const prefix = `${id.toLowerCase()}/${collection.toLowerCase()}/`;
      const value = [...sub.resources.entries()].filter(([key]) => key.startsWith(prefix) && !key.slice(prefix.length).includes("/")).map(([key, doc]) => this.advance(key, doc));
      return { status: 200, body: { value, nextLink: null } };
    }
    if (action) {
      const run = spec.actions?.[action.toLowerCase()];
      if (!run) throw new ArmError(404, "InvalidResourceType", `The resource type '${spec.type}' has no action '${action}'.`);
      const doc = sub.resources.get(id.toLowerCase());
      if (!doc) throw notFound(spec, nameSegments.at(-1)!, group.name as string);
      const keys = (name: string) => {
        const key = `${id.toLowerCase()}#${name}`;
        if (!sub.secretValues.has(key)) sub.secretValues.set(key, randomBytes(48).toString("base64"));
        return sub.secretValues.get(key)!;
      };
      try {
        const child = (type: string, name: string, childDoc: Json, progress: { polls: number; finish(doc: Json): void }) => {
          const childId = `${id}/${type}/${name}`;
          sub.resources.set(childId.toLowerCase(), { id: childId, ...childDoc });
          this.progress.set(childId.toLowerCase(), progress);
          return childId;
        };
        return { status: 200, body: run(doc, keys, this.options.world, child) };
      } catch (error) {
        if (error instanceof ActionRefused) throw new ArmError(error.status, error.code, error.message);
        throw error;
      }
    }
    return this.resource(sub, spec, id, nameSegments.at(-1)!, group.name as string, method, requestBody, apiVersion, url);
  }

  private resourceGroup(sub: Subscription, name: string, method: string, requestBody: string, apiVersion: string) {
    const key = name.toLowerCase();
    const existing = sub.groups.get(key);
    const id = `/subscriptions/${sub.id}/resourceGroups/${existing?.name ?? name}`;
    switch (method) {
      case "GET":
      case "HEAD":
        if (!existing) throw new ArmError(404, "ResourceGroupNotFound", `Resource group '${name}' could not be found.`);
        return { status: method === "HEAD" ? 204 : 200, body: method === "HEAD" ? undefined : existing };
      case "PUT": {
        if (!RG_NAME.test(name) || name.endsWith(".")) throw new ArmError(400, "InvalidResourceGroup", `The provided resource group name '${name}' has these invalid characters or length.`);
        const body = parseBody(requestBody);
        if (typeof body.location !== "string" || !body.location) throw new ArmError(400, "LocationRequired", "The location property is required for this definition.");
        if (existing && existing.location !== body.location) {
          throw new ArmError(409, "InvalidResourceGroupLocation", `Invalid resource group location '${body.location as string}'. The Resource group already exists in location '${existing.location as string}'.`);
        }
        if (existing?.properties && (existing.properties as Json).provisioningState === "Deleting") throw new ArmError(409, "ResourceGroupBeingDeleted", `The resource group '${name}' is in deprovisioning state and cannot perform this operation.`);
        const doc: Json = { id, name: existing?.name ?? name, type: "Microsoft.Resources/resourceGroups", location: body.location, properties: { provisioningState: "Succeeded" } };
        if (body.tags !== undefined) doc.tags = body.tags;
        if (body.managedBy !== undefined) doc.managedBy = body.managedBy;
        sub.groups.set(key, doc);
        return { status: existing ? 200 : 201, body: doc };
      }
      case "PATCH": {
        if (!existing) throw new ArmError(404, "ResourceGroupNotFound", `Resource group '${name}' could not be found.`);
        const body = parseBody(requestBody);
        if (body.tags !== undefined) existing.tags = body.tags;
        return { status: 200, body: existing };
      }
      case "DELETE": {
        if (!existing) throw new ArmError(404, "ResourceGroupNotFound", `Resource group '${name}' could not be found.`);
        (existing.properties as Json).provisioningState = "Deleting";
        const op = this.newOperation(sub, id, "delete");
        return {
          status: 202,
          headers: { location: `${this.url}/subscriptions/${sub.id}/providers/Microsoft.Resources/locations/${existing.location as string}/operationResults/${op.id}?api-version=${apiVersion}`, "retry-after": String(this.options.retryAfter) },
        };
      }
      default:
        throw methodNotAllowed(method);
    }
  }

  private resource(sub: Subscription, spec: ResourceTypeSpec, id: string, name: string, resourceGroup: string, method: string, requestBody: string, apiVersion: string, url: URL) {
    const key = id.toLowerCase();
    // Operations on this resource whose client stopped polling end on their own after a while.
    for (const op of this.operations.values()) {
      if (!op.done && op.resourceId.toLowerCase() === key && Date.now() - op.started >= this.options.settleMs) this.finish(sub, op);
    }
    const existing = sub.resources.get(key);
    switch (method) {
      case "GET":
        if (!existing) throw notFound(spec, name, resourceGroup);
        return { status: 200, body: this.advance(key, existing) };
      case "PUT": {
        const rule = NAME_RULES[spec.type.toLowerCase()];
        if (rule && !rule.test(name)) throw new ArmError(400, "InvalidResourceName", `The resource name '${name}' is invalid for type '${spec.type}' (it must match ${rule.source}).`);
        const body = parseBody(requestBody);
        const problem = spec.validate(body, existing);
        if (problem) throw new ArmError(400, "InvalidRequestContent", problem);
        const others = [...sub.resources.values()].filter((r) => String(r.type).toLowerCase() === spec.type.toLowerCase());
        const lookup = (other: string) => sub.resources.get(other.toLowerCase());
        const conflict = spec.conflict?.(body, existing, others, id, lookup);
        if (conflict) throw new ArmError(conflict.status ?? 409, conflict.code, conflict.message);
        const state = existing && (existing.properties as Json | undefined)?.provisioningState;
        if (spec.longRunning && existing && state !== "Succeeded" && state !== "Failed" && state !== "Canceled") {
          throw new ArmError(409, "AnotherOperationInProgress", `Another operation on ${spec.type} '${name}' is in progress (provisioningState ${String(state)}).`);
        }
        const parent = sub.resources.get(key.slice(0, key.lastIndexOf("/", key.lastIndexOf("/") - 1)));
        const doc = spec.present({ id, name, subscription: sub.id, resourceGroup, body, previous: existing, parent, lookup, world: this.options.world });
        const writeOnly = spec.writeOnly?.(body);
        if (writeOnly !== undefined) sub.secretValues.set(key, writeOnly);
        if (!spec.longRunning) {
          if (doc.properties && !spec.noProvisioningState && spec.type !== "Microsoft.KeyVault/vaults/secrets") (doc.properties as Json).provisioningState = "Succeeded";
          sub.resources.set(key, doc);
          return { status: existing ? 200 : (spec.createdStatus ?? 201), body: doc };
        }
        (doc.properties as Json).provisioningState = existing ? "Updating" : spec.pendingState ?? "Accepted";
        sub.resources.set(key, doc);
        for (const child of spec.children?.(doc) ?? []) sub.resources.set(`${key}/${child.type}/${child.name}`.toLowerCase(), { id: `${id}/${child.type}/${child.name}`, ...child.doc });
        const fail = this.takeFault(sub.id, (f) => f.lroFail === true && (!f.pathIncludes || url.pathname.toLowerCase().includes(f.pathIncludes.toLowerCase())));
        const op = this.newOperation(sub, id, "put", fail !== undefined);
        return {
          status: existing ? 200 : 201,
          body: doc,
          headers: {
            "azure-asyncoperation": `${this.url}/subscriptions/${sub.id}/providers/${spec.namespace}/locations/${String(doc.location ?? "global")}/operationStatuses/${op.id}?api-version=${apiVersion}`,
            "retry-after": String(this.options.retryAfter),
          },
        };
      }
      case "PATCH": {
        if (!existing) throw notFound(spec, name, resourceGroup);
        const body = parseBody(requestBody);
        if (body.tags !== undefined) existing.tags = body.tags;
        if (body.properties && typeof body.properties === "object") existing.properties = { ...(existing.properties as Json), ...(body.properties as Json) };
        return { status: 200, body: existing };
      }
      case "DELETE": {
        if (!existing) return { status: 204 };
        for (const other of [...sub.resources.keys()]) if (other === key || other.startsWith(`${key}/`)) sub.resources.delete(other);
        dropKeys(sub, key);
        return { status: 200 };
      }
      default:
        throw methodNotAllowed(method);
    }
  }

  /** A child an action started moves on by one GET; at the end it gets its terminal document. */
  private advance(key: string, doc: Json): Json {
    const progress = this.progress.get(key);
    if (progress && progress.polls-- <= 0) {
      progress.finish(doc);
      this.progress.delete(key);
    }
    return doc;
  }

  private newOperation(sub: Subscription, resourceId: string, kind: Operation["kind"], fail = false): Operation {
    const op: Operation = { id: randomUUID(), subscription: sub.id, resourceId, kind, pollsLeft: this.options.lroPolls, fail, started: Date.now() };
    this.operations.set(op.id, op);
    return op;
  }

  private pollOperation(sub: Subscription, opId: string, asResult: boolean, url: URL) {
    const op = this.operations.get(opId);
    if (!op || op.subscription.toLowerCase() !== sub.id.toLowerCase()) throw new ArmError(404, "OperationNotFound", `The operation '${opId}' could not be found.`);
    if (!op.done && op.pollsLeft-- <= 0) this.finish(sub, op);
    const retry = { "retry-after": String(this.options.retryAfter) };
    if (asResult) {
      // Location protocol: 202 while running, then 200 (delete) or the operation's error.
      if (!op.done) return { status: 202, headers: { ...retry, location: url.toString() } };
      if (op.done === "Failed") throw new ArmError(400, "OperationFailed", `The operation on '${op.resourceId}' failed.`);
      return { status: 200 };
    }
    const body: Json = { id: url.pathname, name: op.id, status: op.done ?? "InProgress", startTime: new Date().toISOString() };
    if (op.done) body.endTime = new Date().toISOString();
    if (op.done === "Failed") body.error = { code: "InternalServerError", message: `Provisioning of '${op.resourceId}' failed (injected fault).` };
    return { status: 200, body, headers: op.done ? {} : retry };
  }

  private finish(sub: Subscription, op: Operation): void {
    op.done = op.fail ? "Failed" : "Succeeded";
    const key = op.resourceId.toLowerCase();
    if (op.kind === "delete") {
      const group = /\/resourceGroups\/([^/]+)$/i.exec(op.resourceId)?.[1];
      if (group && !op.fail) {
        sub.groups.delete(group.toLowerCase());
        for (const id of [...sub.resources.keys()]) if (id.startsWith(`${key}/`)) sub.resources.delete(id);
      }
      return;
    }
    const doc = sub.resources.get(key);
    if (doc?.properties) (doc.properties as Json).provisioningState = op.done;
    if (doc && op.done === "Succeeded") findType(String(doc.type))?.succeeded?.(doc);
  }

  /**
   * `GET /_logstream/subscriptions/{s}/resourceGroups/{g}/containerApps/{app}/revisions/{r}/replicas/{replica}/containers/{c}/logstream`
   * `?tailLines=N&follow=true|false&output=text`, the Container Apps log stream as `az containerapp
   * logs show` reads it (a data-plane endpoint: no api-version, no Resource Manager token). The bearer
   * must be a token this app's `getAuthtoken` issued and not yet expired (401 otherwise); the revision,
   * replica and container must exist (404). It answers the app's last `tailLines` lines (at most 300,
   * az's limit; 400 beyond), one per line, and with `follow=true` keeps the response open, writing
   * each line put later, until the client goes. Only `output=text` is served here. Lines are kept per
   * app (this server runs one replica of one container per revision).
   */
  private logStream(method: string, url: URL, authorization: string | undefined, res: ServerResponse): void {
    const parts = /^\/_logstream\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/containerApps\/([^/]+)\/revisions\/([^/]+)\/replicas\/([^/]+)\/containers\/([^/]+)\/logstream$/i.exec(url.pathname);
    const subscription = parts?.[1];
    const entry = (status: number) => this.log.push({ seq: ++this.seq, subscription, method, path: url.pathname, query: url.searchParams.toString(), apiVersion: undefined, status, requestBody: "", responseBody: "" });
    const fail = (status: number, code: string, message: string) => {
      entry(status);
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify({ error: { code, message } }));
    };
    if (!parts) return fail(404, "NotFound", `No log stream at '${url.pathname}'.`);
    if (method !== "GET") return fail(405, "MethodNotAllowed", `The HTTP method '${method}' is not supported here.`);
    // Injected 429/503 faults apply here too (a test's refused stream).
    const fault = this.takeFault(String(subscription), (f) => f.status !== undefined && (!f.method || f.method.toUpperCase() === method) && (!f.pathIncludes || url.pathname.toLowerCase().includes(f.pathIncludes.toLowerCase())));
    if (fault) return fail(fault.status!, fault.status === 429 ? "TooManyRequests" : "ServiceUnavailable", "The log stream is temporarily unavailable.");
    const [, , group, app, revision, replica, container] = parts.map((p) => decodeURIComponent(p));
    const appId = `/subscriptions/${subscription}/resourceGroups/${group}/providers/Microsoft.App/containerApps/${app}`.toLowerCase();
    const token = this.logStreamTokens.get(/^Bearer (.+)$/.exec(authorization ?? "")?.[1] ?? "");
    if (!token || token.expires < Date.now() || token.appId !== appId) return fail(401, "Unauthorized", "The bearer token is missing, expired, or not issued by this app's getAuthtoken.");
    const resources = this.subscriptions.get(String(subscription).toLowerCase())?.resources;
    const replicaDoc = resources?.get(`${appId}/revisions/${revision}/replicas/${replica}`.toLowerCase());
    if (!resources?.has(`${appId}/revisions/${revision}`.toLowerCase()) || !replicaDoc) return fail(404, "NotFound", `Revision '${revision}' of '${app}' has no replica '${replica}'.`);
    if (!((replicaDoc.properties as Json).containers as Json[]).some((c) => c.name === container)) return fail(404, "NotFound", `Replica '${replica}' has no container '${container}'.`);
    const tailText = url.searchParams.get("tailLines") ?? "300";
    const follow = url.searchParams.get("follow") ?? "false";
    const output = url.searchParams.get("output") ?? "text";
    if (!/^\d+$/.test(tailText) || Number(tailText) > 300) return fail(400, "BadRequest", `tailLines must be an integer from 0 to 300, not '${tailText}'.`);
    if (follow !== "true" && follow !== "false") return fail(400, "BadRequest", `follow must be true or false, not '${follow}'.`);
    if (output !== "text") return fail(400, "BadRequest", `This server serves output=text only, not '${output}'.`);
    entry(200);
    const logs = this.appLogOf(appId);
    const tail = Number(tailText);
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    res.write(tail === 0 ? "" : logs.lines.slice(-tail).map((line) => `${line}\n`).join(""));
    if (follow === "false") return void res.end();
    logs.followers.add(res);
    res.on("close", () => logs.followers.delete(res));
  }

  private appLogOf(appId: string): { lines: string[]; followers: Set<ServerResponse> } {
    let logs = this.appLogs.get(appId.toLowerCase());
    if (!logs) this.appLogs.set(appId.toLowerCase(), (logs = { lines: [], followers: new Set() }));
    return logs;
  }

  private injectFault(subscription: string, method: string, path: string): void {
    const fault = this.takeFault(subscription, (f) => f.status !== undefined && (!f.method || f.method.toUpperCase() === method) && (!f.pathIncludes || path.toLowerCase().includes(f.pathIncludes.toLowerCase())));
    if (!fault) return;
    const [code, message] =
      fault.status === 403
        ? ["AuthorizationFailed", "The client does not have authorization to perform this action or the scope is invalid."]
        : fault.status === 429
          ? ["TooManyRequests", "The request is being throttled."]
          : ["ServiceUnavailable", "The service is temporarily unavailable."];
    const error = new ArmError(fault.status!, code, message);
    Object.assign(error, { retryAfter: fault.retryAfter ?? 0 });
    throw error;
  }

  private takeFault(subscription: string, matches: (f: Fault) => boolean): Fault | undefined {
    const fault = this.faults.find((f) => f.count > 0 && f.subscription.toLowerCase() === subscription.toLowerCase() && matches(f));
    if (fault) fault.count--;
    return fault;
  }

  // -------------------------------------------------------------------------------------------
  // Control API for tests (no auth; loopback only)
  // -------------------------------------------------------------------------------------------

  private control(method: string, url: URL, body: string, res: ServerResponse): void {
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value ?? null));
    };
    const subscription = url.searchParams.get("subscription") ?? "";
    const sub = this.subscriptions.get(subscription.toLowerCase());
    switch (`${method} ${url.pathname}`) {
      case "POST /_control/subscriptions":
        this.addSubscription(subscription);
        return send(201, { id: subscription });
      case "GET /_control/log":
        return send(200, this.log.filter((e) => e.subscription?.toLowerCase() === subscription.toLowerCase()));
      case "POST /_control/faults":
        this.faults.push({ ...(JSON.parse(body) as Omit<Fault, "subscription">), subscription });
        return send(201, {});
      case "DELETE /_control/faults":
        for (const f of this.faults) if (f.subscription.toLowerCase() === subscription.toLowerCase()) f.count = 0;
        return send(200, {});
      case "GET /_control/resource": {
        const id = (url.searchParams.get("id") ?? "").toLowerCase();
        const group = /^\/subscriptions\/[^/]+\/resourcegroups\/([^/]+)$/.exec(id)?.[1];
        const doc = group ? sub?.groups.get(group) : sub?.resources.get(id);
        const keys = Object.fromEntries([...(sub?.secretValues ?? new Map<string, string>())].filter(([k]) => k.startsWith(`${id}#`)).map(([k, v]) => [k.slice(id.length + 1), v]));
        return doc ? send(200, { resource: doc, secretValue: sub?.secretValues.get(id), keys }) : send(404, {});
      }
      case "DELETE /_control/keys": {
        // Regenerates a resource's generated keys (the next action answers new ones).
        const id = (url.searchParams.get("id") ?? "").toLowerCase();
        if (sub) for (const key of [...sub.secretValues.keys()]) if (key.startsWith(`${id}#`)) sub.secretValues.delete(key);
        return send(200, {});
      }
      case "DELETE /_control/resource": {
        const id = (url.searchParams.get("id") ?? "").toLowerCase();
        const existed = sub?.resources.delete(id) ?? false;
        if (sub) dropKeys(sub, id.toLowerCase());
        if (sub) for (const other of [...sub.resources.keys()]) if (other.startsWith(`${id}/`)) sub.resources.delete(other);
        return send(existed ? 200 : 404, {});
      }
      case "POST /_control/app-log": {
        // Console lines an app's container wrote: kept for its log stream and written to every open follow.
        const { id, lines } = JSON.parse(body) as { id: string; lines: string[] };
        const logs = this.appLogOf(id);
        logs.lines.push(...lines);
        for (const follower of logs.followers) follower.write(lines.map((line) => `${line}\n`).join(""));
        return send(201, { followers: logs.followers.size });
      }
      case "GET /_control/registry-log":
        return send(200, { log: this.registryTokens?.log ?? [], issued: this.registryTokens?.issued() ?? [] });
      case "POST /_control/registry-deny":
        this.registryTokens?.denyPush(String((JSON.parse(body) as { prefix?: unknown }).prefix ?? ""));
        return send(201, {});
      default:
        return send(404, { error: `no control route ${method} ${url.pathname}` });
    }
  }
}

function parseBody(text: string): Json {
  if (!text) throw new ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: the body is empty.");
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
    return value as Json;
  } catch {
    throw new ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.");
  }
}

function checkVersion(apiVersion: string, allowed: readonly string[], what: string): void {
  if (!allowed.includes(apiVersion)) {
    throw new ArmError(400, "InvalidApiVersionParameter", `The api-version '${apiVersion}' is invalid. The supported versions for '${what}' are '${allowed.join(",")}'.`);
  }
}

function methodNotAllowed(method: string): ArmError {
  return new ArmError(405, "MethodNotAllowed", `The HTTP method '${method}' is not supported here.`);
}

function notFound(spec: ResourceTypeSpec, name: string, resourceGroup: string): ArmError {
  return new ArmError(404, "ResourceNotFound", `The Resource '${spec.type}/${name}' under resource group '${resourceGroup}' was not found.`);
}

function providerDocument(sub: Subscription, provider: Provider): Json {
  return {
    id: `/subscriptions/${sub.id}/providers/${provider.namespace}`,
    namespace: provider.namespace,
    registrationPolicy: "RegistrationRequired",
    registrationState: provider.state,
    resourceTypes: RESOURCE_TYPES.filter((t) => t.namespace === provider.namespace).map((t) => ({
      resourceType: t.type.slice(t.namespace.length + 1),
      apiVersions: [...t.apiVersions].reverse(),
      locations: ["West Europe", "East US"],
    })),
  };
}
