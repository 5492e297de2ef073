import { describe, expect, it } from "vitest";
import { specHash } from "./spec-hash.js";

describe("specHash", () => {
  it("is stable across releases: an upgrade must not replace containers whose spec did not change", () => {
    // Recorded with target-podman's own canonical JSON before it moved to core's; a different
    // value here means every container of every site would be replaced on upgrade.
    const spec = { kind: "service", name: "web", image: "localhost/x:1", env: { B: "2", A: "1", U: undefined }, ports: [{ container: 80 }, { host: 8080, container: 81 }], nested: { z: [1, { y: null, x: true }], a: 'é"\\\n' } };
    expect(specHash(spec)).toBe("fff32c1b4a5b8f6f6da74a1b0da3d83ba188f0bf0b7b6c06a8f0b2299cc22f7d");
  });
});
