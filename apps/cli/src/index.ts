// The package's import entry: running the CLI in-process, without the side effects of the bin
// (which is dist/main.js: it reads process.argv, runs a command and exits).
export { run } from "./program.js";
