// @ts-check
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import plugin, { authentikStep, publicUrl } from "../src/index.js";
import { configProblems, createFakeStepContext, resolveStepConfig } from "@stepwise/core/testing";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

/** Outputs of @stepwise/step-database's `database` step with Redis on. */
const database = {
  host: "postgres",
  port: 5432,
  user: "app",
  version: 16,
  database: "app",
  ssoDatabase: "sso",
  databases: ["app", "sso"],
  passwordSecret: "db_password",
  redisEnabled: true,
  redisHost: "redis",
  redisPort: 6379,
  redisPasswordSecret: "redis_password",
  resources: [],
};
const site = { "authentik.domain": "auth.example.com", "authentik.adminEmail": "admin@example.com" };
const secrets = { authentik_secret_key: "K".repeat(60), authentik_admin_password: "Adm1n-Pa55word", db_password: "D".repeat(32), redis_password: "R".repeat(32) };

describe("stepwise-step-authentik plugin", () => {
  it("is named and versioned after its package and adds one step after database", () => {
    assert.deepEqual(plugin.meta, { name: "stepwise-step-authentik", version: pkg.version });
    assert.deepEqual(plugin.steps?.map((step) => [step.name, step.dependsOn]), [["authentik", ["database"]]]);
  });

  it("declares a compatible core as a peer and depends on nothing else", () => {
    assert.deepEqual(pkg.peerDependencies, { "@stepwise/core": "^0.1.0" });
    assert.equal(pkg.dependencies, undefined);
  });

  it("generates its secret key and only asks, optionally, for the admin password", () => {
    assert.deepEqual(authentikStep.secrets?.authentik_secret_key?.generate, { length: 60, alphabet: "alnum" });
    assert.equal(authentikStep.secrets?.authentik_admin_password?.generate, undefined);
    assert.equal(authentikStep.secrets?.authentik_admin_password?.required, false);
  });
});

describe("authentik config", () => {
  it("default: asks for domain and admin e-mail, pins a release", () => {
    assert.deepEqual(configProblems(authentikStep, "default"), ["authentik.domain: missing", "authentik.adminEmail: missing"]);
    assert.equal(resolveStepConfig(authentikStep, "default").get("authentik.version"), "2024.12.3");
  });

  it("dev-mode: runs on localhost without questions", () => {
    assert.deepEqual(configProblems(authentikStep, "dev-mode"), []);
  });

  it("refuses a bad domain, e-mail, version and port", () => {
    assert.deepEqual(
      configProblems(authentikStep, "default", {
        "authentik.domain": "https://auth.example.com",
        "authentik.adminEmail": "admin",
        "authentik.version": "latest",
        "authentik.port": 0,
      }),
      [
        'authentik.domain: must be a DNS name like auth.example.com (RFC 1123), got "https://auth.example.com"',
        'authentik.adminEmail: must be an e-mail address like admin@example.com, got "admin"',
        'authentik.version: must be an authentik release like 2024.12.3, got "latest"',
        "authentik.port: must be a port number from 1 to 65535, got 0",
      ],
    );
  });
});

describe("authentik run", () => {
  it("asks the target for a server and a worker wired to the SSO database and Redis by secret name", async () => {
    const { ctx, ensured } = createFakeStepContext(authentikStep, { config: site, secrets, outputs: { database } });
    const outputs = await authentikStep.run(ctx);
    const env = {
      AUTHENTIK_POSTGRESQL__HOST: "postgres",
      AUTHENTIK_POSTGRESQL__PORT: "5432",
      AUTHENTIK_POSTGRESQL__USER: "app",
      AUTHENTIK_POSTGRESQL__NAME: "sso",
      AUTHENTIK_BOOTSTRAP_EMAIL: "admin@example.com",
      AUTHENTIK_ERROR_REPORTING__ENABLED: "false",
      AUTHENTIK_DISABLE_UPDATE_CHECK: "true",
      AUTHENTIK_REDIS__HOST: "redis",
      AUTHENTIK_REDIS__PORT: "6379",
    };
    const secretNames = {
      AUTHENTIK_SECRET_KEY: "authentik_secret_key",
      AUTHENTIK_POSTGRESQL__PASSWORD: "db_password",
      AUTHENTIK_REDIS__PASSWORD: "redis_password",
      AUTHENTIK_BOOTSTRAP_PASSWORD: "authentik_admin_password",
    };
    assert.deepEqual(ensured, [
      {
        kind: "service",
        name: "authentik-server",
        image: "ghcr.io/goauthentik/server:2024.12.3",
        command: ["server"],
        env,
        secrets: secretNames,
        volumes: { "authentik-media": "/media" },
        ports: [{ host: 9000, container: 9000 }],
        healthcheck: { http: "/-/health/live/", intervalSeconds: 10, timeoutSeconds: 5, retries: 30 },
      },
      {
        kind: "service",
        name: "authentik-worker",
        image: "ghcr.io/goauthentik/server:2024.12.3",
        command: ["worker"],
        env,
        secrets: secretNames,
        volumes: { "authentik-media": "/media" },
        healthcheck: { command: ["ak", "healthcheck"], intervalSeconds: 30, timeoutSeconds: 10, retries: 10 },
      },
    ]);
    assert.equal(outputs?.url, "https://auth.example.com");
    assert.equal(outputs?.image, "ghcr.io/goauthentik/server:2024.12.3");
    const serialized = JSON.stringify({ ensured, outputs });
    for (const value of Object.values(secrets)) assert.ok(!serialized.includes(value), "a secret value leaked into a spec or the outputs");
  });

  it("without an admin password leaves bootstrap to the browser and says where", async () => {
    const { authentik_admin_password: _skipped, ...rest } = secrets;
    const { ctx, ensured, logs } = createFakeStepContext(authentikStep, { config: site, secrets: rest, outputs: { database } });
    await authentikStep.run(ctx);
    const server = /** @type {import("@stepwise/core").ServiceResource} */ (ensured[0]);
    assert.equal(server.secrets?.AUTHENTIK_BOOTSTRAP_PASSWORD, undefined);
    assert.match(logs.map((l) => l.message).join("\n"), /\/if\/flow\/initial-setup\//);
  });

  it("dev-mode: published on localhost over plain HTTP", async () => {
    const { ctx } = createFakeStepContext(authentikStep, { preset: "dev-mode", config: { "authentik.port": 9100 }, secrets, outputs: { database } });
    const outputs = await authentikStep.run(ctx);
    assert.equal(outputs?.url, "http://localhost:9100");
    assert.equal(publicUrl("auth.localhost", 9000), "http://auth.localhost:9000");
  });

  it("an image mirror replaces the registry, the version stays the tag", async () => {
    const config = { ...site, "authentik.image": "registry.internal/goauthentik/server", "authentik.version": "2025.10.1" };
    const { ctx, ensured } = createFakeStepContext(authentikStep, { config, secrets, outputs: { database: { ...database, redisEnabled: false } } });
    await authentikStep.run(ctx);
    const server = /** @type {import("@stepwise/core").ServiceResource} */ (ensured[0]);
    assert.equal(server.image, "registry.internal/goauthentik/server:2025.10.1");
    assert.equal(server.env?.AUTHENTIK_REDIS__HOST, undefined, "2025.10 needs no Redis");
  });

  it("refuses an authentik that needs Redis on a site without it, before creating anything", async () => {
    const { ctx, ensured } = createFakeStepContext(authentikStep, { config: site, secrets, outputs: { database: { ...database, redisEnabled: false } } });
    await assert.rejects(authentikStep.run(ctx), { message: "authentik 2024.12.3 needs Redis; set database.redis.enabled: true (or authentik.version to 2025.10 or newer)." });
    assert.deepEqual(ensured, []);
  });

  it("refuses a site without an SSO database", async () => {
    const { ctx } = createFakeStepContext(authentikStep, { config: site, secrets, outputs: { database: { ...database, ssoDatabase: null } } });
    await assert.rejects(authentikStep.run(ctx), /needs an SSO database.*set database\.ssoName/);
  });

  it("names the missing output when the database step is not @stepwise/step-database", async () => {
    const { ctx } = createFakeStepContext(authentikStep, { config: site, secrets, outputs: { database: { ssoDatabase: "sso", passwordSecret: "db_password" } } });
    await assert.rejects(authentikStep.run(ctx), { message: 'authentik needs output "host" (string) of step database, got undefined; is @stepwise/step-database the database plugin?' });
  });

  it("refuses a password secret it has not declared (the target could not read it)", async () => {
    const { ctx } = createFakeStepContext(authentikStep, { config: site, secrets, outputs: { database: { ...database, passwordSecret: "pg_admin_password" } } });
    await assert.rejects(authentikStep.run(ctx), /names secret "pg_admin_password", which stepwise-step-authentik does not declare/);
  });

  it("check probes the server and worker the last run made", async () => {
    const first = createFakeStepContext(authentikStep, { config: site, secrets, outputs: { database } });
    const previousOutputs = (await authentikStep.run(first.ctx)) ?? {};
    assert.ok(!JSON.stringify(previousOutputs).includes('"change"'));
    const gone = createFakeStepContext(authentikStep, {
      previousOutputs,
      probe: (result) => (result.name === "authentik-worker" ? { reason: "container demo-authentik-worker is gone" } : undefined),
    });
    assert.deepEqual(await authentikStep.check?.(gone.ctx), { reason: "container demo-authentik-worker is gone" });
    assert.deepEqual(gone.probed.map((r) => r.name), ["authentik-server", "authentik-worker"]);
  });
});
