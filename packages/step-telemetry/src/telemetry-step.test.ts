import { describe, expect, it } from "vitest";
import { resolveConfig } from "@stepwise/core/engine";
import createPlugin, { telemetryStep } from "./index.js";

const plugin = createPlugin({});
import { activeSecrets, configProblems, createFakeStepContext, resolveStepConfig } from "@stepwise/core/testing";
import pkg from "../package.json" with { type: "json" };

const DSN = "https://0123456789abcdef@o42.ingest.sentry.io/4505";

describe("@stepwise/step-telemetry plugin", () => {
  it("is named and versioned after its package; its step is optional", () => {
    expect(plugin.meta).toEqual({ name: "@stepwise/step-telemetry", version: pkg.version });
    expect(plugin.steps.map((step) => step.name)).toEqual(["telemetry"]);
    expect(telemetryStep.required).toBe(false);
  });

  it("reads the environment variables the application already uses", () => {
    const env = Object.fromEntries(Object.entries(telemetryStep.config).map(([key, spec]) => [key, spec.env]));
    expect(env).toEqual({
      "telemetry.sentryEnabled": "IS_SENTRY_ENABLED",
      "telemetry.s3EndpointUrl": "TELEMETRY_S3_ENDPOINT_URL",
      "telemetry.logLevel": "LOG_LEVEL",
      "telemetry.consoleLogging": "USE_CONSOLE_LOGGING",
    });
  });
});

describe("telemetry config per preset", () => {
  it.each([
    ["default", { sentry: false, logLevel: "info", console: false, s3: undefined }],
    ["dev-mode", { sentry: false, logLevel: "debug", console: true, s3: undefined }],
    ["airgapped", { sentry: false, logLevel: "info", console: false, s3: "" }],
  ] as const)("%s", (preset, expected) => {
    const config = resolveStepConfig(telemetryStep, preset);
    expect(config.get("telemetry.sentryEnabled")).toBe(expected.sentry);
    expect(config.get("telemetry.logLevel")).toBe(expected.logLevel);
    expect(config.get("telemetry.consoleLogging")).toBe(expected.console);
    expect(config.get("telemetry.s3EndpointUrl")).toBe(expected.s3);
    expect(configProblems(telemetryStep, preset)).toEqual([]);
  });

  it("asks for the optional Sentry DSN only when Sentry is on", () => {
    expect(activeSecrets(telemetryStep, "default")).toEqual([]);
    expect(activeSecrets(telemetryStep, "default", { "telemetry.sentryEnabled": true })).toEqual(["sentry_dsn"]);
    expect(telemetryStep.secrets.sentry_dsn.required).toBe(false);
    expect("generate" in telemetryStep.secrets.sentry_dsn).toBe(false);
  });
});

describe("telemetry config validation", () => {
  it.each([
    ["s3.example.com", 'must be an http(s) URL like https://s3.example.com, got "s3.example.com"'],
    ["ftp://s3.example.com", "must use http or https, got ftp"],
    ["https://AKIA:secret@s3.example.com", "must not contain a user name or password; keep credentials in secrets"],
    ["https://", 'must be an http(s) URL like https://s3.example.com, got "https://"'],
  ])("refuses endpoint %s", (url, message) => {
    expect(configProblems(telemetryStep, "default", { "telemetry.s3EndpointUrl": url })).toEqual([`telemetry.s3EndpointUrl: ${message}`]);
  });

  it.each(["https://s3.eu-west-1.amazonaws.com", "http://minio:9000", "https://telemetry.example.com/upload/"])("accepts endpoint %s", (url) => {
    expect(configProblems(telemetryStep, "default", { "telemetry.s3EndpointUrl": url })).toEqual([]);
  });

  it("only knows four log levels", () => {
    expect(configProblems(telemetryStep, "default", { "telemetry.logLevel": "trace" })).toEqual(['telemetry.logLevel: must be one of "debug", "info", "warn", "error"']);
  });
});

describe("telemetry run", () => {
  it("returns the non-secret settings and only the name of the DSN secret", async () => {
    const config = { "telemetry.sentryEnabled": true, "telemetry.s3EndpointUrl": "https://s3.example.com", "telemetry.logLevel": "warn" };
    const { ctx, ensured } = createFakeStepContext(telemetryStep, { config, secrets: { sentry_dsn: DSN } });
    const outputs = await telemetryStep.run(ctx);
    expect(outputs).toEqual({
      sentryEnabled: true,
      sentryDsnSecret: "sentry_dsn",
      s3EndpointUrl: "https://s3.example.com",
      logLevel: "warn",
      consoleLogging: false,
    });
    expect(JSON.stringify(outputs)).not.toContain("0123456789abcdef");
    expect(ensured).toEqual([]);
  });

  it("dev-mode: debug logs on the console, nothing sent anywhere", async () => {
    const { ctx } = createFakeStepContext(telemetryStep, { preset: "dev-mode" });
    expect(await telemetryStep.run(ctx)).toEqual({ sentryEnabled: false, sentryDsnSecret: null, s3EndpointUrl: null, logLevel: "debug", consoleLogging: true });
  });

  it("airgapped: no Sentry and no upload endpoint", async () => {
    const { ctx } = createFakeStepContext(telemetryStep, { preset: "airgapped" });
    expect(await telemetryStep.run(ctx)).toMatchObject({ sentryEnabled: false, sentryDsnSecret: null, s3EndpointUrl: null });
  });

  it("Sentry on without a DSN: warns and reports Sentry as off instead of failing", async () => {
    const { ctx, logs } = createFakeStepContext(telemetryStep, { config: { "telemetry.sentryEnabled": true } });
    expect(await telemetryStep.run(ctx)).toMatchObject({ sentryEnabled: false, sentryDsnSecret: null });
    expect(logs).toEqual([
      { level: "warn", message: "telemetry.sentryEnabled is true but secret sentry_dsn is not set; errors are not reported until: stepwise secrets set sentry_dsn" },
    ]);
  });

  it.each([
    ["not a url", "is not a URL"],
    ["https://o42.ingest.sentry.io/4505", "has no public key before the @"],
    ["https://key@o42.ingest.sentry.io/project", "must end in a numeric project id"],
  ])("refuses a malformed DSN without repeating it: %s", async (dsn, problem) => {
    const { ctx } = createFakeStepContext(telemetryStep, { config: { "telemetry.sentryEnabled": true }, secrets: { sentry_dsn: dsn } });
    const error = await telemetryStep.run(ctx).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "CONFIG_INVALID", message: `secret sentry_dsn ${problem} (expected https://KEY@HOST/PROJECT_ID).`, hint: "stepwise secrets set sentry_dsn" });
    expect(JSON.stringify(error) + String(error)).not.toContain(dsn);
  });

  it("refuses an endpoint with credentials that reached run", async () => {
    const { ctx } = createFakeStepContext(telemetryStep, { config: { "telemetry.s3EndpointUrl": "https://u:p@s3.example.com" } });
    await expect(telemetryStep.run(ctx)).rejects.toThrow("telemetry.s3EndpointUrl must not contain a user name or password");
  });
});

describe("telemetry config through the engine's resolver", () => {
  const owned = Object.entries(telemetryStep.config).map(([key, spec]) => ({ key, spec, owner: "telemetry" }));
  const resolve = (env: Record<string, string>, preset: "default" | "dev-mode" | "airgapped" = "default") =>
    resolveConfig({ owned, preset, file: new Map(), env, sets: [] });

  it("coerces the application's variables to the declared types", () => {
    const config = resolve({ IS_SENTRY_ENABLED: "true", USE_CONSOLE_LOGGING: "1", LOG_LEVEL: "warn", TELEMETRY_S3_ENDPOINT_URL: "https://s3.example.com" });
    expect(config.problems).toEqual([]);
    expect(config.get("telemetry.sentryEnabled")).toBe(true);
    expect(config.get("telemetry.consoleLogging")).toBe(true);
    expect(config.get("telemetry.logLevel")).toBe("warn");
    expect(config.source("telemetry.sentryEnabled")?.label).toBe("env IS_SENTRY_ENABLED");
  });

  it("reports a bad endpoint and log level from the environment", () => {
    const config = resolve({ LOG_LEVEL: "verbose", TELEMETRY_S3_ENDPOINT_URL: "s3.example.com" });
    expect(config.problems).toEqual([
      { key: "telemetry.s3EndpointUrl", source: "env TELEMETRY_S3_ENDPOINT_URL", message: 'must be an http(s) URL like https://s3.example.com, got "s3.example.com"' },
      { key: "telemetry.logLevel", source: "env LOG_LEVEL", message: 'must be one of "debug", "info", "warn", "error", got "verbose"' },
    ]);
  });

  it("airgapped leaves the upload endpoint unset, and nothing is missing in any preset", () => {
    for (const preset of ["default", "dev-mode", "airgapped"] as const) {
      const config = resolve({}, preset);
      expect(config.missing, preset).toEqual([]);
      expect(config.problems, preset).toEqual([]);
    }
    expect(resolve({}, "airgapped").get("telemetry.s3EndpointUrl")).toBe("");
  });
});
