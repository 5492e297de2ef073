import { describe, expect, it } from "vitest";
import { providedSecretsSummary } from "./secrets-summary.js";

describe("providedSecretsSummary", () => {
  it("counts the secrets a person provides, and says so when there are none", () => {
    expect(providedSecretsSummary(1, 2)).toBe("1/2 secrets provided");
    expect(providedSecretsSummary(0, 0)).toBe("no secret to provide");
  });
});
