// @ts-check
/**
 * What a site gets from `npm pack`: the tarball must hold the plugin's code and package.json
 * (the engine reads the peer range on @stepwise/core from it), nothing of the tests, and must
 * load on its own — the plugin has no run-time dependency, not even on @stepwise/core.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const pluginDir = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "stepwise-authentik-pack-"));

/** @type {{ filename: string, files: { path: string }[] }} */
let packed;

before(() => {
  // --ignore-scripts: packing must not run anything; --json: the file list without parsing logs.
  const out = execFileSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], { cwd: pluginDir, encoding: "utf8" });
  packed = JSON.parse(out)[0];
});
after(() => rmSync(work, { recursive: true, force: true }));

describe("npm pack of stepwise-step-authentik", () => {
  it("holds package.json, the README and the plugin's sources, and no tests", () => {
    assert.deepEqual(packed.files.map((f) => f.path).sort(), ["README.md", "package.json", "src/authentik-step.js", "src/index.js", "src/rules.js"]);
  });

  it("keeps the peer range a site's stepwise checks", () => {
    const manifest = JSON.parse(execFileSync("tar", ["-xOzf", join(work, packed.filename), "package/package.json"], { encoding: "utf8" }));
    assert.equal(manifest.name, "stepwise-step-authentik");
    assert.deepEqual(manifest.peerDependencies, { "@stepwise/core": "^0.1.0" });
    assert.equal(manifest.dependencies, undefined);
    assert.ok(manifest.keywords.includes("stepwise-plugin"));
  });

  it("loads from a site's node_modules with nothing else installed", async () => {
    const installed = join(work, "site", "node_modules", "stepwise-step-authentik");
    mkdirSync(installed, { recursive: true });
    execFileSync("tar", ["-xzf", join(work, packed.filename), "-C", installed, "--strip-components=1"]);
    const { default: plugin } = await import(pathToFileURL(join(installed, "src", "index.js")).href);
    const pkg = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
    assert.deepEqual(plugin.meta, { name: pkg.name, version: pkg.version });
    assert.deepEqual(plugin.steps.map((/** @type {{ name: string }} */ s) => s.name), ["authentik"]);
  });
});
