import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Redactor } from "../log/redactor.js";
import { AgeSecretBackend } from "./age-secret-backend.js";
import { generateSecret, secretAlphabet } from "./generate-secret.js";
import { HMAC_KEY_NAME, SiteSecrets } from "./site-secrets.js";

describe("generated secrets", () => {
  it.each([
    [{}, 32, /^[A-Za-z0-9]+$/],
    [{ length: 64, alphabet: "hex" }, 64, /^[0-9a-f]+$/],
    [{ length: 20, alphabet: "base64url" }, 20, /^[A-Za-z0-9_-]+$/],
    [{ length: 12, alphabet: "ab" }, 12, /^[ab]+$/],
  ] as const)("%o has the declared length and alphabet", (generator, length, pattern) => {
    const value = generateSecret(generator);
    expect(value).toHaveLength(length);
    expect(value).toMatch(pattern);
  });

  it("never repeats and uses the whole alphabet", () => {
    const values = new Set(Array.from({ length: 2000 }, () => generateSecret({ length: 16 })));
    expect(values.size).toBe(2000);
    const seen = new Set([...values].join(""));
    expect(seen.size).toBe(secretAlphabet({}).length);
  });

  it("rejects lengths and alphabets that would make weak secrets", () => {
    expect(() => generateSecret({ length: 4 })).toThrow(/length/);
    expect(() => generateSecret({ alphabet: "aaaa" })).toThrow(/alphabet/);
  });
});

describe("age secret backend", () => {
  it("stores secrets encrypted in a 0600 file with a 0600 identity, and reads them back", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-age-"));
    const backend = new AgeSecretBackend(dir);
    await backend.setMany(new Map([["db_password", "s3cret-value-1"], ["other", "x-value-2"]]));
    const file = path.join(dir, ".stepwise/secrets.age");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, ".stepwise/age-identity.txt")).mode & 0o777).toBe(0o600);
    expect(readFileSync(file).includes("s3cret-value-1")).toBe(false);
    expect(await new AgeSecretBackend(dir).readAll()).toEqual(new Map([["db_password", "s3cret-value-1"], ["other", "x-value-2"]]));
    await backend.setMany(new Map([["other", undefined]]));
    expect([...(await backend.readAll()).keys()]).toEqual(["db_password"]);
  });

  it("uses STEPWISE_AGE_IDENTITY when set, and says which identity is missing otherwise", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-age-"));
    const age = await import("age-encryption");
    const identity = await age.generateX25519Identity();
    const env = { STEPWISE_AGE_IDENTITY: identity };
    await new AgeSecretBackend(dir, { env }).setMany(new Map([["k", "value-abc"]]));
    expect((await new AgeSecretBackend(dir, { env }).readAll()).get("k")).toBe("value-abc");
    await expect(new AgeSecretBackend(dir, { env: {} }).readAll()).rejects.toMatchObject({ code: "SECRET_STORE_UNREADABLE", hint: expect.stringContaining("STEPWISE_AGE_IDENTITY") });
    const other = await age.generateX25519Identity();
    await expect(new AgeSecretBackend(dir, { env: { STEPWISE_AGE_IDENTITY: other } }).readAll()).rejects.toMatchObject({ code: "SECRET_STORE_UNREADABLE" });
  });
});

describe("site secrets", () => {
  it("fingerprints with a per-site HMAC key that is never listed, and registers values for redaction", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-site-secrets-"));
    const redactor = new Redactor();
    const secrets = await SiteSecrets.open(new AgeSecretBackend(dir), redactor);
    expect(secrets.fingerprint("db_password")).toBe("unset");
    await secrets.set(new Map([["db_password", "correct-horse"]]));
    const first = secrets.fingerprint("db_password");
    expect(first).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(first).not.toContain("correct-horse");
    expect(secrets.names()).toEqual(["db_password"]);
    expect(secrets.get(HMAC_KEY_NAME)).toBeUndefined();
    expect(redactor.redact("pw=correct-horse")).toBe("pw=[redacted]");
    const reopened = await SiteSecrets.open(new AgeSecretBackend(dir), new Redactor());
    expect(reopened.fingerprint("db_password")).toBe(first);
    await reopened.set(new Map([["db_password", "battery-staple"]]));
    expect(reopened.fingerprint("db_password")).not.toBe(first);
    await expect(reopened.set(new Map([[HMAC_KEY_NAME, "x"]]))).rejects.toThrow(/reserved/);
  });
});

describe("a secrets store that cannot be read is refused and never written over", () => {
  async function storeWith(payload: string): Promise<{ dir: string; env: Record<string, string>; bytes: Buffer }> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-age-"));
    const age = await import("age-encryption");
    const identity = await age.generateX25519Identity();
    const encrypter = new age.Encrypter();
    encrypter.addRecipient(await age.identityToRecipient(identity));
    const bytes = Buffer.from(await encrypter.encrypt(payload));
    mkdirSync(path.join(dir, ".stepwise"));
    writeFileSync(path.join(dir, ".stepwise/secrets.age"), bytes);
    return { dir, env: { STEPWISE_AGE_IDENTITY: identity }, bytes };
  }

  it.each([
    ["not JSON", "nope"],
    ["not an object", "[]"],
    ["secrets is a list", '{"version":1,"secrets":[]}'],
    ["a value is not a string", '{"version":1,"secrets":{"api_token":5}}'],
    ["another format version", '{"version":2,"secrets":{}}'],
  ])("%s: readAll and setMany refuse with the file and how to restore it; the bytes stay", async (_, payload) => {
    const { dir, env, bytes } = await storeWith(payload);
    const backend = new AgeSecretBackend(dir, { env });
    const refusal = { code: "SECRET_STORE_UNREADABLE", exitCode: 2, message: expect.stringContaining(".stepwise/secrets.age"), hint: expect.stringContaining("backup restore") };
    await expect(backend.readAll()).rejects.toMatchObject(refusal);
    await expect(backend.setMany(new Map([["api_token", "fresh-value"]]))).rejects.toMatchObject(refusal);
    await expect(SiteSecrets.open(backend, new Redactor())).rejects.toMatchObject(refusal);
    expect(readFileSync(path.join(dir, ".stepwise/secrets.age")).equals(bytes)).toBe(true);
  });

  it("a mistyped identity is refused naming where it came from, never quoting it", async () => {
    const { dir, env } = await storeWith('{"version":1,"secrets":{}}');
    const identity = env.STEPWISE_AGE_IDENTITY!;
    const typo = identity.slice(0, 30) + (identity[30] === "Q" ? "P" : "Q") + identity.slice(31);
    const fromEnv = await new AgeSecretBackend(dir, { env: { STEPWISE_AGE_IDENTITY: typo } }).readAll().catch((e: unknown) => e as Error & { code: string; location: string });
    expect(fromEnv).toMatchObject({ code: "SECRET_IDENTITY_INVALID", exitCode: 2, location: "STEPWISE_AGE_IDENTITY" });
    writeFileSync(path.join(dir, ".stepwise/age-identity.txt"), `# stepwise age identity\n${typo}\n`);
    const fromFile = await new AgeSecretBackend(dir, { env: {} }).readAll().catch((e: unknown) => e as Error & { code: string; location: string });
    expect(fromFile).toMatchObject({ code: "SECRET_IDENTITY_INVALID", location: path.join(dir, ".stepwise/age-identity.txt") });
    for (const error of [fromEnv, fromFile]) expect(JSON.stringify({ ...(error as object), message: (error as Error).message })).not.toContain(typo.slice(16, 40));
  });

  it("refuses to store a secret too short to redact, and reports one a store already holds", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-site-secrets-"));
    const secrets = await SiteSecrets.open(new AgeSecretBackend(dir), new Redactor());
    await expect(secrets.set(new Map([["pin", "123"]]))).rejects.toMatchObject({ code: "SECRET_TOO_SHORT", exitCode: 2, hint: expect.stringContaining("secrets set pin") });
    await secrets.set(new Map([["pin", "1234"]]));
    expect(secrets.tooShort()).toEqual([]);
    await new AgeSecretBackend(dir).setMany(new Map([["pin", "12"]])); // as another tool could
    expect((await SiteSecrets.open(new AgeSecretBackend(dir), new Redactor())).tooShort()).toEqual(["pin"]);
  });
});
