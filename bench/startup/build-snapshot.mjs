#!/usr/bin/env node
// Builds bench/.work/startup/{cli.cjs,cli.blob}: the CLI + core engine bundled by esbuild into
// one CJS file, and a V8 start-up snapshot of it. Experiment only (issue 15 item 4); the product
// does not use it. STEPWISE_TRACE is read when the module is evaluated, so it is frozen into
// the snapshot: build with STEPWISE_TRACE=1 to get phase times out of it.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, "..", ".work", "startup");
mkdirSync(out, { recursive: true });
const bundle = path.join(out, "cli.cjs");
await build({
  entryPoints: [path.join(here, "snapshot-entry.mjs")],
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node22",
  outfile: bundle,
  // One import.meta.url for the whole bundle: core's, so the packages core requires at run time
  // (yaml ...) resolve; the CLI's ../package.json then reads core's (same version).
  define: { "import.meta.url": JSON.stringify(new URL("../../packages/core/dist/engine.js", import.meta.url).href) },
  supported: { "top-level-await": false },
  logLevel: "warning",
});
// A script built into a snapshot has no dynamic-import callback ("A dynamic import callback was
// not specified"): plugins and age's bundle load through a function that the main function
// compiles at run time with the main context's loader (vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER).
const code = readFileSync(bundle, "utf8");
const patched = code.replace(/(?<![\w.$])import\((?!["'])/g, "globalThis.__stepwiseImport(");
writeFileSync(bundle, patched);
process.stderr.write(`dynamic imports rerouted: ${(patched.match(/__stepwiseImport\(/g) ?? []).length}\n`);
execFileSync(process.execPath, ["--snapshot-blob", path.join(out, "cli.blob"), "--build-snapshot", bundle], { stdio: "inherit" });
process.stdout.write(`${bundle}\n${path.join(out, "cli.blob")}\n`);
