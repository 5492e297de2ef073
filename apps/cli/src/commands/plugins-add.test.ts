import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { packageNameOf } from "./package-name.js";
import { detectPackageManager } from "./plugins-add.js";

const root = mkdtempSync(path.join(os.tmpdir(), "stepwise-pm-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function dir(name: string, files: Record<string, string> = {}): string {
  const at = path.join(root, name);
  mkdirSync(at, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(at, file), text);
  return at;
}

describe("detectPackageManager", () => {
  it("follows the nearest lockfile, from the site up to a workspace's", () => {
    expect(detectPackageManager(dir("pnpm-site", { "pnpm-lock.yaml": "" }))).toBe("pnpm");
    expect(detectPackageManager(dir("yarn-site", { "yarn.lock": "" }))).toBe("yarn");
    expect(detectPackageManager(dir("bun-site", { "bun.lock": "" }))).toBe("bun");
    expect(detectPackageManager(dir("npm-site", { "package-lock.json": "{}" }))).toBe("npm");
    dir("workspace", { "pnpm-lock.yaml": "", "package.json": "{}" });
    expect(detectPackageManager(dir("workspace/sites/one", { "package.json": "{}" }))).toBe("pnpm");
  });

  it("without a lockfile, reads packageManager from package.json, else npm", () => {
    expect(detectPackageManager(dir("declared", { "package.json": '{ "packageManager": "yarn@4.5.0" }' }))).toBe("yarn");
    expect(detectPackageManager(dir("bare", { "package.json": "{ not json" }))).toBe("npm");
  });
});

describe("packageNameOf", () => {
  it("takes the name from a spec with or without a version, and refuses what npm would", () => {
    expect(packageNameOf("stepwise-step-x")).toBe("stepwise-step-x");
    expect(packageNameOf("stepwise-step-x@^1.2.0")).toBe("stepwise-step-x");
    expect(packageNameOf("@acme/step@2")).toBe("@acme/step");
    expect(packageNameOf("@acme/step")).toBe("@acme/step");
    for (const bad of ["Not A Name", "../dir", "@acme", "", "x".repeat(215)]) expect(packageNameOf(bad), bad).toBeUndefined();
  });
});
