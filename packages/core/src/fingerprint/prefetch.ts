// A tiny entry point (`@stepwise/core/prefetch`) the CLI loads before the rest of core, so
// git's listing of a site runs on another core while the command loads: it pulls in only the
// code that starts git (git-start.ts) and Node's fs, path, os and child_process.
export { prefetchGitListing } from "./git-start.js";
export { trace } from "../log/trace.js";
