import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { compileSchema, validateSiteSchema } from "./site-schema.js";

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// Inside the package, so the generated code resolves ajv's runtime helpers as it does from dist/.
const outDir = mkdtempSync(path.join(packageDir, "node_modules", ".site-validator-test-"));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

type Validator = ((data: unknown) => boolean) & { errors?: unknown[] | null };

const documents: unknown[] = [
  { name: "ok", plugins: ["@stepwise/target-podman"] },
  { name: "ok", plugins: [{ name: "./local", options: { a: 1 } }], config: { db: { name: "x" } }, preset: "dev-mode" },
  { plugins: [] },
  { name: 3, plugins: "nope", extra: true },
  { name: "bad", plugins: [], preset: "production", services: { web: { ports: [{}], healthcheck: { retries: "x" } } } },
  { name: "", plugins: [{ options: {} }], steps: { a: { enabled: "yes" } }, state: { backend: 1 } },
];

describe("site schema validator", () => {
  it("precompiled at build time, it accepts and rejects exactly what Ajv compiling the schema does, with the same errors", () => {
    const file = path.join(outDir, "site-schema-validator.cjs");
    execFileSync(process.execPath, [path.join(packageDir, "scripts", "build-site-validator.mjs"), file]);
    const precompiled = createRequire(import.meta.url)(file) as Validator;
    const compiled = compileSchema() as Validator;
    for (const document of documents) {
      expect(precompiled(document)).toBe(compiled(document));
      expect(precompiled.errors ?? null).toEqual(compiled.errors ?? null);
    }
  });

  it("names the path and problem of each error", () => {
    expect(validateSiteSchema({ name: "x", plugins: [], preset: "production", extra: 1 })).toEqual([
      { path: ["extra"], message: "unknown key" },
      { path: ["preset"], message: 'must be one of "default", "dev-mode", "airgapped"' },
    ]);
  });
});
