// Pre-bundles the two dependencies whose many small modules cost more to load than to run,
// as Vite pre-bundles its own: age-encryption (with @noble/* and @scure/base: 57 ES modules,
// ~45 ms of module loading on every command that reads secrets) and yaml (72 CommonJS
// modules, ~13 ms whenever stepwise.yaml is parsed). One file each in dist/vendor/; legal
// comments are kept. core loads them through secrets/age-module.ts and site/yaml-module.ts,
// which fall back to the packages themselves when dist/vendor is absent (tests from src/).
import { build } from "esbuild";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const common = { bundle: true, platform: "node", target: "node22", legalComments: "inline", logLevel: "warning", absWorkingDir: root };

await Promise.all([
  build({ ...common, stdin: { contents: 'export * from "age-encryption";', resolveDir: root }, format: "esm", outfile: "dist/vendor/age-encryption.js" }),
  build({ ...common, stdin: { contents: 'module.exports = require("yaml");', resolveDir: root }, format: "cjs", outfile: "dist/vendor/yaml.cjs" }),
]);
