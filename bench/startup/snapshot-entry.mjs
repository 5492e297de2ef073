// The CLI and the core engine in one V8 start-up snapshot (issue 15 item 4, an experiment):
// bundled to one CJS file by build-snapshot.mjs, then `node --build-snapshot`. The main function
// below does what apps/cli/src/main.ts does after its imports. Plugins load at run time.
import v8 from "node:v8";
import vm from "node:vm";
import { prefetchGitListing, trace } from "../../packages/core/dist/fingerprint/prefetch.js";
import { scanArgs } from "../../apps/cli/dist/args.js";
import { run } from "../../apps/cli/dist/program.js";

// From a snapshot, process.argv is [node, ...arguments] (no script path).
async function main(argv) {
  globalThis.__stepwiseImport ??= new vm.Script(["(specifier) => imp", "ort(specifier)"].join(""), { importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER }).runInThisContext();
  const { command, site, help } = scanArgs(argv);
  if (command === "plan" || command === "deploy") prefetchGitListing(site ?? process.cwd());
  trace("cli started");
  trace("cli loaded");
  process.exitCode = await run(argv, help ? undefined : command);
  trace("command done");
  process.exit();
}

if (v8.startupSnapshot?.isBuildingSnapshot()) v8.startupSnapshot.setDeserializeMainFunction(() => void main(process.argv.slice(1)));
else void main(process.argv.slice(2));
