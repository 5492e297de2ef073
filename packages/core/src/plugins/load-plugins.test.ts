import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CORE_VERSION } from "../version.js";
import { loadPlugins } from "./load-plugins.js";
import { coreRangesCache } from "../cache/core-ranges-cache.js";
import { cachePath } from "../cache/cache-file.js";

/** Writes a real package into site/node_modules/<name>. */
function installPackage(site: string, name: string, pkg: Record<string, unknown>, index: string): string {
  const root = path.join(site, "node_modules", name);
  mkdirSync(root, { recursive: true });
  writeFileSync(path.join(root, "package.json"), JSON.stringify({ name, version: "1.2.3", type: "module", main: "index.js", ...pkg }));
  writeFileSync(path.join(root, "index.js"), index);
  return root;
}
const plugin = (name: string, extra = "") => `export default { meta: { name: ${JSON.stringify(name)}, version: "1.2.3" }, steps: [{ name: "s-${name.replace(/\W/g, "")}", description: "d", async run() {} }] ${extra} };`;
const peer = { peerDependencies: { "@stepwise/core": "^0.1.0" } };

describe("plugin discovery", () => {
  it("resolves from the site's node_modules (scoped too), unwraps default and calls factories with options", async () => {
    const site = mkdtempSync(path.join(os.tmpdir(), "stepwise-plugins-"));
    installPackage(site, "@acme/stepwise-plugin", peer, plugin("@acme/stepwise-plugin"));
    installPackage(site, "factory-plugin", peer, `export default (options) => ({ meta: { name: "factory-plugin", version: "1.2.3" }, steps: [{ name: "f-" + options.suffix, description: "d", async run() {} }] });`);
    const loaded = await loadPlugins(site, [
      { name: "@acme/stepwise-plugin", options: {} },
      { name: "factory-plugin", options: { suffix: "x" } },
    ]);
    expect(loaded.map((p) => p.id)).toEqual(["@acme/stepwise-plugin@1.2.3", "factory-plugin@1.2.3"]);
    expect(loaded[1]!.definition.steps![0]!.name).toBe("f-x");
  });

  it("loads a plugin by relative path from the site directory", async () => {
    const site = mkdtempSync(path.join(os.tmpdir(), "stepwise-plugins-"));
    const root = path.join(site, "plugins", "local");
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, "package.json"), JSON.stringify({ name: "local", version: "1.2.3", type: "module", exports: { ".": { import: "./index.js" } }, ...peer }));
    writeFileSync(path.join(root, "index.js"), plugin("local"));
    const [loaded] = await loadPlugins(site, [{ name: "./plugins/local", options: {} }]);
    expect(loaded!.root).toBe(root);
  });

  it("names a missing plugin with the install command", async () => {
    const site = mkdtempSync(path.join(os.tmpdir(), "stepwise-plugins-"));
    await expect(loadPlugins(site, [{ name: "@stepwise/step-nope", options: {} }])).rejects.toMatchObject({
      code: "PLUGIN_MISSING",
      exitCode: 2,
      hint: `cd ${site} && npm install @stepwise/step-nope`,
    });
  });

  it("refuses a plugin needing a newer core, telling the user to upgrade stepwise (not the plugin)", async () => {
    const site = mkdtempSync(path.join(os.tmpdir(), "stepwise-plugins-"));
    const root = installPackage(site, "new-plugin", { peerDependencies: { "@stepwise/core": "^99.0.0" } }, plugin("new-plugin"));
    const error = await loadPlugins(site, [{ name: "new-plugin", options: {} }]).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "PLUGIN_INCOMPATIBLE",
      exitCode: 2,
      message: `Plugin new-plugin@1.2.3 (${root}) needs @stepwise/core ^99.0.0, but this stepwise runs @stepwise/core ${CORE_VERSION}; this stepwise is older than the plugin needs.`,
      hint: 'npm install @stepwise/cli@latest   (or @stepwise/core@"^99.0.0")',
      details: { skew: "needs-newer-core" },
    });
  });

  it("refuses a plugin needing an older core, telling the user to upgrade the plugin (or pin core)", async () => {
    const site = mkdtempSync(path.join(os.tmpdir(), "stepwise-plugins-"));
    const root = installPackage(site, "old-plugin", { peerDependencies: { "@stepwise/core": "<0.0.1" } }, plugin("old-plugin"));
    const error = await loadPlugins(site, [{ name: "old-plugin", options: {} }]).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "PLUGIN_INCOMPATIBLE",
      message: `Plugin old-plugin@1.2.3 (${root}) needs @stepwise/core <0.0.1, but this stepwise runs @stepwise/core ${CORE_VERSION}; the plugin is older than this stepwise.`,
      hint: `npm install old-plugin@latest   (a version of the plugin for @stepwise/core ${CORE_VERSION}; or pin @stepwise/core@"<0.0.1")`,
      details: { skew: "needs-older-core" },
    });
    expect((error as { hint: string }).hint).not.toContain("@stepwise/cli");
  });

  it("names both fixes when the core falls in a hole of the plugin's range", async () => {
    const site = mkdtempSync(path.join(os.tmpdir(), "stepwise-plugins-"));
    installPackage(site, "holey-plugin", { peerDependencies: { "@stepwise/core": "<0.0.1 || >=99" } }, plugin("holey-plugin"));
    const error = await loadPlugins(site, [{ name: "holey-plugin", options: {} }]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "PLUGIN_INCOMPATIBLE", details: { range: "<0.0.1 || >=99", coreVersion: CORE_VERSION } });
    expect((error as { details: object }).details).not.toHaveProperty("skew");
    expect((error as { hint: string }).hint).toMatch(/npm install holey-plugin@latest .* or npm install @stepwise\/cli@latest/);
  });

  it("remembers the ranges this core satisfies, per core version, and still refuses the others", async () => {
    const site = mkdtempSync(path.join(os.tmpdir(), "stepwise-plugins-"));
    mkdirSync(path.join(site, ".stepwise", "cache"), { recursive: true });
    // Another core version's answers are not this one's.
    writeFileSync(cachePath(site, coreRangesCache.name), coreRangesCache.encode({ core: "9.0.0", ranges: ["^9.0.0"] }));
    installPackage(site, "new-plugin", peer, plugin("new-plugin"));
    installPackage(site, "old-plugin", { peerDependencies: { "@stepwise/core": "^9.0.0" } }, plugin("old-plugin"));
    await loadPlugins(site, [{ name: "new-plugin", options: {} }]);
    expect(coreRangesCache.read(site)).toEqual({ core: CORE_VERSION, ranges: ["^0.1.0"] });
    await expect(loadPlugins(site, [{ name: "old-plugin", options: {} }])).rejects.toMatchObject({ code: "PLUGIN_INCOMPATIBLE" });
    expect(coreRangesCache.read(site)).toEqual({ core: CORE_VERSION, ranges: ["^0.1.0"] });
  });

  it("refuses malformed plugins, one clear line each, all in one error", async () => {
    const site = mkdtempSync(path.join(os.tmpdir(), "stepwise-plugins-"));
    installPackage(site, "no-meta", peer, `export default { steps: [] };`);
    installPackage(site, "wrong-name", peer, plugin("something-else"));
    installPackage(site, "no-range", {}, plugin("no-range"));
    installPackage(site, "throws", peer, `throw new Error("boom at import");`);
    installPackage(site, "no-run", peer, `export default { meta: { name: "no-run", version: "1.2.3" }, steps: [{ name: "x", description: "d" }] };`);
    const error = await loadPlugins(site, ["no-meta", "wrong-name", "no-range", "throws", "no-run", "missing-one"].map((name) => ({ name, options: {} }))).catch((e: Error) => e);
    expect(error).toMatchObject({ code: "PLUGIN_INVALID" });
    const message = (error as Error).message;
    expect(message).toContain("6 plugins could not be loaded");
    expect(message).toContain("meta: { name, version } is missing");
    expect(message).toContain('meta.name is "something-else" but the package is named "wrong-name"');
    expect(message).toContain('declares no peerDependencies["@stepwise/core"] range');
    expect(message).toContain('add "peerDependencies": { "@stepwise/core": "^');
    expect(message).toContain("failed to load: boom at import");
    expect(message).toContain("step x has no run(ctx) function");
    expect(message).toContain("npm install missing-one");
  });

  it.each([
    ["a core range that is not a string", { peerDependencies: { "@stepwise/core": 1 } }, "", /range is 1, not a string/],
    ["steps that are not an array", peer, `steps: { a: 1 }`, /steps must be an array/],
    ["a glob that is not a string", peer, `steps: [{ name: "s", description: "d", inputs: { files: ["src/**", 5] }, async run() {} }]`, /inputs\.files\[1\] must be a non-empty string, got 5/],
    ["a 1-character alphabet", peer, `steps: [{ name: "s", description: "d", secrets: { k: { description: "d", generate: { alphabet: "aaaa" } } }, async run() {} }]`, /secrets\.k: generate\.alphabet must be/],
    ["a generated length below 8", peer, `steps: [{ name: "s", description: "d", secrets: { k: { description: "d", generate: { length: 2 } } }, async run() {} }]`, /generate\.length must be an integer from 8 to 4096/],
    ["an unknown config type", peer, `steps: [{ name: "s", description: "d", config: { "a.b": { description: "d", type: "date" } }, async run() {} }]`, /config\.a\.b: type must be one of/],
    ["a resourceKind that is no kind", peer, `steps: [{ name: "s", description: "d", config: { "a.b": { description: "d", resourceKind: "rediss" } }, async run() {} }]`, /config\.a\.b: resourceKind must be one of service, job, postgres, redis, objectStore, secret, got "rediss"/],
    ["dependsOn that is a string", peer, `steps: [{ name: "s", description: "d", dependsOn: "other", async run() {} }]`, /dependsOn must be an array of strings/],
  ])("refuses %s at load, naming the member (PLUGIN_INVALID, exit 2)", async (_, pkg, body, message) => {
    const site = mkdtempSync(path.join(os.tmpdir(), "stepwise-plugins-"));
    installPackage(site, "odd", pkg, `export default { meta: { name: "odd", version: "1.2.3" }, ${body || "steps: []"} };`);
    const error = await loadPlugins(site, [{ name: "odd", options: {} }]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "PLUGIN_INVALID", exitCode: 2 });
    expect((error as Error).message).toMatch(message);
  });
});
