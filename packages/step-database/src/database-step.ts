import { checkedConfig, checkRecordedResources, defineStep, invalidConfig, isSet, requireConfig, resourceRecord } from "@stepwise/core";
import type { ConfigReader, StepOutputs } from "@stepwise/core";
import { identifierProblem, postgresMajorProblem, roleNameProblem } from "./postgres-names.js";

/** Generated passwords: 32 letters and digits (~190 bits), safe in URLs and env files unquoted. */
const PASSWORD = { length: 32, alphabet: "alnum" } as const;

const redisEnabled = (config: ConfigReader) => config.get("database.redis.enabled") === true;



/**
 * The site's Postgres server with the application database and (unless `database.ssoName` is
 * empty) the SSO database, both owned by `database.user` (password `db_password`), plus an
 * optional Redis. Passwords are generated once by the engine; outputs carry connection facts
 * and the *names* of the password secrets.
 */
export const databaseStep = defineStep({
  name: "database",
  description: "Postgres with the app and SSO databases, and optionally Redis",
  required: true,
  resources: (config) => (redisEnabled(config) ? ["postgres", "redis"] : ["postgres"]),
  config: {
    "database.name": {
      description: "Name of the application's database",
      default: "app",
      prompt: "Application database name",
      required: true,
      validate: identifierProblem,
    },
    "database.ssoName": {
      description: "Name of the SSO provider's database; empty for no SSO database",
      default: "sso",
      validate: (value, config) =>
        identifierProblem(value) ?? (value === config.get("database.name") ? `must differ from database.name ("${String(value)}")` : undefined),
    },
    "database.user": {
      description: "Postgres user that owns the databases",
      default: "app",
      required: true,
      validate: roleNameProblem,
    },
    "database.version": {
      description: "Postgres major version",
      type: "integer",
      default: 16,
      // Debian 12's postgresql-15: what offline images are built from.
      presets: { airgapped: 15 },
      required: true,
      validate: postgresMajorProblem,
    },
    "database.redis.enabled": {
      description: "Also run Redis (cache, queues) with a generated password",
      type: "boolean",
      default: false,
    },
  },
  secrets: {
    db_password: {
      description: "Password of database.user",
      generate: PASSWORD,
    },
    redis_password: {
      description: "Password of the Redis server",
      generate: PASSWORD,
      when: redisEnabled,
    },
  },
  check: checkRecordedResources,
  run: async (ctx) => {
    const name = requireConfig<string>(ctx, "database.name", identifierProblem);
    const user = requireConfig<string>(ctx, "database.user", roleNameProblem);
    const version = requireConfig<number>(ctx, "database.version", postgresMajorProblem);
    const ssoValue = ctx.config.get("database.ssoName");
    const ssoName = isSet(ssoValue) ? String(checkedConfig("database.ssoName", ssoValue, identifierProblem)) : null;
    if (ssoName === name) throw invalidConfig(`database.ssoName must differ from database.name ("${name}")`, "database.ssoName");

    const databases = ssoName === null ? [name] : [name, ssoName];
    ctx.log.progress(`postgres ${version}: databases ${databases.join(", ")} owned by ${user}`);
    // Redis does not depend on postgres: start both at once instead of one after the other.
    const redisEnabled = ctx.config.get("database.redis.enabled") === true;
    const redisPending = redisEnabled ? ctx.target.ensure({ kind: "redis", name: "redis", passwordSecret: "redis_password" }) : undefined;
    redisPending?.catch(() => undefined); // awaited below; a postgres failure must not leave it unhandled
    const postgres = await ctx.target.ensure({
      kind: "postgres",
      name: "postgres",
      version: String(version),
      databases,
      user,
      passwordSecret: "db_password",
    });

    const outputs: StepOutputs = {
      host: postgres.outputs.host,
      port: postgres.outputs.port,
      user,
      version,
      database: name,
      ssoDatabase: ssoName,
      databases,
      passwordSecret: "db_password",
      redisEnabled: false,
      redisHost: null,
      redisPort: null,
      redisPasswordSecret: null,
      resources: [resourceRecord(postgres)],
    };

    if (redisPending) {
      const redis = await redisPending;
      outputs.redisEnabled = true;
      outputs.redisHost = redis.outputs.host;
      outputs.redisPort = redis.outputs.port;
      outputs.redisPasswordSecret = "redis_password";
      outputs.resources = [resourceRecord(postgres), resourceRecord(redis)];
    }
    return outputs;
  },
});








