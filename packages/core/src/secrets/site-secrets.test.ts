import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Redactor } from "../log/redactor.js";
import { AgeSecretBackend } from "./age-secret-backend.js";
import { HMAC_KEY_NAME, SiteSecrets } from "./site-secrets.js";

describe("site secrets: read-modify-write", () => {
  it("a write keeps what other writers stored after this command read the store, the HMAC key included", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-site-secrets-"));
    const backend = new AgeSecretBackend(dir);
    // Both commands read the (empty) store before either writes, as two CLI processes would.
    const first = await SiteSecrets.open(backend, new Redactor());
    const second = await SiteSecrets.open(backend, new Redactor());
    await first.set(new Map([["a", "value-of-a-0001"]]));
    const key = (await backend.readAll()).get(HMAC_KEY_NAME);
    expect(key).toBeDefined();
    await second.set(new Map([["b", "value-of-b-0002"]]));
    const stored = await backend.readAll();
    expect(Object.fromEntries(stored)).toEqual({ a: "value-of-a-0001", b: "value-of-b-0002", [HMAC_KEY_NAME]: key });
    // The writer now sees the store as written, and fingerprints with the one key.
    expect(second.get("a")).toBe("value-of-a-0001");
    expect(second.fingerprint("a")).toBe(first.fingerprint("a"));
  });

  it("reload reads the store again into the same object and teaches the redactor the new values", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "stepwise-site-secrets-"));
    const backend = new AgeSecretBackend(dir);
    const redactor = new Redactor();
    const secrets = await SiteSecrets.open(backend, redactor);
    await backend.setMany(new Map([["token", "set-by-another-run-42"]]));
    expect(secrets.has("token")).toBe(false);
    await secrets.reload();
    expect(secrets.get("token")).toBe("set-by-another-run-42");
    expect(redactor.redact("token is set-by-another-run-42")).toBe("token is [redacted]");
  });
});
