// Pre-bundles the two dependencies whose many small modules cost more to load than to run,
// as Vite pre-bundles its own: age-encryption (with @noble/* and @scure/base: 57 ES modules,
// ~45 ms of module loading on every command that reads secrets) and yaml (72 CommonJS
// modules, ~13 ms whenever stepwise.yaml is parsed). One file each in dist/vendor/; legal
// comments are kept. core loads them through secrets/age-module.ts and site/yaml-module.ts,
// which fall back to the packages themselves when dist/vendor is absent (tests from src/).
import { build } from "esbuild";
import { realpathSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const common = { bundle: true, platform: "node", target: "node22", legalComments: "inline", logLevel: "warning", absWorkingDir: root };

/**
 * age-encryption imports the post-quantum hybrid KEMs and the P-256 curve for its hybrid and
 * tag recipients, and building them precomputes tables at load: half of its ~35 ms load, for
 * every command that reads secrets, though stepwise's own identities are X25519. They go into
 * their own file (`age-pq.cjs`), required on first use through a stand-in whose property reads
 * load it: a hybrid identity or recipient (a teammate's `age1pq1...`) still works.
 */
const LAZY = { "@noble/post-quantum/hybrid.js": ["MLKEM768P256", "MLKEM768X25519"], "@noble/curves/nist.js": ["p256"] };
const ageDir = realpathSync(path.join(root, "node_modules", "age-encryption"));
const lazyAgeParts = {
  name: "lazy-age-parts",
  setup(build) {
    build.onResolve({ filter: /^@noble\/(post-quantum\/hybrid|curves\/nist)\.js$/ }, (args) => ({ path: args.path, namespace: "lazy-age-part" }));
    build.onLoad({ filter: /.*/, namespace: "lazy-age-part" }, (args) => ({
      loader: "js",
      contents: [
        'import { createRequire } from "node:module";',
        "let parts;",
        'const load = () => (parts ??= createRequire(import.meta.url)("./age-pq.cjs"));',
        "const lazy = (name) => new Proxy({}, { get: (_, key) => Reflect.get(load()[name], key), has: (_, key) => Reflect.has(load()[name], key), ownKeys: () => Reflect.ownKeys(load()[name]), getOwnPropertyDescriptor: (_, key) => { const d = Reflect.getOwnPropertyDescriptor(load()[name], key); return d && { ...d, configurable: true }; } });",
        ...LAZY[args.path].map((name) => `export const ${name} = /* @__PURE__ */ lazy(${JSON.stringify(name)});`),
      ].join("\n"),
    }));
  },
};
const pqSource = Object.entries(LAZY).flatMap(([module, names]) => names.map((name) => `exports.${name} = require(${JSON.stringify(module)}).${name};`)).join("\n");

await Promise.all([
  build({ ...common, plugins: [lazyAgeParts], stdin: { contents: 'export * from "age-encryption";', resolveDir: root }, format: "esm", outfile: "dist/vendor/age-encryption.js" }),
  build({ ...common, stdin: { contents: pqSource, resolveDir: ageDir }, format: "cjs", outfile: "dist/vendor/age-pq.cjs" }),
  build({ ...common, stdin: { contents: 'module.exports = require("yaml");', resolveDir: root }, format: "cjs", outfile: "dist/vendor/yaml.cjs" }),
]);
