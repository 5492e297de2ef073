import { describe, expect, it } from "vitest";
import { generateSecret } from "@stepwise/core/engine";
import createPlugin, { storageStep } from "./index.js";

const plugin = createPlugin({});
import { activeSecrets, configProblems, createFakeStepContext, resolveStepConfig } from "@stepwise/core/testing";
import pkg from "../package.json" with { type: "json" };

const secrets = {
  app_encryption_key: "9f".repeat(32),
  sso_secret_key: "SsoSecretKeyValue".padEnd(50, "x"),
  object_store_access_key: "AKIA0STORE0ACCESS000",
  object_store_secret_key: "StoreSecretKeyValue".padEnd(40, "y"),
};
const mail = { "email.provider": "smtp" };
const s3 = { ...mail, "storage.objectStore.provider": "s3" };

describe("@stepwise/step-storage plugin", () => {
  it("is named and versioned after its package and holds the storage step", () => {
    expect(plugin.meta).toEqual({ name: "@stepwise/step-storage", version: pkg.version });
    expect(plugin.steps.map((step) => step.name)).toEqual(["storage"]);
  });

  it("declares email.provider, which the email step owns, as an input", () => {
    expect(storageStep.inputs.config).toEqual(["email.provider"]);
    expect(Object.keys(storageStep.config)).not.toContain("email.provider");
  });
});

describe("storage config and secrets", () => {
  it("default: local files, 30 days, e-mail sign-in", () => {
    const config = resolveStepConfig(storageStep, "default");
    expect(config.get("storage.objectStore.provider")).toBe("local");
    expect(config.get("storage.datasetExpirationDays")).toBe(30);
    expect(config.get("storage.emailAuthentication")).toBe(true);
    expect(configProblems(storageStep, "default", mail)).toEqual([]);
  });

  it("airgapped: local files and no e-mail sign-in, which fits its mail provider none", () => {
    const config = resolveStepConfig(storageStep, "airgapped");
    expect(config.get("storage.objectStore.provider")).toBe("local");
    expect(config.get("storage.emailAuthentication")).toBe(false);
    expect(configProblems(storageStep, "airgapped", { "email.provider": "none" })).toEqual([]);
  });

  it("generated secrets: a 32-byte hex encryption key, an SSO key, and AWS-shaped store keys only for s3", () => {
    expect(storageStep.secrets.app_encryption_key.generate).toEqual({ length: 64, alphabet: "hex" });
    expect(storageStep.secrets.sso_secret_key.generate).toEqual({ length: 50, alphabet: "alnum" });
    expect(storageStep.secrets.object_store_access_key.generate).toEqual({ length: 20, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" });
    expect(storageStep.secrets.object_store_secret_key.generate).toEqual({ length: 40, alphabet: "alnum" });
    expect(activeSecrets(storageStep, "default", mail)).toEqual(["app_encryption_key", "sso_secret_key"]);
    expect(activeSecrets(storageStep, "default", s3)).toEqual(["app_encryption_key", "sso_secret_key", "object_store_access_key", "object_store_secret_key"]);
  });

  it.each([0, -1, 2.5, 36501])("refuses %s expiration days", (days) => {
    expect(configProblems(storageStep, "default", { ...mail, "storage.datasetExpirationDays": days })).toEqual([
      `storage.datasetExpirationDays: must be a whole number of days from 1 to 36500, got ${days}`,
    ]);
  });

  it("refuses e-mail sign-in when no mail goes out, saying which key to change", () => {
    expect(configProblems(storageStep, "default", { "email.provider": "none" })).toEqual([
      "storage.emailAuthentication: needs outgoing mail, but email.provider is none; set storage.emailAuthentication: false or configure mail",
    ]);
    expect(configProblems(storageStep, "default")).toEqual([
      "storage.emailAuthentication: needs outgoing mail, but email.provider is not set (is @stepwise/step-email in plugins?); or set storage.emailAuthentication: false",
    ]);
    expect(configProblems(storageStep, "default", { "storage.emailAuthentication": false })).toEqual([]);
  });

  it.each([
    ["ab", "must be a bucket name of 3-63 lowercase letters"],
    ["App-Data", "must be a bucket name of 3-63 lowercase letters"],
    ["app..data", "must be a bucket name of 3-63 lowercase letters"],
    ["-app-data", "must be a bucket name of 3-63 lowercase letters"],
    ["192.168.1.10", "must not look like an IP address"],
  ])("refuses bucket %s", (bucket, message) => {
    const [problem, ...rest] = configProblems(storageStep, "default", { ...s3, "storage.objectStore.bucket": bucket });
    expect(problem).toContain(`storage.objectStore.bucket: ${message}`);
    expect(rest).toEqual([]);
  });

  it("checks the endpoint and bucket only for s3", () => {
    const bad = { "storage.objectStore.endpoint": "s3.example.com", "storage.objectStore.bucket": "X" };
    expect(configProblems(storageStep, "default", { ...mail, ...bad })).toEqual([]);
    expect(configProblems(storageStep, "default", { ...s3, ...bad })).toHaveLength(2);
    expect(configProblems(storageStep, "default", { ...s3, "storage.objectStore.endpoint": "https://key:secret@s3.example.com" })).toEqual([
      "storage.objectStore.endpoint: must not contain a user name or password; keep credentials in secrets",
    ]);
  });
});

describe("storage run", () => {
  it("local: asks the target for nothing and names the key secrets without their values", async () => {
    const { ctx, ensured } = createFakeStepContext(storageStep, { config: mail, secrets });
    const outputs = await storageStep.run(ctx);
    expect(ensured).toEqual([]);
    expect(outputs).toEqual({
      datasetExpirationDays: 30,
      emailAuthentication: true,
      encryptionKeySecret: "app_encryption_key",
      ssoSecretKeySecret: "sso_secret_key",
      objectStore: "local",
      objectStoreManaged: false,
      objectStoreEndpoint: null,
      objectStoreBucket: null,
      objectStoreAccessKeySecret: null,
      objectStoreSecretKeySecret: null,
      resources: [],
    });
    for (const value of Object.values(secrets)) expect(JSON.stringify(outputs)).not.toContain(value);
  });

  it("s3 without an endpoint: asks the target for an object store with the bucket and both key secrets", async () => {
    const { ctx, ensured } = createFakeStepContext(storageStep, {
      config: { ...s3, "storage.objectStore.bucket": "avatar-files" },
      secrets,
      resourceOutputs: { objectStore: { endpoint: "http://objectstore:9000" } },
    });
    const outputs = await storageStep.run(ctx);
    expect(ensured).toEqual([
      { kind: "objectStore", name: "objectstore", buckets: ["avatar-files"], accessKeySecret: "object_store_access_key", secretKeySecret: "object_store_secret_key" },
    ]);
    expect(outputs).toMatchObject({
      objectStore: "s3",
      objectStoreManaged: true,
      objectStoreEndpoint: "http://objectstore:9000",
      objectStoreBucket: "avatar-files",
      objectStoreAccessKeySecret: "object_store_access_key",
      objectStoreSecretKeySecret: "object_store_secret_key",
      resources: [{ kind: "objectStore", name: "objectstore", id: "fake-objectstore", specHash: "0".repeat(64), outputs: { endpoint: "http://objectstore:9000" } }],
    });
    for (const value of Object.values(secrets)) expect(JSON.stringify(outputs)).not.toContain(value);
  });

  it("s3 with an endpoint: uses the existing store and creates nothing", async () => {
    const { ctx, ensured } = createFakeStepContext(storageStep, { config: { ...s3, "storage.objectStore.endpoint": "https://s3.eu-west-1.amazonaws.com" }, secrets });
    const outputs = await storageStep.run(ctx);
    expect(ensured).toEqual([]);
    expect(outputs).toMatchObject({ objectStore: "s3", objectStoreManaged: false, objectStoreEndpoint: "https://s3.eu-west-1.amazonaws.com", objectStoreBucket: "app-data" });
  });

  it("fails e-mail sign-in without mail before touching anything", async () => {
    const { ctx, ensured } = createFakeStepContext(storageStep, { config: { ...s3, "email.provider": "none" }, secrets });
    await expect(storageStep.run(ctx)).rejects.toMatchObject({ code: "CONFIG_INVALID", message: expect.stringContaining("storage.emailAuthentication needs outgoing mail") });
    expect(ensured).toEqual([]);
  });

  it("refuses a hand-set encryption key that is not 32 bytes of hex, without echoing it", async () => {
    const { ctx } = createFakeStepContext(storageStep, { config: mail, secrets: { ...secrets, app_encryption_key: "correct-horse-battery-staple" } });
    const error = await storageStep.run(ctx).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "CONFIG_INVALID", message: "secret app_encryption_key must be 64 hex digits (32 bytes).", hint: "stepwise secrets rotate app_encryption_key" });
    expect(String(error)).not.toContain("correct-horse");
  });

  it("names a missing store key", async () => {
    const { object_store_secret_key: _omitted, ...without } = secrets;
    const { ctx, ensured } = createFakeStepContext(storageStep, { config: s3, secrets: without });
    await expect(storageStep.run(ctx)).rejects.toMatchObject({ code: "SECRET_MISSING", message: "secret object_store_secret_key is not set." });
    expect(ensured).toEqual([]);
  });

  it("reads nothing it did not declare (the fake context throws like the engine's)", async () => {
    const { ctx } = createFakeStepContext(storageStep, { config: s3, secrets });
    await expect(storageStep.run(ctx)).resolves.toBeDefined();
    expect(() => ctx.config.get("email.smtp.host")).toThrow('Step storage read config "email.smtp.host" without declaring it in inputs.config');
  });

  it("check probes the object store the last run made", async () => {
    const first = createFakeStepContext(storageStep, { config: s3, secrets });
    const previousOutputs = (await storageStep.run(first.ctx)) ?? {};
    const gone = createFakeStepContext(storageStep, { previousOutputs, probe: () => ({ reason: "bucket app-data is gone" }) });
    expect(await storageStep.check(gone.ctx)).toEqual({ reason: "bucket app-data is gone" });
    expect(gone.probed.map((r) => r.id)).toEqual(["fake-objectstore"]);
  });
});

describe("storage with the engine's secret generator", () => {
  it("secrets generated from the declared specs pass run's own checks", async () => {
    const generated = Object.fromEntries(Object.entries(storageStep.secrets).map(([name, spec]) => [name, generateSecret(spec.generate)]));
    expect(generated.app_encryption_key).toMatch(/^[0-9a-f]{64}$/);
    expect(generated.object_store_access_key).toMatch(/^[A-Z0-9]{20}$/);
    const { ctx } = createFakeStepContext(storageStep, { config: s3, secrets: generated });
    const outputs = await storageStep.run(ctx);
    for (const value of Object.values(generated)) expect(JSON.stringify(outputs)).not.toContain(value);
  });
});
