import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../errors/error-codes.js";
import { StepwiseError, redactError } from "../errors/stepwise-error.js";
import { REDACTED, Redactor, redactKnownSecrets, redactSecrets } from "./redactor.js";

describe("redactor", () => {
  it("catches a value as it is, JSON-escaped, base64-encoded and trimmed; shorter than 4 characters it is left alone", () => {
    const value = 'pa"ss\\word\n';
    const text = [value, JSON.stringify(value), Buffer.from(value).toString("base64"), value.trim(), "abc"].join(" | ");
    const redacted = redactSecrets(text, [value, "abc"]);
    expect(redacted).not.toContain("pa");
    expect(redacted).not.toContain(Buffer.from(value).toString("base64"));
    expect(redacted.split(REDACTED).length - 1).toBeGreaterThanOrEqual(4);
    expect(redacted.endsWith("| abc")).toBe(true);
    // A throwaway redactor is not one the last-resort handler keeps.
    expect(redactKnownSecrets(value)).toBe(value);
  });

  it("never throws, whatever it is given to know or to redact", () => {
    fc.assert(
      fc.property(fc.array(fc.anything()), fc.anything(), (values, text) => {
        const redactor = new Redactor();
        for (const value of values) redactor.add(value);
        expect(typeof redactor.redact(text)).toBe("string");
        expect(typeof redactKnownSecrets(text)).toBe("string");
      }),
      { numRuns: 300 },
    );
    const hostile = { toString: () => { throw new Error("no"); } };
    expect(new Redactor().redact(hostile)).toBe("[object Object]");
    expect(new Redactor().redact(Symbol("s"))).toBe("Symbol(s)");
  });

  it("ignores a value that is not a string (a damaged store) and still redacts the others", () => {
    const redactor = new Redactor();
    redactor.add(12345678);
    redactor.add({ value: "x" });
    redactor.add("real-secret-value");
    expect(redactor.redact("n=12345678 s=real-secret-value")).toBe(`n=12345678 s=${REDACTED}`);
  });

  it("redactError redacts every field of an error: message, code, hint, location, step, plugin and details", () => {
    const secret = "s3cret-token-value";
    const redactor = new Redactor();
    redactor.add(secret);
    const error = new StepwiseError(`CODE_${secret}`, `failed with ${secret}`, {
      hint: `retry with ${secret}`,
      location: `/x/${secret}`,
      step: `step-${secret}`,
      plugin: `plugin-${secret}`,
      details: { nested: [{ value: secret }], [secret]: 1 },
      cause: new Error(secret),
    });
    const redacted = redactError(error, (text) => redactor.redact(text));
    expect(JSON.stringify(redacted.toJSON())).not.toContain(secret);
    expect(redacted.hint).toBe(`retry with ${REDACTED}`);
    expect(redacted.code).toBe(`CODE_${REDACTED}`);
    expect(redacted.cause).toBeUndefined();
    expect(redacted.exitCode).toBe(error.exitCode);
    expect(redactError(new StepwiseError(ErrorCode.Usage, "plain"), (t) => t).toJSON()).toEqual({ code: "USAGE", message: "plain" });
  });
});
