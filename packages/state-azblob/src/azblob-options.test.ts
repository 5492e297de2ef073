import { describe, expect, it } from "vitest";
import { isStepwiseError } from "@stepwise/core";
import { azblobOptions } from "./azblob-backend.js";
import { redactAzure } from "./azblob-errors.js";

const ctx = { siteName: "shop" };
const KEY = "Zm9vYmFyYmF6cXV4c2VjcmV0a2V5dmFsdWUxMjM0NTY3ODkwYWJjZGVmZ2hpams=";

function refusal(fn: () => unknown): { code: string; exitCode: number; message: string; location?: string } {
  try {
    fn();
  } catch (error) {
    if (isStepwiseError(error)) return { code: error.code, exitCode: error.exitCode, message: error.message, location: error.location };
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("azblob options", () => {
  it("reads account/container/blob from stepwise.yaml with defaults; the environment wins (CI)", () => {
    expect(azblobOptions({ account: "acct", container: "state" }, ctx, {})).toMatchObject({ account: "acct", container: "state", blob: "shop/state.json", leaseSeconds: 60 });
    expect(azblobOptions({ account: "acct", container: "state" }, ctx, { STEPWISE_AZBLOB_CONTAINER: "ci-state", STEPWISE_AZBLOB_BLOB: "x.json" })).toMatchObject({ container: "ci-state", blob: "x.json" });
    expect(azblobOptions({ container: "state" }, ctx, { AZURE_STORAGE_CONNECTION_STRING: `AccountName=a;AccountKey=${KEY}` }).connectionString).toContain(KEY);
  });

  it("refuses a secret in stepwise.yaml (exit 2, naming the key and the variable to use), and bad values", () => {
    const secret = refusal(() => azblobOptions({ account: "acct", container: "state", connectionString: `AccountName=a;AccountKey=${KEY}` }, ctx, {}));
    expect(secret).toMatchObject({ code: "AZBLOB_OPTION_INVALID", exitCode: 2, location: "state.options.connectionString" });
    expect(secret.message).not.toContain(KEY);
    expect(refusal(() => azblobOptions({ account: "acct", container: "state", sas: "sv=1&sig=abc" }, ctx, {})).location).toBe("state.options.sas");
    expect(refusal(() => azblobOptions({ account: "acct" }, ctx, {})).location).toBe("state.options.container");
    expect(refusal(() => azblobOptions({ account: "Bad_Name", container: "state" }, ctx, {})).location).toBe("state.options.account");
    expect(refusal(() => azblobOptions({ container: "state" }, ctx, {})).location).toBe("state.options");
    expect(refusal(() => azblobOptions({ account: "acct", container: "state", leaseSeconds: 5 }, ctx, {})).location).toBe("state.options.leaseSeconds");
    expect(refusal(() => azblobOptions({ url: "http://h/acct?sig=x", container: "state" }, ctx, {})).location).toBe("state.options.url");
  });
});

describe("redactAzure", () => {
  it("removes given secrets and anything shaped as an account key, SAS signature or bearer token", () => {
    const text = `PUT http://h/c/b?sv=2020&sig=abc%2Fdef&se=1 AccountKey=${KEY}; SharedAccessSignature=sv=1&sig=zz Authorization: Bearer eyJ.abc.def other-${KEY}`;
    const out = redactAzure(text, [KEY]);
    expect(out).not.toContain(KEY);
    expect(out).not.toContain("abc%2Fdef");
    expect(out).not.toContain("eyJ.abc.def");
    expect(out).toContain("sig=[REDACTED]");
    expect(out).toContain("AccountKey=[REDACTED]");
  });
});
