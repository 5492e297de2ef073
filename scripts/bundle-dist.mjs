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
// such as semver and commander); they then move to devDependencies. A NAME with a subpath
// (`@stepwise/core/prefetch`) bundles that one export of a dependency that otherwise stays an
// import: the CLI's entry carries the code that starts git, so nothing is resolved first.
//
// Fewer files for a command to load also means fewer shared chunks: esbuild puts the modules
// each set of entries shares in one chunk, so four entries over one code base make several.
// `--facade index.js=engine.js` makes an entry a module of re-exports from another entry
// (its names are those tsc's output exports), bundled with the rest no more: one copy of every
// module, and the entries that are bundled share fewer chunks. `--standalone ENTRY,...` bundles
// an entry on its own, no chunk shared (a module in it must not keep state another entry's
// copy needs to see, or keep it on `globalThis` as fingerprint/git-start.ts does).
//
// dist/ is what the package publishes, so tsc's JavaScript that is now inside a bundle goes:
// nothing could import it (it is not in `exports`). `--keep PATH,...` keeps such a file that
// is loaded by path at run time (core's hash worker). Declarations stay where the entries'
// declarations reach them through their imports; the others go too.
//
// Usage, from a package directory after tsc:
//   node ../../scripts/bundle-dist.mjs [--inline NAME,...] [--keep PATH,...] [--facade E=F,...] [--standalone E,...] index.js [more entries...]
import { build } from "esbuild";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const listOption = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args.splice(at, 2)[1].split(",") : [];
};
const inline = listOption("--inline");
const keep = listOption("--keep");
const facades = listOption("--facade").map((pair) => pair.split("="));
const standalone = listOption("--standalone");
const entries = args;
if (entries.length === 0 || facades.some((pair) => pair.length !== 2)) {
  process.stderr.write("usage: bundle-dist.mjs [--inline NAME,...] [--keep PATH,...] [--facade ENTRY=ENTRY,...] [--standalone ENTRY,...] ENTRY... (paths under dist/)\n");
  process.exit(2);
}
const manifest = JSON.parse(readFileSync("package.json", "utf8"));
const dependencies = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies });
const external = dependencies.filter((name) => !inline.includes(name)).flatMap((name) => [name, `${name}/*`]);
const inlineSubpaths = inline.filter((name) => !dependencies.includes(name));
const requireFromPackage = createRequire(path.resolve("package.json"));
/** Resolves the inlined subpath exports before `external` would keep them as imports. */
const inlineSubpathExports = {
  name: "inline-subpath-exports",
  setup(build) {
    for (const specifier of inlineSubpaths) {
      const filter = new RegExp(`^${specifier.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`);
      build.onResolve({ filter }, () => ({ path: requireFromPackage.resolve(specifier) }));
    }
  },
};
const dist = path.resolve("dist");
for (const name of readdirSync(dist)) if (/^chunk-.*\.js(\.map)?$/.test(name)) rmSync(path.join(dist, name));

/**
 * Node builds an ES module facade for a built-in on its first `import`, reading every export,
 * getters included: `node:fs` thereby loads `fs/promises` and readline, `node:util` loads
 * `worker_threads`, `node:process` loads `fs/promises` (~20 internal modules, ~2 ms of every
 * command), and `node:http` its `WebSocket` and `EventSource` getters, that is all of undici
 * (measured: `import "node:http"` 60 ms, `require("node:http")` 32 ms; ~28 ms of every
 * command of a Podman site, whose target talks HTTP to the Podman socket); `node:crypto`
 * loads webcrypto, `node:net` its BlockList. These built-ins are reached through `require` instead: each named import becomes
 * a pure read of the CommonJS object, kept only if used. A named import the object lacks (such
 * as `promises`, left out on purpose) fails the build rather than reading as undefined.
 */
const FACADE_FREE = ["fs", "util", "process", "http", "https", "crypto", "net"];
const requireBuiltin = createRequire(import.meta.url);
const builtinsWithoutFacade = {
  name: "builtins-without-esm-facade",
  setup(build) {
    const filter = new RegExp(`^(node:)?(${FACADE_FREE.join("|")})$`);
    build.onResolve({ filter }, (args) => (args.namespace === "builtin" ? undefined : { path: args.path.replace(/^node:/, ""), namespace: "builtin" }));
    build.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => {
      const names = Object.keys(requireBuiltin(`node:${args.path}`)).filter((name) => name !== "promises" && /^[A-Za-z_$][\w$]*$/.test(name));
      const lines = [
        'import { createRequire } from "node:module";',
        `const m = createRequire(import.meta.url)("node:${args.path}");`,
        "const read$ = (name) => m[name];",
        "export default m;",
        ...names.map((name) => `export const ${name} = /* @__PURE__ */ read$(${JSON.stringify(name)});`),
      ];
      return { contents: lines.join("\n"), loader: "js", resolveDir: dist };
    });
  },
};

// A facade's names, read from tsc's output before the bundles replace it.
const facadeModules = [];
for (const [entry, target] of facades) {
  const names = Object.keys(await import(pathToFileURL(path.join(dist, entry)).href));
  const from = `./${path.relative(path.dirname(path.join(dist, entry)), path.join(dist, target)).split(path.sep).join("/")}`;
  facadeModules.push([entry, `// Re-exports from ${target} (scripts/bundle-dist.mjs --facade): one copy of every module.\nexport { ${names.sort().join(", ")} } from ${JSON.stringify(from)};\n`]);
}

const options = {
  plugins: [inlineSubpathExports, builtinsWithoutFacade],
  metafile: true,
  outdir: dist,
  outbase: dist,
  allowOverwrite: true,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node22",
  external,
  sourcemap: "linked",
  legalComments: "inline",
  logLevel: "warning",
};
/**
 * In a standalone bundle, an import of another entry stays an import of it (the CLI's main.js
 * imports index.js, the program, only when a command needs more than the version).
 */
const otherEntriesStayImports = (entry) => ({
  name: "other-entries-stay-imports",
  setup(build) {
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = path.relative(dist, path.resolve(args.resolveDir, args.path)).split(path.sep).join("/");
      return target !== entry && entries.includes(target) ? { path: args.path, external: true } : undefined;
    });
  },
});
const facadeEntries = new Set(facades.map(([entry]) => entry));
const split = entries.filter((entry) => !facadeEntries.has(entry) && !standalone.includes(entry));
const results = split.length > 0 ? [await build({ ...options, splitting: true, entryPoints: split.map((entry) => path.join(dist, entry)) })] : [];
for (const entry of standalone) {
  const plugins = [otherEntriesStayImports(entry), ...options.plugins];
  results.push(await build({ ...options, plugins, splitting: false, entryPoints: [path.join(dist, entry)] }));
}
for (const [entry, text] of facadeModules) {
  writeFileSync(path.join(dist, entry), text);
  rmSync(path.join(dist, `${entry}.map`), { force: true });
}
const result = { metafile: { outputs: Object.assign({}, ...results.map((r) => r.metafile.outputs)) } };

// Code-split files carry a content hash in their name (chunk-*, and modules only imported
// dynamically, such as program-*): remove those an earlier build wrote and this one did not,
// so dist/ (which is published) holds only what the entries load.
const written = new Set([...Object.keys(result.metafile.outputs).map((file) => path.resolve(file)), ...facades.map(([entry]) => path.join(dist, entry))]);
for (const name of readdirSync(dist)) {
  const file = path.join(dist, name);
  if (/-[A-Z0-9]{8}\.js(\.map)?$/.test(name) && !written.has(file.replace(/\.map$/, "")) && !written.has(file)) rmSync(file);
}

// tsc's JavaScript (a .js with a .ts in src/) that is not an entry, a chunk or kept, and its
// source map: bundled into the entries, or type-only modules that compile to nothing.
const kept = new Set(keep.map((file) => path.join(dist, file)));
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith(".js")) continue;
  const file = path.join(entry.parentPath, entry.name);
  if (written.has(file) || kept.has(file)) continue;
  const source = path.join(path.resolve("src"), path.relative(dist, file)).replace(/\.js$/, ".ts");
  if (!existsSync(source)) continue;
  rmSync(file);
  rmSync(`${file}.map`, { force: true });
}

// Declarations the entries' declarations do not reach (relative imports, followed).
const reached = new Set();
const pending = entries.map((entry) => path.join(dist, entry.replace(/\.js$/, ".d.ts")));
while (pending.length) {
  const file = pending.pop();
  if (reached.has(file) || !existsSync(file)) continue;
  reached.add(file);
  for (const [, specifier] of readFileSync(file, "utf8").matchAll(/(?:from|import\()\s*["'](\.{1,2}\/[^"']+)["']/g)) {
    pending.push(path.resolve(path.dirname(file), specifier.replace(/\.js$/, ".d.ts")));
  }
}
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  const file = path.join(entry.parentPath, entry.name);
  if (entry.isFile() && entry.name.endsWith(".d.ts") && !reached.has(file)) {
    rmSync(file);
    rmSync(`${file}.map`, { force: true });
  }
}
