/**
 * Each plugin package's README carries a reference (steps, config keys with their defaults per
 * preset, secrets, resource kinds) rendered from the built plugin by scripts/plugin-reference.mjs:
 * a README that no longer matches the code fails here, naming the command that rewrites it.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../fixtures/component-site.js";
// @ts-expect-error a script without declarations
import { END, referenceOf, START } from "../../scripts/plugin-reference.mjs";

const PLUGIN_DIRS = readdirSync(path.join(repoRoot, "packages"))
  .map((name) => `packages/${name}`)
  .filter((dir) => (JSON.parse(readFileSync(path.join(repoRoot, dir, "package.json"), "utf8")) as { keywords?: string[] }).keywords?.includes("stepwise-plugin"));

describe.each(PLUGIN_DIRS)("%s/README.md", (dir) => {
  it("holds the reference rendered from the plugin", async () => {
    const readme = readFileSync(path.join(repoRoot, dir, "README.md"), "utf8");
    const block = readme.slice(readme.indexOf(START), readme.indexOf(END) + END.length);
    expect(block, `the README's reference is stale; run: node scripts/plugin-reference.mjs --write ${dir}`).toBe(await referenceOf(path.join(repoRoot, dir)));
  });
});

it("every package of the plugin kind has a README reference", () => {
  expect(PLUGIN_DIRS.length).toBeGreaterThanOrEqual(6);
});
