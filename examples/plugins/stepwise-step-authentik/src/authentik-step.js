// @ts-check
import { domainProblem, emailAddressProblem, needsRedis, portProblem, versionProblem } from "./rules.js";

/**
 * @typedef {import("@stepwise/core").StepDefinition} StepDefinition
 * @typedef {import("@stepwise/core").StepContext} StepContext
 * @typedef {import("@stepwise/core").StepOutputs} StepOutputs
 * @typedef {import("@stepwise/core").ServiceResource} ServiceResource
 * @typedef {import("@stepwise/core").ResourceResult} ResourceResult
 * @typedef {import("@stepwise/core").JsonObject} JsonObject
 * @typedef {import("@stepwise/core").JsonValue} JsonValue
 */

export const DEFAULT_VERSION = "2024.12.3";
export const DEFAULT_IMAGE = "ghcr.io/goauthentik/server";
/** The port authentik's server listens on for HTTP inside its container. */
const HTTP_PORT = 9000;

/**
 * Secrets of the database step that this step hands to the target by name. The target reads
 * them through this step's scope, and a changed password must re-run authentik, so they are
 * inputs; `redis_password` is simply unset on sites without Redis.
 */
const DATABASE_SECRETS = ["db_password", "redis_password"];

/**
 * authentik, the SSO provider: a server (HTTP on 9000) and a worker (background tasks) on the
 * SSO database that the `database` step made, with a generated secret key and an optional
 * bootstrap password for the `akadmin` user.
 *
 * @type {StepDefinition}
 */
export const authentikStep = {
  name: "authentik",
  description: "authentik single sign-on: server and worker on the site's SSO database",
  required: true,
  // The kinds of resource run() asks the target for: checked against the target at plan time.
  resources: ["service"],
  dependsOn: ["database"],
  inputs: { secrets: DATABASE_SECRETS },
  config: {
    "authentik.domain": {
      description: "DNS name users reach authentik at",
      presets: { "dev-mode": "localhost" },
      prompt: "authentik domain (e.g. auth.example.com)",
      required: true,
      validate: domainProblem,
    },
    "authentik.adminEmail": {
      description: "E-mail address of the akadmin user created on first start",
      presets: { "dev-mode": "admin@localhost" },
      prompt: "authentik admin e-mail",
      required: true,
      validate: emailAddressProblem,
    },
    "authentik.version": {
      description: "authentik release to run (image tag)",
      default: DEFAULT_VERSION,
      validate: versionProblem,
    },
    "authentik.image": {
      description: `Image without tag; default ${DEFAULT_IMAGE} (set a mirror for airgapped sites)`,
      default: DEFAULT_IMAGE,
    },
    "authentik.port": {
      description: "Host port authentik's HTTP is published on",
      type: "integer",
      default: HTTP_PORT,
      validate: portProblem,
    },
  },
  secrets: {
    authentik_secret_key: {
      description: "Key authentik signs cookies and tokens with",
      generate: { length: 60, alphabet: "alnum" },
    },
    authentik_admin_password: {
      description: "Initial password of akadmin; without it, set one in authentik's first-run flow",
      prompt: "authentik admin password (skip to set it in the browser later)",
      required: false,
    },
  },

  async check(ctx) {
    for (const resource of previousResources(ctx)) {
      const drift = await ctx.target.probe(resource);
      if (drift) return drift;
    }
  },

  async run(ctx) {
    const domain = requireConfig(ctx, "authentik.domain", domainProblem);
    const adminEmail = requireConfig(ctx, "authentik.adminEmail", emailAddressProblem);
    const version = requireConfig(ctx, "authentik.version", versionProblem);
    const port = /** @type {number} */ (ctx.config.get("authentik.port") ?? HTTP_PORT);
    const portError = portProblem(port);
    if (portError) throw new Error(`authentik.port ${portError}`);
    const image = `${ctx.config.get("authentik.image") || DEFAULT_IMAGE}:${version}`;
    const db = databaseFacts(ctx.outputs("database"));

    if (needsRedis(version) && !db.redis) {
      throw new Error(`authentik ${version} needs Redis; set database.redis.enabled: true (or authentik.version to 2025.10 or newer).`);
    }

    /** @type {Record<string, string>} */
    const env = {
      AUTHENTIK_POSTGRESQL__HOST: db.host,
      AUTHENTIK_POSTGRESQL__PORT: String(db.port),
      AUTHENTIK_POSTGRESQL__USER: db.user,
      AUTHENTIK_POSTGRESQL__NAME: db.database,
      AUTHENTIK_BOOTSTRAP_EMAIL: adminEmail,
      // Versions are pinned by the site; reports and update checks would leave the site.
      AUTHENTIK_ERROR_REPORTING__ENABLED: "false",
      AUTHENTIK_DISABLE_UPDATE_CHECK: "true",
    };
    /** @type {Record<string, string>} */
    const secrets = {
      AUTHENTIK_SECRET_KEY: "authentik_secret_key",
      AUTHENTIK_POSTGRESQL__PASSWORD: db.passwordSecret,
    };
    if (db.redis) {
      env.AUTHENTIK_REDIS__HOST = db.redis.host;
      env.AUTHENTIK_REDIS__PORT = String(db.redis.port);
      secrets.AUTHENTIK_REDIS__PASSWORD = db.redis.passwordSecret;
    }
    // Read only to know whether it is set; the value goes to the target by name, never through here.
    if (ctx.secrets.get("authentik_admin_password") !== undefined) {
      secrets.AUTHENTIK_BOOTSTRAP_PASSWORD = "authentik_admin_password";
    } else {
      ctx.log.info("no authentik_admin_password: set the akadmin password at /if/flow/initial-setup/ after the first start");
    }
    const volumes = { "authentik-media": "/media" };

    ctx.log.progress(`authentik ${version}: server`);
    const server = await ctx.target.ensure({
      kind: "service",
      name: "authentik-server",
      image,
      command: ["server"],
      env,
      secrets,
      volumes,
      ports: [{ host: port, container: HTTP_PORT }],
      healthcheck: { http: "/-/health/live/", intervalSeconds: 10, timeoutSeconds: 5, retries: 30 },
    });
    ctx.log.progress(`authentik ${version}: worker`);
    const worker = await ctx.target.ensure({
      kind: "service",
      name: "authentik-worker",
      image,
      command: ["worker"],
      env,
      secrets,
      volumes,
      healthcheck: { command: ["ak", "healthcheck"], intervalSeconds: 30, timeoutSeconds: 10, retries: 10 },
    });

    return {
      url: publicUrl(domain, port),
      domain,
      adminUser: "akadmin",
      adminEmail,
      version,
      image,
      resources: [resourceRecord(server), resourceRecord(worker)],
    };
  },
};

/**
 * The address users open. A `*.localhost` domain has no TLS proxy in front (dev-mode), so it is
 * the published HTTP port; any other domain is expected behind HTTPS.
 * @param {string} domain
 * @param {number} port
 */
export function publicUrl(domain, port) {
  return domain === "localhost" || domain.endsWith(".localhost") ? `http://${domain}:${port}` : `https://${domain}`;
}

/**
 * The facts this step needs from the `database` step's outputs (`@stepwise/step-database`),
 * checked, so another database plugin with different outputs fails with a clear message.
 * @param {StepOutputs} outputs
 */
function databaseFacts(outputs) {
  /** @param {string} key @param {"string" | "number"} type */
  const need = (key, type) => {
    const value = outputs[key];
    if (typeof value !== type || value === "") {
      throw new Error(`authentik needs output "${key}" (${type}) of step database, got ${JSON.stringify(value)}; is @stepwise/step-database the database plugin?`);
    }
    return value;
  };
  const database = outputs.ssoDatabase;
  if (typeof database !== "string" || database === "") {
    throw new Error("authentik needs an SSO database, but step database made none; set database.ssoName (e.g. sso).");
  }
  const passwordSecret = /** @type {string} */ (need("passwordSecret", "string"));
  assertDeclared(passwordSecret);
  let redis;
  if (outputs.redisEnabled === true) {
    const redisPasswordSecret = /** @type {string} */ (need("redisPasswordSecret", "string"));
    assertDeclared(redisPasswordSecret);
    redis = { host: /** @type {string} */ (need("redisHost", "string")), port: /** @type {number} */ (need("redisPort", "number")), passwordSecret: redisPasswordSecret };
  }
  return {
    host: /** @type {string} */ (need("host", "string")),
    port: /** @type {number} */ (need("port", "number")),
    user: /** @type {string} */ (need("user", "string")),
    database,
    passwordSecret,
    redis,
  };
}

/** @param {string} secret */
function assertDeclared(secret) {
  if (!DATABASE_SECRETS.includes(secret)) {
    throw new Error(`step database names secret "${secret}", which stepwise-step-authentik does not declare as an input (it knows ${DATABASE_SECRETS.join(", ")}).`);
  }
}

/**
 * @param {StepContext} ctx
 * @param {string} key
 * @param {(value: JsonValue) => string | undefined} problem
 * @returns {string}
 */
function requireConfig(ctx, key, problem) {
  const value = ctx.config.get(key);
  if (value === undefined || value === null || value === "") throw new Error(`${key} is required; set it in stepwise.yaml or run: stepwise configure`);
  const message = problem(value);
  if (message) throw new Error(`${key} ${message}`);
  return String(value);
}

/**
 * What `check` needs to probe a service again, without `change` (which would make every no-op
 * run look like new outputs to dependants).
 * @param {ResourceResult} result
 * @returns {JsonObject}
 */
function resourceRecord(result) {
  return { kind: result.kind, name: result.name, id: result.id, specHash: result.specHash, outputs: result.outputs };
}

/**
 * @param {StepContext} ctx
 * @returns {ResourceResult[]}
 */
function previousResources(ctx) {
  const recorded = ctx.previousOutputs?.resources;
  if (!Array.isArray(recorded)) return [];
  return recorded.flatMap((entry) => {
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) return [];
    const { kind, name, id, specHash, outputs } = entry;
    if (typeof kind !== "string" || typeof name !== "string" || typeof id !== "string" || typeof specHash !== "string") return [];
    const resourceOutputs = outputs !== null && typeof outputs === "object" && !Array.isArray(outputs) ? outputs : {};
    return [{ kind: /** @type {ResourceResult["kind"]} */ (kind), name, id, specHash, change: /** @type {const} */ ("unchanged"), outputs: resourceOutputs }];
  });
}
