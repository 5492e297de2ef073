/**
 * The component plugins with the real engine of @stepwise/core: a site in a temp directory lists
 * the four workspace plugins, the third-party authentik example and a recording target, each
 * installed next to it as a package on disk (symlinks, like workspace links), and is deployed
 * in-process. It proves what unit tests with a fake context cannot: that every step's inputs are
 * complete under the engine's own context, that outputs feed `${outputs.*}` of a site service,
 * that a second deploy is a no-op, and that no secret value reaches state.
 *
 * The engine loads plugins through their package entry, i.e. the built dist/: run
 * `pnpm exec turbo run build` first (the test says so when a dist is missing or stale).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SiteSession, deploySite, planSite } from "@stepwise/core";
import type { ResourceSpec } from "@stepwise/core";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const workspacePlugins = ["step-email", "step-database", "step-telemetry", "step-storage"];

function assertBuilt(packageDir: string): void {
  const dist = path.join(packageDir, "dist", "index.js");
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run pnpm exec turbo run build`);
  const newestSource = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) return entry.name === "testing" ? 0 : newestSource(full);
        return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? statSync(full).mtimeMs : 0;
      }),
    );
  if (newestSource(path.join(packageDir, "src")) > statSync(dist).mtimeMs) throw new Error(`${dist} is older than its sources: run pnpm exec turbo run build`);
}

const SITE = `name: demo
preset: dev-mode
target: recording
plugins:
  - stepwise-target-recording
  - "@stepwise/step-email"
  - "@stepwise/step-database"
  - "@stepwise/step-telemetry"
  - "@stepwise/step-storage"
  - stepwise-step-authentik
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

function makeSite(yaml: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-components-"));
  mkdirSync(path.join(dir, "node_modules", "@stepwise"), { recursive: true });
  for (const name of workspacePlugins) symlinkSync(path.join(repo, "packages", name), path.join(dir, "node_modules", "@stepwise", name), "dir");
  symlinkSync(path.join(repo, "examples/plugins/stepwise-step-authentik"), path.join(dir, "node_modules", "stepwise-step-authentik"), "dir");
  const target = path.join(dir, "node_modules", "stepwise-target-recording");
  mkdirSync(target);
  writeFileSync(path.join(target, "package.json"), JSON.stringify({ name: "stepwise-target-recording", version: "1.0.0", type: "module", exports: "./index.js", peerDependencies: { "@stepwise/core": "^0.1.0" } }));
  writeFileSync(path.join(target, "index.js"), readFileSync(fileURLToPath(new URL("./testing/recording-target.js", import.meta.url))));
  writeFileSync(path.join(dir, "stepwise.yaml"), yaml);
  return dir;
}

function recorded(dir: string): { step: string; spec: ResourceSpec; secrets: Record<string, boolean> }[] {
  const file = path.join(dir, "recorded-resources.json");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").trim().split("\n").map((line) => JSON.parse(line));
}

async function deploy(dir: string, sets: string[] = []) {
  const session = await SiteSession.open({ dir, env: {}, sets });
  try {
    return { result: await deploySite(session), session };
  } finally {
    await session.close();
  }
}

beforeAll(() => {
  for (const name of workspacePlugins) assertBuilt(path.join(repo, "packages", name));
  site = makeSite(SITE);
});
afterAll(() => rmSync(site, { recursive: true, force: true }));

describe("component plugins on the real engine (dev-mode)", () => {
  it("deploys every step; the target can read each secret a spec names", async () => {
    const { result } = await deploy(site);
    expect(result.failed.map((f) => `${f.step}: ${f.error.message}`)).toEqual([]);
    expect(result.status).toBe("ok");
    expect([...result.ran].sort()).toEqual(["authentik", "database", "email", "service:web", "storage", "telemetry"]);

    const specs = recorded(site);
    expect(specs.map((r) => `${r.step} ${r.spec.kind} ${r.spec.name}`)).toEqual(
      expect.arrayContaining([
        "email service mailpit",
        "database postgres postgres",
        "database redis redis",
        "authentik service authentik-server",
        "authentik service authentik-worker",
        "service:web service web",
      ]),
    );
    expect(specs).toHaveLength(6);
    for (const r of specs) for (const [name, isSet] of Object.entries(r.secrets)) expect(isSet, `${r.step} -> ${name}`).toBe(true);
  });

  it("feeds step outputs into the site's service", () => {
    const web = recorded(site).find((r) => r.step === "service:web")!.spec as Extract<ResourceSpec, { kind: "service" }>;
    expect(web.env).toEqual({
      SMTP_HOST: "mailpit",
      SMTP_PORT: "1025",
      DATABASE_URL_HOST: "demo-postgres",
      DATABASE_NAME: "app",
      LOG_LEVEL: "debug",
      SSO_URL: "http://localhost:9000",
      SENTRY_ENABLED: "false",
    });
    const authentik = recorded(site).find((r) => r.spec.name === "authentik-server")!.spec as Extract<ResourceSpec, { kind: "service" }>;
    expect(authentik.env).toMatchObject({ AUTHENTIK_POSTGRESQL__HOST: "demo-postgres", AUTHENTIK_POSTGRESQL__NAME: "sso", AUTHENTIK_REDIS__HOST: "demo-redis" });
  });

  it("keeps every secret value out of state", async () => {
    const session = await SiteSession.open({ dir: site, env: {} });
    const secrets = await session.secrets();
    const state = readFileSync(path.join(site, ".stepwise", "state.json"), "utf8");
    const names = ["db_password", "sso_db_password", "redis_password", "app_encryption_key", "sso_secret_key", "authentik_secret_key"];
    for (const name of names) {
      const value = secrets.get(name);
      expect(value, name).toBeTypeOf("string");
      expect(state.includes(value!), name).toBe(false);
    }
    expect(secrets.get("app_encryption_key")).toMatch(/^[0-9a-f]{64}$/);
    await session.close();
  });

  it("a second deploy changes nothing", async () => {
    const before = recorded(site).length;
    const { result } = await deploy(site);
    expect(result.ran).toEqual([]);
    expect(result.plan.toRun).toBe(0);
    expect(recorded(site)).toHaveLength(before);
  });

  it("a changed database name re-runs database and what reads its outputs, nothing else", async () => {
    const session = await SiteSession.open({ dir: site, env: {}, sets: ["database.name=avatar"] });
    const plan = await planSite(session);
    await session.close();
    const running = plan.steps.filter((s) => s.action === "run").map((s) => s.name);
    expect(running.sort()).toEqual(["authentik", "database", "service:web"]);
    expect(plan.steps.find((s) => s.name === "database")!.reasons).toContainEqual({ kind: "config-changed", key: "database.name", from: "app", to: "avatar" });
  });

  it("MAIL_PROVIDER from the environment switches mail off and re-runs email, storage (reads email.provider) and web (reads email outputs)", async () => {
    const session = await SiteSession.open({ dir: site, env: { MAIL_PROVIDER: "none", STEPWISE_CONFIG_STORAGE__EMAILAUTHENTICATION: "false" } });
    const plan = await planSite(session);
    await session.close();
    const running = plan.steps.filter((s) => s.action === "run").map((s) => s.name);
    expect(running.sort()).toEqual(["email", "service:web", "storage"]);
    expect(plan.steps.find((s) => s.name === "storage")!.reasons).toContainEqual({ kind: "config-changed", key: "email.provider", from: "smtp", to: "none" });
  });
});

describe("optional telemetry", () => {
  it("can be turned off, and the plan lists it as disabled", async () => {
    const dir = makeSite(SITE.replace(/      LOG_LEVEL.*\n/, "").replace(/      SENTRY_ENABLED.*\n/, "") + "steps:\n  telemetry:\n    enabled: false\n");
    try {
      const session = await SiteSession.open({ dir, env: {} });
      const plan = await planSite(session);
      await session.close();
      expect(plan.disabled.map((s) => s.name)).toEqual(["telemetry"]);
      expect(plan.steps.map((s) => s.name)).not.toContain("telemetry");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("email and database are required and cannot be turned off", async () => {
    const dir = makeSite(SITE + "steps:\n  email:\n    enabled: false\n");
    try {
      await expect(SiteSession.open({ dir, env: {} })).rejects.toThrow(/step email is required and cannot be disabled/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
