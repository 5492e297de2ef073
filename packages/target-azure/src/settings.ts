import { endpointUrlProblem, type ConfigKeySpec, type ConfigReader, type JsonValue } from "@stepwise/core";
import { AzureNames } from "./naming.js";

/** Public Azure's Resource Manager; sovereign clouds (and the tests' local server) set `azure.armEndpoint`. */
export const PUBLIC_ARM_ENDPOINT = "https://management.azure.com";

/** What every Azure step and the session read from the site's `azure.*` keys. */
export interface AzureSettings {
  /** How Resource Manager is reached (a connection detail, never an input). */
  armEndpoint: string;
  /** Which account is targeted: part of every foundation step's identity. */
  subscription: string;
  tenantId: string;
  location: string;
  names: AzureNames;
  /** How public apps are verified after a deploy (connection details: never inputs). */
  verify: { timeoutSeconds: number; connectTo?: string };
  /** Size of each Azure Cache for Redis (`azure.redis.*`): inputs of the steps asking for redis; the probe compares the cache with them too. */
  redis: { sku: { name: string; family: string; capacity: number } };
  /** Podman socket for building images (unset: the podman target's discovery, STEPWISE_PODMAN_SOCKET first). */
  podmanSocket?: string;
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const guidProblem = (value: JsonValue) => (typeof value === "string" && GUID.test(value) ? undefined : "must be a GUID (az account show --query id)");

/** The target's config keys. Every key but `azure.armEndpoint` is an input of each foundation step. */
export const TARGET_CONFIG: Readonly<Record<string, ConfigKeySpec>> = {
  "azure.armEndpoint": {
    description: "Azure Resource Manager endpoint (sovereign clouds, Azure Stack, a local test server)",
    default: PUBLIC_ARM_ENDPOINT,
    env: "STEPWISE_AZURE_ARM_ENDPOINT",
    // How ARM is reached, not what is deployed: the subscription says which account.
    connection: true,
    validate: endpointUrlProblem,
  },
  "azure.subscription": {
    description: "Subscription id the site is deployed to",
    env: "AZURE_SUBSCRIPTION_ID",
    required: true,
    prompt: "Azure subscription id",
    validate: guidProblem,
  },
  "azure.tenantId": {
    description: "Entra ID tenant of the subscription (Key Vault trusts it)",
    required: true,
    prompt: "Azure tenant id",
    validate: guidProblem,
  },
  "azure.location": {
    description: "Azure region of every resource (e.g. westeurope)",
    default: "westeurope",
    validate: (value) => (typeof value === "string" && /^[a-z0-9]+$/.test(value) ? undefined : "must be a region name such as westeurope (az account list-locations -o table)"),
  },
  "azure.podmanSocket": {
    description: "Podman API socket used to build and push the site's images (default: STEPWISE_PODMAN_SOCKET, then Podman's default sockets)",
    // Where images are built, not what is deployed: the image identity is the context's hash.
    connection: true,
  },
  "azure.verify.timeoutSeconds": {
    description: "Seconds a public app's HTTPS probe may take to answer after a deploy",
    type: "integer",
    default: 300,
    // How long to wait, not what is deployed.
    connection: true,
    validate: (v) => (typeof v === "number" && v >= 1 && v <= 3600 ? undefined : "must be between 1 and 3600"),
  },
  "azure.verify.connectTo": {
    description: "host:port the HTTPS probe of public apps connects to instead of their FQDN (a test server, a private entry point); TLS is checked for that host",
    connection: true,
    validate: (v) => (typeof v === "string" && /^[^\s:/]+:\d{1,5}$/.test(v) ? undefined : "must be host:port, e.g. 127.0.0.1:8443"),
  },
  // The cache's size is read by the session when it realises a `redis` resource: an input of the
  // steps that ask for one (resourceKind), not of the foundation steps.
  "azure.redis.sku": {
    description: "Azure Cache for Redis tier: Basic (no SLA, dev), Standard (replicated, production), Premium",
    default: "Basic",
    choices: ["Basic", "Standard", "Premium"],
    resourceKind: "redis",
  },
  "azure.redis.capacity": {
    description: "Azure Cache for Redis size: 0-6 for Basic/Standard (C0 = 250 MB ... C6 = 53 GB), 1-5 for Premium (P1-P5)",
    type: "integer",
    default: 0,
    resourceKind: "redis",
    validate: (v, config) => {
      const premium = config.get("azure.redis.sku") === "Premium";
      const [min, max] = premium ? [1, 5] : [0, 6];
      return typeof v === "number" && v >= min && v <= max ? undefined : `must be between ${min} and ${max} for ${premium ? "Premium" : "Basic and Standard"}`;
    },
  },
  "azure.resourceGroup": { description: "Resource group name (default rg-stepwise-<site>)" },
  "azure.names.workspace": { description: "Log Analytics workspace name (default log-stepwise-<site>)" },
  "azure.names.registry": { description: "Container registry name, globally unique, 5-50 letters/digits (default derived from the site)" },
  "azure.names.keyVault": { description: "Key Vault name, globally unique, 3-24 characters (default derived from the site)" },
};

/** The resolved settings; callers ran config validation already, so only absence is checked here. */
export function readSettings(site: string, config: ConfigReader): AzureSettings {
  const subscription = config.get<string>("azure.subscription") ?? "";
  return {
    armEndpoint: (config.get<string>("azure.armEndpoint") ?? PUBLIC_ARM_ENDPOINT).replace(/\/+$/, ""),
    subscription,
    tenantId: config.get<string>("azure.tenantId") ?? "",
    location: config.get<string>("azure.location") ?? "westeurope",
    podmanSocket: config.get<string>("azure.podmanSocket"),
    // Read on first use: the keys are inputs of the steps asking for redis only, and a foundation
    // step that read them would read an undeclared input.
    get redis() {
      return redisSku(config);
    },
    verify: { timeoutSeconds: config.get<number>("azure.verify.timeoutSeconds") ?? 300, connectTo: config.get<string>("azure.verify.connectTo") },
    names: new AzureNames(site, subscription, {
      resourceGroup: config.get<string>("azure.resourceGroup"),
      workspace: config.get<string>("azure.names.workspace"),
      registry: config.get<string>("azure.names.registry"),
      keyVault: config.get<string>("azure.names.keyVault"),
    }),
  };
}

/** `azure.redis.sku` and `.capacity` as the cache's `sku` (family C for Basic and Standard, P for Premium). */
function redisSku(config: ConfigReader): AzureSettings["redis"] {
  const name = config.get<string>("azure.redis.sku") ?? "Basic";
  return { sku: { name, family: name === "Premium" ? "P" : "C", capacity: config.get<number>("azure.redis.capacity") ?? 0 } };
}
