/**
 * The component plugins on the real engine, in-process: a site lists the four workspace
 * plugins, the third-party authentik example and the recorder target fixture, each installed
 * next to it as a package on disk, and is deployed through @stepwise/core's own API. It proves
 * what unit tests with a fake context cannot: every step's inputs are complete under the
 * engine's context (the recorder asks each secret a spec names through the step's scope,
 * which refuses an undeclared one and fails on an unset one), outputs feed `${outputs.*}` of
 * a site service, a second deploy is a no-op, a change re-runs exactly its readers, and no
 * secret value reaches state. The CLI route of the same plugins is component-plugins.test.ts.
 */
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SiteSession, deploySite, planSite } from "@stepwise/core/engine";
import { assertBuilt, makeComponentSite, RECORDER_AND_COMPONENTS, recordedCalls } from "../fixtures/component-site.js";

const SITE = `name: demo
preset: dev-mode
${RECORDER_AND_COMPONENTS}  - stepwise-step-authentik
config:
  database:
    redis:
      enabled: true
services:
  web:
    image: localhost/demo/web:1
    env:
      SMTP_HOST: \${outputs.email.host}
      SMTP_PORT: \${outputs.email.port}
      DATABASE_URL_HOST: \${outputs.database.host}
      DATABASE_NAME: \${outputs.database.database}
      LOG_LEVEL: \${outputs.telemetry.logLevel}
      SSO_URL: \${outputs.authentik.url}
      SENTRY_ENABLED: \${outputs.telemetry.sentryEnabled}
    secrets:
      DATABASE_PASSWORD: db_password
      APP_ENCRYPTION_KEY: app_encryption_key
`;

let site: string;
const made: string[] = [];

function makeSite(yaml: string): string {
  const dir = makeComponentSite({ yaml, authentik: "link" });
  made.push(dir);
  return dir;
}

async function deploy(dir: string, sets: string[] = []) {
  const session = await SiteSession.open({ dir, env: {}, sets });
  try {
    return await deploySite(session);
  } finally {
    await session.close();
  }
}

async function plan(dir: string, options: { env?: Record<string, string>; sets?: string[] } = {}) {
  const session = await SiteSession.open({ dir, env: options.env ?? {}, sets: options.sets ?? [] });
  try {
    return await planSite(session);
  } finally {
    await session.close();
  }
}

beforeAll(() => {
  assertBuilt();
  site = makeSite(SITE);
});
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

describe("component plugins on the real engine (dev-mode)", () => {
  it("deploys every step; each secret a spec names is declared and set", async () => {
    const result = await deploy(site);
    expect(result.failed.map((f) => `${f.step}: ${f.error.message}`)).toEqual([]);
    expect(result.status).toBe("ok");
    expect([...result.ran].sort()).toEqual(["authentik", "database", "email", "recorder:network", "service:web", "storage", "telemetry"]);
    expect(recordedCalls(site).map((c) => `${c.step} ${c.kind} ${c.name} ${c.change}`)).toEqual(
      expect.arrayContaining([
        "email service mailpit created",
        "database postgres postgres created",
        "database redis redis created",
        "authentik service authentik-server created",
        "authentik service authentik-worker created",
        "service:web service web created",
      ]),
    );
    expect(recordedCalls(site)).toHaveLength(6);
  });

  it("feeds step outputs into the site's service", () => {
    const web = recordedCalls(site).find((c) => c.step === "service:web")!.spec;
    expect(web.env).toEqual({
      SMTP_HOST: "mailpit",
      SMTP_PORT: "1025",
      DATABASE_URL_HOST: "postgres.recorder.internal",
      DATABASE_NAME: "app",
      LOG_LEVEL: "debug",
      SSO_URL: "http://localhost:9000",
      SENTRY_ENABLED: "false",
    });
    const authentik = recordedCalls(site).find((c) => c.name === "authentik-server")!.spec;
    expect(authentik.env).toMatchObject({ AUTHENTIK_POSTGRESQL__HOST: "postgres.recorder.internal", AUTHENTIK_POSTGRESQL__NAME: "sso", AUTHENTIK_REDIS__HOST: "redis.recorder.internal" });
  });

  it("keeps every secret value out of state", async () => {
    const session = await SiteSession.open({ dir: site, env: {} });
    const secrets = await session.secrets();
    await session.close();
    const state = readFileSync(path.join(site, ".stepwise", "state.json"), "utf8");
    for (const name of ["db_password", "redis_password", "app_encryption_key", "sso_secret_key", "authentik_secret_key"]) {
      const value = secrets.get(name);
      expect(value, name).toBeTypeOf("string");
      expect(state.includes(value!), name).toBe(false);
    }
    expect(secrets.get("app_encryption_key")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a second deploy changes nothing", async () => {
    const before = recordedCalls(site).length;
    const result = await deploy(site);
    expect(result.ran).toEqual([]);
    expect(result.plan.toRun).toBe(0);
    expect(recordedCalls(site)).toHaveLength(before);
  });

  it("how the target is reached (a connection key) is no input: another endpoint plans nothing", async () => {
    for (const env of [{ STEPWISE_RECORDER_ENDPOINT: "unix:///run/a.sock" }, { STEPWISE_RECORDER_ENDPOINT: "unix:///elsewhere/b.sock" }, {}]) {
      const result = await plan(site, { env });
      expect(result.steps.filter((s) => s.action === "run").map((s) => s.name), JSON.stringify(env)).toEqual([]);
    }
    const network = JSON.parse(readFileSync(path.join(site, ".stepwise/state.json"), "utf8")).steps["recorder:network"];
    expect(Object.keys(network.entries).filter((key) => key.includes("recorder.endpoint"))).toEqual([]);
  });

  it("a changed database name re-runs database and what reads its outputs, nothing else", async () => {
    const changed = await plan(site, { sets: ["database.name=avatar"] });
    expect(changed.steps.filter((s) => s.action === "run").map((s) => s.name).sort()).toEqual(["authentik", "database", "service:web"]);
    expect(changed.steps.find((s) => s.name === "database")!.reasons).toContainEqual({ kind: "config-changed", key: "database.name", from: "app", to: "avatar" });
  });

  it("MAIL_PROVIDER from the environment switches mail off and re-runs email, storage (reads email.provider) and web (reads email outputs)", async () => {
    const changed = await plan(site, { env: { MAIL_PROVIDER: "none", STEPWISE_CONFIG_STORAGE__EMAILAUTHENTICATION: "false" } });
    expect(changed.steps.filter((s) => s.action === "run").map((s) => s.name).sort()).toEqual(["email", "service:web", "storage"]);
    expect(changed.steps.find((s) => s.name === "storage")!.reasons).toContainEqual({ kind: "config-changed", key: "email.provider", from: "smtp", to: "none" });
  });
});

describe("optional telemetry", () => {
  it("can be turned off, and the plan lists it as disabled", async () => {
    const dir = makeSite(SITE.replace(/      LOG_LEVEL.*\n/, "").replace(/      SENTRY_ENABLED.*\n/, "") + "steps:\n  telemetry:\n    enabled: false\n");
    const planned = await plan(dir);
    expect(planned.disabled.map((s) => s.name)).toEqual(["telemetry"]);
    expect(planned.steps.map((s) => s.name)).not.toContain("telemetry");
  });

  it("email and database are required and cannot be turned off", async () => {
    const dir = makeSite(SITE + "steps:\n  email:\n    enabled: false\n");
    await expect(SiteSession.open({ dir, env: {} })).rejects.toThrow(/step email is required and cannot be disabled/);
  });
});
