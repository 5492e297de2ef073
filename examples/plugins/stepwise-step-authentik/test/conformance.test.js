// @ts-check
/**
 * The conformance kit of @stepwise/core/testing: shape and meta against package.json, declared
 * inputs, idempotent runs, no secret value in outputs, logs, specs or errors.
 */
import { describe, it } from "node:test";
import { describePlugin } from "@stepwise/core/testing";
import plugin from "../src/index.js";

/** Outputs of @stepwise/step-database's `database` step. */
const database = {
  host: "postgres",
  port: 5432,
  user: "app",
  database: "app",
  ssoDatabase: "sso",
  passwordSecret: "db_password",
  redisEnabled: true,
  redisHost: "redis",
  redisPort: 6379,
  redisPasswordSecret: "redis_password",
};
const config = { "authentik.domain": "auth.example.com", "authentik.adminEmail": "admin@example.com" };
const secrets = { authentik_admin_password: "Adm1n-Pa55word", db_password: "D".repeat(32), redis_password: "R".repeat(32) };

describePlugin(
  {
    plugin,
    packageJson: new URL("../package.json", import.meta.url),
    cases: [
      { name: "server and worker with Redis", step: "authentik", config, secrets, outputs: { database } },
      { name: "dev-mode without an admin password", step: "authentik", preset: "dev-mode", outputs: { database } },
      { name: "refuses an old release without Redis", step: "authentik", config, secrets, outputs: { database: { ...database, redisEnabled: false } }, error: /needs Redis/ },
    ],
  },
  { describe, it },
);
