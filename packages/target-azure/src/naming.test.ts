import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AzureNames } from "./naming.js";

const SUB = "00000000-0000-0000-0000-000000000001";

describe("AzureNames", () => {
  it("derives every name within its resource's naming rules, for any site name", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 80 }), (site) => {
        const names = new AzureNames(site, SUB);
        expect(names.resourceGroup).toMatch(/^[-\w._()]{1,90}$/);
        expect(names.resourceGroup.endsWith(".")).toBe(false);
        expect(names.workspace).toMatch(/^[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]$/);
        expect(names.registry).toMatch(/^[a-z0-9]{5,50}$/);
        expect(names.keyVault).toMatch(/^[a-z][a-z0-9-]{1,22}[a-z0-9]$/);
        expect(names.keyVault).not.toContain("--");
        expect(names.postgresServer("postgres")).toMatch(/^[a-z0-9][-a-z0-9]{1,61}[a-z0-9]$/);
        // Redis: the spec's name pattern (no "--").
        expect(names.redisCache(site)).toMatch(/^[A-Za-z0-9]([A-Za-z0-9]|-(?!-)){0,61}[A-Za-z0-9]$/);
        expect(names.identity).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$/);
        expect(names.containerApp(site)).toMatch(/^[a-z](-?[a-z0-9]+)*$/);
        expect(names.containerApp(site).length).toBeLessThanOrEqual(32);
      }),
    );
  });

  it("keeps globally unique names apart across subscriptions and honours overrides", () => {
    const a = new AzureNames("shop", SUB);
    const b = new AzureNames("shop", "00000000-0000-0000-0000-000000000002");
    expect(a.keyVault).not.toBe(b.keyVault);
    expect(a.registry).not.toBe(b.registry);
    expect(a.postgresServer("postgres")).not.toBe(b.postgresServer("postgres"));
    expect(a.redisCache("redis")).not.toBe(b.redisCache("redis"));
    expect(new AzureNames("shop", SUB, { keyVault: "kv-mine", resourceGroup: "rg-mine" })).toMatchObject({ keyVault: "kv-mine", resourceGroup: "rg-mine" });
  });

  it("keeps service names that are valid app names and keeps changed ones apart", () => {
    const names = new AzureNames("shop", SUB);
    expect(names.containerApp("web")).toBe("web");
    expect(names.containerApp("api_v2")).toMatch(/^api-v2-[0-9a-f]{6}$/);
    expect(names.containerApp("api_v2")).not.toBe(names.containerApp("api-v2"));
    expect(names.containerApp("1st")).toMatch(/^ca-1st-[0-9a-f]{6}$/);
  });

  it("maps secret names to Key Vault's alphabet without collisions", () => {
    const names = new AzureNames("shop", SUB);
    expect(names.keyVaultSecret("api-key")).toBe("api-key");
    expect(names.keyVaultSecret("db_password")).toMatch(/^db-password-[0-9a-f]{6}$/);
    expect(names.keyVaultSecret("a_b")).not.toBe(names.keyVaultSecret("a-b"));
  });
});
