import { createRequire } from "node:module";

// `stepwise --version` is answered before anything else is loaded: no commander, no core, no plugin.
const argv = process.argv.slice(2);
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  process.stderr.write(`error: stepwise needs Node.js 22 or newer; this is ${process.version}.\n  fix: install Node 22+ (or run ./scripts/bootstrap.sh, which fetches Node 24 from the npm registry)\n`);
  process.exitCode = 2;
} else if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  const pkg = createRequire(import.meta.url)("../package.json") as { version: string };
  process.stdout.write(`${pkg.version}\n`);
} else {
  const { run } = await import("./program.js");
  process.exitCode = await run(argv);
}
