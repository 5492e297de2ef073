import { checkRecordedResources, defineStep, ErrorCode, invalidConfig, isSet, resourceRecord, StepwiseError } from "@stepwise/core";
import type { ConfigReader, JsonValue, StepContext, StepOutputs } from "@stepwise/core";
import { bucketNameProblem, endpointUrlProblem, expirationDaysProblem } from "./storage-rules.js";

export const OBJECT_STORE_PROVIDERS = ["local", "s3"] as const;
export type ObjectStoreProvider = (typeof OBJECT_STORE_PROVIDERS)[number];

/** Characters of an AWS-style access key id: upper-case letters and digits. */
const ACCESS_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

const usesS3 = (config: ConfigReader) => config.get("storage.objectStore.provider") === "s3";



/** Why e-mail sign-in cannot work with the mail settings given, or `undefined` when it can. */
function emailAuthenticationProblem(enabled: JsonValue | undefined, mailProvider: JsonValue | undefined): string | undefined {
  if (enabled !== true) return undefined;
  if (!isSet(mailProvider)) return "needs outgoing mail, but email.provider is not set (is @stepwise/step-email in plugins?); or set storage.emailAuthentication: false";
  if (mailProvider === "none") return "needs outgoing mail, but email.provider is none; set storage.emailAuthentication: false or configure mail";
  return undefined;
}

/**
 * Where the application keeps its files (a local volume, or an S3-compatible object store that
 * the target provides or that the site points at) and the keys it encrypts data with.
 */
export const storageStep = defineStep({
  name: "storage",
  description: "Object storage and application encryption keys",
  required: true,
  // S3 without an endpoint of its own: the target provides the object store.
  resources: (config) => (usesS3(config) && !isSet(config.get("storage.objectStore.endpoint")) ? ["objectStore"] : []),
  // E-mail sign-in is only possible when mail goes out; email.provider is owned by the email step.
  inputs: { config: ["email.provider"] },
  config: {
    "storage.datasetExpirationDays": {
      description: "Days after which uploaded datasets expire",
      type: "integer",
      default: 30,
      prompt: "Days until uploaded datasets expire",
      validate: expirationDaysProblem,
    },
    "storage.emailAuthentication": {
      description: "Let users sign in with a link sent by e-mail (needs email.provider other than none)",
      type: "boolean",
      default: true,
      presets: { airgapped: false },
      validate: (value, config) => emailAuthenticationProblem(value, config.get("email.provider")),
    },
    "storage.objectStore.provider": {
      description: "local (a volume of the target) or s3 (an S3-compatible object store)",
      choices: OBJECT_STORE_PROVIDERS,
      default: "local",
      presets: { airgapped: "local" },
      prompt: "Object store (local or s3)",
      required: true,
    },
    "storage.objectStore.endpoint": {
      description: "URL of an existing S3-compatible store; empty to have the target provide one",
      prompt: "S3 endpoint URL (empty: let the target provide one)",
      when: usesS3,
      validate: endpointUrlProblem,
    },
    "storage.objectStore.bucket": {
      description: "Bucket the application keeps its files in",
      default: "app-data",
      required: true,
      when: usesS3,
      validate: bucketNameProblem,
    },
  },
  secrets: {
    app_encryption_key: {
      description: "Key the application encrypts stored data with (32 bytes, hex)",
      generate: { length: 64, alphabet: "hex" },
    },
    sso_secret_key: {
      description: "Key the application signs SSO sessions and tokens with",
      generate: { length: 50, alphabet: "alnum" },
    },
    object_store_access_key: {
      description: "Access key of the object store (generated for a target-provided store; set it for an existing one)",
      generate: { length: 20, alphabet: ACCESS_KEY_ALPHABET },
      when: usesS3,
    },
    object_store_secret_key: {
      description: "Secret key of the object store (generated for a target-provided store; set it for an existing one)",
      generate: { length: 40, alphabet: "alnum" },
      when: usesS3,
    },
  },
  check: checkRecordedResources,
  run: async (ctx) => {
    const days = ctx.config.get("storage.datasetExpirationDays") ?? 30;
    const daysProblem = expirationDaysProblem(days);
    if (daysProblem) throw invalidConfig(`storage.datasetExpirationDays ${daysProblem}`, "storage.datasetExpirationDays");
    const emailAuthentication = ctx.config.get("storage.emailAuthentication") === true;
    const mailProblem = emailAuthenticationProblem(emailAuthentication, ctx.config.get("email.provider"));
    if (mailProblem) throw invalidConfig(`storage.emailAuthentication ${mailProblem}`, "storage.emailAuthentication");

    requireSecret(ctx, "app_encryption_key", (value) => (/^[0-9a-f]{64}$/i.test(value) ? undefined : "must be 64 hex digits (32 bytes)"));
    requireSecret(ctx, "sso_secret_key", (value) => (value.length >= 32 ? undefined : "must be at least 32 characters"));

    const outputs: StepOutputs = {
      datasetExpirationDays: days,
      emailAuthentication,
      encryptionKeySecret: "app_encryption_key",
      ssoSecretKeySecret: "sso_secret_key",
      objectStore: "local",
      objectStoreManaged: false,
      objectStoreEndpoint: null,
      objectStoreBucket: null,
      objectStoreAccessKeySecret: null,
      objectStoreSecretKeySecret: null,
      resources: [],
    };
    const provider = ctx.config.get("storage.objectStore.provider") ?? "local";
    if (provider === "local") return outputs;
    if (provider !== "s3") {
      throw invalidConfig(`storage.objectStore.provider must be one of ${OBJECT_STORE_PROVIDERS.join(", ")}, got ${JSON.stringify(provider)}`, "storage.objectStore.provider");
    }

    const bucket = ctx.config.get("storage.objectStore.bucket") ?? "app-data";
    const bucketProblem = bucketNameProblem(bucket);
    if (bucketProblem) throw invalidConfig(`storage.objectStore.bucket ${bucketProblem}`, "storage.objectStore.bucket");
    requireSecret(ctx, "object_store_access_key");
    requireSecret(ctx, "object_store_secret_key");
    Object.assign(outputs, {
      objectStore: "s3",
      objectStoreBucket: bucket,
      objectStoreAccessKeySecret: "object_store_access_key",
      objectStoreSecretKeySecret: "object_store_secret_key",
    });

    const endpoint = ctx.config.get("storage.objectStore.endpoint");
    if (isSet(endpoint)) {
      const problem = endpointUrlProblem(endpoint);
      if (problem) throw invalidConfig(`storage.objectStore.endpoint ${problem}`, "storage.objectStore.endpoint");
      ctx.log.info(`using the existing object store at ${String(endpoint)}, bucket ${String(bucket)}`);
      outputs.objectStoreEndpoint = endpoint;
      return outputs;
    }

    ctx.log.progress(`object store with bucket ${String(bucket)}`);
    const store = await ctx.target.ensure({
      kind: "objectStore",
      name: "objectstore",
      buckets: [String(bucket)],
      accessKeySecret: "object_store_access_key",
      secretKeySecret: "object_store_secret_key",
    });
    const storeEndpoint = store.outputs.endpoint;
    Object.assign(outputs, {
      objectStoreManaged: true,
      objectStoreEndpoint: typeof storeEndpoint === "string" && storeEndpoint !== "" ? storeEndpoint : null,
      resources: [resourceRecord(store)],
    });
    return outputs;
  },
});

/** Fails when a secret the step needs is absent or malformed; the message never holds the value. */
function requireSecret(ctx: StepContext, name: string, problem?: (value: string) => string | undefined): void {
  const value = ctx.secrets.get(name);
  if (value === undefined) {
    throw new StepwiseError(ErrorCode.SecretMissing, `secret ${name} is not set.`, { hint: `stepwise secrets set ${name}   (or: stepwise secrets rotate ${name})`, details: { secret: name } });
  }
  const message = problem?.(value);
  if (message) {
    throw new StepwiseError(ErrorCode.ConfigInvalid, `secret ${name} ${message}.`, { hint: `stepwise secrets rotate ${name}`, details: { secret: name } });
  }
}




