/**
 * The resource types the fake Resource Manager knows, written from the REST API specification
 * (azure-rest-api-specs) and its examples (shared/arm-examples, test/azure/arm-examples):
 * accepted api-versions (stable versions published in the spec), what a PUT body must hold,
 * whether the PUT is long-running and in which provisioningState it starts, and what the service
 * adds to the stored document. Nothing here is derived from what stepwise's client sends.
 */
import { randomUUID } from "node:crypto";

export type Json = Record<string, unknown>;

export interface StoredResource {
  id: string;
  name: string;
  type: string;
  body: Json;
  /** Which api-version family the resource was created with (for examples conformance only). */
  createdWith: string;
}

/** What the test world outside Resource Manager looks like (a real registry the tests run). */
export interface World {
  /**
   * The local registry standing in for ACR: the loginServer of every registry whose name starts
   * with `name`; its token service knows the admin user `name` only, with `password` (what
   * listCredentials answers for `name` while the admin user is enabled), and the refresh tokens its
   * Entra token exchange issued.
   */
  registry?: { name: string; loginServer: string; password: string };
  /** Whether the execution a job's `start` makes now ends Failed (an injected fault). */
  failNextExecution?(jobId: string): boolean;
  /** Where apps' log streams are served (`<server url>/_logstream`): the host part of their `eventStreamEndpoint`. */
  eventStreamBase?: string;
  /** A Container App's log-stream token (what `getAuthtoken` answers), which that app's log stream then accepts until `expires`. */
  issueLogStreamToken?(appId: string): { token: string; expires: string };
}

export interface PresentContext {
  id: string;
  name: string;
  subscription: string;
  resourceGroup: string;
  body: Json;
  previous?: Json;
  parent?: Json;
  lookup(id: string): Json | undefined;
  world: World;
}

/**
 * Makes a child resource an action starts (a job's execution): stored at `<parent id>/<type>/<name>`,
 * readable by GET; `polls` GETs later `finish` gives it its terminal document.
 */
export type ChildMaker = (type: string, name: string, doc: Json, progress: { polls: number; finish(doc: Json): void }) => string;

/** An action the service refuses (status, ARM error code, message). */
export class ActionRefused extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ResourceTypeSpec {
  /** `Microsoft.KeyVault/vaults`, `Microsoft.KeyVault/vaults/secrets` (case as the spec spells it). */
  type: string;
  /** Stable api-versions the spec publishes for this type; anything else is InvalidApiVersionParameter. */
  apiVersions: readonly string[];
  /** A problem with the PUT body (the spec's required members; `previous`: the stored document on an update), or undefined. */
  validate(body: Json, previous?: Json): string | undefined;
  /** A write-only value of the PUT body (never returned by ARM), kept for the control API: a secret's value, an admin password. */
  writeOnly?(body: Json): string | undefined;
  /** PUT is `x-ms-long-running-operation`: 201/200 + Azure-AsyncOperation, polled to a terminal state. */
  longRunning: boolean;
  /** provisioningState of a long-running PUT before it ends (from the spec's 201 example). */
  pendingState?: string;
  /** The document the service stores and returns, from the request body (values it computes added, secrets dropped). */
  present(ctx: PresentContext): Json;
  /**
   * POST actions on a resource (`sharedKeys` ...), by lower-cased name: the response body, given the
   * stored document and a per-resource store of generated keys (readable through the control API).
   */
  actions?: Readonly<Record<string, (doc: Json, keys: (name: string) => string, world: World, child: ChildMaker) => Json>>;
  /** Called with the stored document when a long-running PUT of it ends Succeeded (what the service computes then). */
  succeeded?(doc: Json): void;
  /** Child resources the service makes with the resource (an app's revision): stored under its id after each PUT. */
  children?(doc: Json): { type: string; name: string; doc: Json }[];
  /** Status of a PUT that created the resource: 201 unless the spec documents 200 only. */
  createdStatus?: 200 | 201;
  /** The resource's RP namespace must be registered on the subscription (unless `registrationFree`). */
  namespace: string;
  /** The namespace needs no registration (Microsoft.Authorization is registered for every subscription). */
  registrationFree?: boolean;
  /** The service adds no provisioningState to the document (the spec's examples show none). */
  noProvisioningState?: boolean;
  /**
   * A conflict with what is stored (409 code and message), given the stored document at this id
   * (`previous`) and every stored document of this type in the subscription (`others`).
   */
  conflict?(body: Json, previous: Json | undefined, others: readonly Json[], id: string, lookup: (id: string) => Json | undefined): { status?: number; code: string; message: string } | undefined;
}

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): v is string => typeof v === "string" && v.length > 0;

function requireLocation(body: Json): string | undefined {
  return str(body.location) ? undefined : "The 'location' property is required.";
}

function tracked(type: string, ctx: { id: string; name: string; body: Json }, properties: Json): Json {
  // Tracked resources always carry tags (an empty object when none were given).
  const doc: Json = { id: ctx.id, name: ctx.name, type, location: ctx.body.location, tags: ctx.body.tags ?? {} };
  if (ctx.body.sku !== undefined) doc.sku = ctx.body.sku;
  if (ctx.body.kind !== undefined) doc.kind = ctx.body.kind;
  if (ctx.body.identity !== undefined) doc.identity = ctx.body.identity;
  doc.properties = properties;
  return doc;
}

const props = (body: Json): Json => (isObject(body.properties) ? { ...body.properties } : {});

export const RESOURCE_TYPES: readonly ResourceTypeSpec[] = [
  {
    // Microsoft.OperationalInsights/stable/*/Workspaces.json; WorkspacesCreate.json (201: Creating).
    type: "Microsoft.OperationalInsights/workspaces",
    namespace: "Microsoft.OperationalInsights",
    apiVersions: ["2020-08-01", "2020-10-01", "2021-06-01", "2022-10-01", "2023-09-01", "2025-02-01", "2025-07-01", "2026-03-01"],
    longRunning: true,
    pendingState: "Creating",
    validate: requireLocation,
    // WorkspacesGetSharedKeys.json (POST .../sharedKeys, 200 { primarySharedKey, secondarySharedKey }).
    actions: { sharedkeys: (_doc, keys) => ({ primarySharedKey: keys("primarySharedKey"), secondarySharedKey: keys("secondarySharedKey") }) },
    present(ctx) {
      const p = props(ctx.body);
      const previous = isObject(ctx.previous?.properties) ? ctx.previous.properties : {};
      return tracked("Microsoft.OperationalInsights/workspaces", ctx, {
        ...p,
        customerId: previous.customerId ?? randomUUID(),
        retentionInDays: p.retentionInDays ?? 30,
        sku: p.sku ?? { name: "PerGB2018" },
      });
    },
  },
  {
    // applicationinsights Components 2020-02-02; ComponentsCreate.json (200 only, Succeeded).
    type: "Microsoft.Insights/components",
    namespace: "Microsoft.Insights",
    apiVersions: ["2015-05-01", "2020-02-02"],
    longRunning: false,
    createdStatus: 200,
    validate(body) {
      if (!str(body.location)) return "The 'location' property is required.";
      if (!str(body.kind)) return "The 'kind' property is required.";
      if (!isObject(body.properties) || !str(body.properties.Application_Type)) return "The 'properties.Application_Type' property is required.";
      return undefined;
    },
    present(ctx) {
      const previous = isObject(ctx.previous?.properties) ? ctx.previous.properties : {};
      const key = (previous.InstrumentationKey as string | undefined) ?? randomUUID();
      return tracked("Microsoft.Insights/components", ctx, {
        ...props(ctx.body),
        ApplicationId: ctx.name,
        AppId: previous.AppId ?? randomUUID(),
        InstrumentationKey: key,
        ConnectionString: `InstrumentationKey=${key}`,
        provisioningState: "Succeeded",
      });
    },
  },
  {
    // containerregistry Registry stable; RegistryCreate.json (201: Creating).
    type: "Microsoft.ContainerRegistry/registries",
    namespace: "Microsoft.ContainerRegistry",
    apiVersions: ["2019-05-01", "2021-09-01", "2023-07-01", "2025-04-01"],
    longRunning: true,
    pendingState: "Creating",
    validate(body) {
      if (!str(body.location)) return "The 'location' property is required.";
      if (!isObject(body.sku) || !["Basic", "Standard", "Premium"].includes(body.sku.name as string)) return "The 'sku.name' property must be one of Basic, Standard, Premium.";
      return undefined;
    },
    // RegistryListCredentials.json (POST .../listCredentials, 200 { username: <registry name>,
    // passwords: [password, password2] }). The service answers only while the admin user is
    // enabled (documented for `az acr credential show`; the spec has no example of the refusal).
    actions: {
      listcredentials(doc, keys, world) {
        if ((doc.properties as Json).adminUserEnabled !== true) throw new ActionRefused(400, "AdminUserDisabled", `Admin user is disabled for registry '${String(doc.name)}'.`);
        return {
          username: doc.name,
          passwords: [
            { name: "password", value: world.registry?.name === doc.name ? world.registry.password : keys("password") },
            { name: "password2", value: keys("password2") },
          ],
        };
      },
    },
    present(ctx) {
      return tracked("Microsoft.ContainerRegistry/registries", ctx, {
        ...props(ctx.body),
        // The tests' registry stands in for <name>.azurecr.io of the registry it is made for.
        loginServer: ctx.world.registry && ctx.name.startsWith(ctx.world.registry.name) ? ctx.world.registry.loginServer : `${ctx.name.toLowerCase()}.azurecr.io`,
        creationDate: new Date().toISOString(),
      });
    },
  },
  {
    // keyvault stable; createVault.json (LRO; 200/201 Succeeded).
    type: "Microsoft.KeyVault/vaults",
    namespace: "Microsoft.KeyVault",
    apiVersions: ["2019-09-01", "2022-07-01", "2023-07-01", "2024-11-01", "2025-05-01", "2026-02-01", "2026-04-01"],
    longRunning: true,
    pendingState: "RegisteringDns",
    validate(body) {
      if (!str(body.location)) return "The 'location' property is required.";
      const p = body.properties;
      if (!isObject(p)) return "The 'properties' property is required.";
      if (!str(p.tenantId)) return "The 'properties.tenantId' property is required.";
      if (!isObject(p.sku) || p.sku.family !== "A" || !["standard", "premium"].includes(p.sku.name as string)) return "The 'properties.sku' must be { family: 'A', name: 'standard'|'premium' }.";
      return undefined;
    },
    present(ctx) {
      return tracked("Microsoft.KeyVault/vaults", ctx, { ...props(ctx.body), vaultUri: `https://${ctx.name}.vault.azure.net/` });
    },
  },
  {
    // keyvault secrets (management plane); createSecret.json / getSecret.json: the value is write-only.
    type: "Microsoft.KeyVault/vaults/secrets",
    namespace: "Microsoft.KeyVault",
    apiVersions: ["2019-09-01", "2022-07-01", "2023-07-01", "2024-11-01", "2025-05-01", "2026-02-01", "2026-04-01"],
    longRunning: false,
    validate(body) {
      if (!isObject(body.properties) || typeof body.properties.value !== "string") return "The 'properties.value' property is required.";
      return undefined;
    },
    writeOnly: (body) => String((body.properties as Json).value),
    present(ctx) {
      const [, vault] = /\/vaults\/([^/]+)\//i.exec(ctx.id) ?? [];
      const { value: _value, ...rest } = props(ctx.body);
      const version = randomUUID().replace(/-/g, "");
      const now = Math.floor(Date.now() / 1000);
      const doc: Json = {
        id: ctx.id,
        name: ctx.name,
        type: "Microsoft.KeyVault/vaults/secrets",
        location: ctx.parent?.location,
        properties: {
          ...rest,
          attributes: { enabled: true, created: now, updated: now },
          secretUri: `https://${vault}.vault.azure.net/secrets/${ctx.name}`,
          secretUriWithVersion: `https://${vault}.vault.azure.net/secrets/${ctx.name}/${version}`,
        },
      };
      if (ctx.body.tags !== undefined) doc.tags = ctx.body.tags;
      return doc;
    },
  },
  {
    // postgresql flexibleServers 2025-08-01 (Servers_Create, ServerCreate.json: LRO, 201/200 with
    // state Ready, fullyQualifiedDomainName <name>.postgres.database.azure.com). administratorLogin
    // and administratorLoginPassword are required on create; the password is write-only; the
    // login cannot change afterwards.
    type: "Microsoft.DBforPostgreSQL/flexibleServers",
    namespace: "Microsoft.DBforPostgreSQL",
    apiVersions: ["2021-06-01", "2022-12-01", "2023-06-01", "2024-08-01", "2025-08-01"],
    longRunning: true,
    pendingState: "Accepted",
    validate(body, previous) {
      if (!str(body.location)) return "The 'location' property is required.";
      if (!isObject(body.sku) || !str(body.sku.name) || !["Burstable", "GeneralPurpose", "MemoryOptimized"].includes(body.sku.tier as string)) return "The 'sku' must have a name and a tier of Burstable, GeneralPurpose, MemoryOptimized.";
      const p = isObject(body.properties) ? body.properties : {};
      const before = isObject(previous?.properties) ? previous.properties : undefined;
      if (!before && (!str(p.administratorLogin) || !str(p.administratorLoginPassword))) return "The 'administratorLogin' and 'administratorLoginPassword' properties are required to create a server.";
      if (before && str(p.administratorLogin) && p.administratorLogin !== before.administratorLogin) return `The administrator login of a server cannot be changed (it is '${String(before.administratorLogin)}').`;
      return undefined;
    },
    writeOnly: (body) => (isObject(body.properties) && str(body.properties.administratorLoginPassword) ? body.properties.administratorLoginPassword : undefined),
    present(ctx) {
      const { administratorLoginPassword: _password, ...p } = props(ctx.body);
      const previous = isObject(ctx.previous?.properties) ? ctx.previous.properties : {};
      return tracked("Microsoft.DBforPostgreSQL/flexibleServers", ctx, {
        ...p,
        administratorLogin: p.administratorLogin ?? previous.administratorLogin,
        fullyQualifiedDomainName: `${ctx.name}.postgres.database.azure.com`,
        state: "Ready",
        minorVersion: "8",
        network: { publicNetworkAccess: "Enabled", ...(isObject(p.network) ? p.network : {}) },
      });
    },
  },
  {
    // flexibleServers/databases (Databases_Create, DatabaseCreate.json: LRO, 201 { charset, collation }).
    type: "Microsoft.DBforPostgreSQL/flexibleServers/databases",
    namespace: "Microsoft.DBforPostgreSQL",
    apiVersions: ["2021-06-01", "2022-12-01", "2023-06-01", "2024-08-01", "2025-08-01"],
    longRunning: true,
    validate: () => undefined,
    present: (ctx) => ({ id: ctx.id, name: ctx.name, type: "Microsoft.DBforPostgreSQL/flexibleServers/databases", properties: { charset: "UTF8", collation: "en_US.utf8", ...props(ctx.body) } }),
  },
  {
    // flexibleServers/firewallRules (FirewallRules_CreateOrUpdate, FirewallRuleCreate.json: LRO,
    // startIpAddress and endIpAddress required, IPv4).
    type: "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules",
    namespace: "Microsoft.DBforPostgreSQL",
    apiVersions: ["2021-06-01", "2022-12-01", "2023-06-01", "2024-08-01", "2025-08-01"],
    longRunning: true,
    validate(body) {
      const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
      const p = isObject(body.properties) ? body.properties : {};
      if (!str(p.startIpAddress) || !ipv4.test(p.startIpAddress) || !str(p.endIpAddress) || !ipv4.test(p.endIpAddress)) return "The 'properties.startIpAddress' and 'properties.endIpAddress' properties must be IPv4 addresses.";
      return undefined;
    },
    present: (ctx) => ({ id: ctx.id, name: ctx.name, type: "Microsoft.DBforPostgreSQL/flexibleServers/firewallRules", properties: props(ctx.body) }),
  },
  {
    // redis Microsoft.Cache 2024-11-01 (Redis_Create, RedisCacheCreate.json: LRO, 201/200; the
    // sku {name Basic|Standard|Premium, family C|P, capacity} is required and sits in properties;
    // RedisCacheGet.json: provisioningState Creating while it is made, hostName
    // <name>.redis.cache.windows.net, port 6379, sslPort 6380; no keys). RedisCacheListKeys.json:
    // POST .../listKeys, 200 { primaryKey, secondaryKey }; keys go with the cache (RedisCacheDelete.json).
    type: "Microsoft.Cache/Redis",
    namespace: "Microsoft.Cache",
    apiVersions: ["2015-08-01", "2016-04-01", "2017-02-01", "2017-10-01", "2018-03-01", "2019-07-01", "2020-06-01", "2020-12-01", "2021-06-01", "2022-05-01", "2022-06-01", "2023-04-01", "2023-08-01", "2024-03-01", "2024-11-01"],
    longRunning: true,
    pendingState: "Creating",
    validate(body) {
      if (!str(body.location)) return "The 'location' property is required.";
      const p = isObject(body.properties) ? body.properties : {};
      const sku = isObject(p.sku) ? p.sku : undefined;
      if (!sku || !["Basic", "Standard", "Premium"].includes(sku.name as string) || !["C", "P"].includes(sku.family as string) || !Number.isInteger(sku.capacity)) {
        return "The 'properties.sku' must have a name (Basic, Standard, Premium), a family (C, P) and an integer capacity.";
      }
      if ((sku.name === "Premium") !== (sku.family === "P")) return `The sku family '${String(sku.family)}' does not match the sku '${String(sku.name)}' (P for Premium, C otherwise).`;
      if (p.minimumTlsVersion !== undefined && !["1.0", "1.1", "1.2"].includes(p.minimumTlsVersion as string)) return "The 'minimumTlsVersion' must be one of 1.0, 1.1, 1.2.";
      return undefined;
    },
    actions: { listkeys: (_doc, keys) => ({ primaryKey: keys("primaryKey"), secondaryKey: keys("secondaryKey") }) },
    present(ctx) {
      const p = props(ctx.body);
      const doc = tracked("Microsoft.Cache/Redis", ctx, {
        enableNonSslPort: false,
        publicNetworkAccess: "Enabled",
        redisConfiguration: {},
        ...p,
        redisVersion: "6.0.14",
        hostName: `${ctx.name}.redis.cache.windows.net`,
        port: 6379,
        sslPort: 6380,
        instances: [],
        linkedServers: [],
      });
      // Availability zones are a top-level member of the cache (RedisCacheCreate.json).
      if (Array.isArray(ctx.body.zones)) doc.zones = ctx.body.zones;
      return doc;
    },
  },
  {
    // app ContainerApps 2025-07-01 managedEnvironments; ManagedEnvironments_CreateOrUpdate.json
    // (LRO, 201 InitializationInProgress; logAnalyticsConfiguration.sharedKey is write-only).
    type: "Microsoft.App/managedEnvironments",
    namespace: "Microsoft.App",
    apiVersions: ["2022-03-01", "2022-10-01", "2023-05-01", "2024-03-01", "2025-01-01", "2025-07-01"],
    longRunning: true,
    pendingState: "InitializationInProgress",
    validate(body) {
      if (!str(body.location)) return "The 'location' property is required.";
      const logs = isObject(body.properties) && isObject(body.properties.appLogsConfiguration) ? body.properties.appLogsConfiguration : undefined;
      const la = logs && isObject(logs.logAnalyticsConfiguration) ? logs.logAnalyticsConfiguration : undefined;
      if (logs?.destination === "log-analytics" && (!la || !str(la.customerId) || !str(la.sharedKey))) return "ManagedEnvironmentInvalidLogAnalyticsConfiguration: customerId and sharedKey are required for the log-analytics destination.";
      return undefined;
    },
    writeOnly(body) {
      const la = ((body.properties as Json | undefined)?.appLogsConfiguration as Json | undefined)?.logAnalyticsConfiguration as Json | undefined;
      return str(la?.sharedKey) ? la.sharedKey : undefined;
    },
    present(ctx) {
      const p = props(ctx.body);
      const logs = isObject(p.appLogsConfiguration) ? p.appLogsConfiguration : undefined;
      if (logs && isObject(logs.logAnalyticsConfiguration)) {
        const { sharedKey: _key, ...la } = logs.logAnalyticsConfiguration;
        p.appLogsConfiguration = { ...logs, logAnalyticsConfiguration: la };
      }
      const previous = isObject(ctx.previous?.properties) ? ctx.previous.properties : {};
      return tracked("Microsoft.App/managedEnvironments", ctx, {
        ...p,
        defaultDomain: previous.defaultDomain ?? `${ctx.name}.${randomUUID().slice(0, 8)}.${String(ctx.body.location).toLowerCase().replace(/\s+/g, "")}.azurecontainerapps.io`,
        staticIp: previous.staticIp ?? "127.0.0.1",
      });
    },
  },
  {
    // msi ManagedIdentity stable 2026-05-31; IdentityCreate.json: not long-running, 201/200 with
    // clientId, principalId, tenantId (the service's, fixed for the identity's life), no provisioningState.
    type: "Microsoft.ManagedIdentity/userAssignedIdentities",
    namespace: "Microsoft.ManagedIdentity",
    apiVersions: ["2018-11-30", "2023-01-31", "2024-11-30", "2026-04-30", "2026-05-31"],
    longRunning: false,
    noProvisioningState: true,
    validate: requireLocation,
    present(ctx) {
      const previous = isObject(ctx.previous?.properties) ? ctx.previous.properties : {};
      return tracked("Microsoft.ManagedIdentity/userAssignedIdentities", ctx, {
        clientId: previous.clientId ?? randomUUID(),
        principalId: previous.principalId ?? randomUUID(),
        tenantId: previous.tenantId ?? "72f988bf-86f1-41af-91ab-2d7cd011db47",
        isolationScope: props(ctx.body).isolationScope ?? previous.isolationScope ?? "None",
        assignmentRestrictions: { providers: [] },
      });
    },
  },
  {
    // app ContainerApps 2025-07-01 containerApps; ContainerApps_CreateOrUpdate.json (LRO, 201/200,
    // provisioningState InProgress; ingress.fqdn, latestRevisionFqdn computed). A secret holds a
    // write-only value or a Key Vault reference (keyVaultUrl + an identity assigned to the app);
    // env vars reference secrets by name; the environment must exist.
    type: "Microsoft.App/containerApps",
    namespace: "Microsoft.App",
    apiVersions: ["2022-03-01", "2022-10-01", "2023-05-01", "2024-03-01", "2025-01-01", "2025-07-01"],
    longRunning: true,
    pendingState: "InProgress",
    validate: containerAppProblem,
    writeOnly: (body) => secretValues(body),
    conflict: environmentMissing,
    // A PUT whose template changed makes a revision (single revision mode: the latest is the active one) with one replica
    // running the template's containers (Replicas_List.json: ContainerAppsRevisionReplicas_ListReplicas).
    children: (doc) => {
      const name = String((doc.properties as Json).latestRevisionName);
      const revision = { type: "revisions", name, doc: { name, type: "Microsoft.App/containerApps/revisions", properties: { createdTime: new Date().toISOString(), active: true, replicas: 1, trafficWeight: 100, healthState: "Healthy", provisioningState: "Provisioned", runningState: "Running" } } };
      return [revision, replicaOf(name, (doc.properties as Json).template)];
    },
    // The revision the PUT made is ready once its operation succeeded; until then the previous ready one stays.
    succeeded: (doc) => {
      const p = doc.properties as Json;
      p.latestReadyRevisionName = p.latestRevisionName;
    },
    // ContainerApps_GetAuthToken.json: POST .../containerApps/{app}/getAuthtoken -> 200
    // { id, name, type: Microsoft.App/containerApps/accesstoken, location, properties: { token, expires } }:
    // the token of the app's log stream (and exec), accepted by the stream until it expires.
    actions: {
      getauthtoken(doc, _keys, world) {
        const issued = world.issueLogStreamToken?.(String(doc.id));
        if (!issued) throw new ActionRefused(404, "ResourceNotFound", "The log stream is not available.");
        return { id: doc.id, name: doc.name, type: "Microsoft.App/containerApps/accesstoken", location: doc.location, properties: { token: issued.token, expires: issued.expires } };
      },
    },
    present(ctx) {
      const p = props(ctx.body);
      const environmentId = String(p.environmentId ?? p.managedEnvironmentId);
      const environment = ctx.lookup(environmentId);
      const domain = String((environment?.properties as Json | undefined)?.defaultDomain ?? "");
      const configuration: Json = isObject(p.configuration) ? { ...p.configuration } : {};
      if (Array.isArray(configuration.secrets)) configuration.secrets = (configuration.secrets as Json[]).map(({ value: _value, ...rest }) => rest);
      if (isObject(configuration.ingress)) {
        const ingress = configuration.ingress;
        configuration.ingress = { ...ingress, transport: ingress.transport ?? "auto", fqdn: ingress.external === true ? `${ctx.name}.${domain}` : `${ctx.name}.internal.${domain}` };
      }
      // A new revision only for a revision-scope change (the template); secrets, ingress and
      // tags are application-scope and keep the running revision.
      const before = isObject(ctx.previous?.properties) ? ctx.previous.properties : undefined;
      const sameTemplate = before !== undefined && str(before.latestRevisionName) && JSON.stringify(before.template) === JSON.stringify(p.template);
      const revision = sameTemplate ? String(before.latestRevisionName) : `${ctx.name}--${randomUUID().slice(0, 7)}`;
      return tracked("Microsoft.App/containerApps", ctx, {
        ...p,
        managedEnvironmentId: environmentId,
        environmentId,
        configuration,
        runningStatus: "Running",
        latestRevisionName: revision,
        latestRevisionFqdn: `${revision}.${domain}`,
        ...(isObject(ctx.previous?.properties) && str(ctx.previous.properties.latestReadyRevisionName) ? { latestReadyRevisionName: ctx.previous.properties.latestReadyRevisionName } : {}),
        eventStreamEndpoint: `${ctx.world.eventStreamBase ?? "https://westeurope.azurecontainerapps.dev"}/subscriptions/${ctx.subscription}/resourceGroups/${ctx.resourceGroup}/containerApps/${ctx.name}/eventstream`,
        outboundIpAddresses: ["20.1.2.3"],
      });
    },
  },
  {
    // app ContainerApps 2025-07-01 jobs; Job_CreateorUpdate.json (LRO, 201/200, provisioningState
    // InProgress). configuration.triggerType and replicaTimeout are required; a Manual job needs
    // manualTriggerConfig. Secrets, registries and containers follow the app's rules.
    // Job_Start.json: POST .../start -> 200 { name, id } of the new execution, whose status
    // (Job_Execution_Get.json) is Running until it ends Succeeded or Failed.
    type: "Microsoft.App/jobs",
    namespace: "Microsoft.App",
    apiVersions: ["2023-05-01", "2024-03-01", "2025-01-01", "2025-07-01"],
    longRunning: true,
    pendingState: "InProgress",
    validate(body) {
      const configuration = isObject(body.properties) && isObject(body.properties.configuration) ? body.properties.configuration : {};
      if (!["Manual", "Schedule", "Event"].includes(configuration.triggerType as string)) return "JobInvalidTriggerType: 'properties.configuration.triggerType' must be Manual, Schedule or Event.";
      if (typeof configuration.replicaTimeout !== "number") return "JobInvalidConfiguration: 'properties.configuration.replicaTimeout' is required.";
      if (configuration.triggerType === "Manual" && !isObject(configuration.manualTriggerConfig)) return "JobInvalidConfiguration: a Manual job needs 'properties.configuration.manualTriggerConfig'.";
      return containerAppProblem(body);
    },
    writeOnly: (body) => secretValues(body),
    conflict: environmentMissing,
    actions: {
      start(doc, _keys, world, child) {
        const name = `${String(doc.name)}-${randomUUID().replace(/-/g, "").slice(0, 7)}`;
        const template = (doc.properties as Json).template as Json;
        const running = { name, type: "Microsoft.App/jobs/executions", properties: { status: "Running", startTime: new Date().toISOString(), template } };
        const fail = world.failNextExecution?.(String(doc.id)) === true;
        const id = child("executions", name, running, {
          polls: 1,
          finish: (execution) => Object.assign(execution.properties as Json, { status: fail ? "Failed" : "Succeeded", endTime: new Date().toISOString() }),
        });
        return { name, id };
      },
    },
    present(ctx) {
      const p = props(ctx.body);
      const environmentId = String(p.environmentId);
      const configuration: Json = isObject(p.configuration) ? { ...p.configuration } : {};
      if (Array.isArray(configuration.secrets)) configuration.secrets = (configuration.secrets as Json[]).map(({ value: _value, ...rest }) => rest);
      return tracked("Microsoft.App/jobs", ctx, { ...p, environmentId, configuration, eventStreamEndpoint: `https://${String(ctx.body.location).toLowerCase().replace(/\s+/g, "")}.azurecontainerapps.dev/subscriptions/${ctx.subscription}/resourceGroups/${ctx.resourceGroup}/containerApps/${ctx.name}/eventstream` });
    },
  },
  {
    // A Container App's revisions exist only through its PUTs; Revisions_Restart.json: POST
    // .../revisions/{revision}/restart -> 200, no body.
    type: "Microsoft.App/containerApps/revisions",
    namespace: "Microsoft.App",
    apiVersions: ["2022-03-01", "2022-10-01", "2023-05-01", "2024-03-01", "2025-01-01", "2025-07-01"],
    longRunning: false,
    validate: () => "MethodNotAllowed: revisions are made by the app's PUT.",
    actions: {
      restart(doc) {
        const properties = doc.properties as Json;
        properties.restarts = Number(properties.restarts ?? 0) + 1;
        return {};
      },
    },
    present: (ctx) => ctx.body,
  },
  {
    // A revision's replicas exist only through the app's PUTs: GET and list (Replicas_List.json), never PUT.
    type: "Microsoft.App/containerApps/revisions/replicas",
    namespace: "Microsoft.App",
    apiVersions: ["2022-03-01", "2022-10-01", "2023-05-01", "2024-03-01", "2025-01-01", "2025-07-01"],
    longRunning: false,
    validate: () => "MethodNotAllowed: replicas are made by the app's PUT.",
    present: (ctx) => ctx.body,
  },
  {
    // Job executions exist only through a job's `start`: GET (Job_Execution_Get.json) and list
    // (Job_Executions_Get.json), never PUT.
    type: "Microsoft.App/jobs/executions",
    namespace: "Microsoft.App",
    apiVersions: ["2023-05-01", "2024-03-01", "2025-01-01", "2025-07-01"],
    longRunning: false,
    validate: () => "MethodNotAllowed: job executions are made by POST .../jobs/{job}/start.",
    present: (ctx) => ctx.body,
  },
  {
    // authorization stable 2022-04-01 (RoleAssignments_Create, RoleAssignments_CreateForResource.json):
    // an extension resource at any scope ({scope}/providers/Microsoft.Authorization/roleAssignments/{guid}),
    // not long-running, 201/200, no provisioningState; roleDefinitionId and principalId required.
    // The service refuses (409) another assignment of the same role to the same principal at the same
    // scope (RoleAssignmentExists) and a change of an assignment's principal, role or scope
    // (RoleAssignmentUpdateNotPermitted); a PUT of the same assignment again is 200.
    type: "Microsoft.Authorization/roleAssignments",
    namespace: "Microsoft.Authorization",
    registrationFree: true,
    apiVersions: ["2015-07-01", "2022-04-01"],
    longRunning: false,
    noProvisioningState: true,
    validate(body) {
      const p = isObject(body.properties) ? body.properties : undefined;
      if (!p || !str(p.roleDefinitionId) || !str(p.principalId)) return "The 'properties.roleDefinitionId' and 'properties.principalId' properties are required.";
      if (!roleGuid(p.roleDefinitionId)) return `The role definition id '${String(p.roleDefinitionId)}' is invalid.`;
      if (!GUID.test(p.principalId)) return `The principal id '${p.principalId}' is not a valid GUID.`;
      if (p.principalType !== undefined && !["User", "Group", "ServicePrincipal", "ForeignGroup", "Device"].includes(p.principalType as string)) return `The principal type '${String(p.principalType)}' is invalid.`;
      return undefined;
    },
    conflict(body, previous, others, id) {
      const p = body.properties as Json;
      const scope = id.slice(0, id.toLowerCase().lastIndexOf("/providers/microsoft.authorization/"));
      const before = isObject(previous?.properties) ? previous.properties : undefined;
      if (before && (before.principalId !== p.principalId || roleGuid(before.roleDefinitionId) !== roleGuid(p.roleDefinitionId))) {
        return { code: "RoleAssignmentUpdateNotPermitted", message: "Tenant ID, application ID, principal ID, and scope are not allowed to be updated." };
      }
      const same = others.find((o) => {
        const q = o.properties as Json;
        return String(o.id).toLowerCase() !== id.toLowerCase() && String(q.scope).toLowerCase() === scope.toLowerCase() && q.principalId === p.principalId && roleGuid(q.roleDefinitionId) === roleGuid(p.roleDefinitionId);
      });
      if (same) return { code: "RoleAssignmentExists", message: `The role assignment already exists. The ID of the existing role assignment is ${String(same.name).replace(/-/g, "")}.` };
      return undefined;
    },
    present(ctx) {
      const p = props(ctx.body);
      const scope = ctx.id.slice(0, ctx.id.toLowerCase().lastIndexOf("/providers/microsoft.authorization/"));
      // The example's response gives the role definition id without the subscription.
      const properties: Json = { roleDefinitionId: `/providers/Microsoft.Authorization/roleDefinitions/${roleGuid(p.roleDefinitionId)}`, principalId: p.principalId, scope };
      if (p.principalType !== undefined) properties.principalType = p.principalType;
      return { properties, id: ctx.id, type: "Microsoft.Authorization/roleAssignments", name: ctx.name };
    },
  },
];

/**
 * The one replica of revision `revision`, shaped as Replicas_List.json shows one (its `type` too, which
 * the example spells `Microsoft.Web/containerapps/revisions/replicas`): stored under the app as
 * `revisions/{revision}/replicas/{name}`, running each of the template's containers.
 */
function replicaOf(revision: string, template: unknown): { type: string; name: string; doc: Json } {
  const name = `${revision}-${randomUUID().replace(/-/g, "").slice(0, 9)}-${randomUUID().replace(/-/g, "").slice(0, 5)}`;
  const containers = isObject(template) && Array.isArray(template.containers) ? (template.containers as Json[]) : [];
  return {
    type: `revisions/${revision}/replicas`,
    name,
    doc: {
      name,
      type: "Microsoft.Web/containerapps/revisions/replicas",
      properties: {
        createdTime: new Date().toISOString(),
        runningState: "Running",
        containers: containers.map((c) => ({ name: c.name, containerId: `containerd://${randomUUID().replace(/-/g, "")}`, ready: true, started: true, restartCount: 0, runningState: "Running" })),
        initContainers: [],
      },
    },
  };
}

/** Secret values of an app's or job's body (write-only: never returned). */
function secretValues(body: Json): string | undefined {
  const secrets = ((body.properties as Json | undefined)?.configuration as Json | undefined)?.secrets;
  const values = Array.isArray(secrets) ? (secrets as Json[]).filter((s) => typeof s.value === "string").map((s) => String(s.value)) : [];
  return values.length ? values.join("\n") : undefined;
}

/** An app or job must name an existing environment (404 ManagedEnvironmentNotFound). */
function environmentMissing(body: Json, _previous: Json | undefined, _others: readonly Json[], _id: string, lookup: (id: string) => Json | undefined) {
  const p = body.properties as Json;
  const environmentId = String(p.environmentId ?? p.managedEnvironmentId);
  if (!lookup(environmentId)) return { status: 404, code: "ManagedEnvironmentNotFound", message: `The environment '${environmentId}' was not found.` };
  return undefined;
}

const APP_SECRET_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function containerAppProblem(body: Json): string | undefined {
  if (!str(body.location)) return "The 'location' property is required.";
  const p = isObject(body.properties) ? body.properties : {};
  if (!str(p.environmentId) && !str(p.managedEnvironmentId)) return "ManagedEnvironmentIdRequired: 'properties.environmentId' is required.";
  const template = isObject(p.template) ? p.template : {};
  const containers = Array.isArray(template.containers) ? (template.containers as Json[]) : [];
  if (containers.length === 0) return "ContainerAppInvalidTemplate: 'properties.template.containers' must have at least one container.";
  const configuration = isObject(p.configuration) ? p.configuration : {};
  const secrets = Array.isArray(configuration.secrets) ? (configuration.secrets as Json[]) : [];
  const identities = isObject(body.identity) && isObject(body.identity.userAssignedIdentities) ? Object.keys(body.identity.userAssignedIdentities).map((k) => k.toLowerCase()) : [];
  const known = (identity: unknown) => identity === "system" || (str(identity) && identities.includes(identity.toLowerCase()));
  for (const secret of secrets) {
    if (!str(secret.name) || !APP_SECRET_NAME.test(secret.name)) return `ContainerAppSecretInvalid: secret name '${String(secret.name)}' must consist of lower case alphanumeric characters, '-' or '.'.`;
    if (str(secret.keyVaultUrl) ? secret.value !== undefined : typeof secret.value !== "string") return `ContainerAppSecretInvalid: secret '${secret.name}' needs either a value or a keyVaultUrl.`;
    if (str(secret.keyVaultUrl) && !known(secret.identity)) return `ContainerAppSecretKeyVaultIdentityNotFound: the identity '${String(secret.identity)}' of secret '${secret.name}' is not assigned to the app.`;
  }
  for (const registry of Array.isArray(configuration.registries) ? (configuration.registries as Json[]) : []) {
    if (!str(registry.server)) return "ContainerAppRegistryInvalid: 'server' is required.";
    if (registry.identity !== undefined && !known(registry.identity)) return `ContainerAppRegistryIdentityNotFound: the identity '${String(registry.identity)}' of registry '${registry.server}' is not assigned to the app.`;
  }
  for (const container of containers) {
    if (!str(container.name) || !str(container.image)) return "ContainerAppInvalidTemplate: every container needs a name and an image.";
    for (const env of Array.isArray(container.env) ? (container.env as Json[]) : []) {
      if (!str(env.name)) return "ContainerAppInvalidEnvVar: every env var needs a name.";
      if (env.secretRef !== undefined && !secrets.some((s) => s.name === env.secretRef)) return `ContainerAppSecretRefNotFound: env var '${env.name}' references secret '${String(env.secretRef)}', which is not defined.`;
    }
    for (const probe of Array.isArray(container.probes) ? (container.probes as Json[]) : []) {
      if (!["Liveness", "Readiness", "Startup"].includes(probe.type as string)) return `ContainerAppInvalidProbe: probe type '${String(probe.type)}' is invalid.`;
    }
  }
  const ingress = isObject(configuration.ingress) ? configuration.ingress : undefined;
  if (ingress && (typeof ingress.targetPort !== "number" || ingress.targetPort < 1 || ingress.targetPort > 65535)) return "ContainerAppInvalidIngress: 'targetPort' must be a port number.";
  return undefined;
}

/** Role definition ids are `[/subscriptions/{id}]/providers/Microsoft.Authorization/roleDefinitions/{guid}`; the GUID names the role. */
const ROLE_DEFINITION = /^(\/subscriptions\/[^/]+)?\/providers\/Microsoft\.Authorization\/roleDefinitions\/([0-9a-fA-F-]{36})$/i;
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const roleGuid = (roleDefinitionId: unknown) => ROLE_DEFINITION.exec(String(roleDefinitionId))?.[2]?.toLowerCase();

/** Resource groups and providers (resources API, Microsoft.Resources). */
export const RESOURCES_API_VERSIONS = ["2019-10-01", "2020-06-01", "2021-04-01", "2022-09-01", "2023-07-01", "2024-03-01", "2024-07-01", "2024-11-01", "2025-04-01"] as const;

export function findType(type: string): ResourceTypeSpec | undefined {
  const lower = type.toLowerCase();
  return RESOURCE_TYPES.find((t) => t.type.toLowerCase() === lower);
}
