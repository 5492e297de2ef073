#!/usr/bin/env node
// Bundles a package's tsc output in place: each entry (a path under dist/) becomes one ES
// module holding the package's own modules, with shared code in dist/chunk-*.js, while
// dependencies (other packages, @stepwise/core included) stay imports. A command loads
// ~100 of the workspace's modules; each costs Node's ESM loader ~0.3-0.5 ms to resolve,
// read and link however small it is, so one file per package saves tens of milliseconds
// per command. Entries keep their paths, so `exports` and the bin are unchanged; tsc's
// other outputs stay next to them (declarations, the hash worker, the validator).
//
// `--inline NAME,...` also bundles those dependencies (small CommonJS packages of many files,
// such as semver and commander); they then move to devDependencies.
//
// Usage, from a package directory after tsc:
//   node ../../scripts/bundle-dist.mjs [--inline NAME,...] index.js [more entries...]
import { build } from "esbuild";
import { readFileSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
const inlineAt = args.indexOf("--inline");
const inline = inlineAt >= 0 ? args.splice(inlineAt, 2)[1].split(",") : [];
const entries = args;
if (entries.length === 0) {
  process.stderr.write("usage: bundle-dist.mjs [--inline NAME,...] ENTRY... (paths under dist/)\n");
  process.exit(2);
}
const manifest = JSON.parse(readFileSync("package.json", "utf8"));
const dependencies = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies });
const external = dependencies.filter((name) => !inline.includes(name)).flatMap((name) => [name, `${name}/*`]);
const dist = path.resolve("dist");
for (const name of readdirSync(dist)) if (/^chunk-.*\.js(\.map)?$/.test(name)) rmSync(path.join(dist, name));

await build({
  entryPoints: entries.map((entry) => path.join(dist, entry)),
  outdir: dist,
  outbase: dist,
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  external,
  sourcemap: "linked",
  legalComments: "inline",
  logLevel: "warning",
});
