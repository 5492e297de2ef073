import { describe, expect, it } from "vitest";
import createPlugin, { databaseStep } from "./index.js";

const plugin = createPlugin({});
import { activeSecrets, configProblems, createFakeStepContext, resolveStepConfig } from "@stepwise/core/testing";
import pkg from "../package.json" with { type: "json" };

const secrets = { db_password: "Db0Password0Value0000000000000000", redis_password: "Redis0Password0Value0000000000000" };

describe("@stepwise/step-database plugin", () => {
  it("is named and versioned after its package and holds the required database step", () => {
    expect(plugin.meta).toEqual({ name: "@stepwise/step-database", version: pkg.version });
    expect(plugin.steps.map((step) => step.name)).toEqual(["database"]);
    expect(databaseStep.required).toBe(true);
  });
});

describe("database config and secrets", () => {
  it("defaults: app + sso databases owned by app on Postgres 16, no Redis, nothing to ask", () => {
    const config = resolveStepConfig(databaseStep, "default");
    expect(config.get("database.name")).toBe("app");
    expect(config.get("database.ssoName")).toBe("sso");
    expect(config.get("database.user")).toBe("app");
    expect(config.get("database.version")).toBe(16);
    expect(config.get("database.redis.enabled")).toBe(false);
    expect(configProblems(databaseStep, "default")).toEqual([]);
  });

  it("airgapped: Postgres 15, the major Debian 12 packages offline images are built from", () => {
    expect(resolveStepConfig(databaseStep, "airgapped").get("database.version")).toBe(15);
    expect(resolveStepConfig(databaseStep, "dev-mode").get("database.version")).toBe(16);
  });

  it("every password is generated: 32 characters of letters and digits, never asked", () => {
    for (const [name, spec] of Object.entries(databaseStep.secrets)) {
      expect(spec.generate, name).toEqual({ length: 32, alphabet: "alnum" });
      expect("prompt" in spec, name).toBe(false);
    }
  });

  it("generates the SSO password only with an SSO database and the Redis password only with Redis", () => {
    // Both databases are owned by database.user: no second password is generated.
    expect(activeSecrets(databaseStep, "default")).toEqual(["db_password"]);
    expect(activeSecrets(databaseStep, "default", { "database.ssoName": "" })).toEqual(["db_password"]);
    expect(activeSecrets(databaseStep, "default", { "database.redis.enabled": true })).toEqual(["db_password", "redis_password"]);
  });

  it.each(["App", "1app", "my-app", "app; DROP DATABASE app", "a".repeat(64), ""])("refuses database name %j", (name) => {
    const problems = configProblems(databaseStep, "default", { "database.name": name });
    expect(problems).toEqual(
      name === "" ? ["database.name: missing"] : [`database.name: must be 1-63 lowercase letters, digits or underscores, not starting with a digit, got ${JSON.stringify(name)}`],
    );
  });

  it("refuses an SSO database named like the app database", () => {
    expect(configProblems(databaseStep, "default", { "database.name": "avatar", "database.ssoName": "avatar" })).toEqual([
      'database.ssoName: must differ from database.name ("avatar")',
    ]);
  });

  it.each(["postgres", "pg_monitor", "public"])("refuses reserved user %s", (user) => {
    expect(configProblems(databaseStep, "default", { "database.user": user })).toEqual([`database.user: "${user}" is reserved by Postgres; pick another user name`]);
  });

  it.each([9, 12, 16.1, 100])("refuses Postgres version %s", (version) => {
    expect(configProblems(databaseStep, "default", { "database.version": version })).toEqual([
      `database.version: must be a Postgres major version (13 or newer, e.g. 16), got ${version}`,
    ]);
  });
});

describe("database run", () => {
  it("asks the target for one Postgres with both databases and returns connection facts, not passwords", async () => {
    const { ctx, ensured } = createFakeStepContext(databaseStep, { secrets, resourceOutputs: { postgres: { host: "demo-postgres", port: 5432 } } });
    const outputs = await databaseStep.run(ctx);
    expect(ensured).toEqual([
      { kind: "postgres", name: "postgres", version: "16", databases: ["app", "sso"], user: "app", passwordSecret: "db_password" },
    ]);
    expect(outputs).toEqual({
      host: "demo-postgres",
      port: 5432,
      user: "app",
      version: 16,
      database: "app",
      ssoDatabase: "sso",
      databases: ["app", "sso"],
      passwordSecret: "db_password",
      redisEnabled: false,
      redisHost: null,
      redisPort: null,
      redisPasswordSecret: null,
      resources: [{ kind: "postgres", name: "postgres", id: "fake-postgres", specHash: "0".repeat(64), outputs: { host: "demo-postgres", port: 5432, user: "app", databases: ["app", "sso"], password: { secret: "db_password" } } }],
    });
    for (const value of Object.values(secrets)) expect(JSON.stringify(outputs)).not.toContain(value);
  });

  it("with Redis enabled also asks for a password-protected Redis and reports where it is", async () => {
    const { ctx, ensured } = createFakeStepContext(databaseStep, {
      config: { "database.name": "avatar", "database.ssoName": "authentik", "database.user": "avatar", "database.redis.enabled": true },
      secrets,
    });
    const outputs = await databaseStep.run(ctx);
    // Redis does not wait for postgres: both are requested, redis first since it starts at once.
    expect(ensured).toEqual([
      { kind: "redis", name: "redis", passwordSecret: "redis_password" },
      { kind: "postgres", name: "postgres", version: "16", databases: ["avatar", "authentik"], user: "avatar", passwordSecret: "db_password" },
    ]);
    expect(outputs).toMatchObject({
      host: "postgres",
      port: 5432,
      database: "avatar",
      ssoDatabase: "authentik",
      redisEnabled: true,
      redisHost: "redis",
      redisPort: 6379,
      redisPasswordSecret: "redis_password",
    });
    expect(outputs?.resources).toHaveLength(2);
    for (const value of Object.values(secrets)) expect(JSON.stringify(outputs)).not.toContain(value);
  });

  it("without an SSO database creates only the app database", async () => {
    const { ctx, ensured } = createFakeStepContext(databaseStep, { config: { "database.ssoName": "" }, preset: "airgapped" });
    const outputs = await databaseStep.run(ctx);
    expect(ensured).toEqual([{ kind: "postgres", name: "postgres", version: "15", databases: ["app"], user: "app", passwordSecret: "db_password" }]);
    expect(outputs).toMatchObject({ ssoDatabase: null, databases: ["app"] });
  });

  it("refuses invalid names before asking the target for anything", async () => {
    const { ctx, ensured } = createFakeStepContext(databaseStep, { config: { "database.name": "app'; --" } });
    await expect(databaseStep.run(ctx)).rejects.toMatchObject({ code: "CONFIG_INVALID", message: expect.stringMatching(/^database\.name must be 1-63 lowercase/) });
    const same = createFakeStepContext(databaseStep, { config: { "database.ssoName": "app" } });
    await expect(databaseStep.run(same.ctx)).rejects.toThrow('database.ssoName must differ from database.name ("app")');
    expect([...ensured, ...same.ensured]).toEqual([]);
  });

  it("records no `change` in outputs, so a repeated no-op run leaves dependants alone", async () => {
    const { ctx } = createFakeStepContext(databaseStep);
    const outputs = await databaseStep.run(ctx);
    expect(JSON.stringify(outputs)).not.toContain("change");
  });

  it("check probes what the last run made and reports the drift the target finds", async () => {
    const first = createFakeStepContext(databaseStep, { config: { "database.redis.enabled": true } });
    const previousOutputs = (await databaseStep.run(first.ctx)) ?? {};

    const intact = createFakeStepContext(databaseStep, { previousOutputs });
    expect(await databaseStep.check(intact.ctx)).toBeUndefined();
    expect(intact.probed.map((r) => [r.kind, r.id])).toEqual([["postgres", "fake-postgres"], ["redis", "fake-redis"]]);

    const gone = createFakeStepContext(databaseStep, {
      previousOutputs,
      probe: (result) => (result.kind === "redis" ? { reason: "container demo-redis is gone" } : undefined),
    });
    expect(await databaseStep.check(gone.ctx)).toEqual({ reason: "container demo-redis is gone" });
    expect(gone.ensured).toEqual([]);
  });

  it("check without an earlier run probes nothing", async () => {
    const { ctx, probed } = createFakeStepContext(databaseStep);
    expect(await databaseStep.check(ctx)).toBeUndefined();
    expect(probed).toEqual([]);
  });
});
