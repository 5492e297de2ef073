// A tiny entry point (`@stepwise/core/prefetch`) the CLI can load before the rest of core, so
// git's listing of a site runs on another core while the command loads.
export { prefetchGitListing } from "./git-listing.js";
export { trace } from "../log/trace.js";
