import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { compactKey } from "./node-crypto.js";

describe("compactKey", () => {
  it("is the text itself when short, and sha256: + its hash when long; equal texts, equal keys", () => {
    expect(compactKey("a\0b\n")).toBe("a\0b\n");
    const long = "x".repeat(64 * 1024 + 1);
    expect(compactKey(long)).toBe(`sha256:${createHash("sha256").update(long).digest("hex")}`);
    expect(compactKey(long)).toBe(compactKey("x".repeat(64 * 1024 + 1)));
    expect(compactKey(long)).not.toBe(compactKey(`${long}y`));
  });
});
